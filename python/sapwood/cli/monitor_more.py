"""`sapwood monitor estimate` (performance estimated before labels arrive) and `sapwood monitor
domain` (multivariate drift by a domain classifier): subcommands of `monitor`, registered by
cli/monitor.py like `history` and `performance`."""

from __future__ import annotations

from typing import Any

from ._common import float_range, int_range

__all__ = ["add_estimate_parser", "add_domain_parser", "run"]


def add_estimate_parser(subs: Any) -> None:
    p = subs.add_parser(
        "estimate", help="estimated binary-classifier performance before labels arrive (CBPE)",
        description="Calibrate the model's probabilities on a labelled --reference (checked "
                    "on held-out reference rows) and estimate AUC, accuracy and F1 per "
                    "window of --current without its labels (confidence-based performance "
                    "estimation, as NannyML's CBPE). Every figure is marked as an estimate. "
                    "Exit 0: no threshold crossed; 1: a [performance] threshold of --config "
                    "reached fail; 2: could not run.")
    p.add_argument("--reference", required=True,
                   help="scored rows with labels (Parquet, CSV, Arrow): the prediction and the "
                        "label column")
    p.add_argument("--current", required=True,
                   help="scored rows without labels (a label column there is shown beside the "
                        "estimate, e.g. to backtest it)")
    p.add_argument("--prediction-column", default="prediction",
                   help="the positive-class probability column in both files")
    p.add_argument("--label-column", default="label", help="the label column (0/1)")
    p.add_argument("--time", default=None,
                   help="timestamp column of --current that windows its rows (default: one "
                        "window)")
    p.add_argument("--window", choices=["day", "week", "month"], default="day",
                   help="window length")
    p.add_argument("--threshold", type=float_range(0.0, 1.0), default=0.5,
                   help="the model's decision threshold (accuracy, F1)")
    p.add_argument("--calibration", choices=["auto", "platt", "isotonic", "none"],
                   default="auto",
                   help="how scores become probabilities: auto (Platt scaling when it lowers "
                        "the held-out log loss, else none), platt, isotonic, or none (take "
                        "them as calibrated)")
    p.add_argument("--simulations", type=int_range(0, 10000), default=200,
                   help="simulated label draws for each estimate's interval (0: none)")
    p.add_argument("--seed", type=int_range(0), default=0, help="seed (held-out split, draws)")
    p.add_argument("--config", default=None,
                   help="thresholds (TOML, a [performance] table with auc / accuracy / f1 "
                        "levels; see python/sapwood/monitoring/estimate.py)")
    p.add_argument("--json", default=None, help="write the JSON report here ('-': stdout)")
    p.add_argument("--html", default=None, help="write the HTML report here")


def run_estimate(args: Any) -> int:
    from ..monitoring.estimate import estimate
    from ._common import read_data
    from .monitor_history import _check_outputs, _outputs

    _check_outputs(args, ("json", "html"))
    report = estimate(
        read_data(args.reference, "monitor estimate"), read_data(args.current, "monitor estimate"),
        label_column=args.label_column, prediction_column=args.prediction_column,
        time=args.time, window=args.window, threshold=args.threshold,
        calibration=args.calibration, n_simulations=args.simulations, seed=args.seed,
        config=args.config)
    return _outputs(args, report, html=True)


def add_domain_parser(subs: Any) -> None:
    p = subs.add_parser(
        "domain", help="multivariate drift: can a model tell current rows from reference rows?",
        description="Train sapwood classifiers to separate --reference rows from --current rows "
                    "(seeded stratified k-fold) and report the out-of-fold ROC AUC (0.5: alike), "
                    "its significance, and the features that separate the two most (share of "
                    "mean |SHAP| and of gain). Sees changes in how features go together, not "
                    "only in each feature. Exit 0: no drift at fail; 1: AUC at the fail level "
                    "and significant; 2: could not run.")
    p.add_argument("--reference", required=True, help="reference rows (Parquet, CSV, Arrow)")
    p.add_argument("--current", required=True, help="current rows (Parquet, CSV, Arrow)")
    p.add_argument("--features", default=None,
                   help="comma-separated columns to compare (default: every reference column)")
    p.add_argument("--config", default=None,
                   help="levels (TOML, a [domain] table: auc = {warn, fail}, alpha, folds, "
                        "max_rows; see python/sapwood/monitoring/domain.py)")
    p.add_argument("--seed", type=int_range(0), default=0, help="sampling, folds and model seed")
    p.add_argument("--n-jobs", type=int_range(1, 4096), default=None,
                   help="training threads (default: all cores)")
    p.add_argument("--json", default=None, help="write the JSON report here ('-': stdout)")


def run_domain(args: Any) -> int:
    from ..monitoring.domain import domain_drift
    from ._common import read_data
    from .monitor_history import _check_outputs, _outputs

    _check_outputs(args, ("json",))
    features = None if args.features is None else [c for c in args.features.split(",") if c]
    report = domain_drift(read_data(args.reference, "monitor domain"),
                          read_data(args.current, "monitor domain"), features=features,
                          config=args.config, seed=args.seed, n_jobs=args.n_jobs)
    return _outputs(args, report, html=False)


def run(args: Any) -> int:
    if args.monitor_command == "domain":
        return run_domain(args)
    return run_estimate(args)

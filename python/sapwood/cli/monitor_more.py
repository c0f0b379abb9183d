"""`sapwood monitor estimate` (performance estimated before labels arrive) and `sapwood monitor
domain` (multivariate drift by a domain classifier): subcommands of `monitor`, registered by
cli/monitor.py like `history` and `performance`."""

from __future__ import annotations

from typing import Any

from ._common import float_range, int_range

__all__ = ["add_estimate_parser", "run"]


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


def run(args: Any) -> int:
    return run_estimate(args)

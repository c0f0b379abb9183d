"""`sapwood monitor history` and `sapwood monitor performance`: the subcommands of `monitor`
(registered by cli/monitor.py; see its docstring for why they are subcommands)."""

from __future__ import annotations

import sys
from typing import Any

from ._common import MODEL_HELP, int_range

__all__ = ["add_history_parser", "add_performance_parser", "run"]


def add_history_parser(subs: Any) -> None:
    h = subs.add_parser(
        "history", help="drift and data quality over time from a monitoring store",
        description="Merge the profiles stored in STORE (by `sapwood score --profile-store`, "
                    "`sapwood monitor --store` or ProfileStore.append) into day or week windows "
                    "and compare each window with the reference and with the previous window. "
                    "Exit 0: no check reached fail; 1: some window reached fail; 2: could not "
                    "run.")
    h.add_argument("store", metavar="STORE", help="the monitoring store (folder or fsspec URL)")
    h.add_argument("--model", default=None,
                   help="only batches scored by this model: " + MODEL_HELP + " (its reference "
                        "profile is then the reference) or its SHA-256 (a prefix of >= 8 hex "
                        "digits)")
    h.add_argument("--reference", default=None,
                   help="reference profile JSON or model file (default: the --model file's "
                        "reference profile, else the first window)")
    h.add_argument("--since", default=None, help="first window start (ISO 8601 date or time)")
    h.add_argument("--until", default=None, help="windows starting before this (ISO 8601)")
    h.add_argument("--window", choices=["day", "week"], default="day",
                   help="window length (UTC days; weeks start on Monday)")
    h.add_argument("--config", default=None,
                   help="thresholds (TOML; see python/sapwood/monitoring/config.py)")
    h.add_argument("--json", default=None, help="write the JSON report here ('-': stdout)")
    h.add_argument("--html", default=None, help="write the HTML report here")


def add_performance_parser(subs: Any) -> None:
    p = subs.add_parser(
        "performance", help="model metrics per window once the labels arrive",
        description="Join LABELS to the scored PREDICTIONS on --join, compute the model's "
                    "metrics per window with bootstrap confidence intervals, the label coverage, "
                    "target and prediction drift, and compare with the validation metrics "
                    "stored in --model. Exit 0: no threshold crossed; 1: a [performance] "
                    "threshold of --config reached fail; 2: could not run.")
    p.add_argument("--predictions", required=True,
                   help="scored rows (Parquet, CSV, Arrow; e.g. the output of `sapwood score "
                        "--id-columns id,ts`)")
    p.add_argument("--labels", required=True, help="the labels (Parquet, CSV, Arrow)")
    p.add_argument("--join", required=True, help="the id column(s) both files share, "
                                                 "comma-separated")
    p.add_argument("--time", default=None,
                   help="timestamp column (in --predictions, else --labels) that windows the "
                        "rows (default: one window)")
    p.add_argument("--window", choices=["day", "week"], default="day", help="window length")
    p.add_argument("--label-column", default="label", help="the label column in --labels")
    p.add_argument("--model", default=None,
                   help=MODEL_HELP + ": its objective picks the metrics, its stored validation "
                        "metrics are the baseline, its reference profile the prediction-drift "
                        "reference")
    p.add_argument("--objective", default=None,
                   help="the objective when no --model is given (binary, regression, ...)")
    p.add_argument("--metrics", default=None,
                   help="comma-separated metrics (default: by the objective)")
    p.add_argument("--bootstrap", type=int_range(0, 10000), default=200,
                   help="bootstrap resamples for the confidence intervals (0: none)")
    p.add_argument("--seed", type=int_range(0), default=0, help="bootstrap seed")
    p.add_argument("--config", default=None,
                   help="thresholds (TOML, a [performance] table; see "
                        "python/sapwood/monitoring/performance.py)")
    p.add_argument("--json", default=None, help="write the JSON report here ('-': stdout)")
    p.add_argument("--html", default=None, help="write the HTML report here")


def run(args: Any) -> int:
    if args.monitor_command == "history":
        return _run_history(args)
    return _run_performance(args)


def _outputs(args: Any, report: Any, html: bool) -> int:
    from .._fs import write_texts

    to_stdout = args.json == "-"
    outputs: dict[str, str] = {}
    if args.json is not None and not to_stdout:
        outputs[args.json] = report.to_json()
    if html and args.html is not None:
        outputs[args.html] = report.to_html()
    if outputs:
        write_texts(outputs)  # all or none, each complete under its name
    print(report.summary(), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        print(report.to_json())
    return 0 if report.passed else 1


def _check_outputs(args: Any, names: tuple[str, ...]) -> None:
    from .._fs import check_writable

    for name in names:
        path = getattr(args, name, None)
        if path is not None and path != "-":
            check_writable(path, f"--{name}")


def _run_history(args: Any) -> int:
    import os

    from ..monitoring.history import history
    from ..monitoring.profile import Profile
    from ._common import load_model

    _check_outputs(args, ("json", "html"))
    reference: Any = None
    if args.reference is not None:
        if not os.path.isfile(args.reference):
            raise FileNotFoundError(f"--reference file {args.reference!r} does not exist")
        with open(args.reference, "rb") as fh:
            is_json = fh.read(64).lstrip().startswith(b"{")
        reference = (Profile.load(args.reference) if is_json
                     else load_model(args.reference, "--reference model"))
    elif args.model is not None and os.path.isfile(args.model):
        booster = load_model(args.model, "--model")
        if getattr(booster, "reference_profile", None) is not None:
            reference = booster
    report = history(args.store, reference=reference, window=args.window, config=args.config,
                     model=args.model, since=args.since, until=args.until)
    return _outputs(args, report, html=True)


def _run_performance(args: Any) -> int:
    from ..monitoring.performance import performance
    from ._common import load_model, read_data

    _check_outputs(args, ("json", "html"))
    booster = load_model(args.model, "--model") if args.model is not None else None
    report = performance(
        read_data(args.predictions, "monitor performance"),
        read_data(args.labels, "monitor performance"),
        join=[c for c in args.join.split(",") if c], time=args.time, window=args.window,
        label_column=args.label_column, model=booster, objective=args.objective,
        metrics=None if args.metrics is None else [m for m in args.metrics.split(",") if m],
        n_bootstrap=args.bootstrap, seed=args.seed, config=args.config)
    return _outputs(args, report, html=True)

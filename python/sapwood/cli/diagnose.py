"""`sapwood diagnose MODEL --train T --test V`: findings about a model and its data (leakage,
train/test skew, duplicates, label problems, over/underfitting, feature problems, weak
slices), each with evidence and a recommended action; the logic is in
sapwood.validation.diagnose."""

from __future__ import annotations

from typing import Any

from ._common import MODEL_HELP, int_range


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "diagnose", help="find what is wrong with a model and its data, and what to do",
        description="Check MODEL with its training and test rows for leakage suspects, "
                    "identifier columns, train/test skew, duplicated rows across train and "
                    "test, label problems (imbalance, label-noise suspects, constant labels in "
                    "slices), over- and underfitting, unused, duplicated or mostly missing "
                    "features and weak categorical slices. Each finding has a severity (info, "
                    "warn, fail; levels in --config), evidence and a recommended action. Exit "
                    "0: no finding at fail; 1: a finding at fail; 2: could not run.")
    p.add_argument("model", metavar="MODEL", help=MODEL_HELP)
    p.add_argument("--train", required=True,
                   help="the training rows with the label (Parquet, CSV, Arrow)")
    p.add_argument("--test", required=True, help="the test rows with the label")
    p.add_argument("--label", default="label", help="the label column in both files")
    p.add_argument("--config", default=None,
                   help="levels per check (TOML [diagnose.<check>] tables; see "
                        "python/sapwood/validation/diagnose.py)")
    p.add_argument("--seed", type=int_range(0), default=0, help="sampling, folds and models")
    p.add_argument("--max-rows", type=int_range(100), default=100_000,
                   help="rows per side for the checks that train models (seeded sample)")
    p.add_argument("--n-jobs", type=int_range(1, 4096), default=None,
                   help="threads (default: all cores)")
    p.add_argument("--json", default=None, help="write the JSON report here ('-': stdout)")
    p.add_argument("--html", default=None, help="write the HTML report here")


def run(args: Any) -> int:
    from ..validation.diagnose import diagnose
    from ._common import load_model, read_data
    from .monitor_history import _check_outputs, _outputs

    _check_outputs(args, ("json", "html"))
    model = load_model(args.model, "model")
    report = diagnose(model, read_data(args.train, "diagnose"), read_data(args.test, "diagnose"),
                      label=args.label, config=args.config, seed=args.seed,
                      n_jobs=args.n_jobs, max_rows=args.max_rows)
    return _outputs(args, report, html=True)

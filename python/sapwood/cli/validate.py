"""`sapwood validate`: check a model against acceptance criteria."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    val = sub.add_parser("validate", help="check a model against acceptance criteria "
                         "(exit 0 accepted, 1 rejected, 2 could not run)")
    val.add_argument("model")
    val.add_argument("--data", required=True, help="test data (.csv, .parquet, ...)")
    val.add_argument("--criteria", required=True, help="acceptance criteria (TOML)")
    val.add_argument("--baseline", help="the champion model to compare against")
    val.add_argument("--report", help="write the JSON report here ('-' for stdout)")
    val.add_argument("--html", help="write a self-contained HTML report here")


def run(args: Any) -> int:
    from ..validation import run_validate

    return run_validate(args.model, args.data, args.criteria, args.baseline,
                        report_path=args.report, html_path=args.html)

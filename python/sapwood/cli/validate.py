"""`sapwood validate`: check a model against acceptance criteria."""

from __future__ import annotations

from typing import Any

from ._common import MODEL_HELP


def add_parser(sub: Any) -> None:
    val = sub.add_parser(
        "validate", help="check a model against acceptance criteria (exit 0 accepted, "
                         "1 rejected, 2 could not run)",
        description="Score --data with MODEL and check every criterion in --criteria "
                    "(metrics, slices, a champion to beat, latency, file size). Exit 0: "
                    "accepted; 1: rejected (each failed criterion is named, with its margin); "
                    "2: could not run (bad model, data, labels or criteria); 130: interrupted.")
    val.add_argument("model", help=MODEL_HELP)
    val.add_argument("--data", required=True,
                     help="test data with the label column (.parquet, .csv, .tsv, .feather)")
    val.add_argument("--criteria", required=True,
                     help="acceptance criteria (TOML; see the README's 'Releasing a model')")
    val.add_argument("--baseline", default=None,
                     help="the champion model to compare against (same kinds of file as MODEL)")
    val.add_argument("--report", default=None,
                     help="write the JSON report here; '-' writes only the JSON to stdout "
                          "(the summary then goes to stderr)")
    val.add_argument("--html", default=None, help="write a self-contained HTML report here")


def run(args: Any) -> int:
    from ..validation import run_validate

    return run_validate(args.model, args.data, args.criteria, args.baseline,
                        report_path=args.report, html_path=args.html)

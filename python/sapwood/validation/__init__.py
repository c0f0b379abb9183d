"""Acceptance gates: check a model against criteria on test data (``sapwood validate``).

Exit codes: 0 accepted, 1 rejected (the report names each failed criterion and by how much),
2 could not run (bad model file, data or criteria; the message says which).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from .._fs import check_writable, write_text, write_texts
from .criteria import Criteria, load_criteria, parse_criteria
from .gates import ACCEPTED, ERROR, REJECTED, evaluate

__all__ = ["validate", "run_validate", "Criteria", "load_criteria", "parse_criteria",
           "ACCEPTED", "REJECTED", "ERROR"]


def _evaluate(model: str, data: str, criteria: str, baseline: str | None,
              want_html: bool) -> tuple[dict[str, Any], str | None]:
    from .._compat import require_for_file
    from ..frame.readers import read_pandas
    from ..model.io import load_any
    from .html import render_html

    c = load_criteria(criteria)
    booster = load_any(model, "model")
    champion = load_any(baseline, "baseline model") if baseline is not None else None
    require_for_file(data, "sapwood validate to read --data", "cli")
    df = read_pandas(data)
    report = evaluate(booster, df, c, model_bytes=os.path.getsize(model), baseline=champion)
    page = None
    if want_html:
        bpred = None
        if champion is not None and champion.objective == "binary":
            bpred = champion.predict(df[champion.feature_names])
        page = render_html(report, booster, report["_y"], report["_pred"], report["_w"], bpred)
    return {k: v for k, v in report.items() if not k.startswith("_")}, page


def validate(model: str, data: str, criteria: str, baseline: str | None = None,
             html_path: str | None = None) -> dict[str, Any]:
    """Run the criteria file against the model on the data file; return the JSON report
    (and write the HTML report to ``html_path``, atomically, when given).

    Raises a SapwoodError subclass (or an OSError) when it cannot run (the CLI exits 2).
    """
    if html_path is not None:
        check_writable(html_path, "--html")
    report, page = _evaluate(model, data, criteria, baseline, html_path is not None)
    if html_path is not None and page is not None:
        write_text(html_path, page)
    return report


def _summary_lines(report: dict[str, Any]) -> list[str]:
    lines = []
    for chk in report["checks"]:
        mark = "PASS" if chk["passed"] else "FAIL"
        detail = ""
        if "observed" in chk:
            detail = f"observed {chk['observed']:.6g}"
        elif "drop" in chk:
            lo, hi = chk["difference_ci"]
            detail = (f"challenger {chk['challenger']:.6g} vs champion {chk['champion']:.6g}, "
                      f"difference CI [{lo:.4g}, {hi:.4g}]")
        elif chk["kind"] == "schema" and chk["issues"]:
            detail = "; ".join(chk["issues"])
        if not chk["passed"] and "margin" in chk:
            detail += f" (misses by {-chk['margin']:.6g})"
        lines.append(f"{mark}  {chk['criterion']}  {detail}".rstrip())
    q = report.get("quantiles")
    if q:  # a multi-quantile model: each level's loss and the outer interval's coverage
        lines.append("quantiles: pinball " + ", ".join(
            f"q{a}={v:.6g}" for a, v in q["pinball"].items()))
        cov = q["coverage"]
        lines.append(f"quantiles: coverage of [q{cov['interval'][0]:g}, "
                     f"q{cov['interval'][1]:g}] {cov['observed']:.4f} (nominal "
                     f"{cov['nominal']:.4f})")
    verdict = "ACCEPTED" if report["accepted"] else "REJECTED"
    lines.append(f"{verdict}: {len(report['checks']) - len(report['failed'])} of "
                 f"{len(report['checks'])} criteria passed")
    return lines


def run_validate(model: str, data: str, criteria: str, baseline: str | None = None,
                 report_path: str | None = None, html_path: str | None = None,
                 out: TextIO | None = None) -> int:
    """``sapwood validate``: returns 0 (accepted) or 1 (rejected); raises a SapwoodError or an
    OSError when it cannot run (the command line turns that into exit code 2).

    ``report_path="-"`` writes only the JSON report to ``out`` (stdout), and the human summary
    to stderr, so that stdout parses as JSON. Output paths are checked before any work, and
    the reports are written all or none.
    """
    stream = out or sys.stdout
    to_stdout = report_path == "-"
    files = {"--report": report_path if not to_stdout else None, "--html": html_path}
    for what, path in files.items():
        if path is not None:
            check_writable(path, what)
    report, page = _evaluate(model, data, criteria, baseline, html_path is not None)
    text = json.dumps(report, indent=2, sort_keys=True, default=str)
    outputs: dict[str, str] = {}
    if report_path is not None and not to_stdout:
        outputs[report_path] = text + "\n"
    if html_path is not None and page is not None:
        outputs[html_path] = page
    if outputs:
        write_texts(outputs)
    human = sys.stderr if to_stdout else stream
    for line in _summary_lines(report):
        print(line, file=human)
    if to_stdout:
        stream.write(text + "\n")
    return ACCEPTED if report["accepted"] else REJECTED

"""Acceptance gates: check a model against criteria on test data (``sapwood validate``).

Exit codes: 0 accepted, 1 rejected (the report names each failed criterion and by how much),
2 could not run (bad model file, data or criteria; the message says which).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

from ..errors import SapwoodError
from .criteria import Criteria, load_criteria, parse_criteria
from .gates import ACCEPTED, ERROR, REJECTED, evaluate

__all__ = ["validate", "run_validate", "Criteria", "load_criteria", "parse_criteria",
           "ACCEPTED", "REJECTED", "ERROR"]


def validate(model: str, data: str, criteria: str, baseline: str | None = None,
             html_path: str | None = None) -> dict[str, Any]:
    """Run the criteria file against the model on the data file; return the JSON report.

    Raises a SapwoodError subclass when it cannot run (the CLI maps that to exit code 2).
    """
    from ..frame.readers import read_pandas
    from ..model.format import load_any as load
    from .html import render_html

    c = load_criteria(criteria)
    booster = load(model)
    champion = load(baseline) if baseline is not None else None
    df = read_pandas(data)
    report = evaluate(booster, df, c, model_bytes=os.path.getsize(model), baseline=champion)
    if html_path is not None:
        bpred = None
        if champion is not None and champion.objective == "binary":
            bpred = champion.predict(df[champion.feature_names])
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(render_html(report, booster, report["_y"], report["_pred"], report["_w"],
                                bpred))
    return {k: v for k, v in report.items() if not k.startswith("_")}


def run_validate(model: str, data: str, criteria: str, baseline: str | None = None,
                 report_path: str | None = None, html_path: str | None = None,
                 out: TextIO | None = None) -> int:
    stream = out or sys.stdout
    try:
        report = validate(model, data, criteria, baseline, html_path)
    except (SapwoodError, OSError) as e:
        print(f"sapwood validate: could not run: {e}", file=sys.stderr)
        return ERROR
    text = json.dumps(report, indent=2, sort_keys=True, default=str)
    if report_path is not None and report_path != "-":
        with open(report_path, "w", encoding="utf-8") as f:
            f.write(text + "\n")
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
        print(f"{mark}  {chk['criterion']}  {detail}".rstrip(), file=stream)
    verdict = "ACCEPTED" if report["accepted"] else "REJECTED"
    print(f"{verdict}: {len(report['checks']) - len(report['failed'])} of "
          f"{len(report['checks'])} criteria passed", file=stream)
    if report_path == "-":
        stream.write(text + "\n")
    return ACCEPTED if report["accepted"] else REJECTED

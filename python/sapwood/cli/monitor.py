"""`sapwood monitor`: check a batch (or its profile) against a reference profile or model for drift and data quality."""

from __future__ import annotations

import sys
from typing import Any


def add_parser(sub: Any) -> None:
    mon = sub.add_parser(
        "monitor", help="check a data batch against a reference profile or model for drift",
        description="Exit 0: no drift; 1: drift or a data-quality gate failed; 2: could not run.")
    mon.add_argument("--reference", required=True,
                     help="a profile JSON (Profile.to_json) or a sapwood model file")
    mon.add_argument("--current", required=True,
                     help="the batch: Parquet, CSV, Feather/Arrow, or its profile JSON (as "
                          "written by `sapwood score --profile` or Profile.to_json, counted on "
                          "the reference's bin edges)")
    mon.add_argument("--config", help="thresholds (monitor.toml)")
    mon.add_argument("--html", help="write the HTML report here")
    mon.add_argument("--json", default="monitor_report.json",
                     help="write the JSON report here (default: monitor_report.json; '-' for "
                          "stdout)")
    mon.add_argument("--n-jobs", type=int, default=None)


def _read_table(path: str) -> Any:
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {path}")
    suffix = p.suffix.lower()
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        return pq.read_table(p)
    if suffix in (".feather", ".arrow", ".ipc"):
        import pyarrow.feather as feather

        return feather.read_table(p)
    if suffix in (".csv", ".txt", ".gz"):
        try:
            import pyarrow.csv as pcsv

            return pcsv.read_csv(p)
        except ImportError:  # pragma: no cover
            import pandas as pd

            return pd.read_csv(p)
    raise ValueError(f"cannot read {path}: expected .parquet, .csv or .feather")


def _is_json_file(path: str) -> bool:
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if p.is_dir():
        return False
    with open(p, "rb") as fh:
        head = fh.read(64).lstrip()
    return head.startswith(b"{")


def _load_current(path: str) -> Any:
    """A data file, or a profile JSON (Profile.to_json / `sapwood score --profile`)."""
    if _is_json_file(path):
        from .. import Profile

        return Profile.load(path)
    return _read_table(path)


def _load_reference(path: str) -> Any:
    from pathlib import Path

    from .. import Profile

    p = Path(path)
    if _is_json_file(path):
        return Profile.load(p)
    import sapwood

    loader = getattr(sapwood, "load", None)
    if loader is None:
        raise ValueError(f"{path} is not a profile JSON, and this sapwood cannot load model "
                         "files yet")
    return loader(p)


def run(args: Any) -> int:
    from ..errors import SapwoodError
    from ..monitoring import compare

    try:
        reference = _load_reference(args.reference)
        current = _load_current(args.current)
        report = compare(reference, current, args.config, n_jobs=args.n_jobs)
        print(report.summary())
        if args.json == "-":
            print(report.to_json())
        elif args.json:
            report.to_json(args.json)
        if args.html:
            report.to_html(args.html)
    except (SapwoodError, OSError, ValueError, ImportError) as e:
        print(f"sapwood monitor: error: {e}", file=sys.stderr)
        return 2
    return 0 if report.passed else 1

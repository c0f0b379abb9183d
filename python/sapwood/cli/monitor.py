"""`sapwood monitor`: check a batch (or its profile) against a reference profile or model for drift
and data quality; `sapwood monitor history STORE` (drift over time from a monitoring store),
`sapwood monitor performance` (metrics once labels arrive), `sapwood monitor estimate` (metrics
estimated before labels arrive) and `sapwood monitor domain` (multivariate drift by a domain
classifier) are subcommands.

The subcommands are optional positionals of `monitor` (argparse subparsers with required=False),
so `sapwood monitor --reference R --current C` keeps working as before and the time-based views
sit under the same command a user already knows; --reference/--current are then checked in run()
(a usage error, exit 2, as before)."""

from __future__ import annotations

import os
import sys
from typing import Any

from ._common import MODEL_HELP, int_range, load_model, read_data


def add_parser(sub: Any) -> None:
    mon = sub.add_parser(
        "monitor", help="check a data batch against a reference profile or model for drift",
        description="Compare --current with --reference (drift and data-quality checks per "
                    "feature) and print a summary. Exit 0: no drift; 1: drift or a "
                    "data-quality gate failed; 2: could not run; 130: interrupted. Nothing is "
                    "written unless --json or --html is given.")
    mon.add_argument("--reference", default=None,
                     help="a profile JSON (Profile.to_json) or " + MODEL_HELP +
                          " that stores its training profile")
    mon.add_argument("--current", default=None,
                     help="the batch: Parquet, CSV, Feather/Arrow, or its profile JSON (as "
                          "written by `sapwood score --profile` or Profile.to_json, counted on "
                          "the reference's bin edges)")
    mon.add_argument("--config", default=None,
                     help="thresholds (TOML; see python/sapwood/monitoring/config.py)")
    mon.add_argument("--html", default=None, help="write the HTML report here")
    mon.add_argument("--json", default=None,
                     help="write the JSON report here; '-' writes only the JSON to stdout (the "
                          "summary then goes to stderr)")
    mon.add_argument("--n-jobs", type=int_range(1, 4096), default=None,
                     help="threads for profiling the batch (default: all cores)")
    mon.add_argument("--store", default=None,
                     help="also append the batch's profile to this monitoring store (a folder or "
                          "an fsspec URL; see `sapwood monitor history`)")
    mon.add_argument("--time", default=None,
                     help="the batch's time window start for --store (ISO 8601; default: now)")
    subs = mon.add_subparsers(dest="monitor_command", required=False, metavar="SUBCOMMAND",
                              help="history (drift over time from a store), performance "
                                   "(metrics once labels arrive), estimate (metrics estimated "
                                   "before labels arrive), domain (multivariate drift by a "
                                   "domain classifier); none: check one batch")
    from .monitor_history import add_history_parser, add_performance_parser
    from .monitor_more import add_domain_parser, add_estimate_parser

    add_history_parser(subs)
    add_performance_parser(subs)
    add_estimate_parser(subs)
    add_domain_parser(subs)


def _is_json_file(path: str) -> bool:
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    if os.path.isdir(path):
        return False
    with open(path, "rb") as fh:
        head = fh.read(64).lstrip()
    return head.startswith(b"{")


def _load_profile(path: str) -> Any:
    from ..errors import DataError
    from ..monitoring.profile import Profile

    try:
        return Profile.load(path)
    except RecursionError:
        raise DataError(f"profile JSON {path!r} is nested too deeply") from None


def _load_current(path: str) -> Any:
    """A data file, or a profile JSON (Profile.to_json / `sapwood score --profile`)."""
    if _is_json_file(path):
        return _load_profile(path)
    return read_data(path, "monitor")


def _load_reference(path: str) -> Any:
    if _is_json_file(path):
        return _load_profile(path)
    return load_model(path, "--reference model")


def run(args: Any) -> int:
    from .._fs import check_writable, write_texts
    from ..errors import ParameterError
    from ..monitoring import compare

    if getattr(args, "monitor_command", None) in ("estimate", "domain"):
        from . import monitor_more

        return monitor_more.run(args)
    if getattr(args, "monitor_command", None) is not None:
        from . import monitor_history

        return monitor_history.run(args)
    missing = [o for o, v in (("--reference", args.reference), ("--current", args.current))
               if v is None]
    if missing:
        raise ParameterError(f"the following arguments are required: {', '.join(missing)} "
                             "(or a subcommand: history, performance, estimate, domain)")

    to_stdout = args.json == "-"
    files = {"--json": None if to_stdout else args.json, "--html": args.html}
    for what, path in files.items():
        if path is not None:
            check_writable(path, what)
    reference = _load_reference(args.reference)
    current = _load_current(args.current)
    report = compare(reference, current, args.config, n_jobs=args.n_jobs)
    outputs: dict[str, str] = {}
    if files["--json"] is not None:
        outputs[files["--json"]] = report.to_json()
    if args.html is not None:
        outputs[args.html] = report.to_html()
    if outputs:
        write_texts(outputs)  # all or none, each complete under its name
    if args.store is not None:
        from ..monitoring.store import ProfileStore

        model = None if _is_json_file(args.reference) else args.reference
        ProfileStore(args.store).append(report.current, window_start=args.time, model=model,
                                        source=args.current)
    print(report.summary(), file=sys.stderr if to_stdout else sys.stdout)
    if to_stdout:
        print(report.to_json())
    return 0 if report.passed else 1

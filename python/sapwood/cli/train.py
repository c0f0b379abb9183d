"""`sapwood train`: train from a TOML config and write the model file."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    tr = sub.add_parser(
        "train", help="train from a TOML config and write the model file",
        description="Train a model as CONFIG says (data, parameters, validation split or "
                    "cross-validation, output path; the README's 'Training from a config' "
                    "shows a complete example), write the model file atomically and print "
                    "the metrics it stores. The same config and data give the same file. "
                    "Exit 0: written; 2: could not run; 130: interrupted.")
    tr.add_argument("config", help="path to the TOML config (paths in it are relative to it)")
    tr.add_argument("--no-progress", action="store_true",
                    help="hide the progress bar (shown on stderr)")


def run(args: Any) -> int:
    from ..train.config import run_train

    return run_train(args.config, progress=not args.no_progress)

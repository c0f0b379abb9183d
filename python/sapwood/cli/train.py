"""`sapwood train`: train from a TOML config and write the model file."""

from __future__ import annotations

from typing import Any


def add_parser(sub: Any) -> None:
    tr = sub.add_parser("train", help="train from a TOML config and write the model file")
    tr.add_argument("config", help="path to the TOML config")
    tr.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: Any) -> int:
    from ..train.config import run_train

    return run_train(args.config, progress=not args.no_progress)

"""What several commands share: checked number options and loading inputs with clear errors."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

__all__ = ["int_range", "float_range", "load_model", "read_data", "MODEL_HELP"]

MODEL_HELP = ("a model file: sapwood (Booster.save), LightGBM text (model.txt) or XGBoost "
              "JSON/UBJSON")


def int_range(lo: int, hi: int | None = None) -> Callable[[str], int]:
    """An argparse ``type``: an integer in [lo, hi] (a usage error, exit 2, otherwise)."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            rule = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
            raise argparse.ArgumentTypeError(f"must be {rule}, got {v}")
        return v
    parse.__name__ = "integer"
    return parse


def float_range(lo: float, hi: float) -> Callable[[str], float]:
    """An argparse ``type``: a finite number in [lo, hi]."""
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not lo <= v <= hi:
            raise argparse.ArgumentTypeError(f"must be in [{lo:g}, {hi:g}], got {text}")
        return v
    parse.__name__ = "number"
    return parse


def load_model(path: str, what: str = "model") -> Any:
    """A Booster from a sapwood, LightGBM or XGBoost file; every failure is a SapwoodError or
    an OSError naming the file (a file nested deeply enough to exhaust the parser's stack is a
    ModelFormatError, not a crash)."""
    from ..model.io import load_any

    return load_any(path, what)


def read_data(path: str, command: str) -> Any:
    """A table from a data file (the one reader in sapwood.frame), naming the extra to install
    when pandas is missing."""
    from .._compat import require_for_file
    from ..frame.readers import read_table

    require_for_file(path, f"sapwood {command} to read {os.path.basename(path)!r}", "cli")
    return read_table(path)

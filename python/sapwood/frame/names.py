"""Column-name rules shared by the readers and the column adapters (columns match by name)."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import DataError

__all__ = ["check_unique"]


def check_unique(names: Sequence[str], what: str) -> None:
    """Refuse duplicate column names (a DataError naming them): columns match by name."""
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if list(names).count(n) > 1})
        raise DataError(f"{what} has duplicate column names: {dup}")

"""Categories by value: the order a model keeps, and codes looked up through the stored values.

A categorical feature's codes are positions in the model's stored category list, never the
codes of a pandas category or Arrow dictionary column (those depend on how the table was
built). The stored list is ordered by frequency in the training data (0 = most frequent,
ties by value), and the engine keeps the ``max_bin - 1`` most frequent categories that have
at least ``cat_min_count`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._compat import optional

__all__ = ["plain", "example", "lookup_codes", "frequency_order", "kept_categories",
           "apply_target_stats"]

FeatureSpec = dict[str, Any]


def plain(v: Any) -> Any:
    """A JSON-able Python scalar for a category value."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (str, bool, int, float)):
        return v
    return str(v)


def is_missing(v: Any) -> bool:
    """None, NaN, pandas NA / NaT: a missing value in an object column."""
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    if isinstance(v, (str, bytes, int, np.integer, bool, np.bool_)):
        return False
    try:
        return bool(v != v)  # NaN-like scalars (np.float32 NaN, pd.NA raises, NaT is != itself)
    except (TypeError, ValueError):
        return True  # pd.NA: "boolean value of NA is ambiguous"


def example(values: Sequence[Any] | np.ndarray) -> Any:
    """The first non-missing value, for error messages."""
    for v in values:
        if not is_missing(v):
            return v.item() if isinstance(v, np.generic) else v
    return None


def lookup_codes(values: np.ndarray, categories: list[Any]) -> np.ndarray:
    """float32 positions of object/number ``values`` in ``categories`` (NaN when absent)."""
    pd = optional("pandas")
    if pd is not None:  # a hash join in C, about 20x the dict lookup below
        idx = pd.Index(categories, dtype=object).get_indexer(pd.Index(values, dtype=object))
        out: np.ndarray = idx.astype(np.float32)
        out[idx < 0] = np.nan
        return out
    table = {c: i for i, c in enumerate(categories)}
    res = np.full(len(values), np.nan, dtype=np.float32)
    for i, v in enumerate(values):
        if not is_missing(v):
            try:
                j = table.get(plain(v))
            except TypeError:  # unhashable
                j = None
            if j is not None:
                res[i] = j
    return res


def frequency_order(values: list[Any], counts: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Categories by descending count, ties by value (by str when values do not compare)."""
    try:
        order = sorted(range(len(values)), key=lambda i: (-int(counts[i]), values[i]))
    except TypeError:
        order = sorted(range(len(values)), key=lambda i: (-int(counts[i]), str(values[i])))
    return [values[i] for i in order], np.asarray([counts[i] for i in order], dtype=np.int64)


def kept_categories(counts: np.ndarray, max_bin: int, cat_min_count: int) -> int:
    """How many of the frequency-ordered categories get their own bin."""
    k = int(np.count_nonzero(counts >= max(1, cat_min_count)))
    return min(k, max_bin - 1)


def apply_target_stats(codes: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """A categorical feature's engine column: its codes, or for a target-statistics feature
    the statistic of each code (NaN for missing and unseen categories)."""
    if spec.get("encoding") != "target_stats":
        return codes
    lut = np.append(np.asarray(spec["target_stats"], dtype=np.float32), np.float32(np.nan))
    idx = np.where(np.isnan(codes), len(lut) - 1, codes).astype(np.int64)
    out: np.ndarray = lut[idx]
    return out

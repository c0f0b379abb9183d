"""Query groups of ranking data: group sizes (LightGBM's ``group``) or per-row query ids
(XGBoost's ``qid``) as one array of query bounds.

Query ``q`` holds rows ``bounds[q]:bounds[q + 1]``; a query's rows are contiguous (a query id
that comes back after another query started is a DataError naming the row).

May import: ``errors`` and numpy only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .errors import DataError

__all__ = ["bounds_from_sizes", "bounds_from_qid", "query_bounds"]


def bounds_from_sizes(sizes: Any, n_rows: int, what: str = "group") -> np.ndarray:
    """Bounds from query sizes: positive integers summing to n_rows."""
    arr = np.asarray(sizes)
    if arr.ndim != 1 or arr.size == 0:
        raise DataError(f"{what} must be a non-empty 1-D list of query sizes, got shape "
                        f"{arr.shape}")
    if arr.dtype.kind not in "iuf" or arr.dtype.kind == "f" and not np.all(
            np.isfinite(arr) & (arr == np.floor(arr))):
        raise DataError(f"{what} sizes must be whole numbers (the rows of each query), got "
                        f"dtype {arr.dtype}")
    s = arr.astype(np.int64)
    bad = np.flatnonzero(s < 1)
    if bad.size:
        raise DataError(f"{what}: query {bad[0]} has size {s[bad[0]]}; every query needs at "
                        "least one row")
    total = int(s.sum())
    if total != n_rows:
        hint = (" (a per-row query id column? pass it as qid=)" if s.size == n_rows else "")
        raise DataError(f"{what} sizes sum to {total} rows but the data has {n_rows}{hint}")
    out = np.zeros(s.size + 1, dtype=np.int64)
    np.cumsum(s, out=out[1:])
    return out


def bounds_from_qid(qid: Any, n_rows: int, what: str = "qid") -> np.ndarray:
    """Bounds from one query id per row; each query's rows must be contiguous."""
    arr = np.asarray(qid)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1 or arr.shape[0] != n_rows:
        raise DataError(f"{what} needs one query id per row ({n_rows}), got shape {arr.shape}")
    if arr.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(arr))
        if bad.size:
            raise DataError(f"{what} is missing or not finite at row {bad[0]}")
    elif arr.dtype.kind == "O":
        bad = np.flatnonzero([v is None or v != v for v in arr])
        if bad.size:
            raise DataError(f"{what} is missing at row {bad[0]}")
    if n_rows == 0:
        return np.zeros(1, dtype=np.int64)
    starts = np.flatnonzero(arr[1:] != arr[:-1]) + 1
    first = np.concatenate([[0], starts])
    ids = arr[first]
    try:
        _, counts = np.unique(ids, return_counts=True)
    except TypeError:
        raise DataError(f"{what} values must be comparable (numbers or strings), got dtype "
                        f"{arr.dtype}") from None
    if (counts > 1).any():
        seen: set[Any] = set()
        for q, v in enumerate(ids.tolist()):
            if v in seen:
                row = int(first[q])
                raise DataError(
                    f"{what}: query {v!r} comes back at row {row} after other queries; the rows "
                    "of a query must be contiguous (sort the data by query id)")
            seen.add(v)
    return np.concatenate([first, [n_rows]]).astype(np.int64)


def query_bounds(group: Any, qid: Any, n_rows: int) -> np.ndarray | None:
    """The bounds of group sizes or per-row query ids (at most one of the two), or None."""
    if group is not None and qid is not None:
        raise DataError("give the query groups once: group= (sizes) or qid= (per-row ids)")
    if group is not None:
        return bounds_from_sizes(group, n_rows)
    if qid is not None:
        return bounds_from_qid(qid, n_rows)
    return None

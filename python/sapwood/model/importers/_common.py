"""What the importers share: field access that names the field, array conversion, the
threshold rounding, breadth-first renumbering, bounds on declared sizes, and the safety net
that turns any foreign exception into a ModelFormatError.

May import: ``errors`` and numpy.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ...errors import ModelFormatError, SapwoodError

__all__ = ["field", "array", "float32_le", "renumber", "count", "max_declared", "foreign_errors",
           "tweedie_power"]

# A declared size (features, classes) may be at most this many times the file's byte size:
# a model whose names or per-class arrays would need more memory than that is refused before
# anything is allocated (a 7 KB file cannot make sapwood build a 2**31-entry list).
SIZE_PER_BYTE = 16
_INT32_MAX = 2**31 - 1


def field(d: Any, key: str, where: str) -> Any:
    if not isinstance(d, dict) or key not in d:
        raise ModelFormatError(f"field '{where}{key}' is missing")
    return d[key]


def array(v: Any, dtype: Any, where: str) -> np.ndarray:
    if isinstance(v, (str, bytes, dict)) or v is None:
        raise ModelFormatError(f"field '{where}' must be an array, got {type(v).__name__}")
    try:
        a = np.asarray(v, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelFormatError(f"field '{where}' is not a numeric array: {exc}") from None
    if a.ndim != 1:
        raise ModelFormatError(f"field '{where}' must be a 1-D array")
    return a


def count(v: Any, where: str, lo: int, hi: int) -> int:
    """An integer count stored as a number or a numeric string, in [lo, hi]."""
    if isinstance(v, bool):
        raise ModelFormatError(f"field '{where}' must be an integer, got {v!r}")
    if isinstance(v, str):
        s = v.strip()
        try:
            n = int(s)
        except ValueError:
            try:
                f = float(s)
            except ValueError:
                raise ModelFormatError(f"field '{where}' must be an integer, got {v!r}") \
                    from None
            n = _float_int(f, v, where)
    elif isinstance(v, (int, np.integer)):
        n = int(v)
    elif isinstance(v, (float, np.floating)):
        n = _float_int(float(v), v, where)
    else:
        raise ModelFormatError(f"field '{where}' must be an integer, got {type(v).__name__}")
    if not lo <= n <= hi:
        raise ModelFormatError(f"field '{where}' is {n}, expected an integer in [{lo}, {hi}]")
    return n


def _float_int(f: float, raw: Any, where: str) -> int:
    if not math.isfinite(f) or f != math.floor(f):
        raise ModelFormatError(f"field '{where}' must be an integer, got {raw!r}")
    return int(f)


def max_declared(nbytes: int) -> int:
    """The largest feature or class count a file of ``nbytes`` bytes may declare."""
    return min(_INT32_MAX, max(1024, SIZE_PER_BYTE * nbytes))


def float32_le(thr: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 threshold: `x <= t` on float32 x, exactly."""
    with np.errstate(over="ignore"):
        t32 = thr.astype(np.float32)
    over = t32.astype(np.float64) > thr
    t32[over] = np.nextafter(t32[over], np.float32(-np.inf))
    return t32


def renumber(
    left: np.ndarray, right: np.ndarray, n: int, where: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Breadth-first order from the root: old index per new index, and the new child arrays.

    Guarantees children after parents and drops unreachable (deleted) nodes; raises on cycles,
    shared children or out-of-range indices.
    """
    order = [0]
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    head = 0
    while head < len(order):
        i = order[head]
        head += 1
        for c in (int(left[i]), int(right[i])):
            if c < 0:
                continue
            if c >= n:
                raise ModelFormatError(f"{where}: node {i} has child {c} out of range [0, {n})")
            if seen[c]:
                raise ModelFormatError(f"{where}: node {c} is reached twice (not a tree)")
            seen[c] = True
            order.append(c)
    old = np.asarray(order, dtype=np.int64)
    new_of = np.full(n, -1, dtype=np.int64)
    new_of[old] = np.arange(old.size)
    lo, ro = left[old], right[old]
    nl = np.where(lo >= 0, new_of[np.maximum(lo, 0)], -1).astype(np.int32)
    nr = np.where(ro >= 0, new_of[np.maximum(ro, 0)], -1).astype(np.int32)
    return old, nl, nr


@contextmanager
def foreign_errors(what: str) -> Iterator[None]:
    """The safety net: any exception that is not a SapwoodError becomes a ModelFormatError
    (the checks name the field first; this catches what they missed)."""
    try:
        yield
    except SapwoodError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            ZeroDivisionError, RecursionError, MemoryError, UnicodeError) as exc:
        raise ModelFormatError(f"{what} model is malformed ({type(exc).__name__}: {exc})") \
            from None




def tweedie_power(raw: Any, where: str) -> float:
    try:
        p = float(raw)
    except (TypeError, ValueError, OverflowError):
        raise ModelFormatError(f"field '{where}' is not a number: {raw!r}") from None
    if not 1.0 < p < 2.0:
        # the power only matters for evaluation, but sapwood's tweedie objective needs (1, 2)
        raise ModelFormatError(f"field '{where}' is {p}; sapwood supports tweedie powers in "
                               "(1, 2)")
    return p


def read_source(source: str | os.PathLike[str] | bytes | bytearray | memoryview) -> bytes:
    """A foreign model's bytes: ``source`` itself, or the file it names (a read failure is a
    ModelFormatError naming the file)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    try:
        with open(os.fspath(source), "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise ModelFormatError(f"cannot read model file {source!r}: {exc}") from exc

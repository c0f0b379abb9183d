"""A small UBJSON decoder for XGBoost's ``.ubj`` model files (typed arrays become numpy
arrays). Every length is checked against the bytes left before anything is allocated, and
nesting is bounded, so a damaged file raises ModelFormatError.

May import: ``errors`` and numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import ModelFormatError

__all__ = ["read_ubjson"]


def read_ubjson(data: bytes) -> Any:
    """The document in UBJSON bytes (ModelFormatError naming the byte of any fault)."""
    reader = _UbjReader(data)
    doc = reader.read_document()
    return doc


class _UbjReader:
    """A small UBJSON decoder for XGBoost's .ubj files (typed arrays become numpy arrays)."""

    _NUM = {
        b"i": (">i1", 1), b"U": (">u1", 1), b"I": (">i2", 2), b"l": (">i4", 4),
        b"L": (">i8", 8), b"d": (">f4", 4), b"D": (">f8", 8),
    }

    def __init__(self, data: bytes) -> None:
        self.b = data
        self.p = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.p + n > len(self.b):
            raise ModelFormatError(f"UBJSON model is truncated at byte {self.p}")
        s = self.b[self.p:self.p + n]
        self.p += n
        return s

    def _marker(self) -> bytes:
        m = self._take(1)
        while m == b"N":  # no-op
            m = self._take(1)
        return m

    def _number(self, m: bytes) -> Any:
        fmt, size = self._NUM[m]
        v = np.frombuffer(self._take(size), dtype=fmt)[0]
        return float(v) if m in (b"d", b"D") else int(v)

    def _count(self) -> int:
        m = self._marker()
        if m not in self._NUM or m in (b"d", b"D"):
            raise ModelFormatError(f"UBJSON: bad length marker {m!r} at byte {self.p - 1}")
        n = int(self._number(m))
        if n < 0 or n > len(self.b):
            raise ModelFormatError(f"UBJSON: implausible length {n} at byte {self.p}")
        return n

    def _string(self) -> str:
        n = self._count()
        try:
            return self._take(n).decode("utf-8")
        except UnicodeDecodeError:
            raise ModelFormatError(f"UBJSON: string at byte {self.p - n} is not UTF-8") from None

    def read_document(self) -> Any:
        v = self._value(self._marker(), 0)
        return v

    def _value(self, m: bytes, depth: int) -> Any:
        if depth > 64:
            raise ModelFormatError("UBJSON: nesting deeper than 64 levels")
        if m in self._NUM:
            return self._number(m)
        if m == b"S" or m == b"H":
            return self._string()
        if m == b"C":
            return self._take(1).decode("latin-1")
        if m == b"T":
            return True
        if m == b"F":
            return False
        if m == b"Z":
            return None
        if m == b"[":
            return self._container(depth, array=True)
        if m == b"{":
            return self._container(depth, array=False)
        raise ModelFormatError(f"UBJSON: unknown type marker {m!r} at byte {self.p - 1}")

    def _container(self, depth: int, *, array: bool) -> Any:
        typ: bytes | None = None
        count: int | None = None
        m = self._marker()
        if m == b"$":
            typ = self._take(1)
            m = self._marker()
            if m != b"#":
                raise ModelFormatError(f"UBJSON: '$' without '#' at byte {self.p - 1}")
        if m == b"#":
            count = self._count()
            m = b""
        if array:
            if typ is not None and typ in self._NUM and count is not None:
                fmt, size = self._NUM[typ]
                return np.frombuffer(self._take(count * size), dtype=fmt).astype(
                    fmt.replace(">", "=")
                )
            out: list[Any] = []
            if count is not None:
                for _ in range(count):
                    out.append(self._value(typ if typ is not None else self._marker(), depth + 1))
                return out
            while m != b"]":
                out.append(self._value(m, depth + 1))
                m = self._marker()
            return out
        obj: dict[str, Any] = {}
        if count is not None:
            for _ in range(count):
                key = self._string()
                obj[key] = self._value(typ if typ is not None else self._marker(), depth + 1)
            return obj
        while m != b"}":
            # the key's length marker is m itself
            self.p -= 1
            key = self._string()
            obj[key] = self._value(self._marker(), depth + 1)
            m = self._marker()
        return obj



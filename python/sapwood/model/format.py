"""The model file: one versioned, checksummed file per Booster. No pickle inside.

Layout (all integers little-endian)::

    offset  size   field
    0       8      magic  b"\\x89SPWOOD\\n"   (the high byte and newline catch text-mode damage)
    8       4      format version (uint32)
    12      4      flags (uint32, 0; reserved)
    16      8      metadata length M (uint64)
    24      8      data length D (uint64)
    32      M      metadata: UTF-8 JSON object (sorted keys, no whitespace)
    32+M    P      zero padding so the data section starts on an 8-byte boundary
    32+M+P  D      data section: the binary blocks (node arrays, bin edges, ...)
    end-32  32     SHA-256 of every byte before it

The metadata holds every scalar (objective, feature names, params, provenance, tags, ...) and
a ``blocks`` table: for each binary block its dtype (little-endian numpy type string), shape,
offset (from the start of the data section) and byte length. Anywhere in the metadata an
array is written as ``{"$block": i}``, and a non-finite float as ``{"$float": "nan"}``; the
encoding is generic, so tree dicts that gain optional arrays (e.g. categorical bitsets) and
``Booster.extra`` sections round-trip without a format change.

This module is the container only: :func:`encode` turns a JSON-like document (dicts, lists,
scalars, numpy arrays) into the file's bytes and :func:`decode` turns bytes back into the
document, checking, in order: magic, format version (a newer one raises ModelFormatError
naming the version needed), sizes, checksum, JSON, the blocks table (dtype, shape, offset,
length, alignment) and every block reference. What the document must hold to be a model is
checked by :mod:`sapwood.model.serialize` (and the trees' structure by the C++ Forest).
Any failure raises :class:`sapwood.ModelFormatError` naming the field.

May import: ``errors``, ``_fs`` and numpy.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import struct
from collections.abc import Mapping
from typing import Any

import numpy as np

from .._fs import write_bytes
from ..errors import ModelFormatError, ParameterError
from .provenance import library_version as _library_version

__all__ = ["FORMAT_VERSION", "MAGIC", "encode", "decode", "read_metadata", "write"]

MAGIC = b"\x89SPWOOD\n"
FORMAT_VERSION = 1
_HEADER = struct.Struct("<8sIIQQ")
_DIGEST = 32
_ALIGN = 8

# dtypes a block may hold (little-endian type strings as numpy spells them).
_ALLOWED_DTYPES = {
    np.dtype(t).newbyteorder("<").str: np.dtype(t)
    for t in ("b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f4", "f8")
}
_MAX_DIMS = 8


# --------------------------------------------------------------------------- encoding
class _Writer:
    """Collects arrays into the data section while the metadata is encoded."""

    def __init__(self) -> None:
        self.table: list[dict[str, Any]] = []
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, a: np.ndarray) -> dict[str, int]:
        dt = a.dtype.newbyteorder("<") if a.dtype.byteorder not in ("|",) else a.dtype
        if dt.str not in _ALLOWED_DTYPES:
            raise ParameterError(
                f"cannot store an array of dtype {a.dtype} in a model file; "
                f"allowed: {sorted(_ALLOWED_DTYPES)}"
            )
        raw = np.ascontiguousarray(a, dtype=dt).tobytes()
        pad = (-self.size) % _ALIGN
        if pad:
            self.chunks.append(b"\0" * pad)
            self.size += pad
        self.table.append({"dtype": dt.str, "shape": [int(s) for s in a.shape],
                           "offset": self.size, "nbytes": len(raw)})
        self.chunks.append(raw)
        self.size += len(raw)
        return {"$block": len(self.table) - 1}


def _encode(obj: Any, w: _Writer, path: str) -> Any:
    if isinstance(obj, np.ndarray):
        return w.add(obj)
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        if math.isfinite(f):
            return f
        return {"$float": "nan" if math.isnan(f) else ("inf" if f > 0 else "-inf")}
    if isinstance(obj, Mapping):
        out: dict[str, Any] = {}
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise ParameterError(f"{path}: dict keys must be strings, got {bad[0]!r}")
        for k in sorted(obj):  # sorted, so blocks are laid out in one canonical order
            out[k] = _encode(obj[k], w, f"{path}.{k}")
        if len(out) == 1 and next(iter(out)) in ("$block", "$float"):
            raise ParameterError(f"{path}: the key {next(iter(out))!r} is reserved")
        return out
    if isinstance(obj, (list, tuple)):
        return [_encode(v, w, f"{path}[{i}]") for i, v in enumerate(obj)]
    raise ParameterError(
        f"{path}: cannot store a {type(obj).__name__} in a model file "
        "(use str, int, float, bool, None, lists, dicts and numpy arrays)"
    )


def encode(document: Mapping[str, Any]) -> bytes:
    """The file's bytes for a JSON-like document (see the module docstring for the layout):
    arrays go to the data section, everything else into the sorted-key JSON metadata."""
    w = _Writer()
    model = _encode(document, w, "model")
    meta = {"blocks": w.table, "model": model}
    meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":"),
                            allow_nan=False, ensure_ascii=False).encode("utf-8")
    pad = (-(_HEADER.size + len(meta_bytes))) % _ALIGN
    body = b"".join([
        _HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(meta_bytes), w.size),
        meta_bytes,
        b"\0" * pad,
        *w.chunks,
    ])
    return body + hashlib.sha256(body).digest()


def write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write a model file's bytes atomically (temporary file beside it, fsync, rename)."""
    write_bytes(path, data)


# --------------------------------------------------------------------------- decoding
def _fail(msg: str) -> ModelFormatError:
    return ModelFormatError(f"model file: {msg}")


def _parse_container(data: bytes | bytearray | memoryview) -> tuple[dict[str, Any], memoryview]:
    """Check magic, version, sizes and checksum; return the metadata and the data section."""
    buf = memoryview(data).cast("B")
    n = len(buf)
    if n < 12 or bytes(buf[:8]) != MAGIC:
        raise _fail("not a sapwood model file (bad magic bytes)")
    (version,) = struct.unpack_from("<I", buf, 8)
    if version > FORMAT_VERSION:
        raise _fail(
            f"format version {version} is newer than this sapwood ({_library_version()}) "
            f"reads (up to {FORMAT_VERSION}); install a sapwood release that reads model "
            f"format version {version}"
        )
    if version < 1:
        raise _fail(f"format version {version} is not a valid version")
    if n < _HEADER.size + _DIGEST:
        raise _fail(f"truncated: {n} bytes is shorter than the header and checksum")
    _, _, flags, meta_len, data_len = _HEADER.unpack_from(buf, 0)
    if flags != 0:
        raise _fail(f"header field 'flags' is {flags}, expected 0")
    pad = (-(_HEADER.size + meta_len)) % _ALIGN
    expect = _HEADER.size + meta_len + pad + data_len + _DIGEST
    if expect != n:
        what = "truncated" if n < expect else f"has {n - expect} trailing bytes"
        raise _fail(
            f"{what}: header fields 'metadata_length'={meta_len} and 'data_length'={data_len} "
            f"imply {expect} bytes, the file has {n}"
        )
    digest = hashlib.sha256(buf[:n - _DIGEST]).digest()
    if digest != bytes(buf[n - _DIGEST:]):
        raise _fail("checksum mismatch: the file is corrupted (SHA-256 of its contents differs)")
    meta_start = _HEADER.size
    data_start = meta_start + meta_len + pad
    if any(buf[meta_start + meta_len:data_start]):
        raise _fail("padding after the metadata is not zero")
    try:
        meta = json.loads(bytes(buf[meta_start:meta_start + meta_len]).decode("utf-8"),
                          parse_constant=_reject_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise _fail(f"metadata is not valid JSON: {e}") from None
    if not isinstance(meta, dict):
        raise _fail("metadata is not a JSON object")
    return meta, buf[data_start:data_start + data_len]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard constant {name}")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


class _Blocks:
    def __init__(self, table: Any, data: memoryview) -> None:
        if not isinstance(table, list):
            raise _fail("metadata field 'blocks' must be a list")
        self.data = data
        self.specs: list[tuple[np.dtype[Any], tuple[int, ...], int, int]] = []
        for i, spec in enumerate(table):
            where = f"blocks[{i}]"
            if not isinstance(spec, dict):
                raise _fail(f"{where} must be an object")
            dts = spec.get("dtype")
            if not isinstance(dts, str) or dts not in _ALLOWED_DTYPES:
                raise _fail(f"{where}.dtype {dts!r} is not one of {sorted(_ALLOWED_DTYPES)}")
            dt = np.dtype(dts)
            shape = spec.get("shape")
            if (not isinstance(shape, list) or len(shape) > _MAX_DIMS
                    or not all(_is_int(s) and s >= 0 for s in shape)):
                raise _fail(f"{where}.shape {shape!r} must be a list of at most "
                            f"{_MAX_DIMS} non-negative integers")
            off: Any = spec.get("offset")
            nbytes: Any = spec.get("nbytes")
            if not _is_int(off) or off < 0 or off % _ALIGN:
                raise _fail(f"{where}.offset {off!r} must be a non-negative multiple of {_ALIGN}")
            if not _is_int(nbytes) or nbytes < 0:
                raise _fail(f"{where}.nbytes {nbytes!r} must be a non-negative integer")
            count = math.prod(shape)
            if count * dt.itemsize != nbytes:
                raise _fail(f"{where}.nbytes is {nbytes} but shape {shape} of {dts} "
                            f"needs {count * dt.itemsize}")
            if off + nbytes > len(data):
                raise _fail(f"{where} (offset {off}, {nbytes} bytes) runs past the end of the "
                            f"data section ({len(data)} bytes)")
            self.specs.append((dt, tuple(shape), off, nbytes))

    def get(self, ref: Any, where: str) -> np.ndarray:
        if not _is_int(ref) or not 0 <= ref < len(self.specs):
            raise _fail(f"{where}: block reference {ref!r} is not an index into 'blocks' "
                        f"(0..{len(self.specs) - 1})")
        dt, shape, off, nbytes = self.specs[ref]
        raw = np.frombuffer(self.data[off:off + nbytes], dtype=np.uint8)
        if dt.kind == "b" and raw.size and int(raw.max()) > 1:
            raise _fail(f"{where}: boolean block {ref} holds bytes other than 0 and 1")
        out: np.ndarray = raw.view(dt).reshape(shape).astype(dt.newbyteorder("="), copy=True)
        return out


def _decode(obj: Any, blocks: _Blocks, path: str) -> Any:
    if isinstance(obj, dict):
        if len(obj) == 1 and "$block" in obj:
            return blocks.get(obj["$block"], path)
        if len(obj) == 1 and "$float" in obj:
            s = obj["$float"]
            if s not in ("nan", "inf", "-inf"):
                raise _fail(f"{path}: $float must be 'nan', 'inf' or '-inf', got {s!r}")
            return float(s)
        return {k: _decode(v, blocks, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, blocks, f"{path}[{i}]") for i, v in enumerate(obj)]
    return obj


def _req(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise _fail(f"field '{where}.{key}' is missing")
    return d[key]


def read_metadata(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The decoded metadata of a model file (blocks replaced by arrays), after all checks of
    the container. Used by ``sapwood inspect``."""
    meta, section = _parse_container(data)
    blocks = _Blocks(_req(meta, "blocks", "metadata"), section)
    model = _decode(_req(meta, "model", "metadata"), blocks, "model")
    if not isinstance(model, dict):
        raise _fail("field 'model' must be an object")
    return model


def decode(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The document stored in model-file bytes (blocks replaced by arrays); raises
    ModelFormatError naming any fault of the container."""
    try:
        return read_metadata(data)
    except ModelFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
            MemoryError) as e:  # a safety net: the checks above should name the field first
        raise _fail(f"malformed ({type(e).__name__}: {e})") from None



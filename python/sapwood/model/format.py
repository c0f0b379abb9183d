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

Loading checks, in order: magic, format version (a newer one raises ModelFormatError naming
the version needed), sizes, checksum, JSON, the blocks table (dtype, shape, offset, length,
alignment), every reference, every field's type and range; then the C++ Forest constructor
checks the tree structure (child indices, reachability, feature indices). Any failure raises
:class:`sapwood.ModelFormatError` naming the field.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import os
import struct
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelFormatError, ParameterError, SapwoodError

if TYPE_CHECKING:
    from ..dataset import Dataset
    from .booster import Booster

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "load",
    "loads",
    "dumps",
    "save",
    "data_fingerprint",
    "make_provenance",
    "read_metadata",
]

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
# Tree fields the predictor reads: exact dtype, one entry per node.
TREE_FIELDS: dict[str, np.dtype[Any]] = {
    "feature": np.dtype(np.int32),
    "threshold": np.dtype(np.float32),
    "threshold_bin": np.dtype(np.int32),
    "default_left": np.dtype(np.uint8),
    "left": np.dtype(np.int32),
    "right": np.dtype(np.int32),
    "value": np.dtype(np.float64),
    "gain": np.dtype(np.float64),
    "hess": np.dtype(np.float64),
    "count": np.dtype(np.int64),
}
_REQUIRED_TREE_FIELDS = ("feature", "threshold", "default_left", "left", "right", "value")
OBJECTIVES = ("regression", "binary", "multiclass", "poisson", "gamma", "tweedie")
_MAX_DIMS = 8


# --------------------------------------------------------------------------- helpers
def _library_version() -> str:
    from .. import __version__

    return str(__version__)


def _now_iso() -> str:
    """Creation time: SOURCE_DATE_EPOCH when set (reproducible builds), else now, UTC."""
    sde = os.environ.get("SOURCE_DATE_EPOCH")
    if sde is not None and sde.strip().isdigit():
        t = _dt.datetime.fromtimestamp(int(sde), tz=_dt.timezone.utc)
    else:
        t = _dt.datetime.now(tz=_dt.timezone.utc)
    return t.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def data_fingerprint(dataset: Dataset) -> dict[str, Any]:
    """A SHA-256 fingerprint of a Dataset's feature columns, names, labels and weights.

    Each column is hashed as float32 (what the trees compare) in column order, so the same data
    gives the same fingerprint whatever its memory layout or float width.
    """
    X = dataset.X
    n, m = X.shape
    cols = [hashlib.sha256() for _ in range(m)]
    step = max(256, (1 << 19) // max(1, m))  # ~2 MiB chunks: the transpose stays in cache
    for r0 in range(0, n, step):
        chunk = np.ascontiguousarray(X[r0:r0 + step].T, dtype=np.dtype("<f4"))
        for j in range(m):
            cols[j].update(chunk[j].data)
    h = hashlib.sha256()
    h.update(b"sapwood-fingerprint-1\0")
    h.update(struct.pack("<QQ", n, m))
    for name, c in zip(dataset.feature_names, cols, strict=True):
        h.update(name.encode("utf-8") + b"\0")
        h.update(c.digest())
    for what, v in (("label", dataset.label), ("weight", dataset.weight)):
        h.update(what.encode() + b"\0")
        if v is None:
            h.update(b"none")
        else:
            h.update(hashlib.sha256(np.ascontiguousarray(v, dtype="<f8").data).digest())
    return {"algorithm": "sha256", "digest": h.hexdigest(), "rows": int(n), "columns": int(m)}


def make_provenance(dataset: Dataset) -> dict[str, Any]:
    """What train() records about how a model was built."""
    return {"library_version": _library_version(), "created_at": _now_iso(),
            "data_fingerprint": data_fingerprint(dataset)}


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


def _model_dict(b: Booster) -> dict[str, Any]:
    prov = dict(b.provenance)
    prov.setdefault("library_version", _library_version())
    prov.setdefault("created_at", _now_iso())
    prov.setdefault("data_fingerprint", None)
    b.provenance = prov  # so that saving again gives the same bytes
    params = {k: v for k, v in b.params.items() if k != "n_jobs"}  # a machine detail
    return {
        "format_version": FORMAT_VERSION,
        "objective": b.objective,
        "num_class": int(b.num_class),
        "num_features": b.num_features,
        "feature_names": list(b.feature_names),
        "init_score": np.asarray(b.init_score, dtype=np.float64),
        "bin_edges": [np.asarray(e) for e in b.bin_edges],
        "params": params,
        "best_iteration": b.best_iteration,
        "best_score": b.best_score,
        "evals_result": {s: {m: np.asarray(v, dtype=np.float64) for m, v in ms.items()}
                         for s, ms in b.evals_result.items()},
        "provenance": prov,
        "tags": dict(b.tags),
        "extra": dict(b.extra),
        # optional sections: written only when present, so older files re-save identically
        **({"schema": [dict(f) for f in b.schema]} if b.schema is not None else {}),
        **({"pandas_categorical": b.pandas_categorical}
           if b.pandas_categorical is not None else {}),
        **({"pandas_categorical_features": list(b.pandas_categorical_features)}
           if b.pandas_categorical_features is not None else {}),
        **({"category_code_features": list(b.category_code_features)}
           if b.category_code_features is not None else {}),
        **({"reference_profile": b.reference_profile.to_dict()}
           if b.reference_profile is not None else {}),
        "trees": [{"output": int(k), "arrays": dict(t)}
                  for t, k in zip(b._trees, b._tree_output, strict=True)],
    }


def dumps(booster: Booster) -> bytes:
    """The model file's bytes for a Booster (see the module docstring for the layout)."""
    w = _Writer()
    model = _encode(_model_dict(booster), w, "model")
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


def write_atomic(target: str, data: bytes, tmp: str | None = None) -> None:
    """Write ``data`` to a temporary file (``tmp``, default a unique name beside ``target``)
    and rename it over ``target``: readers see the old file or the whole new one, never a
    part; on any failure the temporary file is removed."""
    if tmp is None:
        tmp = f"{target}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        with open(tmp, "xb") as f:  # a plain open, so the usual umask applies
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save(booster: Booster, path: str | os.PathLike[str]) -> None:
    """Write the model file atomically (a temporary file renamed over ``path``)."""
    write_atomic(os.fspath(path), dumps(booster))


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


# --------------------------------------------------------------------------- validation
def _req(d: Mapping[str, Any], key: str, where: str = "model") -> Any:
    if key not in d:
        raise _fail(f"field '{where}.{key}' is missing")
    return d[key]


def _check_array(a: Any, where: str, *, dtype: np.dtype[Any] | None = None,
                 kind: str | None = None, ndim: int | None = 1) -> np.ndarray:
    if not isinstance(a, np.ndarray):
        raise _fail(f"field '{where}' must be an array (a block reference)")
    if dtype is not None and a.dtype != dtype:
        raise _fail(f"field '{where}' has dtype {a.dtype}, expected {dtype}")
    if kind is not None and a.dtype.kind not in kind:
        raise _fail(f"field '{where}' has dtype {a.dtype}, expected kind {kind!r}")
    if ndim is not None and a.ndim != ndim:
        raise _fail(f"field '{where}' must be {ndim}-D, got shape {a.shape}")
    return a


def _check_tree_field(arr: Any, where: str, canonical: np.dtype[Any]) -> np.ndarray:
    """A node array of the canonical dtype, or of another dtype of the same kind whose values
    convert to it exactly (kept as stored, so re-saving gives the same bytes)."""
    a: np.ndarray = _check_array(arr, where)
    if a.dtype == canonical:
        return a
    kinds = "iub" if canonical.kind in "iub" else "f"
    if a.dtype.kind not in kinds:
        raise _fail(f"field '{where}' has dtype {a.dtype}, expected {canonical}")
    with np.errstate(all="ignore"):
        back = a.astype(canonical).astype(a.dtype)
    if not np.array_equal(back, a, equal_nan=a.dtype.kind == "f"):
        raise _fail(f"field '{where}' has {a.dtype} values that do not fit {canonical}")
    return a


def _check_str_dict(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise _fail(f"field '{where}' must be an object")
    return d


def _metric_float(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(f"field '{where}' must be a number, got {v!r}")
    return float(v)


def _build_booster(model: dict[str, Any]) -> Booster:
    from .booster import Booster

    b = Booster()
    objective = _req(model, "objective")
    if objective not in OBJECTIVES:
        raise _fail(f"field 'model.objective' is {objective!r}; known: {list(OBJECTIVES)}")
    num_class = _req(model, "num_class")
    if not _is_int(num_class) or num_class < 1 or num_class > 1_000_000:
        raise _fail(f"field 'model.num_class' must be an integer in [1, 1e6], got {num_class!r}")
    if (objective == "multiclass") != (num_class >= 2):
        raise _fail(f"field 'model.num_class' is {num_class} for objective {objective!r}")
    b.objective, b.num_class = objective, num_class
    k = b.num_outputs

    names = _req(model, "feature_names")
    if not isinstance(names, list) or not all(isinstance(s, str) for s in names):
        raise _fail("field 'model.feature_names' must be a list of strings")
    if len(set(names)) != len(names):
        raise _fail("field 'model.feature_names' has duplicate names")
    nf = _req(model, "num_features")
    if not _is_int(nf) or nf != len(names):
        raise _fail(f"field 'model.num_features' is {nf!r} but there are {len(names)} "
                    "feature names")
    b.feature_names = list(names)

    init = _check_array(_req(model, "init_score"), "model.init_score",
                        dtype=np.dtype(np.float64))
    if init.shape != (k,) or not np.all(np.isfinite(init)):
        raise _fail(f"field 'model.init_score' must hold {k} finite value(s), got {init!r}")
    b.init_score = init

    edges = _req(model, "bin_edges")
    if not isinstance(edges, list) or len(edges) not in (0, nf):
        raise _fail(f"field 'model.bin_edges' must be a list of {nf} arrays")
    b.bin_edges = [_check_array(e, f"model.bin_edges[{i}]", kind="f")
                   for i, e in enumerate(edges)]

    params = _check_str_dict(_req(model, "params"), "model.params")
    nj = params.get("n_jobs")
    if nj is not None and not _is_int(nj):  # predict() reads it
        raise _fail(f"field 'model.params.n_jobs' must be an integer or null, got {nj!r}")
    tp = params.get("tweedie_variance_power")
    if tp is not None and (isinstance(tp, bool) or not isinstance(tp, (int, float))
                           or not 1 < tp < 2):
        raise _fail(f"field 'model.params.tweedie_variance_power' must be a number in (1, 2), "
                    f"got {tp!r}")
    b.params = params

    trees = _req(model, "trees")
    if not isinstance(trees, list):
        raise _fail("field 'model.trees' must be a list")
    if len(trees) % k:
        raise _fail(f"field 'model.trees' has {len(trees)} trees, not a multiple of the "
                    f"{k} outputs")
    for i, t in enumerate(trees):
        where = f"model.trees[{i}]"
        t = _check_str_dict(t, where)
        out = _req(t, "output", where)
        if out != i % k or not _is_int(out):
            raise _fail(f"field '{where}.output' is {out!r}, expected {i % k}")
        arrays = _check_str_dict(_req(t, "arrays", where), f"{where}.arrays")
        for f in _REQUIRED_TREE_FIELDS:
            _req(arrays, f, f"{where}.arrays")
        n = None
        for name, a in arrays.items():
            aw = f"{where}.arrays.{name}"
            if name in TREE_FIELDS:
                a = _check_tree_field(a, aw, TREE_FIELDS[name])
                if n is None:
                    n = a.shape[0]
                if a.shape[0] != n:
                    raise _fail(f"field '{aw}' has {a.shape[0]} entries, expected {n}")
            else:  # an optional field of a later version of the predictor: kept as it is
                _check_array(a, aw, ndim=None)
        b._trees.append(arrays)
        b._tree_output.append(out)

    best = _req(model, "best_iteration")
    if best is not None and (not _is_int(best) or not 1 <= best <= b.num_rounds):
        raise _fail(f"field 'model.best_iteration' is {best!r}, expected null or an integer "
                    f"in [1, {b.num_rounds}]")
    b.best_iteration = best
    bs = _check_str_dict(_req(model, "best_score"), "model.best_score")
    b.best_score = {
        s: {m: _metric_float(v, f"model.best_score.{s}.{m}")
            for m, v in _check_str_dict(ms, f"model.best_score.{s}").items()}
        for s, ms in bs.items()
    }
    ev = _check_str_dict(_req(model, "evals_result"), "model.evals_result")
    b.evals_result = {
        s: {m: [float(x) for x in _check_array(v, f"model.evals_result.{s}.{m}",
                                               dtype=np.dtype(np.float64))]
            for m, v in _check_str_dict(ms, f"model.evals_result.{s}").items()}
        for s, ms in ev.items()
    }
    prov = _check_str_dict(_req(model, "provenance"), "model.provenance")
    for key in ("library_version", "created_at"):
        if not isinstance(_req(prov, key, "model.provenance"), str):
            raise _fail(f"field 'model.provenance.{key}' must be a string")
    fp = _req(prov, "data_fingerprint", "model.provenance")
    if fp is not None and not isinstance(fp, dict):
        raise _fail("field 'model.provenance.data_fingerprint' must be an object or null")
    b.provenance = prov
    b.tags = _check_str_dict(_req(model, "tags"), "model.tags")
    b.extra = _check_str_dict(_req(model, "extra"), "model.extra")
    # Optional since they were added (files written before them load without them).
    b.schema = _check_schema(model.get("schema"), b.feature_names)
    pc = model.get("pandas_categorical")
    if pc is not None and (not isinstance(pc, list) or not all(isinstance(c, list) for c in pc)):
        raise _fail("field 'model.pandas_categorical' must be null or a list of lists")
    b.pandas_categorical = pc
    pcf = model.get("pandas_categorical_features")
    if pcf is not None and (
        not isinstance(pcf, list) or not all(isinstance(c, str) for c in pcf)
        or not set(pcf) <= set(b.feature_names) or pc is None or len(pcf) != len(pc)
    ):
        raise _fail("field 'model.pandas_categorical_features' must be null or a list of "
                    "feature names, one per pandas_categorical list")
    b.pandas_categorical_features = pcf
    ccf = model.get("category_code_features")
    if ccf is not None and (not isinstance(ccf, list) or not all(isinstance(c, str) for c in ccf)
                            or not set(ccf) <= set(b.feature_names)):
        raise _fail("field 'model.category_code_features' must be null or a list of feature "
                    "names")
    b.category_code_features = ccf
    rp = model.get("reference_profile")
    if rp is not None:
        from ..monitoring.profile import Profile

        try:
            b.reference_profile = Profile.from_dict(_check_str_dict(rp, "model.reference_profile"))
        except SapwoodError as e:
            raise _fail(f"field 'model.reference_profile': {e}") from None
    try:
        b._get_forest()  # the C++ constructor checks child indices, reachability, features
    except ModelFormatError as e:
        raise _fail(f"field 'model.trees': {e}") from None
    except SapwoodError as e:
        raise _fail(f"field 'model.trees': {e}") from None
    return b


_SCALAR = (str, int, float, bool)


def _check_schema(schema: Any, names: list[str]) -> Any:
    """The per-feature schema (sapwood.data.FeatureSpec dicts), checked field by field."""
    if schema is None:
        return None
    if not isinstance(schema, list) or len(schema) != len(names):
        raise _fail(f"field 'model.schema' must be a list of {len(names)} feature entries")
    out = []
    for i, spec in enumerate(schema):
        where = f"model.schema[{i}]"
        spec = _check_str_dict(spec, where)
        if _req(spec, "name", where) != names[i]:
            raise _fail(f"field '{where}.name' is {spec['name']!r}, expected {names[i]!r}")
        pos = _req(spec, "position", where)
        if not _is_int(pos) or pos != i:
            raise _fail(f"field '{where}.position' is {pos!r}, expected {i}")
        kind = _req(spec, "kind", where)
        if kind not in ("numeric", "bool", "categorical"):
            raise _fail(f"field '{where}.kind' is {kind!r}, expected numeric, bool or categorical")
        if not isinstance(_req(spec, "dtype", where), str):
            raise _fail(f"field '{where}.dtype' must be a string")
        if kind == "categorical":
            cats = _req(spec, "categories", where)
            if not isinstance(cats, list) or not all(isinstance(c, _SCALAR) for c in cats):
                raise _fail(f"field '{where}.categories' must be a list of scalars")
            # optional since target statistics were added (absent: native categories)
            enc = spec.get("encoding", "native")
            if enc not in ("native", "target_stats"):
                raise _fail(f"field '{where}.encoding' is {enc!r}, expected native or "
                            "target_stats")
            if enc == "target_stats":
                ts = spec.get("target_stats")
                if not isinstance(ts, list) or len(ts) != len(cats) or not all(
                        isinstance(v, (int, float)) and not isinstance(v, bool)
                        and math.isfinite(v) for v in ts):
                    raise _fail(f"field '{where}.target_stats' must be a list of "
                                f"{len(cats)} finite numbers (one per category)")
        out.append(spec)
    return out


def read_metadata(data: bytes | bytearray | memoryview) -> dict[str, Any]:
    """The decoded metadata of a model file (blocks replaced by arrays), after all checks of
    the container. Used by ``sapwood inspect``."""
    meta, section = _parse_container(data)
    blocks = _Blocks(_req(meta, "blocks", "metadata"), section)
    model = _decode(_req(meta, "model", "metadata"), blocks, "model")
    return _check_str_dict(model, "model")


def loads(data: bytes | bytearray | memoryview) -> Booster:
    """A Booster from model-file bytes; raises ModelFormatError naming any fault."""
    try:
        model = read_metadata(data)
        return _build_booster(model)
    except ModelFormatError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
            SapwoodError) as e:  # a safety net: validation above should name the field first
        raise _fail(f"malformed ({type(e).__name__}: {e})") from None


def load(path: str | os.PathLike[str]) -> Booster:
    """Read a model file written by :meth:`Booster.save`."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return loads(data)


def loads_any(data: bytes) -> Booster:
    """A Booster from sapwood model-file bytes, or from an XGBoost JSON/UBJSON or LightGBM text
    model (imported with :func:`sapwood.import_model`), recognised by content. The command-line
    tools use it, so ``sapwood score model.txt ...`` scores a LightGBM model directly."""
    if bytes(data[:8]) == MAGIC:
        return loads(data)
    head = bytes(data[:64]).lstrip()
    if head.startswith((b"{", b"tree", b"version=")):
        from .importers import import_model

        return import_model(data)
    return loads(data)  # names the fault (bad magic bytes)


def load_any(path: str | os.PathLike[str]) -> Booster:
    """:func:`loads_any` of a file's bytes."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return loads_any(data)

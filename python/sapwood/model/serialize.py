"""A Booster as a model-file document, and a document checked back into a ModelBuilder.

:mod:`sapwood.model.format` is the container (bytes <-> document); this module says what the
document holds (objective, features, trees, provenance, ...) and checks every field of a
decoded one, naming it (``model.trees[3].arrays.left``), before the
:class:`~sapwood.model.builder.ModelBuilder` (which checks the rest) and the C++ forest (the
tree structure) see it.

May import: ``errors``, ``objectives``, ``_fs``, ``model.format``, ``model.builder``,
``model.tree``, ``model.provenance`` and ``monitoring.profile``; never the Booster (it calls
this module, passing :meth:`Booster.from_builder` where a Booster is made).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .. import objectives as _objectives
from ..errors import ModelFormatError, SapwoodError
from . import format as _format
from .builder import ModelBuilder
from .provenance import library_version, now_iso

if TYPE_CHECKING:
    from .booster import Booster

__all__ = ["document", "dumps", "save", "read_builder", "loads", "load"]

B = TypeVar("B")
_SCALAR = (str, int, float, bool)


# --------------------------------------------------------------------------- writing
def document(b: Booster) -> dict[str, Any]:
    """The model-file document of a Booster (arrays stay numpy arrays)."""
    prov = dict(b.provenance)
    prov.setdefault("library_version", library_version())
    prov.setdefault("created_at", now_iso())
    prov.setdefault("data_fingerprint", None)
    b.provenance = prov  # so that saving again gives the same bytes
    params = {k: v for k, v in b.params.items() if k != "n_jobs"}  # a machine detail
    return {
        "format_version": _format.FORMAT_VERSION,
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
        # the arrays as stored (not the canonical views): re-saving gives the same bytes
        "trees": [{"output": int(k), "arrays": dict(t)}
                  for t, k in zip(b._trees, b._tree_output, strict=True)],
    }


def dumps(b: Booster) -> bytes:
    """The model file's bytes for a Booster."""
    return _format.encode(document(b))


def save(b: Booster, path: str | os.PathLike[str]) -> None:
    """Write the model file atomically (temporary file, fsync, rename over ``path``)."""
    _format.write(path, dumps(b))


# --------------------------------------------------------------------------- reading
def _fail(msg: str) -> ModelFormatError:
    return ModelFormatError(f"model file: {msg}")


def _req(d: Mapping[str, Any], key: str, where: str = "model") -> Any:
    if key not in d:
        raise _fail(f"field '{where}.{key}' is missing")
    return d[key]


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


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


def _check_str_dict(d: Any, where: str) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise _fail(f"field '{where}' must be an object")
    return d


def _metric_float(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise _fail(f"field '{where}' must be a number, got {v!r}")
    return float(v)


def read_builder(model: dict[str, Any]) -> ModelBuilder:
    """Check a decoded model-file document field by field; the ModelBuilder it describes."""
    objective = _req(model, "objective")
    if objective not in _objectives.names():
        raise _fail(f"field 'model.objective' is {objective!r}; known: "
                    f"{list(_objectives.names())}")
    num_class = _req(model, "num_class")
    names = _req(model, "feature_names")
    nf = _req(model, "num_features")
    if isinstance(names, list) and (not _is_int(nf) or nf != len(names)):
        raise _fail(f"field 'model.num_features' is {nf!r} but there are {len(names)} "
                    "feature names")
    init = _check_array(_req(model, "init_score"), "model.init_score",
                        dtype=np.dtype(np.float64))
    mb = ModelBuilder(objective, feature_names=names, num_class=num_class, init_score=init,
                      where="model.")
    k = mb.num_outputs

    edges = _req(model, "bin_edges")
    if isinstance(edges, list):
        edges = [_check_array(e, f"model.bin_edges[{i}]", kind="f") for i, e in enumerate(edges)]
    mb.bin_edges = edges
    mb.params = _check_str_dict(_req(model, "params"), "model.params")

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
        for name, a in arrays.items():
            if not isinstance(a, np.ndarray):
                raise _fail(f"field '{where}.arrays.{name}' must be an array (a block "
                            "reference)")
        mb.add_tree(arrays, out, where=f"{where}.arrays")

    mb.best_iteration = _req(model, "best_iteration")
    bs = _check_str_dict(_req(model, "best_score"), "model.best_score")
    mb.best_score = {
        s: {m: _metric_float(v, f"model.best_score.{s}.{m}")
            for m, v in _check_str_dict(ms, f"model.best_score.{s}").items()}
        for s, ms in bs.items()
    }
    ev = _check_str_dict(_req(model, "evals_result"), "model.evals_result")
    mb.evals_result = {
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
    mb.provenance = prov
    mb.tags = _check_str_dict(_req(model, "tags"), "model.tags")
    mb.extra = _check_str_dict(_req(model, "extra"), "model.extra")
    # Optional since they were added (files written before them load without them).
    mb.schema = _check_schema(model.get("schema"), mb.feature_names)
    mb.pandas_categorical = model.get("pandas_categorical")
    mb.pandas_categorical_features = model.get("pandas_categorical_features")
    mb.category_code_features = model.get("category_code_features")
    rp = model.get("reference_profile")
    if rp is not None:
        from ..monitoring.profile import Profile

        try:
            mb.reference_profile = Profile.from_dict(
                _check_str_dict(rp, "model.reference_profile"))
        except SapwoodError as e:
            raise _fail(f"field 'model.reference_profile': {e}") from None
    return mb


def _check_schema(schema: Any, names: list[str]) -> Any:
    """The per-feature schema (sapwood.dataset.FeatureSpec dicts), checked field by field."""
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


def loads(data: bytes | bytearray | memoryview, make: Callable[[ModelBuilder], B]) -> B:
    """``make(builder)`` (``Booster.from_builder``) of the model in model-file bytes; raises
    ModelFormatError naming any fault."""
    try:
        return make(read_builder(_format.decode(data)))
    except ModelFormatError as e:
        msg = str(e)
        raise ModelFormatError(msg if msg.startswith("model file:") else f"model file: {msg}") \
            from None
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError,
            SapwoodError) as e:  # a safety net: the checks above should name the field first
        raise _fail(f"malformed ({type(e).__name__}: {e})") from None


def load(path: str | os.PathLike[str], make: Callable[[ModelBuilder], B]) -> B:
    """:func:`loads` of a file's bytes."""
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return loads(data, make)

"""The model being served: loaded, checked and warmed before it takes any traffic.

:func:`load_served_model` reads a sapwood model file (or an XGBoost / LightGBM model,
imported), and scores a few rows on every output the service offers so that a model that
cannot score is refused before a swap, and the predictor's packed forest is built before
the first request (no first-request stall).
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._compat import require
from ..errors import ModelFormatError, SapwoodError
from .inputs import Block, Feature, features_of, predict_input

__all__ = ["ServedModel", "load_served_model", "OUTPUTS"]

OUTPUTS = ("value", "raw", "contrib")

@dataclass
class ServedModel:
    """A loaded, warmed Booster with what the endpoints report about it."""

    booster: Any
    features: list[Feature]
    path: str
    sha256: str
    name: str
    version: str
    loaded_at: float
    reference_profile: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def all_numeric(self) -> bool:
        return not any(f.categorical for f in self.features)


def _read_booster(path: str) -> tuple[Any, bytes]:
    from ..model.io import loads_any

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise ModelFormatError(f"cannot read model file {path!r}: {e}") from None
    return loads_any(data), data  # sapwood, XGBoost or LightGBM, recognised by content


def _warm_block(m: ServedModel, rows: int = 3) -> Block:
    """A few rows the model must be able to score: missing values everywhere, then the first
    known category of each categorical feature (numeric features 0)."""
    cols: list[Any] = []
    for f in m.features:
        if f.categorical and f.string_categories:
            pa = require("pyarrow", "serving categorical features")
            first = f.categories[0] if f.categories else None
            cols.append(pa.array([None] + [first] * (rows - 1), type=pa.string()))
        else:
            first_v = 0.0
            if f.categorical and f.categories:
                try:
                    first_v = float(f.categories[0])
                except (TypeError, ValueError):
                    first_v = 0.0
            cols.append(np.array([np.nan] + [first_v] * (rows - 1), dtype=np.float64))
    return Block(cols, rows)


def _training_metrics(b: Any) -> dict[str, Any]:
    final = {s: {k: float(v[-1]) for k, v in ms.items() if v}
             for s, ms in (b.evals_result or {}).items()}
    return {"best_score": b.best_score, "final": final}


def load_served_model(path: str | os.PathLike[str]) -> ServedModel:
    """Load, check and warm the model at ``path``. Raises a SapwoodError naming the fault
    (the caller keeps serving its current model)."""
    p = os.fspath(path)
    booster, data = _read_booster(p)
    if not booster.feature_names:
        raise ModelFormatError(f"{p}: the model has no features")
    tags = booster.tags or {}
    sha = hashlib.sha256(data).hexdigest()
    name = str(tags.get("name") or os.path.splitext(os.path.basename(p))[0])
    version = str(tags.get("version") or sha[:12])
    m = ServedModel(booster=booster, features=features_of(booster), path=p, sha256=sha,
                    name=name, version=version, loaded_at=time.time())
    ref = booster.reference_profile
    if ref is not None:
        import sapwood

        if not isinstance(ref, sapwood.Profile):
            ref = sapwood.Profile.from_dict(ref)
        m.reference_profile = ref
    # Warm and check: every output on a few rows, and the single-row path.
    try:
        block = _warm_block(m)
        X = predict_input(block, m.features)
        for out in OUTPUTS:
            res = np.asarray(booster.predict(X, output=out))
            if res.shape[0] != block.num_rows:
                raise ModelFormatError(f"{p}: the model scored {res.shape[0]} rows of "
                                       f"{block.num_rows}")
            if out == "raw" and not np.all(np.isfinite(res)):
                raise ModelFormatError(f"{p}: the model scores non-finite margins")
        one = Block([c[1:2] for c in block.columns], 1)
        booster.predict(predict_input(one, m.features))
    except SapwoodError:
        raise
    except (ValueError, TypeError, RuntimeError, MemoryError) as e:
        raise ModelFormatError(f"{p}: the model failed its warm-up scoring: {e}") from None
    m.info = {
        "name": name,
        "version": version,
        "sha256": sha,
        "path": os.path.abspath(p),
        "loaded_at": m.loaded_at,
        "objective": booster.objective,
        "num_class": booster.num_class,
        "num_outputs": booster.num_outputs,
        "num_features": booster.num_features,
        "rounds": booster.num_rounds,
        "best_iteration": booster.best_iteration,
        "features": [{"name": f.name,
                      "kind": "categorical" if f.categorical else "numeric",
                      **({"categories": list(f.categories)}
                         if f.categorical and f.categories is not None else {})}
                     for f in m.features],
        "schema": booster.schema,
        "metrics": _training_metrics(booster),
        "provenance": booster.provenance,
        "tags": tags,
        "drift": ref is not None,
    }
    return m

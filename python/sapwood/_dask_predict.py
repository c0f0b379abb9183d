"""Predictions on Dask collections (``sapwood.dask.predict``), apart from ``sapwood.dask`` so
that the Dask estimators (``sapwood.train.dask_sklearn``) use it without importing the module
that re-exports them.

The model travels as its model-file bytes in a single graph key, so each worker receives it
once (not once per partition) and parses it once (a per-process cache keyed by the bytes'
digest).
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from typing import Any

import numpy as np

from .errors import ParameterError

__all__ = ["predict"]

_CACHE: OrderedDict[str, Any] = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


class _ModelRef:
    """A model's file bytes and digest: what is shipped to workers (pickles as bytes)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.digest = hashlib.sha256(data).hexdigest()

    def booster(self) -> Any:
        with _CACHE_LOCK:
            b = _CACHE.get(self.digest)
            if b is not None:
                _CACHE.move_to_end(self.digest)
                return b
        from .model.booster import Booster

        b = Booster.from_bytes(self.data)
        with _CACHE_LOCK:
            b = _CACHE.setdefault(self.digest, b)
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
        return b


def _model_ref(booster: Any) -> Any:
    from dask.delayed import delayed

    if isinstance(booster, (str, os.PathLike)):
        with open(booster, "rb") as f:
            data = f.read()
    elif hasattr(booster, "to_bytes"):
        data = booster.to_bytes()
    else:
        raise ParameterError(f"booster must be a Booster or a model path, got {type(booster)!r}")
    ref = _ModelRef(data)
    # One graph key holding the model: every task depends on it, each worker fetches it once.
    return delayed(ref, name=f"sapwood-model-{ref.digest[:16]}", pure=True)


def _predict_partition(pdf: Any, ref: _ModelRef, output: str, device: str) -> Any:
    import pandas as pd

    b = ref.booster()
    names = b.prediction_names
    if len(pdf) == 0:
        pred = np.zeros((0, len(names)))
    else:
        pred = np.asarray(b.predict(pdf[b.feature_names], output=output, device=device))
    if len(names) == 1:
        return pd.Series(pred.reshape(-1), index=pdf.index, name=names[0], dtype=np.float64)
    return pd.DataFrame(pred.reshape(len(pdf), -1), index=pdf.index, columns=names)


def predict(booster: Any, ddf: Any, *, output: str = "value", device: str = "cpu") -> Any:
    """Predictions for a Dask DataFrame with the booster's feature columns.

    Returns a Dask Series named ``prediction`` (a DataFrame ``prediction_<k>`` for
    multiclass) aligned with ``ddf``'s index and partitions. ``output`` is "value" or "raw".
    """
    import pandas as pd

    if output not in ("value", "raw"):
        raise ParameterError(f"output must be 'value' or 'raw', got {output!r}")
    ref = _model_ref(booster)
    names = (booster.prediction_names if hasattr(booster, "prediction_names")
             else ref.compute().booster().prediction_names)
    k = len(names)
    meta: Any
    if k == 1:
        meta = pd.Series([], dtype=np.float64, name=names[0])
    else:
        meta = pd.DataFrame({n: pd.Series([], dtype=np.float64) for n in names})
    return ddf.map_partitions(_predict_partition, ref, output, device, meta=meta)



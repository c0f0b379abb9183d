"""The CUDA predictor behind ``Booster.predict(..., device="cuda")``.

The forest is copied to the GPU once per Booster (and again only if its trees change). numpy
and pandas input goes through pinned host buffers in chunks, copies overlapped with scoring
on two streams; input exposing ``__cuda_array_interface__`` (CuPy, Numba, PyTorch, ...) is
read in place and the output stays on the device. A build without CUDA, or a machine without
a usable GPU, raises a SapwoodError saying which; importing sapwood never needs a GPU.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _core
from .. import objectives as _objectives
from ..errors import DataError, NotFittedError, ParameterError, SapwoodError

__all__ = ["cuda_available", "cuda_compiled", "predict_cuda"]

def cuda_compiled() -> bool:
    """Whether this sapwood was built with its CUDA kernels."""
    return bool(getattr(_core, "cuda_compiled", False))


def cuda_available() -> bool:
    """Whether ``device="cuda"`` can run here (a CUDA build and a usable device)."""
    ok, _ = _core.cuda_available()
    return bool(ok)


def _require_cuda() -> None:
    if not cuda_compiled():
        raise SapwoodError(
            "device='cuda': this sapwood was built without CUDA (nvcc was not found at build "
            "time); rebuild with nvcc on PATH or use device='cpu'"
        )
    ok, why = _core.cuda_available()
    if not ok:
        raise SapwoodError(f"device='cuda': {why}")


def _cuda_forest(booster: Any) -> Any:
    forest = booster._get_forest()
    cached = booster._cuda
    if cached is not None and cached[0] is forest:
        return cached[1]
    cf = _core.CudaForest(forest)
    # Not part of the model state: keyed on the packed forest, rebuilt when it changes.
    booster._cuda = (forest, cf)
    return cf


def predict_cuda(booster: Any, X: Any, output: str, iteration_range: tuple[int, int] | None,
                 device: str) -> Any:
    if device != "cuda":
        raise ParameterError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if output not in ("value", "raw"):
        raise ParameterError(
            f"device='cuda' computes output='value' or 'raw', got {output!r}; use device='cpu'"
        )
    _require_cuda()
    if not booster.feature_names:
        raise NotFittedError("this Booster has no trees; train it first")
    try:
        transform = 0 if output == "raw" else _objectives.get(
            booster.objective).transform_code_for(booster.num_class)
    except ParameterError:
        raise ParameterError(f"device='cuda': unknown objective {booster.objective!r}") from None
    cf = _cuda_forest(booster)
    b, e = booster.tree_range(iteration_range)
    init = np.ascontiguousarray(booster.init_score, dtype=np.float64)
    cai = getattr(X, "__cuda_array_interface__", None)
    if cai is not None:
        shape = tuple(int(s) for s in cai["shape"])
        if len(shape) != 2:
            raise DataError(f"X must be 2-D (rows x features), got shape {shape}")
        if cai.get("mask") is not None:
            raise DataError("X on the device must not have a mask; fill missing values with NaN")
        ptr = int(cai["data"][0]) if cai["data"] else 0
        stream = cai.get("stream")
        out = cf.predict_device(ptr, str(cai["typestr"]), list(shape), cai.get("strides"),
                                0 if stream is None else int(stream), b, e, init, transform)
        try:
            import cupy
        except ImportError:
            return out
        return cupy.asarray(out)
    arr = booster.feature_matrix(X)
    return cf.predict(arr, b, e, init, transform)

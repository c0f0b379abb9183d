"""Compiled custom objectives: a per-row Python function compiled with numba and called from
C++ threads, so a custom loss trains at the speed of a built-in one.

    @sapwood.compiled_objective
    def squared(y, score):
        return score - y, 1.0

    sapwood.train({"objective": squared}, ds)

The function takes one row's label and raw score (floats) and returns (gradient, hessian).
numba compiles it (``pip install numba``) to a C function the trainer calls for every row; no
Python runs per round. Sample weights multiply the results, as for other custom objectives.
Written by hand (not a numpy callable) because a numpy objective costs a Python call and
whole-array temporaries every round; the compiled one runs inside the C++ round.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .._compat import require

__all__ = ["CompiledObjective", "compiled_objective"]


class CompiledObjective:
    """A per-row objective compiled with numba: ``address`` is its C entry point
    ``void(double label, double score, double* grad, double* hess)``; calling the object on
    arrays gives (grad, hess) arrays (for checks and for sapwood.dask, which runs callables
    on the client)."""

    def __init__(self, fn: Callable[[float, float], tuple[float, float]]) -> None:
        numba = require("numba", "compiled custom objectives")
        self.fn = fn
        self.__name__ = getattr(fn, "__name__", "compiled_objective")
        jitted = numba.njit(fn)
        types = numba.types
        sig = types.void(types.float64, types.float64, types.CPointer(types.float64),
                         types.CPointer(types.float64))

        def row(y: float, s: float, g: Any, h: Any) -> None:
            a, b = jitted(y, s)
            g[0] = a
            h[0] = b

        self._cfunc = numba.cfunc(sig, nopython=True)(row)  # kept alive with this object
        self.address = int(self._cfunc.address)

        def arrays(y: Any, s: Any, g: Any, h: Any) -> None:
            for i in range(y.shape[0]):
                a, b = jitted(y[i], s[i])
                g[i] = a
                h[i] = b

        self._arrays = numba.njit(arrays)

    def __call__(self, y: Any, raw: Any) -> tuple[np.ndarray, np.ndarray]:
        yy = np.ascontiguousarray(y, dtype=np.float64).reshape(-1)
        ss = np.ascontiguousarray(raw, dtype=np.float64).reshape(-1)
        g, h = np.empty_like(yy), np.empty_like(yy)
        self._arrays(yy, ss, g, h)
        return g, h


def compiled_objective(fn: Callable[[float, float], tuple[float, float]]) -> CompiledObjective:
    """Compile a per-row objective ``fn(label, raw_score) -> (grad, hess)`` with numba."""
    return CompiledObjective(fn)

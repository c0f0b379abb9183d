"""Custom objectives: numpy callables (one or several outputs per row) and compiled per-row
ones.

A numpy callable ``fn(y_true, raw_score) -> (grad, hess)`` gets the labels (n,) and the raw
margins: shape (n,) for one output, (n, K) for a model with ``num_class=K`` outputs (a
softmax cross-entropy of one's own, K regressions on targets the function closes over). It
returns grad and hess in either layout: (n, K), row by row as XGBoost takes them, or flat
(n * K,) output-major as LightGBM takes them (all rows of output 0, then output 1, ...); one
output: (n,) or (n, 1). :func:`gradients_of` checks and converts them.

Compiled objectives: a per-row Python function compiled with numba and called from
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
from ..errors import DataError, ParameterError

__all__ = ["CompiledObjective", "compiled_objective", "gradients_of"]


def gradients_of(fn: Callable[..., Any], y: np.ndarray, raw: np.ndarray,
                 weight: np.ndarray | None, round_: int) -> tuple[np.ndarray, np.ndarray]:
    """This round's gradients and hessians of a numpy custom objective, as the trainer takes
    them: C-contiguous float64 (n, K) row-major (n * K values), times the sample weights.

    raw: the (n, K) training margins; fn sees them as (n,) when K == 1. Anything but (grad,
    hess) of shape (n, K) or (n * K,) (output-major; K == 1: (n,) or (n, 1)) is a
    ParameterError or DataError naming the expected and received shapes and the round.
    Non-finite values and negative hessians are checked by the trainer (it names the round,
    the first bad row and its output)."""
    n, k = raw.shape
    out = fn(y, raw[:, 0] if k == 1 else raw)
    if not isinstance(out, tuple) or len(out) != 2:
        raise ParameterError("a custom objective must return (grad, hess), got "
                             f"{type(out).__name__} in round {round_} (counting from 0)")
    got = []
    for what, a in zip(("grad", "hess"), out, strict=True):
        try:
            arr = np.asarray(a, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"the custom objective's {what} is not numeric in round {round_} "
                            "(counting from 0)") from None
        if arr.shape == (n, k) or (k == 1 and arr.shape == (n,)):
            arr = arr.reshape(n, k)
        elif arr.shape == (n * k,):  # LightGBM's layout: output-major
            arr = arr.reshape(k, n).T
        else:
            expected = f"({n},)" if k == 1 else f"({n}, {k}) or ({n * k},) (output-major)"
            raise DataError(f"the custom objective must return one gradient and one hessian "
                            f"per row{'' if k == 1 else ' and output'}: {what} of shape "
                            f"{expected}, got {arr.shape} in round {round_} (counting from 0)")
        got.append(arr)
    g, h = got
    if weight is not None:  # sample weights multiply them, as for the built-in losses
        w = weight.reshape(n, 1)
        g, h = g * w, h * w
    return np.ascontiguousarray(g), np.ascontiguousarray(h)


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

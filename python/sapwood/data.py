"""Inputs: turn user data into the engine's float matrix with feature names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from .errors import DataError

__all__ = ["Dataset", "to_matrix"]


def _is_pandas_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def to_matrix(data: Any, *, what: str = "X") -> tuple[np.ndarray, list[str] | None]:
    """A 2-D float32/float64 array (no copy when already one) and column names if any.

    numpy float32/float64 arrays in C or Fortran order are passed as they are; integer and bool
    arrays are converted to float32; pandas DataFrames must hold numeric columns (nullable
    types map pd.NA to NaN); anything else raises DataError naming the problem.
    """
    names: list[str] | None = None
    if _is_pandas_frame(data):
        import pandas as pd

        names = [str(c) for c in data.columns]
        if len(set(names)) != len(names):
            dup = sorted({n for n in names if names.count(n) > 1})
            raise DataError(f"{what} has duplicate column names: {dup}")
        cols = []
        for name in data.columns:
            s = data[name]
            dt = s.dtype
            if isinstance(dt, pd.CategoricalDtype) or not (
                pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
            ):
                example = s.dropna().iloc[0] if s.notna().any() else None
                raise DataError(
                    f"{what} column {name!r} is not numeric (dtype {dt}, e.g. {example!r}); "
                    "encode it or drop it"
                )
            cols.append(s.to_numpy(dtype=np.float32, na_value=np.nan))
        if not cols:
            raise DataError(f"{what} has zero columns")
        arr = np.column_stack(cols) if len(cols) > 1 else cols[0].reshape(-1, 1)
        return np.ascontiguousarray(arr), names
    if hasattr(data, "__array__") or isinstance(data, (list, tuple)):
        arr = np.asarray(data)
    else:
        raise DataError(f"{what} must be a numpy array or a pandas DataFrame, got {type(data)!r}")
    if arr.ndim == 1:
        raise DataError(f"{what} must be 2-D (rows x features), got a 1-D array of {arr.shape[0]}")
    if arr.ndim != 2:
        raise DataError(f"{what} must be 2-D (rows x features), got {arr.ndim}-D")
    if arr.dtype.kind == "f" and arr.dtype.itemsize in (4, 8):
        if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != np.dtype(
            arr.dtype.char
        ).byteorder:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return arr, names
    if arr.dtype.kind in "iub" or (arr.dtype.kind == "f"):
        return arr.astype(np.float32), names
    if arr.dtype.kind == "O":
        try:
            return arr.astype(np.float32), names
        except (TypeError, ValueError):
            pass
    raise DataError(f"{what} must hold numbers, got dtype {arr.dtype}")


def _to_vector(v: Any, n: int, what: str) -> np.ndarray:
    if _is_pandas_frame(v):
        raise DataError(f"{what} must be 1-D, got a DataFrame")
    arr = np.asarray(v)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{what} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"{what} has {arr.shape[0]} rows but the data has {n}")
    try:
        out = arr.astype(np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{what} must be numeric, got dtype {arr.dtype}") from None
    return out


class Dataset:
    """Training or validation data: features, label and optional sample weights.

    Parameters
    ----------
    data : numpy array (float32, float64, integer or bool) or pandas DataFrame of numeric columns.
    label : 1-D array of targets (required for training and validation sets).
    weight : optional 1-D array of non-negative sample weights.
    feature_names : optional names; taken from DataFrame columns when not given.
    """

    def __init__(
        self,
        data: Any,
        label: npt.ArrayLike | None = None,
        weight: npt.ArrayLike | None = None,
        *,
        feature_names: Sequence[str] | None = None,
    ) -> None:
        X, names = to_matrix(data)
        n, m = X.shape
        if n == 0:
            raise DataError("data has zero rows")
        if m == 0:
            raise DataError("data has zero columns")
        if feature_names is not None:
            names = [str(f) for f in feature_names]
            if len(names) != m:
                raise DataError(f"feature_names has {len(names)} names but data has {m} columns")
        self.X = X
        self.feature_names: list[str] = names or [f"f{i}" for i in range(m)]
        self.label = None if label is None else _to_vector(label, n, "label")
        self.weight = None if weight is None else _to_vector(weight, n, "weight")
        if self.label is not None:
            bad = np.flatnonzero(~np.isfinite(self.label))
            if bad.size:
                raise DataError(
                    f"label has {bad.size} non-finite value(s) (NaN or inf), first at row {bad[0]}"
                )
        if self.weight is not None:
            bad = np.flatnonzero(~np.isfinite(self.weight) | (self.weight < 0))
            if bad.size:
                raise DataError(
                    f"weight must be finite and >= 0; row {bad[0]} has {self.weight[bad[0]]}"
                )
            if not self.weight.sum() > 0:
                raise DataError("weights sum to zero: at least one row needs a positive weight")
        self._binned: Any = None
        self._edges: list[np.ndarray] | None = None
        self._bin_key: tuple[int, int, int] | None = None

    @property
    def num_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.X.shape[1])

    def construct(self, max_bin: int, bin_sample_rows: int, seed: int, n_jobs: int) -> Any:
        """Fit bin edges and bin the data (cached for the same binning settings)."""
        key = (max_bin, bin_sample_rows, seed)
        if self._binned is None or self._bin_key != key:
            edges = _core.fit_bin_edges(self.X, max_bin, bin_sample_rows, seed, n_jobs)
            self._binned = _core.BinnedMatrix.from_dense(self.X, edges, n_jobs)
            self._edges = edges
            self._bin_key = key
        return self._binned

    @property
    def bin_edges(self) -> list[np.ndarray] | None:
        return self._edges

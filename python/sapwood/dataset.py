"""Inputs: one adapter per source turning user tables into the engine's columns.

Sources: numpy 2-D arrays; pandas DataFrames (numeric, bool, nullable ``Int*``/``Float*``/
``boolean`` with ``pd.NA``, ``category``, string/object); polars DataFrames (numeric, bool,
``Categorical``, ``Enum``, ``String``); pyarrow Tables and RecordBatches (numeric, bool,
dictionary, string; nulls are missing values); Parquet files, folders or lists of files
(read through ``pyarrow.dataset`` in record batches, binned in two passes without loading the
table).

Every feature becomes one 1-D float column: numeric and bool values as they are (a float32 or
float64 column without nulls is passed without a copy; missing values become NaN), categorical
values as codes. Category codes follow the category's frequency in the training data (0 = most
frequent; ties by value). The engine keeps the ``max_bin - 1`` most frequent categories that
have at least ``cat_min_count`` rows; the rest, missing values, and categories never seen in
training share one "other/missing" branch whose direction each split learns.

The schema (``Booster.schema``) is a list of plain dicts, one per feature::

    {"name": str, "position": int, "kind": "numeric" | "bool" | "categorical",
     "dtype": str, "categories": [values...]}   # "categories" only for categorical features

With ``cat_encoding="target_stats"`` (or ``"auto"`` for features with more than
``cat_ts_min_categories`` categories) a categorical feature is trained as a numeric feature:
its ordered target statistic (:func:`ordered_target_stats`, as CatBoost computes it: each
row sees only the rows before it in a seeded random permutation, so its own label never leaks
into its value). The spec then also holds ``"encoding": "target_stats"`` and
``"target_stats"``: per category, the statistic over all training rows, which is what the
feature's value is at predict time. Missing and unseen categories are NaN (the split's learned
missing direction), as in the native encoding.

At predict, :func:`encode_for_schema` matches columns by name (numpy: by position), maps
categories through the stored values (never through pandas/Arrow codes) and raises
``SchemaError``/``DataError`` naming the column at fault.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from .errors import DataError, ParameterError, SchemaError

__all__ = ["Dataset", "to_matrix", "encode_for_schema", "FeatureSpec", "ordered_target_stats"]

FeatureSpec = dict[str, Any]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- source detection
def _is_pandas_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("pandas") and type(obj).__name__ == "DataFrame"


def _is_polars_frame(obj: Any) -> bool:
    return type(obj).__module__.startswith("polars") and type(obj).__name__ == "DataFrame"


def _is_arrow_table(obj: Any) -> bool:
    return type(obj).__module__.startswith("pyarrow") and type(obj).__name__ in (
        "Table",
        "RecordBatch",
    )


def _is_path_source(obj: Any) -> bool:
    if isinstance(obj, (str, os.PathLike)):
        return True
    return (
        isinstance(obj, (list, tuple))
        and len(obj) > 0
        and all(isinstance(o, (str, os.PathLike)) for o in obj)
    )


def _example(values: Sequence[Any] | np.ndarray) -> Any:
    for v in values:
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            return v.item() if isinstance(v, np.generic) else v
    return None


def _plain(v: Any) -> Any:
    """A JSON-able Python scalar for a category value."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (str, bool, int, float)):
        return v
    return str(v)


# ---------------------------------------------------------------------------- columns
class _Column:
    """One input column: its name, dtype and the conversions the engine needs."""

    name: str
    dtype: str
    is_stringy = False  # holds strings / categories (not numbers)
    is_temporal = False  # dates, times, durations: never guessed to be categories
    is_bool = False

    def __len__(self) -> int:
        raise NotImplementedError

    def numeric(self) -> np.ndarray:  # 1-D float32/float64, NaN for missing
        raise NotImplementedError

    def value_counts(self) -> tuple[list[Any], np.ndarray]:  # distinct non-missing, counts
        raise NotImplementedError

    def codes(self, categories: list[Any]) -> np.ndarray:  # float32 codes, NaN when absent
        raise NotImplementedError

    def example(self) -> Any:
        raise NotImplementedError

    def category_codes(self) -> np.ndarray:
        """The column's own category codes (XGBoost's reading of a categorical feature): a
        pandas category column's codes (NaN when missing); numbers are codes already."""
        if self.is_stringy:
            raise DataError(
                f"column {self.name!r} is categorical in the model, which reads category codes: "
                f"pass a pandas category column or the integer codes, "
                f"not {self.dtype} values (e.g. {self.example()!r})"
            )
        return self.numeric()


def _lookup_codes(values: np.ndarray, categories: list[Any]) -> np.ndarray:
    """Codes of object/number values in `categories` (NaN when not there)."""
    try:
        import pandas as pd

        idx = pd.Index(categories, dtype=object).get_indexer(pd.Index(values, dtype=object))
        out: np.ndarray = idx.astype(np.float32)
        out[idx < 0] = np.nan
        return out
    except ImportError:  # pragma: no cover - pandas is optional
        table = {c: i for i, c in enumerate(categories)}
        return np.fromiter(
            (table.get(_plain(v), np.nan) for v in values), dtype=np.float32, count=len(values)
        )


class _NumpyColumn(_Column):
    def __init__(self, name: str, values: np.ndarray) -> None:
        self.name = name
        self.values = values
        self.dtype = str(values.dtype)
        self.is_bool = values.dtype.kind == "b"
        self.is_temporal = values.dtype.kind in "mM"
        self.is_stringy = self.is_temporal
        if values.dtype.kind in "OUS":
            self.is_stringy = any(isinstance(v, (str, bytes)) for v in values[:1000])
            if not self.is_stringy and values.dtype.kind == "O":
                try:
                    self._num: np.ndarray | None = values.astype(np.float64)
                except (TypeError, ValueError):
                    self.is_stringy = True
            elif values.dtype.kind in "US":
                self.is_stringy = True

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def numeric(self) -> np.ndarray:
        v = self.values
        if v.dtype in _FLOATS and v.dtype.isnative:
            return v
        if v.dtype.kind in "iub":
            return v.astype(np.float32)
        if v.dtype.kind == "f":
            return v.astype(np.float64 if v.dtype.itemsize > 4 else np.float32)
        try:
            return v.astype(np.float64)
        except (TypeError, ValueError):
            raise DataError(
                f"column {self.name!r} holds values that are not numbers "
                f"(e.g. {self.example()!r}); list it in categorical_features or drop it"
            ) from None

    def value_counts(self) -> tuple[list[Any], np.ndarray]:
        v = self.values
        if v.dtype.kind == "f":
            v = v[~np.isnan(v)]
        elif v.dtype.kind == "O":
            v = np.array([x for x in v if x is not None and not (isinstance(x, float) and x != x)],
                         dtype=object)
        vals, counts = np.unique(v, return_counts=True)
        return [_plain(x) for x in vals], counts

    def codes(self, categories: list[Any]) -> np.ndarray:
        return _lookup_codes(self.values, categories)

    def example(self) -> Any:
        return _example(self.values[:1000])


class _PandasColumn(_Column):
    def __init__(self, name: str, s: Any) -> None:
        import pandas as pd

        self.name = name
        self.s = s
        dt = s.dtype
        self.dtype = str(dt)
        self.is_cat = isinstance(dt, pd.CategoricalDtype)
        self.is_bool = pd.api.types.is_bool_dtype(dt) and not self.is_cat
        self.is_stringy = self.is_cat or not (
            pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt)
        )
        self.is_temporal = (pd.api.types.is_datetime64_any_dtype(dt)
                            or pd.api.types.is_timedelta64_dtype(dt)
                            or isinstance(dt, pd.PeriodDtype))
        if self.is_stringy and not self.is_cat and dt == np.dtype(object):
            # object columns of numbers (e.g. Decimal, mixed ints) are numbers
            try:
                s.to_numpy(dtype=np.float64, na_value=np.nan)
                self.is_stringy = False
            except (TypeError, ValueError):
                pass

    def __len__(self) -> int:
        return len(self.s)

    def numeric(self) -> np.ndarray:
        s = self.s
        if s.dtype in _FLOATS:
            out: np.ndarray = s.to_numpy()  # a view: NaN is already the missing value
            return out
        if self.is_cat:
            cats = s.cat.categories
            if cats.dtype.kind not in "iufb":
                raise self._not_numeric()
            return np.asarray(s.astype(object).astype(np.float64))
        try:
            dtype = np.float64 if getattr(s.dtype, "itemsize", 4) > 4 else np.float32
            res: np.ndarray = s.to_numpy(dtype=dtype, na_value=np.nan)
            return res
        except (TypeError, ValueError):
            raise self._not_numeric() from None

    def _not_numeric(self) -> DataError:
        return DataError(
            f"column {self.name!r} is not numeric (dtype {self.s.dtype}, e.g. "
            f"{self.example()!r}); list it in categorical_features or drop it"
        )

    def value_counts(self) -> tuple[list[Any], np.ndarray]:
        vc = self.s.value_counts(dropna=True, sort=False)
        vc = vc[vc > 0]
        return [_plain(v) for v in vc.index], vc.to_numpy(dtype=np.int64)

    def codes(self, categories: list[Any]) -> np.ndarray:
        import pandas as pd

        s = self.s
        if self.is_cat:
            # map the column's own categories through the stored values, then take by code
            level = pd.Index(categories, dtype=object).get_indexer(
                pd.Index(s.cat.categories, dtype=object)
            )
            lut = np.append(level.astype(np.float32), np.float32(-1))  # code -1 (NaN) -> -1
            lut[lut < 0] = np.nan
            codes = s.cat.codes.to_numpy()
            return lut[np.where(codes < 0, len(level), codes)]
        return _lookup_codes(s.to_numpy(dtype=object, na_value=None), categories)

    def category_codes(self) -> np.ndarray:
        if not self.is_cat:
            return super().category_codes()
        codes: np.ndarray = self.s.cat.codes.to_numpy().astype(np.float32)
        codes[codes < 0] = np.nan
        return codes

    def example(self) -> Any:
        nn = self.s.dropna()
        return _plain(nn.iloc[0]) if len(nn) else None


class _ArrowColumn(_Column):
    def __init__(self, name: str, arr: Any) -> None:
        import pyarrow as pa

        self.name = name
        self.arr = arr  # ChunkedArray or Array
        t = arr.type
        self.dtype = str(t)
        self.is_bool = pa.types.is_boolean(t)
        self.is_dict = pa.types.is_dictionary(t)
        self.is_stringy = (
            self.is_dict
            or pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or getattr(pa.types, "is_string_view", lambda _: False)(t)
            or pa.types.is_binary(t)
            or pa.types.is_large_binary(t)
        )
        self.is_temporal = pa.types.is_temporal(t)
        numeric = pa.types.is_integer(t) or pa.types.is_floating(t) or self.is_bool
        numeric = numeric or pa.types.is_decimal(t)
        if not numeric and not self.is_stringy:
            self.is_stringy = True

    def __len__(self) -> int:
        return len(self.arr)

    def _decoded(self) -> Any:
        import pyarrow as pa

        a = self.arr._head() if isinstance(self.arr, _TypedEmpty) else self.arr
        if self.is_dict:
            a = a.cast(a.type.value_type)
        if isinstance(a, pa.ChunkedArray):
            a = a.combine_chunks() if a.num_chunks != 1 else a.chunk(0)
        return a

    def numeric(self) -> np.ndarray:
        import pyarrow as pa

        if self.is_stringy and not (
            self.is_dict and (pa.types.is_integer(self.arr.type.value_type)
                              or pa.types.is_floating(self.arr.type.value_type))
        ):
            raise DataError(
                f"column {self.name!r} is not numeric (type {self.dtype}, e.g. "
                f"{self.example()!r}); list it in categorical_features or drop it"
            )
        a = self._decoded()
        t = a.type
        if pa.types.is_floating(t) and t.bit_width in (32, 64) and a.null_count == 0:
            out: np.ndarray = a.to_numpy(zero_copy_only=True)  # passed as is
            return out
        target = pa.float64() if (pa.types.is_floating(t) and t.bit_width == 64) or (
            pa.types.is_integer(t) and t.bit_width > 32
        ) or pa.types.is_decimal(t) else pa.float32()
        a = a.cast(target)
        if a.null_count:
            import pyarrow.compute as pc

            a = pc.fill_null(a, float("nan"))
        res: np.ndarray = a.to_numpy(zero_copy_only=False)
        return res

    def category_codes(self) -> np.ndarray:
        if self.is_dict:
            # An Arrow dictionary's indices depend on how the table was built (a Parquet file
            # read in batches has one dictionary per row group): taking them as the model's
            # codes could score silently wrong.
            raise DataError(
                f"column {self.name!r} is categorical in the model, which reads category "
                "codes; the codes of an Arrow dictionary column depend on how the table was "
                "built, so pass the integer codes the model was trained with (or a pandas "
                "DataFrame with the training categories)"
            )
        return super().category_codes()

    def value_counts(self) -> tuple[list[Any], np.ndarray]:
        import pyarrow.compute as pc

        vc = pc.value_counts(self._decoded())
        values = vc.field("values").to_pylist()
        counts = np.asarray(vc.field("counts").to_numpy(zero_copy_only=False), dtype=np.int64)
        keep = [i for i, v in enumerate(values) if v is not None
                and not (isinstance(v, float) and v != v)]
        return [_plain(values[i]) for i in keep], counts[keep]

    def codes(self, categories: list[Any]) -> np.ndarray:
        import pyarrow as pa
        import pyarrow.compute as pc

        a = self.arr
        value_type = a.type.value_type if self.is_dict else a.type
        try:
            value_set = pa.array(categories, type=value_type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            value_set = None
        if self.is_dict and value_set is not None:
            # map each chunk's dictionary through the stored values, then take by index
            chunks = a.chunks if isinstance(a, pa.ChunkedArray) else [a]
            outs = []
            for ch in chunks:
                level = pc.index_in(ch.dictionary, value_set=value_set)
                lut = level.cast(pa.float32()).fill_null(float("nan")).to_numpy(
                    zero_copy_only=False)
                lut = np.append(lut, np.float32(np.nan))
                idx = ch.indices.fill_null(len(lut) - 1).to_numpy(zero_copy_only=False)
                outs.append(lut[idx])
            return np.concatenate(outs) if outs else np.empty(0, np.float32)
        if value_set is None:
            return _lookup_codes(np.asarray(self._decoded().to_pylist(), dtype=object),
                                 categories)
        res = pc.index_in(self._decoded(), value_set=value_set)
        out: np.ndarray = res.cast(pa.float32()).fill_null(float("nan")).to_numpy(
            zero_copy_only=False)
        return out

    def example(self) -> Any:
        a = self._decoded()
        n = min(len(a), 1000)
        return _example(a.slice(0, n).to_pylist())


class _TypedEmpty:
    """An empty Arrow array of a Parquet column's type (kinds come from the type alone) that
    reads the column's first row group only if an error message needs an example value."""

    def __init__(self, type_: Any, ds: Any, name: str) -> None:
        self.type = type_
        self._ds, self._name = ds, name

    def _head(self) -> Any:
        import pyarrow as pa

        for batch in self._ds._batches([self._name]):
            col = batch.column(self._name)
            return col.slice(0, 1000)
        return pa.array([], type=self.type)


def _frame_columns(data: Any, what: str) -> tuple[list[_Column], bool]:
    """The columns of a table-like input, and whether they carry real names."""
    if _is_pandas_frame(data):
        names = [str(c) for c in data.columns]
        _check_unique(names, what)
        return [_PandasColumn(n, data.iloc[:, i]) for i, n in enumerate(names)], True
    if _is_polars_frame(data):
        data = data.to_arrow()
    if _is_arrow_table(data):
        names = [str(c) for c in data.schema.names]
        _check_unique(names, what)
        return [_ArrowColumn(n, data.column(i)) for i, n in enumerate(names)], True
    if hasattr(data, "__array__") or isinstance(data, (list, tuple)):
        arr = np.asarray(data)
    else:
        raise DataError(
            f"{what} must be a numpy array, a pandas/polars DataFrame, a pyarrow Table or "
            f"RecordBatch, or Parquet path(s); got {type(data)!r}"
        )
    if arr.ndim == 1:
        raise DataError(f"{what} must be 2-D (rows x features), got a 1-D array of {arr.shape[0]}")
    if arr.ndim != 2:
        raise DataError(f"{what} must be 2-D (rows x features), got {arr.ndim}-D")
    return [_NumpyColumn(f"f{j}", arr[:, j]) for j in range(arr.shape[1])], False


def _check_unique(names: list[str], what: str) -> None:
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"{what} has duplicate column names: {dup}")


def to_matrix(data: Any, *, what: str = "X") -> tuple[np.ndarray, list[str] | None]:
    """A 2-D float32/float64 array (no copy when already one) and column names if any.

    numpy float32/float64 arrays in C or Fortran order are passed as they are; integer and bool
    arrays become float32; tables (pandas, polars, Arrow) must hold numeric or bool columns
    (missing values become NaN); anything else raises DataError naming the column.
    """
    if isinstance(data, np.ndarray) and data.ndim == 2:
        if data.dtype in _FLOATS:
            if not data.dtype.isnative:
                data = data.astype(data.dtype.newbyteorder("="))
            return data, None
        if data.dtype.kind in "iub":
            return data.astype(np.float32), None
    cols, named = _frame_columns(data, what)
    if not cols:
        raise DataError(f"{what} has zero columns")
    for c in cols:
        if c.is_stringy:
            c.numeric()  # raises DataError naming the column
    return _stack([c.numeric() for c in cols]), [c.name for c in cols] if named else None


def _stack(cols: list[np.ndarray]) -> np.ndarray:
    """Columns side by side as one C-ordered matrix (float32 unless some column is float64)."""
    n = cols[0].shape[0] if cols else 0
    dtype = np.float64 if any(c.dtype == np.float64 for c in cols) else np.float32
    out = np.empty((n, len(cols)), dtype=dtype)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


def _to_vector(v: Any, n: int, what: str) -> np.ndarray:
    if _is_pandas_frame(v):
        raise DataError(f"{what} must be 1-D, got a DataFrame")
    if type(v).__module__.startswith(("pyarrow", "polars")):
        v = v.to_numpy()
    elif type(v).__module__.startswith("pandas"):
        v = v.to_numpy(dtype=np.float64, na_value=np.nan) if hasattr(v, "to_numpy") else v
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


# ---------------------------------------------------------------------------- categories
def _frequency_order(values: list[Any], counts: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Categories by descending count, ties by value (by str when values do not compare)."""
    try:
        order = sorted(range(len(values)), key=lambda i: (-int(counts[i]), values[i]))
    except TypeError:
        order = sorted(range(len(values)), key=lambda i: (-int(counts[i]), str(values[i])))
    return [values[i] for i in order], np.asarray([counts[i] for i in order], dtype=np.int64)


def kept_categories(counts: np.ndarray, max_bin: int, cat_min_count: int) -> int:
    """How many of the frequency-ordered categories get their own bin."""
    k = int(np.count_nonzero(counts >= max(1, cat_min_count)))
    return min(k, max_bin - 1)


def ordered_target_stats(codes: np.ndarray, num_categories: int, y: np.ndarray,
                         weight: np.ndarray | None, prior_weight: float,
                         seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Ordered target statistics of a category-code column (NaN = missing).

    Rows are visited in a seeded random permutation; row i of category c gets
    ``(sum of w*y over earlier rows of c + a * prior) / (sum of w over them + a)`` where
    ``prior`` is the weighted mean label and ``a = prior_weight``. Returns the per-row values
    (float32, NaN where the code is missing) and, per category, the same statistic over all
    rows (what predict uses).
    """
    n = codes.shape[0]
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
    wy = w * np.asarray(y, dtype=np.float64)
    prior = float(wy.sum() / w.sum())
    present = ~np.isnan(codes)
    c_all = np.where(present, codes, 0).astype(np.int64)
    lut = ((np.bincount(c_all[present], weights=wy[present], minlength=num_categories)
            + prior_weight * prior)
           / (np.bincount(c_all[present], weights=w[present], minlength=num_categories)
              + prior_weight))
    perm = np.random.default_rng(seed).permutation(n)
    perm = perm[present[perm]]  # rows with a category, in permutation order
    order = perm[np.argsort(c_all[perm], kind="stable")]  # by category, permutation inside
    cs = c_all[order]
    start = np.flatnonzero(np.r_[True, cs[1:] != cs[:-1]]) if cs.size else np.empty(0, int)
    first = np.repeat(start, np.diff(np.r_[start, cs.size]))
    out = np.full(n, np.nan, dtype=np.float32)
    sums = []
    for x in (wy[order], w[order]):
        excl = np.cumsum(x) - x  # sum of everything before, in this order
        sums.append(excl - excl[first])  # ... within the row's own category
    out[order] = ((sums[0] + prior_weight * prior) / (sums[1] + prior_weight)).astype(np.float32)
    return out, lut


def _apply_target_stats(codes: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """A categorical feature's engine column: its codes, or for a target-statistics feature
    the statistic of each code (NaN for missing and unseen categories)."""
    if spec.get("encoding") != "target_stats":
        return codes
    lut = np.append(np.asarray(spec["target_stats"], dtype=np.float32), np.float32(np.nan))
    idx = np.where(np.isnan(codes), len(lut) - 1, codes).astype(np.int64)
    out: np.ndarray = lut[idx]
    return out


def _resolve_categorical(cols: Sequence[_Column], categorical_features: Any, named: bool) -> list[bool]:
    names = [c.name for c in cols]
    if categorical_features is None:
        chosen: set[int] = set()
    elif isinstance(categorical_features, str):
        if categorical_features != "auto":
            raise DataError(
                f"categorical_features must be 'auto' or a list of column names/positions, "
                f"got {categorical_features!r}"
            )
        # "auto": every column of categories or strings (pandas category/object/string, Arrow
        # dictionary/string, polars Categorical/Enum/String) is categorical.
        chosen = {i for i, c in enumerate(cols) if c.is_stringy and not c.is_temporal}
    else:
        chosen = set()
        for item in categorical_features:
            if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                if not 0 <= int(item) < len(cols):
                    raise DataError(f"categorical_features position {item} is out of range "
                                    f"(data has {len(cols)} columns)")
                chosen.add(int(item))
            elif str(item) in names:
                chosen.add(names.index(str(item)))
            else:
                raise DataError(f"categorical_features names column {item!r}, which is not in "
                                f"the data (columns: {names[:20]})")
    for i, c in enumerate(cols):
        if c.is_temporal and i not in chosen:
            raise DataError(
                f"column {c.name!r} holds dates/times (dtype {c.dtype}, e.g. {c.example()!r}); "
                "sapwood does not guess how to use them: derive numeric features from it "
                "(hour, day of week, days since an event), list it in categorical_features, "
                "or drop it"
            )
        if c.is_stringy and i not in chosen:
            raise DataError(
                f"column {c.name!r} is not numeric (dtype {c.dtype}, e.g. "
                f"{c.example()!r}); list it in categorical_features, give it a categorical "
                "dtype, or drop it"
            )
    return [i in chosen for i in range(len(cols))]


# ---------------------------------------------------------------------------- Dataset
class Dataset:
    """Training or validation data: feature columns, label and optional sample weights.

    Parameters
    ----------
    data : numpy 2-D array, pandas or polars DataFrame, pyarrow Table/RecordBatch, or Parquet
        path(s) (a file, a folder or a list of files; read in record batches).
    label : 1-D array of targets, or the name of a column of ``data`` (removed from the
        features).
    weight : optional 1-D array of non-negative sample weights, or a column name.
    feature_names : optional names; taken from the table's columns when not given.
    categorical_features : "auto" (category, dictionary and string columns), a list of column
        names or positions, or None (none; string columns then raise DataError).
    """

    def __init__(
        self,
        data: Any,
        label: npt.ArrayLike | str | None = None,
        weight: npt.ArrayLike | str | None = None,
        *,
        feature_names: Sequence[str] | None = None,
        categorical_features: str | Sequence[str | int] | None = "auto",
        batch_size: int = 1 << 16,
    ) -> None:
        self._stream: Any = None  # pyarrow.dataset.Dataset for Parquet sources
        self._groups: list[tuple[Any, int, int]] = []  # its row groups (file, index, rows)
        self._batch_size = int(batch_size)
        self._X: np.ndarray | None = None
        self._n_rows: int = 0
        self.label: np.ndarray | None = None
        self.weight: np.ndarray | None = None
        self._binned: Any = None
        self._edges: list[np.ndarray] | None = None
        self._bin_key: tuple[Any, ...] | None = None
        self._num_cats: list[int] = []
        self._ts: dict[int, np.ndarray] = {}  # position -> per-category target statistic
        label_name = label if isinstance(label, str) else None
        weight_name = weight if isinstance(weight, str) else None
        if _is_path_source(data):
            self._init_stream(data, label_name, weight_name, categorical_features)
            if label_name is None and label is not None:
                self.label = _to_vector(label, self._n_rows, "label")
            if weight_name is None and weight is not None:
                self.weight = _to_vector(weight, self._n_rows, "weight")
        else:
            self._source = data  # a reference (no copy): training profiles it for monitoring
            cols, named = _frame_columns(data, "data")
            by_name = {c.name: c for c in cols}
            label_col = self._take_column(by_name, label_name, named, "label")
            weight_col = self._take_column(by_name, weight_name, named, "weight")
            cols = [c for c in cols if c.name not in (label_name, weight_name)]
            if not cols:
                raise DataError("data has zero columns")
            if feature_names is not None:
                fn = [str(f) for f in feature_names]
                if len(fn) != len(cols):
                    raise DataError(
                        f"feature_names has {len(fn)} names but data has {len(cols)} columns"
                    )
                for c, name in zip(cols, fn, strict=True):
                    c.name = name
                named = True
            is_cat = _resolve_categorical(cols, categorical_features, named)
            self._n_rows = len(cols[0])
            self._specs: list[FeatureSpec] = []
            self._counts: list[np.ndarray | None] = []
            self._cols: list[np.ndarray] = []
            for pos, (c, cat) in enumerate(zip(cols, is_cat, strict=True)):
                if cat:
                    vals, counts = _frequency_order(*c.value_counts())
                    self._specs.append({"name": c.name, "position": pos, "kind": "categorical",
                                        "dtype": c.dtype, "categories": vals})
                    self._counts.append(counts)
                    self._cols.append(c.codes(vals))
                else:
                    self._specs.append({"name": c.name, "position": pos,
                                        "kind": "bool" if c.is_bool else "numeric",
                                        "dtype": c.dtype})
                    self._counts.append(None)
                    self._cols.append(c.numeric())
            if isinstance(data, np.ndarray) and not any(is_cat) and data.ndim == 2 \
                    and data.dtype in _FLOATS and data.dtype.isnative:
                self._X = data  # zero-copy: the engine reads the caller's matrix
            self.label = _to_vector(label_col.numeric() if label_col else label, self._n_rows,
                                    "label") if (label_col or label is not None) else None
            self.weight = _to_vector(weight_col.numeric() if weight_col else weight,
                                     self._n_rows, "weight") \
                if (weight_col or weight is not None) else None
        if self._n_rows == 0:
            raise DataError("data has zero rows")
        self.feature_names: list[str] = [s["name"] for s in self._specs]
        self._check_label_weight()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _take_column(by_name: dict[str, _Column], name: str | None, named: bool,
                     what: str) -> _Column | None:
        if name is None:
            return None
        if not named or name not in by_name:
            raise DataError(f"{what} column {name!r} is not in the data")
        c = by_name[name]
        if c.is_stringy:
            raise DataError(f"{what} column {name!r} is not numeric (e.g. {c.example()!r})")
        return c

    def _check_label_weight(self) -> None:
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

    def _init_stream(self, data: Any, label: str | None, weight: str | None,
                     categorical_features: Any) -> None:
        try:
            import pyarrow.dataset as pads
        except ImportError:  # pragma: no cover
            raise DataError("reading Parquet needs pyarrow (pip install pyarrow)") from None
        src = [os.fspath(p) for p in data] if isinstance(data, (list, tuple)) else os.fspath(data)
        try:
            ds = pads.dataset(src, format="parquet")
        except (OSError, ValueError) as e:
            raise DataError(f"cannot read Parquet source {src!r}: {e}") from None
        self._stream = ds
        schema = ds.schema
        names = list(schema.names)
        for what, nm in (("label", label), ("weight", weight)):
            if nm is not None and nm not in names:
                raise DataError(f"{what} column {nm!r} is not in the Parquet data")
        self._feature_cols = [n for n in names if n not in (label, weight)]
        if not self._feature_cols:
            raise DataError("data has zero columns")
        self._groups = self._row_groups(ds)
        self._n_rows = sum(n for _, _, n in self._groups)
        # Kinds from the file schema's types; a value for error messages only when needed.
        cols = [_ArrowColumn(n, _TypedEmpty(schema.field(n).type, self, n))
                for n in self._feature_cols]
        is_cat = _resolve_categorical(cols, categorical_features, True)
        self._specs = []
        self._counts = [None] * len(cols)
        for pos, (c, cat) in enumerate(zip(cols, is_cat, strict=True)):
            spec: FeatureSpec = {"name": c.name, "position": pos,
                                 "kind": "categorical" if cat else
                                 ("bool" if c.is_bool else "numeric"),
                                 "dtype": c.dtype}
            self._specs.append(spec)
        self._cols = []
        self._label_name, self._weight_name = label, weight
        self.label = None
        self.weight = None
        if label is not None or weight is not None or any(is_cat):
            self._first_pass()

    @staticmethod
    def _row_groups(ds: Any) -> list[tuple[Any, int, int]]:
        """(ParquetFile, row group, rows) of every row group, in the dataset's file order."""
        import pyarrow.parquet as pq

        out: list[tuple[Any, int, int]] = []
        for f in ds.files:
            try:
                pf = pq.ParquetFile(f)
            except (OSError, ValueError) as e:
                raise DataError(f"cannot read Parquet file {f!r}: {e}") from None
            md = pf.metadata
            out.extend((pf, i, md.row_group(i).num_rows) for i in range(md.num_row_groups))
        return out

    def _group_batches(self, g: int, columns: list[str]) -> Iterator[Any]:
        """Row group g as tables of at most about 4 * batch_size rows. A whole row group is read
        at once (all columns decoded in parallel, buffers reused from group to group)."""
        pf, i, n = self._groups[g]
        if n <= 4 * self._batch_size:
            yield pf.read_row_group(i, columns=columns, use_threads=True)
        else:
            yield from pf.iter_batches(batch_size=self._batch_size, row_groups=[i],
                                       columns=columns, use_threads=True)

    def _batches(self, columns: list[str]) -> Iterator[Any]:
        for g in range(len(self._groups)):
            yield from self._group_batches(g, columns)

    def _first_pass(self) -> None:
        """Label, weight and exact category counts: one pass over just those columns."""
        from collections import Counter

        cat_idx = [i for i, s in enumerate(self._specs) if s["kind"] == "categorical"]
        cols = [self._specs[i]["name"] for i in cat_idx]
        extra = [n for n in (self._label_name, self._weight_name) if n is not None]
        counters: list[Counter[Any]] = [Counter() for _ in cat_idx]
        lab: list[np.ndarray] = []
        wts: list[np.ndarray] = []
        for batch in self._batches(cols + extra):
            for k in range(len(cat_idx)):
                vals, cnts = _ArrowColumn(cols[k], batch.column(cols[k])).value_counts()
                for v, c in zip(vals, cnts, strict=True):
                    counters[k][v] += int(c)
            if self._label_name is not None:
                lab.append(_ArrowColumn("label", batch.column(self._label_name)).numeric())
            if self._weight_name is not None:
                wts.append(_ArrowColumn("weight", batch.column(self._weight_name)).numeric())
        for k, i in enumerate(cat_idx):
            vals, counts = _frequency_order(list(counters[k].keys()),
                                            np.asarray(list(counters[k].values()), np.int64))
            self._specs[i]["categories"] = vals
            self._counts[i] = counts
        if self._label_name is not None:
            self.label = np.concatenate(lab).astype(np.float64) if lab else np.empty(0)
        if self._weight_name is not None:
            self.weight = np.concatenate(wts).astype(np.float64) if wts else np.empty(0)

    def _batch_columns(self, batch: Any) -> list[np.ndarray]:
        out = []
        for s in self._specs:
            c = _ArrowColumn(s["name"], batch.column(s["name"]))
            out.append(c.codes(s["categories"]) if s["kind"] == "categorical" else c.numeric())
        return out

    # ------------------------------------------------------------------ properties
    @property
    def num_rows(self) -> int:
        return int(self._n_rows)

    @property
    def num_features(self) -> int:
        return len(self._specs)

    @property
    def schema(self) -> list[FeatureSpec]:
        """One dict per feature (name, position, kind, dtype; categories for categoricals)."""
        return [dict(s) for s in self._specs]

    @property
    def categorical_features(self) -> list[str]:
        return [s["name"] for s in self._specs if s["kind"] == "categorical"]

    @property
    def X(self) -> np.ndarray:
        """The features as one float matrix (categories as codes); built on first use."""
        if self._X is None:
            if self._stream is not None:
                parts = [_stack(self._batch_columns(b))
                         for b in self._batches([s["name"] for s in self._specs])]
                self._X = np.concatenate(parts) if parts else np.empty((0, self.num_features),
                                                                       np.float32)
            else:
                self._X = _stack(self._cols)
        return self._X

    def columns(self) -> list[np.ndarray]:
        """The feature columns (1-D float views; category codes for categoricals)."""
        if self._stream is not None:
            return [self.X[:, j] for j in range(self.num_features)]
        return list(self._cols)

    def trained_schema(self, max_bin: int, cat_min_count: int) -> list[FeatureSpec]:
        """The schema a model trained with these settings keeps (categories cut to the kept;
        target-statistics features, as chosen by the last construct(), keep every category
        and their statistics)."""
        out = []
        for pos, (s, counts) in enumerate(zip(self._specs, self._counts, strict=True)):
            s = dict(s)
            if pos in self._ts:
                s["encoding"] = "target_stats"
                s["target_stats"] = [float(v) for v in self._ts[pos]]
            elif s["kind"] == "categorical":
                assert counts is not None
                s["categories"] = list(s["categories"][: kept_categories(counts, max_bin,
                                                                          cat_min_count)])
            out.append(s)
        return out

    def _target_stat_features(self, cat_encoding: str, min_categories: int) -> list[int]:
        if cat_encoding not in ("native", "target_stats", "auto"):
            raise ParameterError(f"cat_encoding must be 'native', 'target_stats' or 'auto', "
                                 f"got {cat_encoding!r}")
        if cat_encoding == "native":
            return []
        return [i for i, s in enumerate(self._specs) if s["kind"] == "categorical"
                and (cat_encoding == "target_stats" or len(s["categories"]) > min_categories)]

    def construct(self, max_bin: int, bin_sample_rows: int, seed: int, n_jobs: int,
                  cat_min_count: int = 5, cat_encoding: str = "native",
                  cat_ts_min_categories: int = 64, cat_ts_prior_weight: float = 1.0) -> Any:
        """Fit bin edges and bin the data (cached for the same binning settings)."""
        key = (max_bin, bin_sample_rows, seed, cat_min_count, cat_encoding,
               cat_ts_min_categories, cat_ts_prior_weight)
        if self._binned is not None and self._bin_key == key:
            return self._binned
        num_cats = [
            -1 if counts is None else kept_categories(counts, max_bin, cat_min_count)
            for counts in self._counts
        ]
        ts = self._target_stat_features(cat_encoding, cat_ts_min_categories)
        self._ts = {}
        if self._stream is not None:
            if ts:
                raise ParameterError("cat_encoding target statistics need in-memory data; "
                                     "Parquet sources train with native categoricals "
                                     "(cat_encoding='native')")
            self._binned, edges = self._construct_stream(num_cats, max_bin, bin_sample_rows,
                                                         seed, n_jobs)
        else:
            cols = list(self._cols)
            if ts and self.label is None:
                raise DataError("target statistics for categorical features need the label")
            for j in ts:
                assert self.label is not None
                cols[j], self._ts[j] = ordered_target_stats(
                    self._cols[j], len(self._specs[j]["categories"]), self.label, self.weight,
                    cat_ts_prior_weight, seed)
                num_cats[j] = -1
            edges = _core.fit_bin_edges_columns(cols, num_cats, max_bin, bin_sample_rows,
                                                seed, n_jobs)
            binned = _core.binned_allocate(self._n_rows, edges, num_cats)
            _core.binned_fill_columns(binned, 0, cols, n_jobs)
            self._binned = binned
        self._edges = [np.asarray(e) for e in edges]
        self._num_cats = num_cats
        self._bin_key = key
        return self._binned

    def _construct_stream(self, num_cats: list[int], max_bin: int, sample_rows: int, seed: int,
                          n_jobs: int) -> tuple[Any, list[np.ndarray]]:
        """Two passes: a seeded sample of row groups is read into float32 columns and the edges
        fitted on it; those rows are binned from memory, every other row group streamed to
        bins (each row group is read once)."""
        names = [s["name"] for s in self._specs]
        picked = self._sample_groups(sample_rows, seed)
        starts = np.concatenate([[0], np.cumsum([n for _, _, n in self._groups])]).astype(np.int64)
        m = int(sum(self._groups[g][2] for g in picked))
        sample = [np.empty(m, np.float32) for _ in names]
        pos = 0
        for g in picked:
            for batch in self._group_batches(g, names):
                k = batch.num_rows
                for j, c in enumerate(self._batch_columns(batch)):
                    sample[j][pos:pos + k] = c
                pos += k
        edges = _core.fit_bin_edges_columns(sample, num_cats, max_bin, max(sample_rows, 1),
                                            seed, n_jobs)
        binned = _core.binned_allocate(self._n_rows, edges, num_cats)
        pos = 0
        for g in picked:
            k = self._groups[g][2]
            _core.binned_fill_columns(binned, int(starts[g]), [c[pos:pos + k] for c in sample],
                                      n_jobs)
            pos += k
        del sample
        chosen = set(picked)
        for g in range(len(self._groups)):
            if g in chosen:
                continue
            offset = int(starts[g])
            for batch in self._group_batches(g, names):
                _core.binned_fill_columns(binned, offset, self._batch_columns(batch), n_jobs)
                offset += batch.num_rows
            if offset != starts[g + 1]:
                raise DataError(f"Parquet data changed while reading: row group {g} has "
                                f"{offset - starts[g]} rows, {starts[g + 1] - starts[g]} counted")
        return binned, edges

    def _sample_groups(self, sample_rows: int, seed: int) -> list[int]:
        """A seeded random subset of row groups holding >= sample_rows rows (all when the data
        has no more rows than that), in file order."""
        if self._n_rows <= sample_rows:
            return list(range(len(self._groups)))
        order = np.random.default_rng(seed).permutation(len(self._groups))
        picked, rows = [], 0
        for i in order:
            if rows >= sample_rows:
                break
            picked.append(int(i))
            rows += self._groups[int(i)][2]
        return sorted(picked)

    @property
    def bin_edges(self) -> list[np.ndarray] | None:
        return self._edges

    @property
    def num_cats(self) -> list[int]:
        """Per feature after construct(): -1 numeric, else the number of kept categories."""
        return list(self._num_cats)

    def encoded_for(self, schema: list[FeatureSpec]) -> np.ndarray:
        """This data's features as a float matrix encoded through another model's schema
        (validation sets use the training set's category codes)."""
        if self._stream is not None:
            parts = []
            for b in self._batches([s["name"] for s in self._specs]):
                parts.append(encode_for_schema(b, schema))
            return np.concatenate(parts)
        if all(s["kind"] != "categorical" for s in schema):
            return self.X
        # re-encode this set's codes (its own category order) into the schema's codes
        own_by_name = {o["name"]: o for o in self._specs}
        cols = []
        for s in schema:
            own = own_by_name.get(s["name"])
            if own is None:
                raise SchemaError(f"validation data is missing column {s['name']!r}")
            c = self._cols[own["position"]]
            if s["kind"] != "categorical":
                if own["kind"] == "categorical":
                    raise DataError(f"column {s['name']!r} is {s['kind']} in the training data "
                                    "but categorical here")
                cols.append(c)
            elif own["kind"] != "categorical":
                cols.append(_apply_target_stats(
                    _lookup_codes(c.astype(np.float64), list(s["categories"])), s))
            else:
                stored = {v: i for i, v in enumerate(s["categories"])}
                lut = np.array([stored.get(v, np.nan) for v in own["categories"]] + [np.nan],
                               dtype=np.float32)
                idx = np.where(np.isnan(c), len(lut) - 1, c).astype(np.int64)
                cols.append(_apply_target_stats(lut[idx], s))
        return _stack(cols)


# ---------------------------------------------------------------------------- predict side
def encode_category_codes(X: Any, names: list[str], code_features: set[str],
                          what: str = "X") -> np.ndarray:
    """X's features as the engine's float matrix for a model that reads some features as
    category codes (imported XGBoost categorical models): tables by column name, numpy by
    position; those features take each column's own codes, the others its numbers."""
    return encode_for_schema(X, [{"name": n, "kind": "code" if n in code_features else "numeric"}
                                 for n in names], what)


def encode_for_schema(X: Any, schema: list[FeatureSpec], what: str = "X") -> np.ndarray:
    """X's features as the engine's float matrix, matched to a trained model's schema.

    Tables: columns by name (order free, extra columns ignored; a missing one raises
    SchemaError). numpy arrays: by position, with a column count check. Categorical values map
    through the stored categories; values not among them (unseen, rare) and missing values
    become NaN, which follows each split's learned other/missing direction. Non-numeric values
    where the model was trained on numbers raise DataError naming the column.
    """
    if _is_path_source(X):
        import pyarrow.dataset as pads

        X = pads.dataset([os.fspath(p) for p in X] if isinstance(X, (list, tuple))
                         else os.fspath(X), format="parquet").to_table(
            columns=[s["name"] for s in schema])
    cols, named = _frame_columns(X, what)
    if named:
        by_name = {c.name: c for c in cols}
        missing = [s["name"] for s in schema if s["name"] not in by_name]
        if missing:
            raise SchemaError(f"{what} is missing column(s) the model was trained on: "
                              f"{missing[:10]}")
        use = [by_name[s["name"]] for s in schema]
    else:
        if len(cols) != len(schema):
            raise DataError(f"{what} has {len(cols)} features but the model was trained on "
                            f"{len(schema)}")
        use = cols
    out = []
    for s, c in zip(schema, use, strict=True):
        if s["kind"] == "code":  # only from encode_category_codes: never stored in a model
            out.append(c.category_codes())
        elif s["kind"] == "categorical":
            cats = list(s.get("categories", []))
            if not c.is_stringy and cats and any(isinstance(v, str) for v in cats):
                raise DataError(
                    f"column {s['name']!r} was trained as categorical with string categories "
                    f"(e.g. {cats[0]!r}) but {what} holds numbers (e.g. {c.example()!r})"
                )
            out.append(_apply_target_stats(c.codes(cats), s))
        else:
            if c.is_stringy:
                raise DataError(
                    f"column {s['name']!r} was trained as {s['kind']} but {what} holds "
                    f"non-numeric values (dtype {c.dtype}, e.g. {c.example()!r})"
                )
            out.append(c.numeric())
    return _stack(out)

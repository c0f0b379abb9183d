"""One column layer: every user table becomes named columns by ONE set of dtype rules.

Train (``Dataset``), predict (``Booster.predict``), the scoring job, profiles, validation and
monitoring all read user tables through :func:`frame_columns` and a :class:`Column`'s
conversions, so the same input gives the same feature values on every path. The rules (the
README's "Column types" table says the same):

=========================================  ==================================================
input column                               feature value
=========================================  ==================================================
float32                                    as is (no copy)
float64 (numpy, pandas, Arrow)             as is (no copy); the engine reads every value as
                                           the nearest float32, exactly as a cast would
float16                                    float32
int8..int64, uint8..uint64 (numpy,         nearest float32 (one rounding; exact up to
pandas nullable Int/UInt, Arrow)           2**24 in magnitude, rounded above)
bool, pandas ``boolean``                   0.0 / 1.0
pandas nullable Float32 / Float64          float32 / float64 as above
decimals (Arrow decimal, Python Decimal)   float64, then as float64
object columns of numbers                  float64, then as float64
null / NA / NaN / None                     NaN (missing; follows each split's learned
                                           missing direction)
strings, pandas ``string``/``object`` of   categorical only (``categorical_features``); as a
strings, pandas ``category``, Arrow        numeric feature: ``DataError`` naming the column
``string``/``large_string``/dictionary,
polars ``String``/``Categorical``/``Enum``
object columns mixing strings and other    ``DataError`` naming the column and a row of each
values
timestamps, dates, times, durations,       ``DataError`` naming the column (no guess: derive
periods                                    numbers from them, or list them as categorical)
=========================================  ==================================================

Categories map by value through the model's stored list (``frame.categorical``), never by a
pandas or Arrow code. Tables are matched to a model by column name; numpy arrays by position.
Duplicate column names are refused (``DataError`` naming them).

Source detection never imports anything (``_compat.loaded``): an object can only be a pandas
frame if pandas was imported by whoever built it.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import numbers
import os
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._compat import loaded, require
from ..errors import DataError, SchemaError
from .categorical import FeatureSpec, apply_target_stats, example, is_missing, lookup_codes, plain
from .names import check_unique

__all__ = [
    "Column",
    "NumpyColumn",
    "PandasColumn",
    "ArrowColumn",
    "TypedEmpty",
    "frame_columns",
    "float64_column",
    "to_matrix",
    "stack",
    "encode_for_schema",
    "encode_category_codes",
    "is_pandas_frame",
    "is_polars_frame",
    "is_arrow_table",
    "is_path_source",
    "epoch_ns",
]

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


# ---------------------------------------------------------------------------- source detection
def is_pandas_frame(obj: Any) -> bool:
    pd = loaded("pandas")
    return pd is not None and isinstance(obj, pd.DataFrame)


def is_pandas_object(obj: Any) -> bool:
    """A pandas DataFrame, Series or Index."""
    pd = loaded("pandas")
    return pd is not None and isinstance(obj, (pd.DataFrame, pd.Series, pd.Index))


def is_polars_frame(obj: Any) -> bool:
    pl = loaded("polars")
    return pl is not None and isinstance(obj, pl.DataFrame)


def is_arrow_table(obj: Any) -> bool:
    pa = loaded("pyarrow")
    return pa is not None and isinstance(obj, (pa.Table, pa.RecordBatch))


def is_path_source(obj: Any) -> bool:
    """A file, folder or glob path, or a non-empty list of them."""
    if isinstance(obj, (str, os.PathLike)):
        return True
    return (
        isinstance(obj, (list, tuple))
        and len(obj) > 0
        and all(isinstance(o, (str, os.PathLike)) for o in obj)
    )


# ---------------------------------------------------------------------------- errors
def _temporal_error(name: str, dtype: str, ex: Any) -> DataError:
    return DataError(
        f"column {name!r} holds dates/times (dtype {dtype}, e.g. {ex!r}); sapwood does not "
        "guess how to use them: derive numeric features from it (hour, day of week, days "
        "since an event), list it in categorical_features, or drop it"
    )


def _not_numeric_error(name: str, dtype: str, ex: Any) -> DataError:
    return DataError(
        f"column {name!r} is not numeric (dtype {dtype}, e.g. {ex!r}); list it in "
        "categorical_features, give it a categorical dtype, or drop it"
    )


# ---------------------------------------------------------------------------- object columns
_TEMPORAL_TYPES = (datetime.date, datetime.time, datetime.timedelta, np.datetime64,
                   np.timedelta64)


def _object_kind(name: str, values: np.ndarray) -> str:
    """'string', 'numeric' or 'temporal' for an object column, by every value's type (the
    first rows alone would let a stray string deep in a numeric column through).

    Missing values (None, NaN, NA, NaT) do not count; a column of only missing values is
    numeric (all NaN). A column mixing strings with numbers (or other values) is refused."""
    kinds: dict[str, int] = {}
    for i, v in enumerate(values):
        if isinstance(v, (str, bytes)):
            k = "string"
        elif isinstance(v, (bool, np.bool_, numbers.Real, decimal.Decimal, fractions.Fraction)):
            if isinstance(v, (float, np.floating)) and v != v:
                continue
            k = "numeric"
        elif isinstance(v, _TEMPORAL_TYPES):
            if is_missing(v):
                continue
            k = "temporal"
        elif is_missing(v):
            continue
        else:
            raise DataError(f"column {name!r} holds a value that is neither a number nor a "
                            f"string (row {i}: {v!r} of type {type(v).__name__})")
        kinds.setdefault(k, i)
    if len(kinds) > 1:
        (k1, r1), (k2, r2) = sorted(kinds.items(), key=lambda t: t[1])[:2]
        raise DataError(
            f"column {name!r} mixes {k1} values (row {r1}: {values[r1]!r}) with {k2} values "
            f"(row {r2}: {values[r2]!r}); give it one type (strings for a categorical feature, "
            "numbers for a numeric one)"
        )
    return next(iter(kinds), "numeric")


def _object_numbers(values: np.ndarray) -> np.ndarray:
    """float64 of an object column of numbers (missing values -> NaN)."""
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        out[i] = np.nan if is_missing(v) else float(v)
    return out


def _object_value_counts(values: Sequence[Any] | np.ndarray) -> tuple[list[Any], np.ndarray]:
    counts = Counter(plain(v) for v in values if not is_missing(v))
    return list(counts.keys()), np.asarray(list(counts.values()), dtype=np.int64)


# ---------------------------------------------------------------------------- columns
class Column:
    """One input column: its name, dtype, kind and the conversions the engine needs.

    kind: "numeric", "bool", "string" (strings and categories: categorical values) or
    "temporal" (dates, times, durations: never a numeric feature).
    """

    name: str
    dtype: str
    kind: str = "numeric"

    @property
    def is_bool(self) -> bool:
        return self.kind == "bool"

    @property
    def is_temporal(self) -> bool:
        return self.kind == "temporal"

    @property
    def is_stringy(self) -> bool:
        """Holds something other than numbers (strings, categories, dates)."""
        return self.kind in ("string", "temporal")

    def __len__(self) -> int:
        raise NotImplementedError

    def numeric(self) -> np.ndarray:
        """The feature values: 1-D float32, or float64 passed as is (NaN for missing)."""
        raise NotImplementedError

    def float32(self) -> np.ndarray:
        """The feature values as float32 (what the engine reads from a float64 column)."""
        v = self.numeric()
        return v if v.dtype == np.float32 else v.astype(np.float32)

    def float64(self) -> np.ndarray:
        """The values as float64, for labels and weights (not features): integers up to 2**53
        exactly, NaN for missing."""
        return self.numeric().astype(np.float64)

    def value_counts(self) -> tuple[list[Any], np.ndarray]:
        """Distinct non-missing values (plain Python scalars) and their counts."""
        raise NotImplementedError

    def codes(self, categories: list[Any]) -> np.ndarray:
        """float32 positions of the values in ``categories`` (NaN when absent or missing)."""
        raise NotImplementedError

    def example(self) -> Any:
        raise NotImplementedError

    def _refuse(self) -> DataError:
        if self.is_temporal:
            return _temporal_error(self.name, self.dtype, self.example())
        return _not_numeric_error(self.name, self.dtype, self.example())

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


def _numpy_numeric(v: np.ndarray) -> np.ndarray:
    """The rule for a numpy bool/int/float column."""
    if v.dtype in _FLOATS and v.dtype.isnative:
        return v  # float32 as is; float64 as is (the engine rounds it to float32 on read)
    if v.dtype.kind in "iub":
        return v.astype(np.float32)
    return v.astype(np.float64 if v.dtype.itemsize > 4 else np.float32)


class NumpyColumn(Column):
    def __init__(self, name: str, values: np.ndarray) -> None:
        self.name = name
        self.values = values
        self.dtype = str(values.dtype)
        k = values.dtype.kind
        if k == "b":
            self.kind = "bool"
        elif k in "iuf":
            self.kind = "numeric"
        elif k in "mM":
            self.kind = "temporal"
        elif k == "O":
            self.kind = _object_kind(name, values)
        else:  # strings, bytes, complex, structured
            self.kind = "string"

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def numeric(self) -> np.ndarray:
        if self.is_stringy or self.values.dtype.kind not in "iufbO":
            raise self._refuse()
        if self.values.dtype.kind == "O":
            return _object_numbers(self.values)
        return _numpy_numeric(self.values)

    def float64(self) -> np.ndarray:
        if self.values.dtype.kind in "iub":
            return self.values.astype(np.float64)
        return super().float64()

    def value_counts(self) -> tuple[list[Any], np.ndarray]:
        v = self.values
        if v.dtype.kind == "O":
            return _object_value_counts(v)
        if v.dtype.kind == "f":
            v = v[~np.isnan(v)]
        elif v.dtype.kind in "mM":
            v = v[~np.isnat(v)]
        vals, counts = np.unique(v, return_counts=True)
        return [plain(x) for x in vals], counts

    def codes(self, categories: list[Any]) -> np.ndarray:
        return lookup_codes(self.values, categories)

    def example(self) -> Any:
        return example(self.values[:1000])


class PandasColumn(Column):
    def __init__(self, name: str, s: Any) -> None:
        pd = require("pandas", "a pandas column")
        self.name = name
        self.s = s
        dt = s.dtype
        self.dtype = str(dt)
        self.is_cat = isinstance(dt, pd.CategoricalDtype)
        types = pd.api.types
        if self.is_cat:
            # categorical under "auto" whatever its values; numeric categories give numbers
            self.kind = "string"
        elif types.is_bool_dtype(dt):
            self.kind = "bool"
        elif (types.is_datetime64_any_dtype(dt) or types.is_timedelta64_dtype(dt)
              or isinstance(dt, pd.PeriodDtype)):
            self.kind = "temporal"
        elif types.is_numeric_dtype(dt) and not types.is_complex_dtype(dt):
            self.kind = "numeric"
        elif dt == np.dtype(object):
            self.kind = _object_kind(name, s.to_numpy())
        else:  # pandas string, Arrow-backed strings, intervals, ...
            pa_type = getattr(dt, "pyarrow_dtype", None)
            pa = loaded("pyarrow")
            if pa_type is not None and pa is not None and pa.types.is_temporal(pa_type):
                self.kind = "temporal"
            else:
                self.kind = "string"

    def __len__(self) -> int:
        return len(self.s)

    def numeric(self) -> np.ndarray:
        s = self.s
        if s.dtype in _FLOATS:
            out: np.ndarray = s.to_numpy()  # a view: NaN is already the missing value
            return _numpy_numeric(out)
        if self.is_cat:
            cats = s.cat.categories
            if cats.dtype.kind not in "iufb":
                raise self._refuse()
            lut = np.append(_numpy_numeric(np.asarray(cats.to_numpy())), np.nan)
            lut = lut.astype(np.float32 if cats.dtype.kind in "iub" else lut.dtype)
            codes = s.cat.codes.to_numpy()
            res: np.ndarray = lut[np.where(codes < 0, len(cats), codes)]
            return res
        if self.is_stringy:
            raise self._refuse()
        if s.dtype == np.dtype(object):
            return _object_numbers(s.to_numpy())
        dt = s.dtype
        np_dt = getattr(dt, "numpy_dtype", dt)  # nullable Int64 -> int64, Float32 -> float32
        try:
            kind = np.dtype(np_dt).kind
            size = np.dtype(np_dt).itemsize
        except TypeError:  # Arrow-backed decimals and the like
            kind, size = "f", 8
        target = np.float64 if (kind == "f" and size > 4) else np.float32
        try:
            converted: np.ndarray = s.to_numpy(dtype=target, na_value=np.nan)
        except (TypeError, ValueError):
            raise self._refuse() from None
        return converted

    def float64(self) -> np.ndarray:
        if self.is_cat or self.is_stringy or self.s.dtype == np.dtype(object):
            return super().float64()
        try:
            out: np.ndarray = self.s.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise self._refuse() from None
        return out

    def value_counts(self) -> tuple[list[Any], np.ndarray]:
        if self.s.dtype == np.dtype(object):
            return _object_value_counts(self.s.to_numpy())
        vc = self.s.value_counts(dropna=True, sort=False)
        vc = vc[vc > 0]
        return [plain(v) for v in vc.index], vc.to_numpy(dtype=np.int64)

    def codes(self, categories: list[Any]) -> np.ndarray:
        pd = require("pandas", "a pandas column")
        s = self.s
        if self.is_cat:
            # map the column's own categories through the stored values, then take by code
            level = pd.Index(categories, dtype=object).get_indexer(
                pd.Index(s.cat.categories, dtype=object)
            )
            lut = np.append(level.astype(np.float32), np.float32(-1))  # code -1 (NaN) -> -1
            lut[lut < 0] = np.nan
            codes = s.cat.codes.to_numpy()
            res: np.ndarray = lut[np.where(codes < 0, len(level), codes)]
            return res
        return lookup_codes(s.to_numpy(dtype=object, na_value=None), categories)

    def category_codes(self) -> np.ndarray:
        if not self.is_cat:
            return super().category_codes()
        codes: np.ndarray = self.s.cat.codes.to_numpy().astype(np.float32)
        codes[codes < 0] = np.nan
        return codes

    def example(self) -> Any:
        nn = self.s.dropna()
        return plain(nn.iloc[0]) if len(nn) else None


class TypedEmpty:
    """A stand-in for an Arrow column known only by its type (a Parquet column before it is
    read): kinds come from the type alone; ``head()`` reads some rows only if an error
    message needs an example value."""

    def __init__(self, type_: Any, head: Callable[[], Any]) -> None:
        self.type = type_
        self.head = head


def _arrow_values(a: Any, dtype: Any) -> np.ndarray:
    """The values buffer of a primitive Arrow array without nulls, as numpy, in place.

    Read by hand: ``Array.to_numpy`` imports pandas on first use (about a second of a scoring
    job's start-up) to give the same zero-copy view."""
    out: np.ndarray = np.frombuffer(a.buffers()[1], dtype=dtype,
                                    count=a.offset + len(a))[a.offset:]
    return out


class ArrowColumn(Column):
    def __init__(self, name: str, arr: Any) -> None:
        pa = require("pyarrow", "an Arrow column")
        self.name = name
        self.arr = arr  # ChunkedArray, Array or TypedEmpty
        t = arr.type
        self.dtype = str(t)
        self.is_dict = pa.types.is_dictionary(t)
        if self.is_dict:
            self.kind = "string"  # categorical under "auto", as a pandas category column
        elif pa.types.is_boolean(t):
            self.kind = "bool"
        elif (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
              or pa.types.is_null(t)):
            self.kind = "numeric"
        elif pa.types.is_temporal(t):
            self.kind = "temporal"
        else:  # string, large_string, string_view, binary, nested
            self.kind = "string"

    def __len__(self) -> int:
        return len(self.arr)

    def _decoded(self) -> Any:
        pa = require("pyarrow", "an Arrow column")
        a = self.arr.head() if isinstance(self.arr, TypedEmpty) else self.arr
        if self.is_dict:
            a = a.cast(a.type.value_type)
        if isinstance(a, pa.ChunkedArray):
            a = a.combine_chunks() if a.num_chunks != 1 else a.chunk(0)
        return a

    def numeric(self) -> np.ndarray:
        return self._as_float(wide=False)

    def float64(self) -> np.ndarray:
        return self._as_float(wide=True)

    def _as_float(self, wide: bool) -> np.ndarray:
        pa = require("pyarrow", "an Arrow column")
        t = self.arr.type.value_type if self.is_dict else self.arr.type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
                or pa.types.is_boolean(t) or pa.types.is_null(t)):
            raise self._refuse()
        a = self._decoded()
        t = a.type
        if wide:
            target = pa.float64()
        elif pa.types.is_floating(t) and t.bit_width in (32, 64):
            target = t  # float32 as is; float64 as is (the engine rounds it on read)
        elif pa.types.is_decimal(t):
            target = pa.float64()
        else:  # ints (one rounding to the nearest float32), bool, float16, null
            target = pa.float32()
        if a.type != target:
            a = a.cast(target, safe=False)
        if a.null_count:
            import pyarrow.compute as pc  # only here: its import costs ~0.15 s

            a = pc.fill_null(a, pa.scalar(np.nan, target))
        return _arrow_values(a, np.float32 if target == pa.float32() else np.float64)

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
        keep = [i for i, v in enumerate(values) if not is_missing(v)]
        return [plain(values[i]) for i in keep], counts[keep]

    def codes(self, categories: list[Any]) -> np.ndarray:
        pa = require("pyarrow", "an Arrow column")
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
            return lookup_codes(np.asarray(self._decoded().to_pylist(), dtype=object),
                                categories)
        res = pc.index_in(self._decoded(), value_set=value_set)
        out: np.ndarray = res.cast(pa.float32()).fill_null(float("nan")).to_numpy(
            zero_copy_only=False)
        return out

    def example(self) -> Any:
        a = self._decoded()
        n = min(len(a), 1000)
        return example(a.slice(0, n).to_pylist())


def epoch_ns(c: Column) -> np.ndarray:
    """A date/time column as float64 nanoseconds since the epoch (durations: nanoseconds;
    NaN for missing). Only profiles use this, to summarise a date column that is not a
    feature; no model reads dates (see the rules above)."""
    if isinstance(c, ArrowColumn):
        pa = require("pyarrow", "an Arrow column")
        a = c._decoded()
        t = a.type
        if pa.types.is_date(t) or pa.types.is_timestamp(t):
            if pa.types.is_timestamp(t) and t.tz is not None:
                a = a.cast(pa.timestamp(t.unit))
            a = a.cast(pa.timestamp("ns")).cast(pa.int64())
        elif pa.types.is_duration(t):
            a = a.cast(pa.duration("ns")).cast(pa.int64())
        else:  # times of day
            a = a.cast(pa.time64("ns")).cast(pa.int64())
        if a.null_count:
            import pyarrow.compute as pc

            valid = np.asarray(pc.is_valid(a).to_numpy(zero_copy_only=False), dtype=bool)
            a = a.fill_null(0)
        else:
            valid = None
        ns = np.asarray(a.to_numpy(zero_copy_only=False), dtype=np.int64)
        res = ns.astype(np.float64)
        if valid is not None:
            res[~valid] = np.nan
        return res
    if isinstance(c, PandasColumn):
        s = c.s
        pd = require("pandas", "a pandas column")
        if isinstance(s.dtype, pd.PeriodDtype):
            s = s.dt.to_timestamp()
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_localize(None)
            arr = np.asarray(s.to_numpy(dtype="datetime64[ns]"))
        elif pd.api.types.is_timedelta64_dtype(s.dtype):
            arr = np.asarray(s.to_numpy(dtype="timedelta64[ns]"))
        else:
            arr = np.asarray(s.to_numpy())
    else:
        arr = np.asarray(c.values)  # type: ignore[attr-defined]
    if arr.dtype.kind not in "mM":  # object columns of datetime / timedelta objects
        pd = require("pandas", "dates in an object column")
        try:
            arr = np.asarray(pd.to_datetime(arr).to_numpy(dtype="datetime64[ns]"))
        except (TypeError, ValueError):
            try:
                arr = np.asarray(pd.to_timedelta(arr).to_numpy(dtype="timedelta64[ns]"))
            except (TypeError, ValueError):
                raise DataError(f"column {c.name!r} mixes dates, times and durations "
                                f"(e.g. {c.example()!r})") from None
    unit = "datetime64[ns]" if arr.dtype.kind == "M" else "timedelta64[ns]"
    out = arr.astype(unit).view(np.int64).astype(np.float64)
    out[np.isnat(arr)] = np.nan
    return out


# ---------------------------------------------------------------------------- tables
def frame_columns(data: Any, what: str = "data") -> tuple[list[Column], bool]:
    """The columns of a table-like input, and whether they carry real names.

    numpy 2-D arrays (and lists) give columns ``f0, f1, ...`` (unnamed); pandas, polars and
    Arrow tables their named columns (polars through its Arrow form, without a copy).
    """
    if is_pandas_frame(data):
        names = [str(c) for c in data.columns]
        check_unique(names, what)
        # items(), not iloc per column: half the indexing cost (names are unique, checked above)
        return [PandasColumn(n, s) for n, (_, s) in zip(names, data.items(), strict=True)], True
    if is_polars_frame(data):
        data = data.to_arrow()
    if is_arrow_table(data):
        names = [str(c) for c in data.schema.names]
        check_unique(names, what)
        return [ArrowColumn(n, data.column(i)) for i, n in enumerate(names)], True
    if hasattr(data, "__array__") or isinstance(data, (list, tuple)):
        arr = np.asarray(data)
    else:
        raise DataError(
            f"{what} must be a numpy array, a pandas/polars DataFrame, a pyarrow Table or "
            f"RecordBatch, or a data file path; got {type(data)!r}"
        )
    if arr.ndim == 1:
        raise DataError(f"{what} must be 2-D (rows x features), got a 1-D array of {arr.shape[0]}")
    if arr.ndim != 2:
        raise DataError(f"{what} must be 2-D (rows x features), got {arr.ndim}-D")
    return [NumpyColumn(f"f{j}", arr[:, j]) for j in range(arr.shape[1])], False


def stack(cols: list[np.ndarray]) -> np.ndarray:
    """Columns side by side as one C-ordered matrix (float32 unless some column is float64)."""
    n = cols[0].shape[0] if cols else 0
    dtype = np.float64 if any(c.dtype == np.float64 for c in cols) else np.float32
    out = np.empty((n, len(cols)), dtype=dtype)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


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
    cols, named = frame_columns(data, what)
    if not cols:
        raise DataError(f"{what} has zero columns")
    return stack([c.numeric() for c in cols]), [c.name for c in cols] if named else None


def _read_paths(X: Any, columns: list[str]) -> Any:
    from .readers import read_table

    return read_table(list(X) if isinstance(X, (list, tuple)) else X, columns=columns)


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
    SchemaError). numpy arrays: by position, with a column count check. Data file paths
    (Parquet, CSV, Arrow IPC; folders, globs) are read with ``frame.readers.read_table``.
    Categorical values map through the stored categories; values not among them (unseen,
    rare) and missing values become NaN, which follows each split's learned other/missing
    direction. Non-numeric values where the model was trained on numbers raise DataError
    naming the column.
    """
    if is_path_source(X):
        X = _read_paths(X, [s["name"] for s in schema])
    cols, named = frame_columns(X, what)
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
            out.append(apply_target_stats(c.codes(cats), s))
        else:
            if c.is_stringy:
                if c.is_temporal:
                    raise c._refuse()
                raise DataError(
                    f"column {s['name']!r} was trained as {s['kind']} but {what} holds "
                    f"non-numeric values (dtype {c.dtype}, e.g. {c.example()!r})"
                )
            out.append(c.numeric())
    return stack(out)


def float64_column(values: Any, column: str, what: str) -> np.ndarray:
    """A float64 copy of one column (a pandas Series, an array or a list) for labels, weights
    and other non-feature numbers; a value that is not a number is a DataError naming the
    column and its row."""
    try:
        return np.asarray(values.to_numpy(dtype=np.float64, na_value=np.nan)
                          if hasattr(values, "to_numpy") else values, dtype=np.float64)
    except (TypeError, ValueError):
        for i, v in enumerate(values.tolist() if hasattr(values, "tolist") else values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise DataError(f"{what} column {column!r} must be numeric: row {i} holds "
                                f"{v!r}") from None
        raise DataError(f"{what} column {column!r} must be numeric") from None

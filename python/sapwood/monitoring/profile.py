"""Column profiles: compact, exactly mergeable summaries of a data set for monitoring.

A :class:`Profile` holds, per numeric column, counts over fine quantile bins, null and +-inf
counts, min, max and the exact sums of x and x^2 (so the mean and variance are correctly
rounded and merging chunk profiles gives bit-for-bit the profile of the whole); per
categorical column, counts per category, an explicit "unseen" bucket and a null count. It is
computed in one multithreaded C++ pass that reads numpy / pandas / Arrow buffers in place, and
serialises to versioned JSON.

Infinities: +-inf values are never binned; they are counted in ``neg_inf_count`` /
``pos_inf_count``, the profile's outer bins below the first and above the last bin (monitoring
compares their share as ``inf_share``). Bin edges are therefore always finite: a +-inf edge
(given in ``edges_from``, or a model's bin edge, which holds -inf when -inf was frequent in
training) would only bound an always-empty bin, and is dropped. Finite values beyond the
float32 range compare as float32 +-inf and fall into the first / last bin.

Memory: a column's profile is O(bins) (edges, counts, exact sums of a few machine words for
data of a few binades); the pass's working memory is bounded per thread, so very wide inputs
(100k columns) cost a few KB per column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np

from .. import _core
from .._params import resolve_n_jobs
from ..errors import DataError, ModelFormatError, ParameterError
from ..frame.columns import (
    ArrowColumn,
    Column,
    PandasColumn,
    epoch_ns,
    frame_columns,
    is_arrow_table,
    is_pandas_frame,
    is_polars_frame,
)

__all__ = [
    "Profile",
    "NumericColumnProfile",
    "CategoricalColumnProfile",
    "ColumnProfile",
    "PREDICTION_COLUMN",
    "QUANTILES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
]

FORMAT_NAME = "sapwood.profile"
FORMAT_VERSION = 1
PREDICTION_COLUMN = "__prediction__"
QUANTILES: tuple[float, ...] = (0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999)
_S1: int = int(_core.exact_sum_scale_bits)
_S2: int = int(_core.exact_sum_sq_scale_bits)
_MAX_CATEGORIES = 10_000


def _dtype_family(dtype: str) -> str:
    """'float', 'int', 'bool', 'datetime' or 'categorical' for a recorded dtype string."""
    d = dtype.lower()
    if d.startswith(("float", "double")):
        return "float"
    if d.startswith(("int", "uint")):
        return "int"
    if d.startswith(("bool",)):
        return "bool"
    if d.startswith(("datetime", "timestamp")):
        return "datetime"
    return "categorical"


@dataclass
class NumericColumnProfile:
    """Profile of one numeric column. ``counts[i]`` counts finite values v with
    ``edges[i-1] < float32(v) <= edges[i]`` (bin 0 has no lower edge, the last bin no upper)."""

    name: str
    dtype: str
    edges: np.ndarray  # float32, strictly increasing
    counts: np.ndarray  # int64, len(edges) + 1
    null_count: int
    neg_inf_count: int
    pos_inf_count: int
    min: float  # nan when no finite value
    max: float
    sum_exact: int  # sum of finite x, times 2**_S1
    sum_sq_exact: int  # sum of finite x^2, times 2**_S2
    kind: str = field(default="numeric", init=False)

    @property
    def finite_count(self) -> int:
        # cached per counts array (profiles are not mutated in place; a new array recounts)
        cache = self.__dict__.get("_finite_cache")
        if cache is None or cache[0] is not self.counts:
            cache = (self.counts, int(self.counts.sum()))
            self.__dict__["_finite_cache"] = cache
        return cache[1]

    @property
    def num_rows(self) -> int:
        return self.finite_count + self.null_count + self.neg_inf_count + self.pos_inf_count

    @property
    def mean(self) -> float:
        """Mean of the finite values, correctly rounded (nan when there are none)."""
        n = self.finite_count
        if n == 0:
            return math.nan
        return self.sum_exact / (n << _S1)

    @property
    def variance(self) -> float:
        """Population variance (ddof=0) of the finite values, correctly rounded."""
        n = self.finite_count
        if n == 0:
            return math.nan
        num = n * self.sum_sq_exact * (1 << (2 * _S1 - _S2)) - self.sum_exact * self.sum_exact
        try:
            return num / (n * n << (2 * _S1))
        except OverflowError:
            return math.inf

    @property
    def std(self) -> float:
        return math.sqrt(self.variance)

    @property
    def null_rate(self) -> float:
        n = self.num_rows
        return self.null_count / n if n else 0.0

    def bin_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lower, upper) value bounds of each bin, clipped to [min, max]."""
        k = self.edges.size
        lo = np.empty(k + 1, dtype=np.float64)
        hi = np.empty(k + 1, dtype=np.float64)
        lo[0] = self.min
        lo[1:] = self.edges
        hi[:k] = self.edges
        hi[k] = self.max
        lo = np.clip(lo, self.min, self.max)
        hi = np.clip(hi, self.min, self.max)
        return lo, hi

    def quantile(self, q: float | Sequence[float]) -> np.ndarray:
        """Quantiles of the finite values from the bin counts (linear within a bin).

        The error is at most the width of the bin holding the quantile."""
        qs = np.atleast_1d(np.asarray(q, dtype=np.float64))
        n = self.finite_count
        if n == 0:
            return np.full(qs.shape, np.nan)
        cum = np.cumsum(self.counts)
        lo, hi = self.bin_bounds()
        out = np.empty(qs.shape)
        for i, p in enumerate(qs):
            target = p * n
            b = int(np.searchsorted(cum, target, side="left"))
            b = min(max(b, 0), self.counts.size - 1)
            while self.counts[b] == 0 and b < self.counts.size - 1:
                b += 1
            before = cum[b] - self.counts[b]
            frac = (target - before) / self.counts[b] if self.counts[b] else 0.0
            frac = min(max(frac, 0.0), 1.0)
            out[i] = lo[b] + frac * (hi[b] - lo[b])
        return out

    @property
    def quantiles(self) -> dict[str, float]:
        vals = self.quantile(QUANTILES)
        return {f"p{100 * q:g}": float(v) for q, v in zip(QUANTILES, vals, strict=False)}

    def summary(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "dtype": self.dtype,
            "rows": self.num_rows,
            "null_count": self.null_count,
            "neg_inf_count": self.neg_inf_count,
            "pos_inf_count": self.pos_inf_count,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            **self.quantiles,
        }

    def merge(self, other: NumericColumnProfile) -> NumericColumnProfile:
        if not np.array_equal(self.edges, other.edges):
            raise DataError(
                f"column {self.name!r}: profiles to merge were built on different bin edges "
                "(profile later chunks with edges_from=the first profile)"
            )
        fin_a, fin_b = self.finite_count, other.finite_count
        mn = min(self.min, other.min) if fin_a and fin_b else (self.min if fin_a else other.min)
        mx = max(self.max, other.max) if fin_a and fin_b else (self.max if fin_a else other.max)
        return NumericColumnProfile(
            name=self.name,
            dtype=self.dtype,
            edges=self.edges,
            counts=self.counts + other.counts,
            null_count=self.null_count + other.null_count,
            neg_inf_count=self.neg_inf_count + other.neg_inf_count,
            pos_inf_count=self.pos_inf_count + other.pos_inf_count,
            min=mn,
            max=mx,
            sum_exact=self.sum_exact + other.sum_exact,
            sum_sq_exact=self.sum_sq_exact + other.sum_sq_exact,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "numeric",
            "dtype": self.dtype,
            "edges": [float(e) for e in self.edges],
            "counts": [int(c) for c in self.counts],
            "null_count": self.null_count,
            "neg_inf_count": self.neg_inf_count,
            "pos_inf_count": self.pos_inf_count,
            "min": None if math.isnan(self.min) else self.min,
            "max": None if math.isnan(self.max) else self.max,
            "sum": hex(self.sum_exact),
            "sum_scale_bits": _S1,
            "sum_sq": hex(self.sum_sq_exact),
            "sum_sq_scale_bits": _S2,
        }


@dataclass
class CategoricalColumnProfile:
    """Profile of one categorical column: counts per category (sorted by name), a count of
    values folded into the "unseen" bucket, and a null count."""

    name: str
    dtype: str
    categories: list[str]
    counts: np.ndarray  # int64
    unseen_count: int
    null_count: int
    kind: str = field(default="categorical", init=False)

    @property
    def non_null_count(self) -> int:
        return int(self.counts.sum()) + self.unseen_count

    @property
    def num_rows(self) -> int:
        return self.non_null_count + self.null_count

    @property
    def null_rate(self) -> float:
        n = self.num_rows
        return self.null_count / n if n else 0.0

    def as_dict(self) -> dict[str, int]:
        return {c: int(n) for c, n in zip(self.categories, self.counts, strict=False)}

    def summary(self) -> dict[str, Any]:
        top = sorted(zip(self.categories, self.counts.tolist(), strict=False), key=lambda t: -t[1])[:10]
        return {
            "kind": self.kind,
            "dtype": self.dtype,
            "rows": self.num_rows,
            "null_count": self.null_count,
            "n_categories": len(self.categories),
            "unseen_count": self.unseen_count,
            "top": dict(top),
        }

    def merge(self, other: CategoricalColumnProfile) -> CategoricalColumnProfile:
        acc = self.as_dict()
        for c, n in zip(other.categories, other.counts, strict=False):
            acc[c] = acc.get(c, 0) + int(n)
        cats = sorted(acc)
        return CategoricalColumnProfile(
            name=self.name,
            dtype=self.dtype,
            categories=cats,
            counts=np.array([acc[c] for c in cats], dtype=np.int64),
            unseen_count=self.unseen_count + other.unseen_count,
            null_count=self.null_count + other.null_count,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "categorical",
            "dtype": self.dtype,
            "categories": list(self.categories),
            "counts": [int(c) for c in self.counts],
            "unseen_count": self.unseen_count,
            "null_count": self.null_count,
        }


ColumnProfile: TypeAlias = NumericColumnProfile | CategoricalColumnProfile
EdgesSource = Any  # a Profile, a Booster, or a mapping name -> edges


# ---------------------------------------------------------------------------- input adapters
@dataclass
class _Col:
    name: str
    dtype: str
    numeric: np.ndarray | None = None  # 1-D numeric array, read in place when possible
    values: Column | None = None  # a categorical column


def _categorical_counts(col: Column) -> tuple[list[str], np.ndarray, int, int]:
    """(sorted categories, counts, unseen_count, null_count) of a categorical column, its
    values counted by the column layer (categories by value, as the model maps them)."""
    values, counts = col.value_counts()
    acc: dict[str, int] = {}
    for v, n in zip(values, counts.tolist(), strict=True):
        if n:
            key = v.decode() if isinstance(v, bytes) else str(v)
            acc[key] = acc.get(key, 0) + int(n)
    nulls = len(col) - int(counts.sum())
    unseen = 0
    if len(acc) > _MAX_CATEGORIES:
        keep = sorted(acc.items(), key=lambda t: (-t[1], t[0]))
        unseen = sum(n for _, n in keep[_MAX_CATEGORIES:])
        acc = dict(keep[:_MAX_CATEGORIES])
    cats = sorted(acc)
    return cats, np.array([acc[c] for c in cats], dtype=np.int64), unseen, nulls


def _numeric_from_numpy(a: np.ndarray) -> np.ndarray:
    """Model outputs (predictions) as the profile reads them: bool as 0/1, float16 widened."""
    if a.dtype.kind == "b":
        return a.view(np.uint8)
    if a.dtype.kind == "f" and a.dtype.itemsize == 2:
        return a.astype(np.float32)
    if not a.dtype.isnative:
        return a.astype(a.dtype.newbyteorder("="))
    return a


def _profile_dtype(c: Column) -> str:
    """The dtype a profile records (numpy-style names: what monitoring compares families of)."""
    if isinstance(c, ArrowColumn):
        import pyarrow as pa

        t = c.arr.type
        if pa.types.is_dictionary(t):
            return "category"
        if pa.types.is_string(t) or pa.types.is_large_string(t):
            return "string"
        if pa.types.is_boolean(t):
            return "bool"
        if pa.types.is_integer(t) or pa.types.is_floating(t):
            return str(np.dtype(t.to_pandas_dtype()))
        if pa.types.is_timestamp(t) or pa.types.is_date(t):
            return "datetime64[ns]"
        return str(t)
    if c.dtype == "str":
        return "string"
    if isinstance(c, PandasColumn) and c.is_temporal and c.dtype.startswith("datetime64"):
        return "datetime64[ns]"
    return c.dtype


def _columns_of(data: Any, names: Sequence[str] | None, categorical: set[str]) -> list[_Col]:
    """Profile columns through the column layer (``sapwood.frame``): numeric and bool columns
    as the model's feature values, strings/categories (and any column named in
    ``categorical``) counted by value, dates/times as epoch nanoseconds."""
    if not (is_pandas_frame(data) or is_arrow_table(data) or is_polars_frame(data)) \
            and hasattr(data, "to_arrow"):
        data = data.to_arrow()  # dask-like frames
    cols, named = frame_columns(data, "data")
    if not named:
        m = len(cols)
        cols_names = [str(n) for n in names] if names is not None else [c.name for c in cols]
        if len(cols_names) != m:
            raise DataError(f"{len(cols_names)} names given but data has {m} columns")
        for c, name in zip(cols, cols_names, strict=True):
            c.name = name
    out: list[_Col] = []
    for c in cols:
        dtype = _profile_dtype(c)
        if c.name in categorical or (c.is_stringy and not c.is_temporal):
            out.append(_Col(c.name, dtype, values=c))
        elif c.is_temporal:
            out.append(_Col(c.name, dtype, numeric=epoch_ns(c)))
        else:
            out.append(_Col(c.name, dtype, numeric=c.numeric()))
    return out


def _edges_lookup(edges_from: EdgesSource) -> tuple[dict[str, np.ndarray], bool]:
    """(name -> edges, fixed): fixed edges are used as they are (profiles, mappings); a
    Booster's bin edges are merged into edges fitted on the data (so its bins stay unions of
    profile bins)."""
    if edges_from is None:
        return {}, True
    if isinstance(edges_from, Profile):
        return {c.name: c.edges for c in edges_from.columns.values()
                if isinstance(c, NumericColumnProfile)}, True
    if hasattr(edges_from, "bin_edges") and hasattr(edges_from, "feature_names"):
        names = list(edges_from.feature_names)
        edges = list(edges_from.bin_edges)
        return {n: np.asarray(e, dtype=np.float32) for n, e in zip(names, edges, strict=False)}, False
    if isinstance(edges_from, Mapping):
        return {str(k): np.asarray(v, dtype=np.float32) for k, v in edges_from.items()}, True
    raise ParameterError(
        f"edges_from must be a Profile, a Booster or a mapping of edges, got {type(edges_from)!r}"
    )


# ---------------------------------------------------------------------------- Profile
class Profile:
    """A compact, mergeable summary of a data set (see the module docstring).

    Build with :meth:`from_data`; combine chunks with :meth:`merge`; store with
    :meth:`to_json` / :meth:`from_json`. ``columns`` maps names to column profiles in data order.
    """

    def __init__(self, columns: Mapping[str, ColumnProfile], num_rows: int) -> None:
        self.columns: dict[str, ColumnProfile] = dict(columns)
        self.num_rows = int(num_rows)

    # ------------------------------------------------------------------ building
    @classmethod
    def from_data(
        cls,
        data: Any,
        edges_from: EdgesSource = None,
        categorical: Iterable[str] | None = None,
        *,
        predictions: Any = None,
        names: Sequence[str] | None = None,
        columns: Iterable[str] | None = None,
        fine_bins: int = 1024,
        sample_rows: int = 200_000,
        seed: int = 0,
        n_jobs: int | None = None,
    ) -> Profile:
        """Profile ``data`` (2-D numpy array, pandas DataFrame, pyarrow Table/RecordBatch).

        edges_from: a reference Profile (count over its bins, so the two compare bin by bin),
            a Booster (its bin edges are merged into edges fitted on the data) or a mapping
            name -> edges; columns without given edges get ``fine_bins`` quantile bins fitted
            on a seeded sample of ``sample_rows`` rows, plus range bins below the min and
            above the max. +-inf edges are dropped (+-inf values are counted apart, see the
            module docstring); a NaN edge is a DataError.
        categorical: names of columns to treat as categorical even when numeric (string,
            object and category columns always are).
        predictions: optional model outputs (n,) or (n, k), profiled as the column
            ``__prediction__`` (``__prediction_<k>__`` per output).
        columns: only profile these columns.
        """
        cats = {str(c) for c in (categorical or ())}
        cols = _columns_of(data, names, cats)
        if columns is not None:
            keep = {str(c) for c in columns}
            cols = [c for c in cols if c.name in keep]
        n_rows = _num_rows(data, cols)
        if predictions is not None:
            cols.extend(_prediction_columns(predictions, n_rows))
        lookup, fixed = _edges_lookup(edges_from)
        # Categories are recorded by name; what is "unseen" is judged against the reference
        # when comparing.
        num = [c for c in cols if c.numeric is not None]
        stats: list[Any] = []
        if num:
            edges_arg: list[np.ndarray | None] = []
            extra_arg: list[np.ndarray | None] = []
            for c in num:
                e = lookup.get(c.name)
                if e is not None and fixed:
                    edges_arg.append(np.ascontiguousarray(e, dtype=np.float32))
                    extra_arg.append(None)
                else:
                    edges_arg.append(None)
                    extra_arg.append(None if e is None else np.ascontiguousarray(e, np.float32))
            stats = _core.profile_numeric(
                [c.numeric for c in num], n_rows, edges_arg, extra_arg, int(fine_bins),
                int(sample_rows), int(seed), resolve_n_jobs(n_jobs))
        by_name: dict[str, ColumnProfile] = {}
        k = 0
        for c in cols:
            if c.numeric is not None:
                by_name[c.name] = _numeric_from_stats(c.name, c.dtype, stats[k])
                stats[k] = None  # each raw entry goes as soon as it is converted (wide inputs)
                k += 1
            else:
                assert c.values is not None
                cats_, counts, unseen, nulls = _categorical_counts(c.values)
                by_name[c.name] = CategoricalColumnProfile(c.name, c.dtype, cats_, counts,
                                                           unseen, nulls)
        return cls(by_name, n_rows)

    # ------------------------------------------------------------------ combining
    def merge(self, *others: Profile) -> Profile:
        """The exact profile of the concatenated data (same columns and bin edges required)."""
        out = self
        for other in others:
            if not isinstance(other, Profile):
                raise ParameterError(f"can only merge Profiles, got {type(other)!r}")
            if list(other.columns) != list(out.columns):
                a, b = set(out.columns), set(other.columns)
                diff = sorted(a ^ b) or list(out.columns)
                raise DataError(f"profiles to merge have different columns: {diff[:10]}")
            merged: dict[str, ColumnProfile] = {}
            for name, col in out.columns.items():
                oc = other.columns[name]
                if isinstance(col, NumericColumnProfile) and isinstance(oc, NumericColumnProfile):
                    merged[name] = col.merge(oc)
                elif isinstance(col, CategoricalColumnProfile) and \
                        isinstance(oc, CategoricalColumnProfile):
                    merged[name] = col.merge(oc)
                else:
                    raise DataError(f"column {name!r} is {col.kind} in one profile and "
                                    f"{oc.kind} in the other")
            out = Profile(merged, out.num_rows + other.num_rows)
        return out

    # ------------------------------------------------------------------ access
    def __getitem__(self, name: str) -> ColumnProfile:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"no column {name!r} in this profile") from None

    def __contains__(self, name: object) -> bool:
        return name in self.columns

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per column: dtype, counts, min/max/mean/std/quantiles or top categories."""
        return {name: c.summary() for name, c in self.columns.items()}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Profile):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"<sapwood.Profile rows={self.num_rows} columns={len(self.columns)}>"

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "num_rows": self.num_rows,
            "columns": [c.to_dict() for c in self.columns.values()],
        }

    def to_json(self, path: str | Path | None = None, *, indent: int | None = None) -> str:
        """The profile as JSON text; also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, d: Any) -> Profile:
        """Rebuild a profile from :meth:`to_dict` output, validating every field."""
        if not isinstance(d, Mapping):
            raise ModelFormatError("profile must be a JSON object")
        if d.get("format") != FORMAT_NAME:
            raise ModelFormatError(f"field 'format' must be {FORMAT_NAME!r}, got "
                                   f"{d.get('format')!r}")
        version = d.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ModelFormatError("field 'version' must be an integer")
        if version > FORMAT_VERSION or version < 1:
            raise ModelFormatError(f"field 'version': profile format version {version} is not "
                                   f"supported (this sapwood reads 1..{FORMAT_VERSION})")
        num_rows = _int_field(d, "num_rows", "")
        cols_raw = d.get("columns")
        if not isinstance(cols_raw, list):
            raise ModelFormatError("field 'columns' must be a list")
        columns: dict[str, ColumnProfile] = {}
        for i, c in enumerate(cols_raw):
            where = f"columns[{i}]"
            if not isinstance(c, Mapping):
                raise ModelFormatError(f"field '{where}' must be an object")
            name = c.get("name")
            if not isinstance(name, str):
                raise ModelFormatError(f"field '{where}.name' must be a string")
            if name in columns:
                raise ModelFormatError(f"field '{where}.name': duplicate column {name!r}")
            kind = c.get("kind")
            dtype = c.get("dtype")
            if not isinstance(dtype, str):
                raise ModelFormatError(f"field '{where}.dtype' must be a string")
            if kind == "numeric":
                columns[name] = _numeric_from_dict(c, where, name, dtype)
            elif kind == "categorical":
                columns[name] = _categorical_from_dict(c, where, name, dtype)
            else:
                raise ModelFormatError(f"field '{where}.kind' must be 'numeric' or "
                                       f"'categorical', got {kind!r}")
            if columns[name].num_rows != num_rows:
                raise ModelFormatError(f"field '{where}': column {name!r} accounts for "
                                       f"{columns[name].num_rows} rows, expected {num_rows}")
        return cls(columns, num_rows)

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Profile:
        """Load from JSON text or a path to a JSON file."""
        text: str
        if isinstance(text_or_path, Path) or (
            isinstance(text_or_path, str) and not text_or_path.lstrip().startswith("{")
        ):
            try:
                text = Path(text_or_path).read_text(encoding="utf-8")
            except OSError as e:
                raise DataError(f"cannot read profile file {str(text_or_path)!r}: {e}") from None
        else:
            text = str(text_or_path)
        try:
            d = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise ModelFormatError(f"profile is not valid JSON: {e}") from None
        return cls.from_dict(d)

    def save(self, path: str | Path) -> None:
        self.to_json(path)

    @classmethod
    def load(cls, path: str | Path) -> Profile:
        return cls.from_json(Path(path))


# ---------------------------------------------------------------------------- helpers
def _num_rows(data: Any, cols: list[_Col]) -> int:
    if hasattr(data, "num_rows"):
        return int(data.num_rows)
    if hasattr(data, "shape"):
        return int(data.shape[0])
    for c in cols:
        if c.numeric is not None:
            return int(c.numeric.shape[0])
        return len(c.values) if c.values is not None else 0
    return 0


def _prediction_columns(predictions: Any, n_rows: int) -> list[_Col]:
    p = np.asarray(predictions)
    if p.ndim == 1:
        p = p.reshape(-1, 1)
    if p.ndim != 2 or p.shape[0] != n_rows:
        raise DataError(f"predictions must have one row per data row ({n_rows}), got shape "
                        f"{p.shape}")
    if p.dtype.kind not in "fiub":
        raise DataError(f"predictions must be numeric, got dtype {p.dtype}")
    p = _numeric_from_numpy(p)
    if p.shape[1] == 1:
        return [_Col(PREDICTION_COLUMN, str(p.dtype), numeric=p[:, 0])]
    return [_Col(f"__prediction_{k}__", str(p.dtype), numeric=p[:, k]) for k in range(p.shape[1])]


def _numeric_from_stats(name: str, dtype: str, s: Sequence[Any]) -> NumericColumnProfile:
    """A column profile from one entry of ``_core.profile_numeric``: (edges, counts, null_count,
    neg_inf_count, pos_inf_count, finite_count, min, max, sum, sum_sq)."""
    edges, counts, nulls, neg_inf, pos_inf, finite, mn, mx, sum_exact, sum_sq_exact = s
    return NumericColumnProfile(
        name=name,
        dtype=dtype,
        edges=np.asarray(edges, dtype=np.float32),
        counts=np.asarray(counts, dtype=np.int64),
        null_count=int(nulls),
        neg_inf_count=int(neg_inf),
        pos_inf_count=int(pos_inf),
        min=float(mn) if finite else math.nan,
        max=float(mx) if finite else math.nan,
        sum_exact=int(sum_exact),
        sum_sq_exact=int(sum_sq_exact),
    )


def _int_field(d: Mapping[str, Any], key: str, where: str) -> int:
    v = d.get(key)
    full = f"{where}.{key}" if where else key
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise ModelFormatError(f"field '{full}' must be a non-negative integer, got {v!r}")
    return v


def _float_or_none(d: Mapping[str, Any], key: str, where: str) -> float:
    v = d.get(key)
    if v is None:
        return math.nan
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        raise ModelFormatError(f"field '{where}.{key}' must be a finite number or null")
    return float(v)


def _only_types(v: list[Any], types: frozenset[type]) -> bool:
    """Whether every item of ``v`` is exactly one of ``types`` (checked in C, not a Python
    loop: the fast path of the list validators; anything else takes the item-by-item check)."""
    return set(map(type, v)) <= types


_INT = frozenset({int})
_NUMBER = frozenset({int, float})
_STR = frozenset({str})


def _int_list(d: Mapping[str, Any], key: str, where: str) -> np.ndarray:
    v = d.get(key)
    msg = f"field '{where}.{key}' must be a list of non-negative integers"
    if not isinstance(v, list):
        raise ModelFormatError(msg)
    if _only_types(v, _INT):
        # Plain ints only (no bools, floats or strings, which numpy would coerce): convert and
        # check the range vectorised; a value outside int64 cannot convert at all.
        try:
            a = np.asarray(v, dtype=np.int64).reshape(-1)
        except OverflowError:
            raise ModelFormatError(msg) from None
        if a.size and a.min() < 0:
            raise ModelFormatError(msg)
        return a
    if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2**63 for x in v):
        raise ModelFormatError(msg)
    return np.asarray(v, dtype=np.int64).reshape(-1)


def _merged_count(pair: np.ndarray, where: str) -> np.int64:
    total = int(pair[0]) + int(pair[1])
    if total >= 2**63:
        raise ModelFormatError(f"field '{where}.counts' must be non-negative integers below 2**63")
    return np.int64(total)


def _numeric_from_dict(c: Mapping[str, Any], where: str, name: str,
                       dtype: str) -> NumericColumnProfile:
    raw_edges = c.get("edges")
    if not isinstance(raw_edges, list) or not (_only_types(raw_edges, _NUMBER) or all(
        isinstance(x, (int, float)) and not isinstance(x, bool) for x in raw_edges
    )):
        raise ModelFormatError(f"field '{where}.edges' must be a list of numbers")
    edges = np.asarray(raw_edges, dtype=np.float64).reshape(-1)
    counts = _int_list(c, "counts", where)
    # Models saved before the profiler dropped +-inf edges (issue 14 item 1) carry a -inf first
    # edge (or a +inf last one). Such an edge only splits off the outer bin, so it is read as
    # the profiler writes it now: the edge dropped and its outer bin merged into its neighbour.
    if counts.size == edges.size + 1 and edges.size and edges[0] == -math.inf:
        edges, counts = edges[1:], np.r_[_merged_count(counts[:2], where), counts[2:]]
    if counts.size == edges.size + 1 and edges.size and edges[-1] == math.inf:
        edges, counts = edges[:-1], np.r_[counts[:-2], _merged_count(counts[-2:], where)]
    with np.errstate(over="ignore", invalid="ignore"):  # out-of-range edges are rejected below
        e32 = edges.astype(np.float32)
    if edges.size and (not np.all(np.isfinite(edges)) or np.any(e32.astype(np.float64) != edges)
                       or np.any(np.diff(e32) <= 0)):
        raise ModelFormatError(f"field '{where}.edges' must be strictly increasing finite "
                               "float32 values")
    if counts.size != edges.size + 1:
        raise ModelFormatError(f"field '{where}.counts' has {counts.size} entries, expected "
                               f"{edges.size + 1} (one more than edges)")
    for key, bits in (("sum_scale_bits", _S1), ("sum_sq_scale_bits", _S2)):
        if c.get(key) != bits:
            raise ModelFormatError(f"field '{where}.{key}' must be {bits}, got {c.get(key)!r}")
    sums: list[int] = []
    for key in ("sum", "sum_sq"):
        v = c.get(key)
        try:
            if not isinstance(v, str):
                raise ValueError
            sums.append(int(v, 16))
        except ValueError:
            raise ModelFormatError(f"field '{where}.{key}' must be a hex integer string") from None
    if sums[1] < 0:
        raise ModelFormatError(f"field '{where}.sum_sq' must not be negative")
    mn = _float_or_none(c, "min", where)
    mx = _float_or_none(c, "max", where)
    finite = int(counts.sum())
    if finite and (math.isnan(mn) or math.isnan(mx) or mn > mx):
        raise ModelFormatError(f"field '{where}.min'/'max' must be numbers with min <= max "
                               "when the column has values")
    return NumericColumnProfile(
        name=name, dtype=dtype, edges=e32, counts=counts,
        null_count=_int_field(c, "null_count", where),
        neg_inf_count=_int_field(c, "neg_inf_count", where),
        pos_inf_count=_int_field(c, "pos_inf_count", where),
        min=mn if finite else math.nan, max=mx if finite else math.nan,
        sum_exact=sums[0], sum_sq_exact=sums[1],
    )


def _categorical_from_dict(c: Mapping[str, Any], where: str, name: str,
                           dtype: str) -> CategoricalColumnProfile:
    cats = c.get("categories")
    if not isinstance(cats, list) or not (_only_types(cats, _STR)
                                          or all(isinstance(x, str) for x in cats)):
        raise ModelFormatError(f"field '{where}.categories' must be a list of strings")
    if len(set(cats)) != len(cats):
        raise ModelFormatError(f"field '{where}.categories' has duplicates")
    counts = _int_list(c, "counts", where)
    if counts.size != len(cats):
        raise ModelFormatError(f"field '{where}.counts' has {counts.size} entries, expected "
                               f"{len(cats)} (one per category)")
    order = sorted(range(len(cats)), key=lambda i: cats[i])
    return CategoricalColumnProfile(
        name=name, dtype=dtype, categories=[cats[i] for i in order],
        counts=counts[order] if len(order) else counts,
        unseen_count=_int_field(c, "unseen_count", where),
        null_count=_int_field(c, "null_count", where),
    )

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

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _core
from ._compat import loaded
from ._groups import bounds_from_qid, query_bounds
from .errors import DataError, ParameterError, SchemaError
from .frame.categorical import (
    FeatureSpec,
    apply_target_stats,
    frequency_order,
    kept_categories,
    lookup_codes,
)
from .frame.columns import (
    ArrowColumn,
    Column,
    TypedEmpty,
    encode_category_codes,
    encode_for_schema,
    frame_columns,
    is_arrow_table,
    is_pandas_frame,
    is_path_source,
    is_polars_frame,
    stack,
    to_matrix,
)

__all__ = ["Dataset", "check_label_weight", "to_matrix", "encode_for_schema", "encode_category_codes", "FeatureSpec",
           "ordered_target_stats", "kept_categories"]

# The column layer lives in sapwood.frame; the old private names stay importable from here.
_is_pandas_frame = is_pandas_frame
_is_polars_frame = is_polars_frame
_is_arrow_table = is_arrow_table
_is_path_source = is_path_source
_frame_columns = frame_columns
_stack = stack
_lookup_codes = lookup_codes
_frequency_order = frequency_order
_apply_target_stats = apply_target_stats
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _all_parquet(data: Any) -> bool:
    """Whether a path source is Parquet only (streamed by row group); other files are read."""
    from .frame.readers import format_of_name, list_inputs

    paths = list(data) if isinstance(data, (list, tuple)) else [data]
    for p in paths:
        src = os.fspath(p)
        files = [src]
        if os.path.isdir(src) or any(ch in src for ch in "*?["):
            try:
                files = list_inputs(src)[0]
            except DataError:
                continue  # the Parquet reader says what is wrong, as before
        if any(format_of_name(f) in ("csv", "ipc") for f in files):
            return False
    return True


def _to_offsets(v: Any, n: int) -> np.ndarray:
    """init_score: (n,) or (n, k) float64 (k outputs of a multiclass model)."""
    arr = np.asarray(v) if not _is_pandas_frame(v) else v.to_numpy()
    if arr.ndim == 2 and arr.shape[1] > 1:
        if arr.shape[0] != n:
            raise DataError(f"init_score has {arr.shape[0]} rows but the data has {n}")
        try:
            return np.ascontiguousarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError(f"init_score must be numeric, got dtype {arr.dtype}") from None
    return _to_vector(v, n, "init_score")


def _to_vector(v: Any, n: int, what: str) -> np.ndarray:
    if _is_pandas_frame(v):
        raise DataError(f"{what} must be 1-D, got a DataFrame")
    pa, pl, pd = loaded("pyarrow"), loaded("polars"), loaded("pandas")
    if pa is not None and isinstance(v, (pa.Array, pa.ChunkedArray)):
        v = ArrowColumn(what, v).float64()
    elif pl is not None and isinstance(v, pl.Series):
        v = ArrowColumn(what, v.to_arrow()).float64()
    elif pd is not None and isinstance(v, (pd.Series, pd.Index)):
        try:
            v = v.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            raise DataError(f"{what} must be numeric, got dtype {v.dtype}") from None
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


def _qid_array(v: Any) -> Any:
    """Per-row query ids as a numpy array (pandas/polars/Arrow columns by value)."""
    pa, pl, pd = loaded("pyarrow"), loaded("polars"), loaded("pandas")
    if pa is not None and isinstance(v, (pa.Array, pa.ChunkedArray)):
        return v.to_numpy(zero_copy_only=False)
    if pl is not None and isinstance(v, pl.Series):
        return v.to_numpy()
    if pd is not None and isinstance(v, (pd.Series, pd.Index)):
        return v.to_numpy()
    return np.asarray(v)


def check_label_weight(label: np.ndarray | None, weight: np.ndarray | None,
                       init_score: np.ndarray | None, n_rows: int) -> None:
    """DataError naming the first row whose label, weight or init_score is unusable."""
    if label is not None:
        bad = np.flatnonzero(~np.isfinite(label))
        if bad.size:
            raise DataError(
                f"label has {bad.size} non-finite value(s) (NaN or inf), first at row {bad[0]}"
            )
    if weight is not None:
        bad = np.flatnonzero(~np.isfinite(weight) | (weight < 0))
        if bad.size:
            raise DataError(f"weight must be finite and >= 0; row {bad[0]} has {weight[bad[0]]}")
        if not weight.sum() > 0:
            raise DataError("weights sum to zero: at least one row needs a positive weight")
    if init_score is not None:
        bad = np.flatnonzero(~np.isfinite(init_score).reshape(n_rows, -1).all(1))
        if bad.size:
            raise DataError(f"init_score must be finite; row {bad[0]} has {init_score[bad[0]]}")


# ---------------------------------------------------------------------------- categories
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


def _resolve_categorical(cols: Sequence[Column], categorical_features: Any, named: bool) -> list[bool]:
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
        if c.is_stringy and i not in chosen:
            raise c._refuse()  # DataError naming the column (dates/times, strings)
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
    init_score : optional per-row starting margin (an offset, e.g. log exposure for poisson):
        a 1-D array, an (n_rows, num_class) array for multiclass, or a column name. Training
        starts from it instead of a constant; the model then predicts the margin *on top of*
        an offset: pass the offset again to ``predict(X, init_score=...)``.
    group : query groups of ranking data (the ``lambdarank`` and ``rank_xendcg`` objectives,
        the ``ndcg``/``map`` metrics): query sizes in row order (LightGBM's ``group``), or the
        name of a column holding one query id per row (removed from the features).
    qid : one query id per row (XGBoost's ``qid``), an array or a column name. The rows of a
        query must be contiguous (DataError naming the row otherwise). ``Dataset.group`` gives
        the sizes, ``Dataset.query_bounds`` the first row of each query and the row count.
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
        init_score: npt.ArrayLike | str | None = None,
        group: npt.ArrayLike | str | None = None,
        qid: npt.ArrayLike | str | None = None,
    ) -> None:
        self._stream: Any = None  # pyarrow.dataset.Dataset for Parquet sources
        self._groups: list[tuple[Any, int, int]] = []  # its row groups (file, index, rows)
        self._batch_size = int(batch_size)
        self._X: np.ndarray | None = None
        self._n_rows: int = 0
        self.label: np.ndarray | None = None
        self.weight: np.ndarray | None = None
        self.init_score: np.ndarray | None = None
        self.query_bounds: np.ndarray | None = None
        self._binned: Any = None
        self._edges: list[np.ndarray] | None = None
        self._bin_key: tuple[Any, ...] | None = None
        self._num_cats: list[int] = []
        self._ts: dict[int, np.ndarray] = {}  # position -> per-category target statistic
        label_name = label if isinstance(label, str) else None
        weight_name = weight if isinstance(weight, str) else None
        init_name = init_score if isinstance(init_score, str) else None
        if isinstance(group, str) and qid is not None:
            raise DataError("give the query groups once: group= (sizes) or qid= (per-row ids)")
        qid_name = group if isinstance(group, str) else qid if isinstance(qid, str) else None
        qid_values: Any = None
        if _is_path_source(data) and not _all_parquet(data):
            from .frame.readers import read_table

            data = read_table(data)  # CSV / Arrow IPC files: read whole, then as a table
        if _is_path_source(data):
            self._init_stream(data, label_name, weight_name, categorical_features, init_name,
                              qid_name)
            qid_values = self._qid_values
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
            init_col = self._take_column(by_name, init_name, named, "init_score")
            if init_col is not None:
                self.init_score = init_col.float64()
            qid_col = self._take_column(by_name, qid_name, named, "query id")
            if qid_col is not None:
                qid_values = qid_col.float64()
            cols = [c for c in cols
                    if c.name not in (label_name, weight_name, init_name, qid_name)]
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
            self.label = _to_vector(label_col.float64() if label_col else label, self._n_rows,
                                    "label") if (label_col or label is not None) else None
            self.weight = _to_vector(weight_col.float64() if weight_col else weight,
                                     self._n_rows, "weight") \
                if (weight_col or weight is not None) else None
        if self._n_rows == 0:
            raise DataError("data has zero rows")
        self.feature_names: list[str] = [s["name"] for s in self._specs]
        if init_score is not None and init_name is None:
            self.init_score = _to_offsets(init_score, self._n_rows)
        if qid_values is not None:
            self.query_bounds = bounds_from_qid(qid_values, self._n_rows,
                                                f"query id column {qid_name!r}")
        elif group is not None or qid is not None:
            self.query_bounds = query_bounds(
                group, None if qid is None else _qid_array(qid), self._n_rows)
        self._check_label_weight()

    # ------------------------------------------------------------------ construction helpers
    @staticmethod
    def _take_column(by_name: dict[str, Column], name: str | None, named: bool,
                     what: str) -> Column | None:
        if name is None:
            return None
        if not named or name not in by_name:
            raise DataError(f"{what} column {name!r} is not in the data")
        c = by_name[name]
        if c.is_stringy:
            raise DataError(f"{what} column {name!r} is not numeric (e.g. {c.example()!r})")
        return c

    def _check_label_weight(self) -> None:
        check_label_weight(self.label, self.weight, self.init_score, self._n_rows)

    @property
    def group(self) -> np.ndarray | None:
        """The query sizes in row order (None without query groups)."""
        return None if self.query_bounds is None else np.diff(self.query_bounds)

    def _init_stream(self, data: Any, label: str | None, weight: str | None,
                     categorical_features: Any, init_score: str | None = None,
                     qid: str | None = None) -> None:
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
        for what, nm in (("label", label), ("weight", weight), ("init_score", init_score),
                         ("query id", qid)):
            if nm is not None and nm not in names:
                raise DataError(f"{what} column {nm!r} is not in the Parquet data")
        self._feature_cols = [n for n in names if n not in (label, weight, init_score, qid)]
        if not self._feature_cols:
            raise DataError("data has zero columns")
        self._groups = self._row_groups(ds)
        self._n_rows = sum(n for _, _, n in self._groups)
        # Kinds from the file schema's types; a value for error messages only when needed.
        cols = [ArrowColumn(n, TypedEmpty(schema.field(n).type, self._head_of(n)))
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
        self._init_name = init_score
        self._qid_name = qid
        self._qid_values: np.ndarray | None = None
        self.label = None
        self.weight = None
        if label is not None or weight is not None or init_score is not None or any(is_cat) \
                or qid is not None:
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

    def _head_of(self, name: str) -> Any:
        """A reader of the column's first rows (an example value for error messages)."""
        def head() -> Any:
            import pyarrow as pa

            for batch in self._batches([name]):
                return batch.column(name).slice(0, 1000)
            return pa.array([], type=self._stream.schema.field(name).type)
        return head

    def _batches(self, columns: list[str]) -> Iterator[Any]:
        for g in range(len(self._groups)):
            yield from self._group_batches(g, columns)

    def _first_pass(self) -> None:
        """Label, weight and exact category counts: one pass over just those columns."""
        from collections import Counter

        cat_idx = [i for i, s in enumerate(self._specs) if s["kind"] == "categorical"]
        cols = [self._specs[i]["name"] for i in cat_idx]
        extra = [n for n in (self._label_name, self._weight_name, self._init_name,
                             self._qid_name) if n is not None]
        counters: list[Counter[Any]] = [Counter() for _ in cat_idx]
        lab: list[np.ndarray] = []
        wts: list[np.ndarray] = []
        offs: list[np.ndarray] = []
        qids: list[np.ndarray] = []
        for batch in self._batches(cols + extra):
            for k in range(len(cat_idx)):
                vals, cnts = ArrowColumn(cols[k], batch.column(cols[k])).value_counts()
                for v, c in zip(vals, cnts, strict=True):
                    counters[k][v] += int(c)
            if self._label_name is not None:
                lab.append(ArrowColumn("label", batch.column(self._label_name)).float64())
            if self._weight_name is not None:
                wts.append(ArrowColumn("weight", batch.column(self._weight_name)).float64())
            if self._init_name is not None:
                offs.append(ArrowColumn("init_score", batch.column(self._init_name)).float64())
            if self._qid_name is not None:
                qids.append(ArrowColumn("query id", batch.column(self._qid_name)).float64())
        for k, i in enumerate(cat_idx):
            vals, counts = _frequency_order(list(counters[k].keys()),
                                            np.asarray(list(counters[k].values()), np.int64))
            self._specs[i]["categories"] = vals
            self._counts[i] = counts
        if self._label_name is not None:
            self.label = np.concatenate(lab).astype(np.float64) if lab else np.empty(0)
        if self._weight_name is not None:
            self.weight = np.concatenate(wts).astype(np.float64) if wts else np.empty(0)
        if self._init_name is not None:
            self.init_score = np.concatenate(offs).astype(np.float64) if offs else np.empty(0)
        if self._qid_name is not None:
            self._qid_values = np.concatenate(qids) if qids else np.empty(0)

    def _batch_columns(self, batch: Any) -> list[np.ndarray]:
        out = []
        for s in self._specs:
            c = ArrowColumn(s["name"], batch.column(s["name"]))
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

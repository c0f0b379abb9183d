"""scikit-learn estimators: GBMRegressor, GBMClassifier (binary and multiclass) and GBMRanker
(learning to rank over query groups: ``fit(X, y, group=...)``).

Inputs are checked as scikit-learn checks them (its estimator checks run in the tests), with
three differences:

* columns are matched by name, as :meth:`Booster.predict` matches them: a frame with the
  fitted columns in another order is reordered, extra columns are ignored, and a missing one
  raises :class:`~sapwood.SchemaError` naming it;
* a missing or infinite label raises :class:`~sapwood.DataError` naming the row;
* prediction has a fast path: a float32/float64 numpy array of the fitted width (for a model
  fitted without feature names) or a pandas/polars/Arrow table with exactly the fitted columns
  goes straight to the Booster, without scikit-learn's input validation (which costs about
  20 times the Booster's own time on one row; benchmarks/compare/sklearn_single_row.py).
  It takes nothing the slow path would refuse or warn about, and gives bit-identical
  results: the values reach the Booster in the same float matrix (or, where the model has
  categorical features, as the same table).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._compat import loaded
from ..dataset import Dataset
from ..errors import DataError, NotFittedError, SchemaError
from ..frame.columns import is_arrow_table as _is_arrow_table
from ..frame.columns import is_pandas_frame as _is_pandas_frame
from ..frame.columns import is_polars_frame as _is_polars_frame
from ..model.booster import Booster
from .callbacks import EarlyStopping, TrainingCallback
from .training import train

try:  # scikit-learn is optional at import time; the estimators need it to be used.
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import NotFittedError as _SklearnNotFitted
except ImportError:  # pragma: no cover
    BaseEstimator = object  # type: ignore[misc,assignment,unused-ignore]
    ClassifierMixin = RegressorMixin = object  # type: ignore[misc,assignment,unused-ignore]
    _SklearnNotFitted = NotFittedError  # type: ignore[misc,assignment,unused-ignore]


class EstimatorNotFittedError(NotFittedError, _SklearnNotFitted):  # type: ignore[misc,valid-type,unused-ignore]
    """Raised by an unfitted estimator: both sapwood's and scikit-learn's NotFittedError."""

__all__ = ["GBMRegressor", "GBMClassifier", "GBMRanker"]


_VALIDATE_KW: dict[str, Any] = {"ensure_all_finite": "allow-nan",
                                "dtype": [np.float64, np.float32], "order": None}
_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
# Tests set this to False to compare the fast path with scikit-learn's checks.
_FAST_PATH = True


def _validate(est: Any, X: Any, reset: bool = False) -> Any:
    from sklearn.utils.validation import validate_data

    return validate_data(est, X, reset=reset, **_VALIDATE_KW)


def _validate_xy(est: Any, X: Any, y: Any) -> Any:
    from sklearn.utils.validation import validate_data

    return validate_data(est, X, y, reset=True, y_numeric=isinstance(est, RegressorMixin),
                         **_VALIDATE_KW)


# ---------------------------------------------------------------------------- labels
def _bad_labels(y: Any) -> tuple[np.ndarray, str] | None:
    """A mask of the labels that are missing (NaN, None, NA) or infinite, and what the first
    one is; None where there are none or y is not a plain column (scikit-learn then judges)."""
    arr = y.to_numpy() if hasattr(y, "to_numpy") and not isinstance(y, np.ndarray) else y
    try:
        arr = np.asarray(arr)
    except (TypeError, ValueError):
        return None
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        return None
    if arr.dtype.kind in "fc":
        bad = ~np.isfinite(arr)
        if not bad.any():
            return None
        first = arr[int(np.argmax(bad))]
        return bad, "NaN" if first != first else "infinity"
    if arr.dtype.kind == "O":
        pd = loaded("pandas")
        if pd is not None:  # None, NaN, pd.NA and NaT, vectorised
            bad = np.asarray(pd.isna(arr), dtype=bool)
        else:
            bad = np.fromiter((v is None or (isinstance(v, float) and math.isnan(v))
                               for v in arr), dtype=bool, count=arr.shape[0])
        return (bad, "NaN") if bad.any() else None
    return None


def _check_labels(y: Any, what: str = "y") -> None:
    """DataError naming the first row whose label is missing or infinite."""
    found = _bad_labels(y)
    if found is None:
        return
    bad, kind = found
    rows = np.flatnonzero(bad)
    more = f" ({rows.size} rows in all)" if rows.size > 1 else ""
    raise DataError(
        f"Input {what} contains {kind}: row {int(rows[0])} has no usable label{more}; "
        f"drop those rows or fill their labels"
    )


# ---------------------------------------------------------------------------- columns
def _table_names(X: Any) -> list[str] | None:
    """A pandas/polars/Arrow table's column names when all are strings (scikit-learn's
    feature names); None for anything else."""
    if _is_pandas_frame(X) or _is_polars_frame(X):
        names = list(X.columns)
    elif _is_arrow_table(X):
        names = list(X.schema.names)
    else:
        return None
    return names if all(isinstance(n, str) for n in names) else None


def _select(X: Any, names: list[str]) -> Any:
    """The table's columns `names`, in that order."""
    if _is_pandas_frame(X):
        return X[names]
    return X.select(names)  # polars DataFrame, Arrow Table and RecordBatch


def _by_name(est: Any, X: Any) -> Any:
    """X with its columns matched to the fitted ones by name, as Booster.predict matches them:
    a table with the fitted columns in another order is reordered and extra columns are
    dropped; a missing column raises SchemaError naming it (in scikit-learn's words). Inputs
    without names, and estimators fitted without them, are left to scikit-learn's checks."""
    fitted = getattr(est, "feature_names_in_", None)
    if fitted is None:
        return X
    names = _table_names(X)
    if names is None:
        return X
    want = [str(n) for n in fitted]
    if names == want:
        return X
    present = set(names)
    missing = [n for n in want if n not in present]
    if missing:
        from sklearn.utils.validation import validate_data

        try:  # scikit-learn's message lists the unseen and missing names
            validate_data(est, X, reset=False, skip_check_array=True)
        except ValueError as e:
            raise SchemaError(str(e)) from None
        raise SchemaError(f"X is missing column(s) the model was fitted on: {missing[:10]}")
    if len(present) != len(names):  # duplicate names: scikit-learn's checks report them
        return X
    return _select(X, want)


# ---------------------------------------------------------------------------- fast path
class _FastPath:
    """What predict's fast path needs, resolved once per fit (and again after unpickling):
    the per-call checks are identity and equality tests on these."""

    __slots__ = ("booster", "n_features", "names", "pandas_columns", "table", "numeric",
                 "arrow_schema")

    def __init__(self, est: Any) -> None:
        self.booster: Booster = est.booster_
        self.n_features = int(est.n_features_in_)
        fitted = getattr(est, "feature_names_in_", None)
        self.names = None if fitted is None else [str(n) for n in fitted]
        pd = loaded("pandas")
        # Index.equals against an Index of the same dtype is the cheap name test for frames.
        self.pandas_columns = (pd.Index(self.names) if pd is not None and self.names
                               else None)
        # Tables go to the Booster as tables (their values are not checked for infinity).
        self.table = bool(getattr(est, "_table_input_", False))
        # Without categorical features, a float table reaches the Booster as a float matrix.
        self.numeric = not self.booster.categorical_features
        # The last Arrow schema found to hold exactly the fitted columns, all float32/float64:
        # one C++ comparison accepts the next table of that schema. (A plain attribute write:
        # threads that race at worst both do the full test.)
        self.arrow_schema: Any = None

    def matrix(self, X: Any) -> Any:
        """What the Booster gets for X, or None where the slow path must judge X."""
        if type(X) is np.ndarray:
            # scikit-learn hands such an array to the Booster as it is, once it has checked
            # the width, the dtype, that there is a row, and that nothing is infinite.
            if (self.names is not None or X.ndim != 2 or X.shape[1] != self.n_features
                    or X.shape[0] == 0 or (X.dtype is not _F32 and X.dtype is not _F64)
                    or _has_inf(X)):
                return None
            return X
        if self.names is None:
            return None
        if _is_pandas_frame(X):
            if self.table:
                return self._table(X, self._pandas_names_match(X))
            if len(X) == 0 or not self._pandas_names_match(X):
                return None
            arr = _pandas_matrix(X)
            return None if arr is None or _has_inf(arr) else arr
        if not self.table:
            return None  # scikit-learn's conversion (and its errors) for other inputs
        if _is_polars_frame(X):
            return self._table(X, X.columns == self.names)
        if _is_arrow_table(X):
            return self._arrow(X)
        return None

    def _pandas_names_match(self, X: Any) -> bool:
        known = self.pandas_columns
        if known is None:
            return list(X.columns) == self.names
        cols = X.columns
        # ExtensionArray.equals (same dtype and values) is one call, Index.equals about six
        # times slower (it also compares across dtypes, e.g. object against str names).
        return bool(cols.array.equals(known.array) or cols.equals(known))

    def _table(self, X: Any, names_match: bool) -> Any:
        """A pandas or polars table for a model fitted on tables: the Booster reads it (by
        name, categories by value), or, with no categorical features and float columns only,
        the float matrix that its reader would make."""
        if not names_match or len(X) == 0:
            return None
        if self.numeric:
            arr = _pandas_matrix(X) if _is_pandas_frame(X) else _polars_matrix(X)
            if arr is not None:
                return arr
        return X

    def _arrow(self, X: Any) -> Any:
        if X.num_rows == 0:
            return None
        schema = X.schema
        known = self.arrow_schema
        if known is None or not schema.equals(known):
            if schema.names != self.names:
                return None
            if not (self.numeric and _float_types(schema.types)):
                return X  # the Booster reads it by name
            self.arrow_schema = schema
        return _arrow_matrix(X)


def _has_inf(X: np.ndarray) -> bool:
    if X.size <= 4096:
        return bool(np.isinf(X).any())
    # Large: a sum is finite exactly when no value is NaN or infinite (or the sum overflows);
    # only then is the elementwise test (and its temporary) needed.
    with np.errstate(all="ignore"):
        if math.isfinite(float(X.sum())):
            return False
    return bool(np.isinf(X).any())


def _pandas_matrix(X: Any) -> np.ndarray | None:
    """The float matrix scikit-learn makes of a pandas frame's values, or None.

    DataFrame.to_numpy() gives the common type: float64 for any mix that scikit-learn turns
    into float64, each value converted alike; where it gives float32, every value is a float32
    (float32 columns, or with float16 or small-int columns), so the forest, which compares
    float32 values, sees the same numbers. Anything else (object, bool mixes, nullable dtypes
    with NA) is left to scikit-learn."""
    arr = X.to_numpy()
    if not isinstance(arr, np.ndarray) or (arr.dtype is not _F32 and arr.dtype is not _F64):
        return None
    return arr


def _polars_matrix(X: Any) -> np.ndarray | None:
    """A polars frame of Float32/Float64 columns as the matrix the Booster's reader makes of it
    (float64 when any column is; null as NaN); None for other column types."""
    pl = loaded("polars")
    if pl is None:
        return None
    f32, f64 = pl.Float32, pl.Float64
    # type identity: polars' DataType.__eq__ is Python code, several times slower
    if not all(type(dt) is f32 or type(dt) is f64 for dt in X.dtypes):
        return None
    arr = X.to_numpy()
    return arr if isinstance(arr, np.ndarray) and arr.ndim == 2 else None


def _float_types(types: list[Any]) -> bool:
    pa = loaded("pyarrow")
    if pa is None:
        return False
    f32, f64 = pa.float32(), pa.float64()
    return all(t == f32 or t == f64 for t in types)


def _arrow_matrix(X: Any) -> np.ndarray:
    """An Arrow table or record batch of float32/float64 columns as the matrix the Booster's
    reader makes of it: float64 when any column is, null as NaN."""
    batch = X
    if type(X).__name__ == "Table":
        batches = X.to_batches()
        batch = batches[0] if len(batches) == 1 else None
    if batch is not None and hasattr(batch, "to_tensor"):
        # one C++ call (pyarrow >= 16): the common type, row-major, NaN for null
        return np.asarray(batch.to_tensor(null_to_nan=True))
    cols = [X.column(j).to_numpy() for j in range(X.num_columns)]
    out = np.empty((X.num_rows, len(cols)),
                   dtype=_F64 if any(c.dtype == _F64 for c in cols) else _F32)
    for j, c in enumerate(cols):
        out[:, j] = c
    return out


def _is_table_input(X: Any, categorical_features: Any) -> bool:
    """Whether X goes to the Dataset as a table (categoricals by value, columns by name)
    rather than through scikit-learn's conversion to a float matrix.

    polars and Arrow tables always do; a pandas frame does when it has a non-numeric column
    (category, string, object) or categorical_features names columns.
    """
    if _is_polars_frame(X) or _is_arrow_table(X):
        return True
    if not _is_pandas_frame(X):
        return False
    if categorical_features is not None and not isinstance(categorical_features, str):
        return len(list(categorical_features)) > 0
    if categorical_features is None:
        return False
    import pandas as pd

    return any(not (pd.api.types.is_numeric_dtype(dt) or pd.api.types.is_bool_dtype(dt))
               or isinstance(dt, pd.CategoricalDtype) for dt in X.dtypes)


def _check_table(est: Any, X: Any, reset: bool) -> Any:
    """Feature names and count checks only; the Dataset / Booster read the table itself."""
    from sklearn.utils.validation import validate_data

    validate_data(est, X, reset=reset, skip_check_array=True)
    if reset and getattr(est, "feature_names_in_", None) is None and _is_arrow_table(X):
        est.feature_names_in_ = np.asarray(X.column_names, dtype=object)
    return X


def _check_table_y(est: Any, X: Any, y: Any) -> np.ndarray:
    from sklearn.utils import check_consistent_length
    from sklearn.utils.validation import check_array, column_or_1d

    y = check_array(y, ensure_2d=False, dtype="numeric" if isinstance(est, RegressorMixin)
                    else None, ensure_all_finite=True, input_name="y")
    y = column_or_1d(y, warn=True)
    check_consistent_length(np.empty((X.shape[0], 0)), y)
    return np.asarray(y)


class _GBMBase(BaseEstimator):  # type: ignore[misc]
    _objective = "regression"

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 20,
        min_child_weight: float = 1e-3,
        min_split_gain: float = 0.0,
        reg_lambda: float = 0.0,
        reg_alpha: float = 0.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        max_bin: int = 255,
        early_stopping_rounds: int | None = None,
        metric: str | None = None,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        categorical_features: str | Sequence[str | int] | None = "auto",
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.min_child_weight = min_child_weight
        self.min_split_gain = min_split_gain
        self.reg_lambda = reg_lambda
        self.reg_alpha = reg_alpha
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.max_bin = max_bin
        self.early_stopping_rounds = early_stopping_rounds
        self.metric = metric
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.categorical_features = categorical_features

    def _train_params(self) -> dict[str, Any]:
        p = self.get_params()
        p.pop("early_stopping_rounds")
        p.pop("categorical_features")
        if p["random_state"] is None:
            p["random_state"] = 0
        elif isinstance(p["random_state"], np.random.RandomState):
            p["random_state"] = int(p["random_state"].randint(0, 2**31 - 1))
        if p["n_jobs"] is None:
            p["n_jobs"] = -1
        return dict(p)

    def _fit(self, X: Any, y: np.ndarray, sample_weight: Any, eval_set: Any,
             params: dict[str, Any], callbacks: Sequence[TrainingCallback],
             init_score: Any = None, queries: dict[str, Any] | None = None,
             eval_queries: Sequence[dict[str, Any]] | None = None,
             eval_init_score: Sequence[Any] | None = None) -> None:
        """queries: the training rows' group= / qid=; eval_queries: one such dict per eval set
        (ranking); eval_init_score: one offset array (or None) per eval set."""
        names = getattr(self, "feature_names_in_", None)
        fnames = list(names) if names is not None else None
        sets = list(eval_set or [])
        for i, (_, yv) in enumerate(sets):
            _check_labels(yv, f"eval_set[{i}] y")
        q = queries or {}
        eq = [dict(d) for d in eval_queries] if eval_queries is not None else [{} for _ in sets]
        if eval_init_score is not None:
            offs = list(eval_init_score)
            if len(offs) != len(sets):
                raise DataError(f"eval_init_score has {len(offs)} item(s) for {len(sets)} eval "
                                "set(s)")
            for d, off in zip(eq, offs, strict=True):
                if off is not None:
                    d["init_score"] = off
        if self._table_input_:
            cats = self.categorical_features
            train_set = Dataset(X, y, weight=sample_weight, categorical_features=cats,
                                init_score=init_score, **q)
            valid = [Dataset(_check_table(self, _by_name(self, Xv), reset=False),
                             self._encode_y(yv), categorical_features=cats, **qv)
                     for (Xv, yv), qv in zip(sets, eq, strict=True)]
        else:
            train_set = Dataset(X, y, weight=sample_weight, feature_names=fnames,
                                init_score=init_score, **q)
            valid = [Dataset(_validate(self, _by_name(self, Xv), reset=False),
                             self._encode_y(yv), feature_names=fnames, **qv)
                     for (Xv, yv), qv in zip(sets, eq, strict=True)]
        cbs = list(callbacks)
        if self.early_stopping_rounds is not None and valid:
            cbs.append(EarlyStopping(int(self.early_stopping_rounds)))
        self.booster_: Booster = train(params, train_set, valid_sets=valid, callbacks=cbs)
        self.evals_result_ = self.booster_.evals_result
        self.best_iteration_ = self.booster_.best_iteration
        self.n_estimators_ = self.booster_.num_rounds
        self._fast = _FastPath(self)

    def _encode_y(self, y: Any) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)

    def _validate_fit(self, X: Any, y: Any) -> tuple[Any, Any]:
        self.__dict__.pop("_fast", None)  # a failed refit must not keep the last fast path
        _check_labels(y)
        self._table_input_ = _is_table_input(X, self.categorical_features)
        if self._table_input_:
            return _check_table(self, X, reset=True), _check_table_y(self, X, y)
        Xv, yv = _validate_xy(self, X, y)
        return Xv, yv

    def _validate_predict(self, X: Any) -> Any:
        """What the Booster gets for X: straight from the fast path where it applies, else
        after scikit-learn's checks (columns matched by name first)."""
        fast = self.__dict__.get("_fast")
        if fast is not None and _FAST_PATH and fast.booster is self.booster_:
            m = fast.matrix(X)
            if m is not None:
                return m
        X = _by_name(self, X)
        if getattr(self, "_table_input_", False) and (
                _is_pandas_frame(X) or _is_polars_frame(X) or _is_arrow_table(X)):
            # the Booster matches columns by name and maps categories by value
            return _check_table(self, X, reset=False)
        return _validate(self, X, reset=False)

    def __getstate__(self) -> dict[str, Any]:
        # a copy: object.__getstate__ may return the instance's own __dict__
        state: dict[str, Any] = dict(super().__getstate__())
        state.pop("_fast", None)  # derived (and holds a pandas Index): rebuilt on load
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        if "booster_" in self.__dict__ and "n_features_in_" in self.__dict__:
            self._fast = _FastPath(self)

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise EstimatorNotFittedError(
                f"This {type(self).__name__} instance is not fitted yet; call fit first."
            )

    @property
    def feature_importances_(self) -> np.ndarray:
        """Gain importance per feature, normalised to sum to 1."""
        self._check_fitted()
        imp = self.booster_.feature_importance("gain")
        s = imp.sum()
        return imp / s if s > 0 else imp

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class GBMRegressor(RegressorMixin, _GBMBase):  # type: ignore[misc]
    """Gradient-boosted trees for regression.

    objective: "regression" (squared error, the default); the robust losses "l1" (predicts
    the median), "huber" (``huber_delta``) and "quantile" (predicts the ``alpha`` quantile,
    0.5 when not given; a list of strictly increasing levels, e.g. ``alpha=[0.05, 0.5, 0.95]``,
    fits one output per level and ``predict`` returns (n, levels) quantiles that never cross,
    and ``score`` is then minus the mean pinball loss over the levels); or for counts and positive amounts "poisson" (labels >= 0), "gamma"
    (labels > 0) and "tweedie" (labels >= 0, variance power ``tweedie_variance_power`` in
    (1, 2)); these three use a log link, so ``predict`` returns exp(raw margin) and is always
    positive. "cox" fits survival times (negative = censored) and predicts hazard ratios.
    Ranking objectives belong to GBMRanker. A callable is a custom loss, as ``sapwood.train``
    takes it: ``fn(y_true, raw_score) -> (grad, hess)`` per row, or a
    ``sapwood.compiled_objective``; ``predict`` then returns the raw margin.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 20,
        min_child_weight: float = 1e-3,
        min_split_gain: float = 0.0,
        reg_lambda: float = 0.0,
        reg_alpha: float = 0.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        max_bin: int = 255,
        early_stopping_rounds: int | None = None,
        metric: str | None = None,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        categorical_features: str | Sequence[str | int] | None = "auto",
        objective: str | Callable[..., Any] = "regression",
        tweedie_variance_power: float = 1.5,
        huber_delta: float = 1.0,
        alpha: float | Sequence[float] | None = None,
    ) -> None:
        super().__init__(
            n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
            max_depth=max_depth, min_child_samples=min_child_samples,
            min_child_weight=min_child_weight, min_split_gain=min_split_gain,
            reg_lambda=reg_lambda, reg_alpha=reg_alpha, subsample=subsample,
            colsample_bytree=colsample_bytree, max_bin=max_bin,
            early_stopping_rounds=early_stopping_rounds, metric=metric,
            random_state=random_state, n_jobs=n_jobs, categorical_features=categorical_features,
        )
        self.objective = objective
        self.tweedie_variance_power = tweedie_variance_power
        self.huber_delta = huber_delta
        self.alpha = alpha

    def _regression_params(self) -> dict[str, Any]:
        """The training parameters, the objective checked as a regression one (this class and
        DaskGBMRegressor)."""
        from .. import objectives
        from ..errors import ParameterError

        params = self._train_params()
        cls = type(self).__name__
        if callable(params["objective"]):
            # a custom loss, as sapwood.train takes it: fn(y_true, raw_score) -> (grad, hess),
            # or a sapwood.compiled_objective; the model predicts the raw margin
            params.pop("alpha")
            return params
        regression = [o.name for o in objectives.REGISTRY if o.link in ("identity", "exp")
                      and o.name not in ("lambdarank", "rank_xendcg")]
        try:
            info = objectives.resolve(params["objective"])
        except ParameterError:
            info = None
        if info is not None and info.name in ("lambdarank", "rank_xendcg"):
            raise ParameterError(f"{cls}: {info.name!r} ranks the rows of query groups; "
                                 "use GBMRanker().fit(X, y, group=...)")
        if info is None or info.name not in regression:
            raise ParameterError(f"{cls}: objective must be one of {regression}, got "
                                 f"{params['objective']!r}")
        if info.name != "quantile":  # read by the quantile objective only (as in scikit-learn)
            params.pop("alpha")
        return params

    def fit(self, X: Any, y: Any, sample_weight: Any = None, eval_set: Any = None,
            callbacks: Sequence[TrainingCallback] = (), init_score: Any = None,
            eval_init_score: Sequence[Any] | None = None) -> GBMRegressor:
        """Fit; ``init_score``: per-row starting margins (offsets, e.g. log exposure), to be
        given again to ``predict(X, init_score=...)``; ``eval_init_score``: the offsets of
        each eval set (a list, None for a set without)."""
        X, y = self._validate_fit(X, y)
        params = self._regression_params()
        self._fit(X, np.asarray(y, dtype=np.float64), sample_weight, eval_set, params, callbacks,
                  init_score, eval_init_score=eval_init_score)
        return self

    def predict(self, X: Any, init_score: Any = None) -> np.ndarray:
        self._check_fitted()
        return self.booster_.predict(self._validate_predict(X), init_score=init_score)

    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """R^2 of the predictions; for a multi-quantile model (several levels) minus the mean
        pinball loss over the levels (higher is better, as scikit-learn's scorers expect)."""
        self._check_fitted()
        alphas = self.booster_.quantile_alphas
        if alphas is None:
            return float(super().score(X, y, sample_weight=sample_weight))
        from ..metrics import pinball

        return -pinball(y, self.predict(X), sample_weight, alphas)


class GBMClassifier(ClassifierMixin, _GBMBase):  # type: ignore[misc]
    """Gradient-boosted trees for binary and multiclass classification.

    class_weight: None, "balanced" (each class weighs n_rows / (n_classes * its rows)) or a
    mapping class -> weight (classes as in ``y``; those not named weigh 1); scale_pos_weight
    (binary): the positive class's weight is multiplied by it. Both multiply ``sample_weight``.

    objective: None (the default) or "binary" / "multiclass": the built-in log loss, chosen by
    the number of classes. A callable is a custom loss on raw margins, as ``sapwood.train``
    takes it: ``fn(y_true, raw_score) -> (grad, hess)`` with ``y_true`` the class indices
    0..n_classes-1 and ``raw_score`` (n,) log-odds for two classes or (n, n_classes) logits
    for more (grad/hess in the same shape, or flat output-major as LightGBM takes them); a
    ``sapwood.compiled_objective`` for two classes. The margins are read as the built-in
    losses' are: ``predict_proba`` applies the sigmoid (two classes) or the softmax to them
    and ``predict`` gives the most probable class, as XGBoost's XGBClassifier does with a
    custom objective (LightGBM's LGBMClassifier instead warns and returns the raw scores).
    ``booster_.predict`` gives the raw margins. ``metric`` names (default: "logloss", or
    "multi_logloss") are then computed on those probabilities; a callable metric sees the raw
    margins.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 20,
        min_child_weight: float = 1e-3,
        min_split_gain: float = 0.0,
        reg_lambda: float = 0.0,
        reg_alpha: float = 0.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        max_bin: int = 255,
        early_stopping_rounds: int | None = None,
        metric: str | None = None,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        categorical_features: str | Sequence[str | int] | None = "auto",
        class_weight: str | dict[Any, float] | None = None,
        scale_pos_weight: float = 1.0,
        objective: str | Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(
            n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
            max_depth=max_depth, min_child_samples=min_child_samples,
            min_child_weight=min_child_weight, min_split_gain=min_split_gain,
            reg_lambda=reg_lambda, reg_alpha=reg_alpha, subsample=subsample,
            colsample_bytree=colsample_bytree, max_bin=max_bin,
            early_stopping_rounds=early_stopping_rounds, metric=metric,
            random_state=random_state, n_jobs=n_jobs, categorical_features=categorical_features,
        )
        self.class_weight = class_weight
        self.scale_pos_weight = scale_pos_weight
        self.objective = objective

    def _encode_y(self, y: Any) -> np.ndarray:
        y = np.asarray(y)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            raise ValueError("eval_set labels contain classes not seen in y")
        return np.asarray(idx, dtype=np.float64)

    def fit(self, X: Any, y: Any, sample_weight: Any = None, eval_set: Any = None,
            callbacks: Sequence[TrainingCallback] = (), init_score: Any = None,
            eval_init_score: Sequence[Any] | None = None) -> GBMClassifier:
        """Fit; ``init_score``: per-row starting margins (log-odds; (n, n_classes) for
        multiclass), to be given again to ``predict(X, init_score=...)``;
        ``eval_init_score``: the offsets of each eval set (a list, None for a set without)."""
        from sklearn.utils.multiclass import check_classification_targets

        X, y = self._validate_fit(X, y)
        check_classification_targets(y)
        self.classes_, y_enc = np.unique(y, return_inverse=True)
        self.n_classes_ = len(self.classes_)
        if self.n_classes_ < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0]!r}); a classifier needs at least two"
            )
        params = self._train_params()
        cw = params["class_weight"]
        if cw is not None and cw != "balanced":
            if not isinstance(cw, dict):
                from ..errors import ParameterError

                raise ParameterError(f"class_weight must be None, 'balanced' or a mapping "
                                     f"class -> weight, got {cw!r}")
            unknown = [c for c in cw if c not in set(self.classes_.tolist())]
            if unknown:
                raise ValueError(f"class_weight names class(es) {unknown[:5]} that are not in y "
                                 f"(classes: {self.classes_.tolist()[:10]})")
            index = {c: i for i, c in enumerate(self.classes_.tolist())}
            params["class_weight"] = {index[c]: w for c, w in cw.items()}
        y_enc = y_enc.astype(np.float64)
        custom = callable(params["objective"])
        if custom:
            sample_weight = _custom_classifier_params(params, y_enc, sample_weight,
                                                      self.n_classes_)
        else:
            _check_classifier_objective(params["objective"])
            params["objective"] = "binary" if self.n_classes_ == 2 else "multiclass"
        if self.n_classes_ > 2:
            params["num_class"] = self.n_classes_
        self._fit(X, y_enc, sample_weight, eval_set, params, callbacks,
                  init_score, eval_init_score=eval_init_score)
        return self

    def _probabilities(self, X: Any, init_score: Any) -> np.ndarray:
        """The booster's predictions: probabilities (of the positive class for two classes);
        a custom loss's raw margins through the sigmoid or the softmax."""
        p = self.booster_.predict(self._validate_predict(X), init_score=init_score)
        if self.booster_.objective == "custom":
            from ..objectives import link_transform

            with np.errstate(over="ignore"):  # exp(-margin) overflows to inf: probability 0
                p = link_transform("sigmoid" if self.n_classes_ == 2 else "softmax", p)
        return np.asarray(p)

    def predict_proba(self, X: Any, init_score: Any = None) -> np.ndarray:
        self._check_fitted()
        p = self._probabilities(X, init_score)
        if self.n_classes_ == 2:
            # [1 - p, p], written in place: np.column_stack costs about as much as the
            # Booster on one row.
            out = np.empty((p.shape[0], 2), dtype=p.dtype)
            np.subtract(1.0, p, out=out[:, 0])
            out[:, 1] = p
            return out
        return p

    def predict(self, X: Any, init_score: Any = None) -> np.ndarray:
        self._check_fitted()
        p = self._probabilities(X, init_score)
        if self.n_classes_ == 2:
            # argmax over [1 - p, p] without building it: 1 - p is exact for p >= 0.5
            # (Sterbenz), so p wins exactly when p > 0.5, and a NaN picks the first class, as
            # argmax does.
            return np.asarray(self.classes_[(p > 0.5).astype(np.intp)])
        return np.asarray(self.classes_[np.argmax(p, axis=1)])


def _check_classifier_objective(objective: Any) -> None:
    """A GBMClassifier objective that is not a callable: None or a classification name."""
    from .. import objectives
    from ..errors import ParameterError

    if objective is None:
        return
    try:
        info = objectives.resolve(objective)
    except ParameterError:
        info = None
    if info is None or info.name not in ("binary", "multiclass"):
        raise ParameterError(f"GBMClassifier: objective must be None, 'binary', 'multiclass' "
                             f"or a callable (a custom loss on raw margins), got {objective!r}")


def _custom_classifier_params(params: dict[str, Any], y: np.ndarray, sample_weight: Any,
                              n_classes: int) -> Any:
    """GBMClassifier with a custom loss: the class weights folded into the sample weights
    (the train() parameters class_weight and scale_pos_weight belong to the built-in losses),
    and the metrics read the probabilities the classifier predicts. Returns the sample
    weights; updates ``params``."""
    from .. import metrics as _metrics
    from ..errors import ParameterError

    cw, spw = params.pop("class_weight"), params.pop("scale_pos_weight")
    if n_classes > 2 and spw != 1.0:
        raise ParameterError("parameter 'scale_pos_weight' applies to two classes, not "
                             f"{n_classes}")
    if cw is not None or spw != 1.0:
        factor = np.ones(y.shape[0], dtype=np.float64)
        if cw == "balanced":  # n / (classes * rows of the class), as for the built-in loss
            counts = np.bincount(y.astype(np.intp), minlength=n_classes).astype(np.float64)
            factor = (y.shape[0] / (n_classes * counts))[y.astype(np.intp)]
        elif cw is not None:  # {class index: weight}, as fit() has encoded it
            for k, w in cw.items():
                factor[y == k] = float(w)
        factor[y == 1] *= float(spw)
        if sample_weight is not None:
            sw = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
            if sw.shape != factor.shape:
                raise DataError(f"sample_weight has {sw.size} values for {factor.size} rows")
            factor = factor * sw
        sample_weight = factor
    link = "binary" if n_classes == 2 else "multiclass"
    names = params.get("metric")
    names = [_metrics.default_metric(link)] if names is None else (
        [names] if isinstance(names, str) or callable(names) else list(names))
    out: list[Any] = []
    for name in names:
        if callable(name):  # a callable metric: the raw margins, as sapwood.train gives them
            out.append(name)
            continue
        canon, fn = _metrics.get_metric(str(name), link)
        out.append(_on_probabilities(canon, fn, link))
    params["metric"] = out
    return sample_weight


def _on_probabilities(canon: str, fn: Callable[..., Any], objective: str) -> Callable[..., Any]:
    """A built-in metric of a custom-loss classifier, computed on its probabilities (sigmoid or
    softmax of the raw margins), under the metric's own name (so early stopping knows its
    direction)."""
    from ..objectives import Link, link_transform

    link: Link = "sigmoid" if objective == "binary" else "softmax"

    def metric(y: Any, raw: Any, w: Any) -> float:
        with np.errstate(over="ignore"):
            return float(fn(y, link_transform(link, raw), w))

    metric.__name__ = canon
    return metric


class GBMRanker(_GBMBase):
    """Gradient-boosted trees for learning to rank (LightGBM's LGBMRanker).

    ``fit(X, y, group=sizes)`` (or ``qid=`` one query id per row): y holds integer relevance
    labels (0 = not relevant); the rows of a query must be contiguous. objective: "lambdarank"
    (LambdaMART on NDCG; ``lambdarank_truncation_level``, ``lambdarank_norm``) or
    "rank_xendcg"; ``label_gain``: the gain of each label (None: 2^label - 1). ``predict``
    returns scores: a higher score ranks a document higher within its query. Eval sets need
    their groups too (``eval_group`` or ``eval_qid``); their default metric is ndcg@10.
    """

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 20,
        min_child_weight: float = 1e-3,
        min_split_gain: float = 0.0,
        reg_lambda: float = 0.0,
        reg_alpha: float = 0.0,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        max_bin: int = 255,
        early_stopping_rounds: int | None = None,
        metric: str | None = None,
        random_state: int | None = 0,
        n_jobs: int | None = None,
        categorical_features: str | Sequence[str | int] | None = "auto",
        objective: str = "lambdarank",
        lambdarank_truncation_level: int = 30,
        lambdarank_norm: bool = True,
        label_gain: Sequence[float] | None = None,
    ) -> None:
        super().__init__(
            n_estimators=n_estimators, learning_rate=learning_rate, num_leaves=num_leaves,
            max_depth=max_depth, min_child_samples=min_child_samples,
            min_child_weight=min_child_weight, min_split_gain=min_split_gain,
            reg_lambda=reg_lambda, reg_alpha=reg_alpha, subsample=subsample,
            colsample_bytree=colsample_bytree, max_bin=max_bin,
            early_stopping_rounds=early_stopping_rounds, metric=metric,
            random_state=random_state, n_jobs=n_jobs, categorical_features=categorical_features,
        )
        self.objective = objective
        self.lambdarank_truncation_level = lambdarank_truncation_level
        self.lambdarank_norm = lambdarank_norm
        self.label_gain = label_gain

    def _ranking_params(self) -> dict[str, Any]:
        """The training parameters, the objective checked as a ranking one (this class and
        DaskGBMRanker)."""
        from .. import objectives
        from ..errors import ParameterError

        params = self._train_params()
        try:
            info = objectives.resolve(params["objective"])
        except ParameterError:
            info = None
        ranking = ("lambdarank", "rank_xendcg")
        if info is None or info.name not in ranking:
            raise ParameterError(f"{type(self).__name__}: objective must be one of {list(ranking)}, got "
                                 f"{params['objective']!r}")
        if params["label_gain"] is not None:
            params["label_gain"] = list(params["label_gain"])
        return params

    def fit(self, X: Any, y: Any, group: Any = None, qid: Any = None, sample_weight: Any = None,
            eval_set: Any = None, eval_group: Sequence[Any] | None = None,
            eval_qid: Sequence[Any] | None = None, callbacks: Sequence[TrainingCallback] = (),
            init_score: Any = None, eval_init_score: Sequence[Any] | None = None) -> GBMRanker:
        """Fit on query groups: ``group`` (query sizes in row order) or ``qid`` (one query id
        per row); eval sets take theirs in ``eval_group`` / ``eval_qid`` (one per set)."""

        if group is None and qid is None:
            raise DataError("GBMRanker.fit needs the query groups: group= (query sizes) or "
                            "qid= (one query id per row)")
        X, y = self._validate_fit(X, y)
        params = self._ranking_params()
        sets = list(eval_set or [])
        eq: list[dict[str, Any]] = []
        for i in range(len(sets)):
            g = None if eval_group is None else list(eval_group)[i]
            qi = None if eval_qid is None else list(eval_qid)[i]
            if g is None and qi is None:
                raise DataError(f"eval_set[{i}] needs its query groups (eval_group or eval_qid)")
            eq.append({"group": g} if g is not None else {"qid": qi})
        queries = {"group": group} if group is not None else {"qid": qid}
        self._fit(X, np.asarray(y, dtype=np.float64), sample_weight, sets, params, callbacks,
                  init_score, queries=queries, eval_queries=eq, eval_init_score=eval_init_score)
        return self

    def predict(self, X: Any, init_score: Any = None) -> np.ndarray:
        """Ranking scores (higher ranks first within a query)."""
        self._check_fitted()
        return self.booster_.predict(self._validate_predict(X), init_score=init_score)

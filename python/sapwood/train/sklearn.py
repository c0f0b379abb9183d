"""scikit-learn estimators: GBMRegressor and GBMClassifier (binary and multiclass)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..dataset import Dataset, _is_arrow_table, _is_pandas_frame, _is_polars_frame
from ..errors import NotFittedError
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

__all__ = ["GBMRegressor", "GBMClassifier"]


_VALIDATE_KW: dict[str, Any] = {"ensure_all_finite": "allow-nan",
                                "dtype": [np.float64, np.float32], "order": None}


def _validate(est: Any, X: Any, reset: bool = False) -> Any:
    from sklearn.utils.validation import validate_data

    return validate_data(est, X, reset=reset, **_VALIDATE_KW)


def _validate_xy(est: Any, X: Any, y: Any) -> Any:
    from sklearn.utils.validation import validate_data

    return validate_data(est, X, y, reset=True, y_numeric=isinstance(est, RegressorMixin),
                         **_VALIDATE_KW)


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
             init_score: Any = None) -> None:
        names = getattr(self, "feature_names_in_", None)
        fnames = list(names) if names is not None else None
        if self._table_input_:
            cats = self.categorical_features
            train_set = Dataset(X, y, weight=sample_weight, categorical_features=cats,
                                init_score=init_score)
            valid = [Dataset(_check_table(self, Xv, reset=False), self._encode_y(yv),
                             categorical_features=cats)
                     for Xv, yv in eval_set or []]
        else:
            train_set = Dataset(X, y, weight=sample_weight, feature_names=fnames,
                                init_score=init_score)
            valid = [Dataset(_validate(self, Xv, reset=False), self._encode_y(yv),
                             feature_names=fnames)
                     for Xv, yv in eval_set or []]
        cbs = list(callbacks)
        if self.early_stopping_rounds is not None and valid:
            cbs.append(EarlyStopping(int(self.early_stopping_rounds)))
        self.booster_: Booster = train(params, train_set, valid_sets=valid, callbacks=cbs)
        self.evals_result_ = self.booster_.evals_result
        self.best_iteration_ = self.booster_.best_iteration
        self.n_estimators_ = self.booster_.num_rounds

    def _encode_y(self, y: Any) -> np.ndarray:
        return np.asarray(y, dtype=np.float64)

    def _validate_fit(self, X: Any, y: Any) -> tuple[Any, Any]:
        self._table_input_ = _is_table_input(X, self.categorical_features)
        if self._table_input_:
            return _check_table(self, X, reset=True), _check_table_y(self, X, y)
        Xv, yv = _validate_xy(self, X, y)
        return Xv, yv

    def _validate_predict(self, X: Any) -> Any:
        if getattr(self, "_table_input_", False) and (
                _is_pandas_frame(X) or _is_polars_frame(X) or _is_arrow_table(X)):
            # the Booster matches columns by name and maps categories by value
            return _check_table(self, X, reset=False)
        return _validate(self, X, reset=False)

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
    0.5 when not given); or for counts and positive amounts "poisson" (labels >= 0), "gamma"
    (labels > 0) and "tweedie" (labels >= 0, variance power ``tweedie_variance_power`` in
    (1, 2)); these three use a log link, so ``predict`` returns exp(raw margin) and is always
    positive.
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
        objective: str = "regression",
        tweedie_variance_power: float = 1.5,
        huber_delta: float = 1.0,
        alpha: float | None = None,
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

    def fit(self, X: Any, y: Any, sample_weight: Any = None, eval_set: Any = None,
            callbacks: Sequence[TrainingCallback] = (), init_score: Any = None) -> GBMRegressor:
        """Fit; ``init_score``: per-row starting margins (offsets, e.g. log exposure), to be
        given again to ``predict(X, init_score=...)``."""
        X, y = self._validate_fit(X, y)
        params = self._train_params()
        from .. import objectives
        from ..errors import ParameterError

        regression = [o.name for o in objectives.REGISTRY if o.link in ("identity", "exp")]
        try:
            info = objectives.resolve(params["objective"])
        except ParameterError:
            info = None
        if info is None or info.name not in regression:
            raise ParameterError(f"GBMRegressor: objective must be one of {regression}, got "
                                 f"{params['objective']!r}")
        if info.name != "quantile":  # read by the quantile objective only (as in scikit-learn)
            params.pop("alpha")
        self._fit(X, np.asarray(y, dtype=np.float64), sample_weight, eval_set, params, callbacks,
                  init_score)
        return self

    def predict(self, X: Any, init_score: Any = None) -> np.ndarray:
        self._check_fitted()
        return self.booster_.predict(self._validate_predict(X), init_score=init_score)


class GBMClassifier(ClassifierMixin, _GBMBase):  # type: ignore[misc]
    """Gradient-boosted trees for binary and multiclass classification.

    class_weight: None, "balanced" (each class weighs n_rows / (n_classes * its rows)) or a
    mapping class -> weight (classes as in ``y``; those not named weigh 1); scale_pos_weight
    (binary): the positive class's weight is multiplied by it. Both multiply ``sample_weight``.
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

    def _encode_y(self, y: Any) -> np.ndarray:
        y = np.asarray(y)
        idx = np.searchsorted(self.classes_, y)
        idx = np.clip(idx, 0, len(self.classes_) - 1)
        if not np.all(self.classes_[idx] == y):
            raise ValueError("eval_set labels contain classes not seen in y")
        return np.asarray(idx, dtype=np.float64)

    def fit(self, X: Any, y: Any, sample_weight: Any = None, eval_set: Any = None,
            callbacks: Sequence[TrainingCallback] = (), init_score: Any = None) -> GBMClassifier:
        """Fit; ``init_score``: per-row starting margins (log-odds; (n, n_classes) for
        multiclass), to be given again to ``predict(X, init_score=...)``."""
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
        if self.n_classes_ == 2:
            params["objective"] = "binary"
        else:
            params["objective"] = "multiclass"
            params["num_class"] = self.n_classes_
        self._fit(X, y_enc.astype(np.float64), sample_weight, eval_set, params, callbacks,
                  init_score)
        return self

    def predict_proba(self, X: Any, init_score: Any = None) -> np.ndarray:
        self._check_fitted()
        p = self.booster_.predict(self._validate_predict(X), init_score=init_score)
        if self.n_classes_ == 2:
            return np.column_stack([1.0 - p, p])
        return p

    def predict(self, X: Any, init_score: Any = None) -> np.ndarray:
        proba = self.predict_proba(X, init_score)
        return np.asarray(self.classes_[np.argmax(proba, axis=1)])

"""scikit-learn estimators trained on Dask: DaskGBMRegressor, DaskGBMClassifier.

They take the parameters of :class:`GBMRegressor` / :class:`GBMClassifier`, fit on Dask
collections through :func:`sapwood.dask.train` (the same model as the local estimator on the
same rows) and predict lazily on Dask collections (:func:`sapwood.dask.predict`).
``to_local()`` gives the fitted local estimator (the same booster) for in-memory data.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError, ParameterError
from .callbacks import EarlyStopping, TrainingCallback
from .sklearn import GBMClassifier, GBMRanker, GBMRegressor, _check_classifier_objective

__all__ = ["DaskGBMRegressor", "DaskGBMClassifier", "DaskGBMRanker"]


def _feature_names(X: Any) -> list[str]:
    cols = getattr(X, "columns", None)
    if cols is not None:
        return [str(c) for c in cols]
    return [f"f{j}" for j in range(int(X.shape[1]))]


def _predict_collection(booster: Any, X: Any, output: str = "value") -> Any:
    """Lazy predictions: a Dask Series/DataFrame for a Dask DataFrame, a Dask array for an
    array (one task per partition / block of rows)."""
    import dask.array as da

    from .._dask_predict import predict

    if isinstance(X, da.Array):
        k = booster.num_outputs
        Xb = X.rechunk({1: X.shape[1]})  # type: ignore[no-untyped-call]

        def block(b: np.ndarray) -> np.ndarray:
            p = booster.predict(b, output=output) if b.shape[0] else np.zeros((0, k))
            return np.asarray(p, dtype=np.float64).reshape(b.shape[0], -1)[:, 0] if k == 1 \
                else np.asarray(p, dtype=np.float64).reshape(b.shape[0], k)

        if k == 1:
            return Xb.map_blocks(block, drop_axis=1, dtype=np.float64)
        return Xb.map_blocks(block, chunks=(Xb.chunks[0], (k,)), dtype=np.float64)
    return predict(booster, X, output=output)


class _DaskMixin:
    booster_: Any
    early_stopping_rounds: int | None
    categorical_features: Any

    def _dask_fit(self, X: Any, y: Any, sample_weight: Any, eval_set: Any,
                  params: dict[str, Any], callbacks: Sequence[TrainingCallback],
                  init_score: Any, client: Any, group: Any = None) -> None:
        from .dask_training import train

        cbs = list(callbacks)
        sets = list(eval_set or [])
        if self.early_stopping_rounds is not None and sets:
            cbs.append(EarlyStopping(int(self.early_stopping_rounds)))
        names = _feature_names(X)
        self.booster_ = train(params, X, label=y, weight=sample_weight, init_score=init_score,
                              group=group, valid_sets=sets, callbacks=cbs, client=client,
                              categorical_features=self.categorical_features)
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.evals_result_ = self.booster_.evals_result
        self.best_iteration_ = self.booster_.best_iteration
        self.n_estimators_ = self.booster_.num_rounds

    def _local(self, cls: type) -> Any:
        self._check_fitted()  # type: ignore[attr-defined]
        est = cls(**self.get_params())  # type: ignore[attr-defined]
        for k, v in self.__dict__.items():
            if k.endswith("_") and not k.startswith("__"):
                setattr(est, k, v)
        est._table_input_ = True
        return est


class DaskGBMRegressor(_DaskMixin, GBMRegressor):
    """GBMRegressor trained on a Dask cluster (see :func:`sapwood.dask.train`)."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None, eval_set: Any = None,
            callbacks: Sequence[TrainingCallback] = (), init_score: Any = None,
            client: Any = None) -> DaskGBMRegressor:
        """X: a Dask DataFrame or 2-D array; y (and sample_weight, init_score): Dask Series /
        arrays with X's partitions, or column names of X; eval_set: [(X_valid, y_valid)]."""
        params = self._regression_params()
        self._dask_fit(X, y, sample_weight, eval_set, params, callbacks, init_score, client)
        return self

    def predict(self, X: Any, init_score: Any = None) -> Any:
        """Lazy predictions (a Dask Series / array); compute() them."""
        self._check_fitted()
        if init_score is not None:
            raise ParameterError("DaskGBMRegressor.predict: init_score is not supported; use "
                                 "to_local().predict for offsets")
        return _predict_collection(self.booster_, X)

    def to_local(self) -> GBMRegressor:
        """The fitted local GBMRegressor (same booster)."""
        return self._local(GBMRegressor)  # type: ignore[no-any-return]


class DaskGBMClassifier(_DaskMixin, GBMClassifier):
    """GBMClassifier trained on a Dask cluster (see :func:`sapwood.dask.train`)."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None, eval_set: Any = None,
            callbacks: Sequence[TrainingCallback] = (), init_score: Any = None,
            client: Any = None) -> DaskGBMClassifier:
        """X: a Dask DataFrame or 2-D array; y: a Dask Series or 1-D array with X's
        partitions; classes are found with one pass over y."""
        import dask.array as da
        import dask.dataframe as dd

        if isinstance(y, str):
            raise DataError("DaskGBMClassifier.fit: give y as a Dask Series or array")
        if isinstance(y, dd.Series):
            found = y.unique().compute()  # type: ignore[no-untyped-call]
        else:
            found = da.unique(y).compute()
        classes = np.asarray(np.unique(found))
        if classes.size < 2:
            raise ValueError(f"y has only one class ({classes[:1]!r}); a classifier needs at "
                             f"least two")
        self.classes_ = classes
        self.n_classes_ = int(classes.size)

        def encode(part: Any) -> Any:
            return np.searchsorted(classes, np.asarray(part)).astype(np.float64)

        def enc(v: Any) -> Any:
            if isinstance(v, dd.Series):
                return v.map_partitions(  # type: ignore[no-untyped-call]
                    lambda s: s.__class__(encode(s), index=s.index, name=s.name),
                    meta=(v.name, "f8"))
            return v.map_blocks(encode, dtype=np.float64)

        params = self._train_params()
        cw = params["class_weight"]
        if cw is not None and cw != "balanced":
            if not isinstance(cw, dict):
                raise ParameterError(f"class_weight must be None, 'balanced' or a mapping "
                                     f"class -> weight, got {cw!r}")
            index = {c: i for i, c in enumerate(classes.tolist())}
            unknown = [c for c in cw if c not in index]
            if unknown:
                raise ValueError(f"class_weight names class(es) {unknown[:5]} that are not in y")
            params["class_weight"] = {index[c]: w for c, w in cw.items()}
        if callable(params["objective"]):  # as sapwood.dask.train refuses it
            raise ParameterError("DaskGBMClassifier: a custom objective callable is not "
                                 "supported on Dask; fit GBMClassifier on one machine")
        _check_classifier_objective(params["objective"])
        if self.n_classes_ == 2:
            params["objective"] = "binary"
        else:
            params["objective"] = "multiclass"
            params["num_class"] = self.n_classes_
        sets = [(Xv, enc(yv)) for Xv, yv in (eval_set or [])]
        self._dask_fit(X, enc(y), sample_weight, sets, params, callbacks, init_score, client)
        return self

    def predict_proba(self, X: Any, init_score: Any = None) -> Any:
        """Lazy class probabilities (n, n_classes)."""
        self._check_fitted()
        p = _predict_collection(self.booster_, X)
        if self.n_classes_ == 2:
            if hasattr(p, "to_dask_array"):
                p = p.to_dask_array(lengths=True)
            import dask.array as da

            return da.stack([1.0 - p, p], axis=1)  # type: ignore[no-untyped-call]
        return p.to_dask_array(lengths=True) if hasattr(p, "to_dask_array") else p

    def predict(self, X: Any, init_score: Any = None) -> Any:
        """Lazy class labels."""
        proba = self.predict_proba(X)
        classes = self.classes_
        return proba.map_blocks(lambda b: classes[np.argmax(b, axis=1)], drop_axis=1,
                                dtype=classes.dtype)

    def to_local(self) -> GBMClassifier:
        """The fitted local GBMClassifier (same booster)."""
        return self._local(GBMClassifier)  # type: ignore[no-any-return]


class DaskGBMRanker(_DaskMixin, GBMRanker):
    """GBMRanker trained on a Dask cluster (see :func:`sapwood.dask.train`)."""

    def fit(self, X: Any, y: Any, group: Any = None, sample_weight: Any = None,  # type: ignore[override]
            eval_set: Any = None, eval_group: Sequence[Any] | None = None,
            callbacks: Sequence[TrainingCallback] = (), init_score: Any = None,
            client: Any = None) -> DaskGBMRanker:
        """X: a Dask DataFrame; y, group (one query id per row; a query's rows contiguous and in
        one partition), sample_weight: Dask Series with X's partitions or column names of X;
        eval_set: [(X_valid, y_valid)] with eval_group: their query id Series."""
        if group is None:
            raise DataError("DaskGBMRanker.fit needs group= (one query id per row)")
        params = self._ranking_params()
        sets = list(eval_set or [])
        groups = list(eval_group or [])
        if len(groups) != len(sets):
            raise DataError("eval_group needs one query id Series per eval_set entry")
        full = [(Xv, yv, None, gv) for (Xv, yv), gv in zip(sets, groups, strict=True)]
        self._dask_fit(X, y, sample_weight, full, params, callbacks, init_score, client,
                       group=group)
        return self

    def predict(self, X: Any, init_score: Any = None) -> Any:
        """Lazy ranking scores (a Dask Series / array)."""
        self._check_fitted()
        if init_score is not None:
            raise ParameterError("DaskGBMRanker.predict: init_score is not supported; use "
                                 "to_local().predict for offsets")
        return _predict_collection(self.booster_, X)

    def to_local(self) -> GBMRanker:
        """The fitted local GBMRanker (same booster)."""
        return self._local(GBMRanker)  # type: ignore[no-any-return]

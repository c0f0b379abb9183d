"""Every bad input raises a SapwoodError subclass that names the problem; nothing crashes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sapwood
from conftest import make_regression
from sapwood import DataError, NotFittedError, ParameterError, SapwoodError, SchemaError

X, Y = make_regression(300, m=4, seed=0)


def fit(params: dict | None = None, X_: object = X, y: object = Y, **kw: object) -> sapwood.Booster:
    return sapwood.train({"n_estimators": 3, **(params or {})}, sapwood.Dataset(X_, y, **kw))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_labels(bad: float) -> None:
    y = Y.copy()
    y[17] = bad
    with pytest.raises(DataError, match="row 17"):
        fit(y=y)


def test_binary_labels_outside_0_1() -> None:
    y = (Y > 0).astype(float)
    y[5] = 2.0
    with pytest.raises(DataError, match=r"\{0, 1\}.*row 5"):
        fit({"objective": "binary"}, y=y)


def test_single_class() -> None:
    with pytest.raises(DataError, match="both classes"):
        fit({"objective": "binary"}, y=np.ones(300))
    with pytest.raises(ValueError, match="only one class"):
        sapwood.GBMClassifier().fit(X, np.zeros(300))


def test_multiclass_labels() -> None:
    y = np.arange(300) % 3
    with pytest.raises(DataError, match=r"\[0, 2\).*row 2"):
        fit({"objective": "multiclass", "num_class": 2}, y=y)
    with pytest.raises(DataError, match="row 1 has 0.5"):
        fit({"objective": "multiclass", "num_class": 3}, y=np.where(y == 1, 0.5, y))


def test_zero_rows_and_zero_columns() -> None:
    with pytest.raises(DataError, match="zero rows"):
        sapwood.Dataset(np.empty((0, 3)), np.empty(0))
    with pytest.raises(DataError, match="zero columns"):
        sapwood.Dataset(np.empty((5, 0)), np.zeros(5))
    with pytest.raises(DataError, match="zero columns"):
        sapwood.Dataset(pd.DataFrame(index=range(3)), np.zeros(3))


def test_shape_mismatches() -> None:
    with pytest.raises(DataError, match="label has 299 rows"):
        sapwood.Dataset(X, Y[:-1])
    with pytest.raises(DataError, match="weight"):
        sapwood.Dataset(X, Y, weight=np.ones(3))
    with pytest.raises(DataError, match="weight.*row 4"):
        sapwood.Dataset(X, Y, weight=np.where(np.arange(300) == 4, -1.0, 1.0))
    with pytest.raises(DataError, match="2-D"):
        sapwood.Dataset(X[:, 0], Y)


def test_feature_count_at_predict() -> None:
    b = fit()
    with pytest.raises(DataError, match="3 features but the model was trained on 4"):
        b.predict(X[:, :3])
    with pytest.raises(DataError, match="5 features"):
        b.predict(np.column_stack([X, X[:, 0]]))
    with pytest.raises(SchemaError, match="missing"):
        df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
        bd = fit(X_=df)
        bd.predict(df.drop(columns=["c"]))


def test_non_numeric_columns() -> None:
    df = pd.DataFrame({"a": X[:, 0], "city": ["x", "y", "z"] * 100})
    with pytest.raises(DataError, match="'city'.*not numeric"):
        sapwood.Dataset(df, Y, categorical_features=None)
    with pytest.raises(DataError, match="'city'.*not numeric"):
        sapwood.Dataset(df, Y, categorical_features=["a"])
    with pytest.raises(DataError, match="not numeric"):
        sapwood.Dataset(np.array([["a", "b"], ["c", "d"]]), [0, 1], categorical_features=None)


@pytest.mark.parametrize("params,match", [
    ({"learning_rate": -0.1}, "learning_rate"),
    ({"learning_rate": 0}, "learning_rate"),
    ({"num_leaves": 1}, "num_leaves"),
    ({"objective": "poisson_banana"}, "objective"),
    ({"num_leafs": 31}, "unknown parameter.*num_leafs.*did you mean 'num_leaves'"),
    ({"n_estimators": 5, "num_iterations": 5}, "'n_estimators' is given twice"),
    ({"eta": 0.1, "learning_rate": 0.1}, "'learning_rate' is given twice"),
    ({"subsample": 0.0}, "subsample"),
    ({"colsample_bytree": 1.5}, "colsample_bytree"),
    ({"max_bin": 1}, "max_bin"),
    ({"max_depth": 0}, "max_depth"),
    ({"min_child_samples": -1}, "min_child_samples"),
    ({"reg_lambda": -1}, "reg_lambda"),
    ({"n_estimators": 0}, "n_estimators"),
    ({"n_estimators": 2.5}, "integer"),
    ({"learning_rate": "fast"}, "number"),
    ({"objective": "multiclass", "num_class": 1}, "num_class"),
    ({"metric": "banana"}, "unknown metric"),
    ({"metric": "auc"}, "does not apply"),
])
def test_invalid_parameters(params: dict, match: str) -> None:
    with pytest.raises(ParameterError, match=match):
        fit(params)


def test_lightgbm_and_xgboost_parameter_names_are_aliases() -> None:
    """The names users bring from LightGBM/XGBoost train the same model as sapwood's own."""
    def fit(params: dict) -> sapwood.Booster:
        return sapwood.train(params, sapwood.Dataset(X, Y))

    ours = fit({"n_estimators": 7, "learning_rate": 0.3, "num_leaves": 5, "min_child_samples": 3,
                "reg_lambda": 1.0, "random_state": 4})
    lgb_names = fit({"num_iterations": 7, "shrinkage_rate": 0.3, "num_leaf": 5,
                     "min_data_in_leaf": 3, "lambda_l2": 1.0, "seed": 4})
    xgb_names = fit({"num_boost_round": 7, "eta": 0.3, "max_leaves": 5,
                     "min_samples_leaf": 3, "lambda": 1.0, "random_seed": 4})
    for b in (lgb_names, xgb_names):
        np.testing.assert_array_equal(b.predict(X), ours.predict(X))
        assert b.params["n_estimators"] == 7 and "eta" not in b.params


def test_errors_share_a_base_class() -> None:
    for cls in (DataError, ParameterError, SchemaError, NotFittedError, sapwood.ModelFormatError):
        assert issubclass(cls, SapwoodError)


def test_unfitted_estimator_and_booster() -> None:
    with pytest.raises(NotFittedError):
        sapwood.GBMRegressor().predict(X)
    with pytest.raises(NotFittedError):
        sapwood.Booster().predict(X)


def test_bad_predict_arguments() -> None:
    b = fit()
    with pytest.raises(ParameterError, match="output"):
        b.predict(X, output="proba")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="iteration_range"):
        b.predict(X, iteration_range=(0, 99))


def test_malformed_tree_arrays_never_crash() -> None:
    from sapwood import _core

    good = fit().trees()[0]
    for field, value in [("left", 10**6), ("feature", 99), ("right", -5), ("left", 0)]:
        t = {k: v.copy() for k, v in good.items()}
        t[field][0] = value
        with pytest.raises(sapwood.ModelFormatError):
            _core.Forest([t], np.zeros(1, np.int32), 1, 4)

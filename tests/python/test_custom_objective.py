"""Custom objectives and metrics as Python callables, against the built-in losses."""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from sapwood.errors import DataError, ParameterError
from sapwood.train.callbacks import EarlyStopping


def _data(n: int = 3000, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = np.nan_to_num(X[:, 0]) * 2 + np.nan_to_num(X[:, 1]) ** 2 + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


def _squared(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return raw - y, np.ones_like(raw)


def _logistic(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = 1.0 / (1.0 + np.exp(-raw))
    return p - y, p * (1.0 - p)


def _same_trees(a: sapwood.Booster, b: sapwood.Booster) -> None:
    assert a.num_trees == b.num_trees
    for t1, t2 in zip(a.trees(), b.trees(), strict=True):
        for key in ("feature", "threshold", "left", "right", "default_left"):
            np.testing.assert_array_equal(np.asarray(t1[key]), np.asarray(t2[key]), key)
        np.testing.assert_allclose(np.asarray(t1["value"]), np.asarray(t2["value"]),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
def test_custom_squared_error_grows_the_regression_trees(weighted: bool) -> None:
    X, y, w = _data()
    weight = w if weighted else None
    params = {"n_estimators": 15, "num_leaves": 15, "learning_rate": 0.2}
    # the built-in loss started from 0 (a zero offset), as a custom loss starts
    ref = sapwood.train({**params, "objective": "regression"},
                        sapwood.Dataset(X, y, weight, init_score=np.zeros_like(y)))
    got = sapwood.train({**params, "objective": _squared}, sapwood.Dataset(X, y, weight))
    assert got.objective == "custom"
    _same_trees(ref, got)
    np.testing.assert_allclose(got.predict(X), ref.predict(X, init_score=np.zeros_like(y)),
                               rtol=1e-12, atol=1e-12)


def test_custom_logistic_equals_binary_margins_and_round_trips() -> None:
    X, y, _ = _data(seed=1)
    yb = (y > np.median(y)).astype(float)
    params = {"n_estimators": 12, "num_leaves": 7}
    ref = sapwood.train({**params, "objective": "binary"},
                        sapwood.Dataset(X, yb, init_score=np.zeros_like(yb)))
    got = sapwood.train({**params, "objective": _logistic}, sapwood.Dataset(X, yb))
    _same_trees(ref, got)
    # a custom model predicts the raw margin
    np.testing.assert_allclose(got.predict(X),
                               ref.predict(X, output="raw", init_score=np.zeros_like(yb)),
                               rtol=1e-12, atol=1e-12)
    again = sapwood.Booster.from_bytes(got.to_bytes())
    np.testing.assert_array_equal(again.predict(X), got.predict(X))


def test_custom_metric_drives_early_stopping() -> None:
    X, y, _ = _data(4000, seed=2)
    tr, va = slice(0, 3000), slice(3000, None)

    def neg_rmse(yt: np.ndarray, pred: np.ndarray, w: np.ndarray | None) -> float:
        return -float(np.sqrt(np.mean((yt - pred) ** 2)))

    neg_rmse.higher_is_better = True  # type: ignore[attr-defined]
    params = {"objective": "regression", "n_estimators": 300, "learning_rate": 0.5}
    ref = sapwood.train({**params, "metric": "rmse"}, sapwood.Dataset(X[tr], y[tr]),
                        valid_sets=[sapwood.Dataset(X[va], y[va])], callbacks=[EarlyStopping(5)])
    got = sapwood.train({**params, "metric": [neg_rmse]}, sapwood.Dataset(X[tr], y[tr]),
                        valid_sets=[sapwood.Dataset(X[va], y[va])], callbacks=[EarlyStopping(5)])
    assert ref.num_rounds < 300
    assert got.best_iteration == ref.best_iteration
    np.testing.assert_allclose(got.evals_result["valid_0"]["neg_rmse"],
                               [-v for v in ref.evals_result["valid_0"]["rmse"]], rtol=1e-12)
    assert "neg_rmse" not in str(got.params.get("metric"))  # only built-in names are stored


def test_bad_custom_objectives_are_named() -> None:
    X, y, _ = _data(500)

    def short(yt: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return raw[:-1] - yt[:-1], np.ones(raw.size - 1)

    def nan_at_7(yt: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g = raw - yt
        g[7] = np.nan
        return g, np.ones_like(g)

    def negative_hess(yt: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h = np.ones_like(raw)
        h[3] = -1.0
        return raw - yt, h

    ds = sapwood.Dataset(X, y)
    with pytest.raises(DataError, match="one gradient and one hessian per row"):
        sapwood.train({"objective": short, "n_estimators": 2}, ds)
    with pytest.raises(DataError, match="non-finite gradient at row 7"):
        sapwood.train({"objective": nan_at_7, "n_estimators": 2}, ds)
    with pytest.raises(DataError, match="negative hessian at row 3"):
        sapwood.train({"objective": negative_hess, "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="callable"):
        sapwood.train({"objective": "custom", "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="returns|return"):
        sapwood.train({"objective": lambda yt, raw: raw - yt, "n_estimators": 2}, ds)


def test_compiled_objective_grows_the_same_trees_as_the_numpy_one() -> None:
    pytest.importorskip("numba")

    @sapwood.compiled_objective
    def squared(y: float, score: float) -> tuple[float, float]:
        return score - y, 1.0

    @sapwood.compiled_objective
    def logistic(y: float, score: float) -> tuple[float, float]:
        p = 1.0 / (1.0 + np.exp(-score))
        return p - y, p * (1.0 - p)

    X, y, w = _data()
    params = {"n_estimators": 12, "num_leaves": 15}
    for fn_c, fn_py, yy in ((squared, _squared, y), (logistic, _logistic, (y > 0).astype(float))):
        for weight in (None, w):
            ref = sapwood.train({**params, "objective": fn_py}, sapwood.Dataset(X, yy, weight))
            got = sapwood.train({**params, "objective": fn_c}, sapwood.Dataset(X, yy, weight))
            _same_trees(ref, got)
    # called on arrays it gives the per-row values
    g, h = logistic(np.array([0.0, 1.0]), np.array([0.0, 2.0]))
    np.testing.assert_allclose(g, [0.5, 1 / (1 + np.exp(-2.0)) - 1])


def test_compiled_objective_bad_values_are_named() -> None:
    pytest.importorskip("numba")

    @sapwood.compiled_objective
    def broken(y: float, score: float) -> tuple[float, float]:
        return score - y, -1.0

    X, y, _ = _data(300)
    with pytest.raises(DataError, match="negative hessian at row 0, in round 0"):
        sapwood.train({"objective": broken, "n_estimators": 2}, sapwood.Dataset(X, y))


def test_the_regressor_estimator_takes_a_custom_loss() -> None:
    """GBMRegressor(objective=fn) trains the custom loss (the same trees as the built-in
    squared error started from zero offsets), predicts the raw margin, and clones and
    round-trips like any estimator; a compiled loss works the same way."""
    from sklearn.base import clone

    X, y, w = _data()
    kw = {"n_estimators": 15, "num_leaves": 15, "learning_rate": 0.2}
    est = sapwood.GBMRegressor(objective=_squared, **kw).fit(X, y, sample_weight=w)
    assert est.booster_.objective == "custom"
    ref = sapwood.GBMRegressor(objective="regression", **kw).fit(
        X, y, sample_weight=w, init_score=np.zeros_like(y))
    _same_trees(ref.booster_, est.booster_)
    np.testing.assert_allclose(est.predict(X), ref.predict(X, init_score=np.zeros_like(y)),
                               rtol=1e-12, atol=1e-12)
    assert clone(est).get_params()["objective"] is _squared
    assert est.score(X, y) > 0.5
    pytest.importorskip("numba")

    @sapwood.compiled_objective
    def squared(label: float, score: float) -> tuple[float, float]:
        return score - label, 1.0

    compiled = sapwood.GBMRegressor(objective=squared, **kw).fit(X, y, sample_weight=w)
    _same_trees(est.booster_, compiled.booster_)

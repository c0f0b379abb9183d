"""Monotone constraints: predictions never move against the constrained direction."""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from sapwood.errors import ParameterError


def _data(n: int = 6000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-2, 2, size=(n, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    x0, x1, x2 = (np.nan_to_num(X[:, j]) for j in range(3))
    # increasing in x0 overall with a wiggle; decreasing in x1 with a wiggle
    y = 2 * x0 + np.sin(4 * x0) - 1.5 * x1 + 0.8 * np.cos(5 * x1) + x2 ** 2 \
        + rng.normal(scale=0.5, size=n)
    return X, y


def _sweep(booster: sapwood.Booster, X: np.ndarray, j: int) -> np.ndarray:
    """Predictions of 60 rows as feature j sweeps a grid (60 x grid)."""
    grid = np.linspace(-2.5, 2.5, 101)
    rows = X[:60]
    out = []
    for v in grid:
        Z = rows.copy()
        Z[:, j] = v
        out.append(booster.predict(Z))
    return np.stack(out, axis=1)


@pytest.mark.parametrize("objective", ["regression", "binary"])
def test_constrained_directions_hold_and_free_ones_do_not(objective: str) -> None:
    X, y = _data()
    if objective == "binary":
        y = (y > np.median(y)).astype(float)
    params = {"objective": objective, "n_estimators": 60, "num_leaves": 31,
              "learning_rate": 0.2, "min_child_samples": 10}
    free = sapwood.train(params, sapwood.Dataset(X, y))
    mono = sapwood.train({**params, "monotone_constraints": [1, -1, 0, 0]},
                         sapwood.Dataset(X, y))
    d0 = np.diff(_sweep(mono, X, 0), axis=1)
    d1 = np.diff(_sweep(mono, X, 1), axis=1)
    assert (d0 >= -1e-12).all()  # never decreases in x0
    assert (d1 <= 1e-12).all()   # never increases in x1
    # without the constraints the wiggles show (so the test can fail)
    assert (np.diff(_sweep(free, X, 0), axis=1) < -1e-6).any()
    assert (np.diff(_sweep(free, X, 1), axis=1) > 1e-6).any()


def test_names_and_lists_give_the_same_model() -> None:
    X, y = _data(3000, seed=1)
    names = ["a", "b", "c", "d"]
    import pandas as pd

    df = pd.DataFrame(X, columns=names)
    p = {"n_estimators": 10, "num_leaves": 15}
    by_list = sapwood.train({**p, "monotone_constraints": [1, -1, 0, 0]},
                            sapwood.Dataset(df, y))
    by_name = sapwood.train({**p, "monotone_constraints": {"b": -1, "a": 1}},
                            sapwood.Dataset(df, y))
    np.testing.assert_array_equal(by_list.predict(df), by_name.predict(df))
    assert by_name.params["monotone_constraints"] == [1, -1, 0, 0]


def test_accuracy_near_lightgbm_with_the_same_constraints() -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = _data(8000, seed=2)
    Xt, yt = _data(4000, seed=3)
    mc = [1, -1, 0, 0]
    ours = sapwood.train({"n_estimators": 100, "num_leaves": 31, "learning_rate": 0.1,
                          "monotone_constraints": mc}, sapwood.Dataset(X, y))
    theirs = lgb.train({"objective": "regression", "num_leaves": 31, "learning_rate": 0.1,
                        "monotone_constraints": mc, "monotone_constraints_method": "basic",
                        "verbose": -1}, lgb.Dataset(X, y), num_boost_round=100)
    rmse = np.sqrt(np.mean((ours.predict(Xt) - yt) ** 2))
    ref = np.sqrt(np.mean((theirs.predict(Xt) - yt) ** 2))
    assert rmse <= ref * 1.03


def test_bad_constraints_are_named() -> None:
    X, y = _data(500)
    ds = sapwood.Dataset(X, y)
    with pytest.raises(ParameterError, match="3 entries but the data has 4"):
        sapwood.train({"monotone_constraints": [1, 0, 0], "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="-1, 0 or 1"):
        sapwood.train({"monotone_constraints": [2, 0, 0, 0], "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="not in the data"):
        sapwood.train({"monotone_constraints": {"zz": 1}, "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="re-fitted"):
        sapwood.train({"objective": "l1", "monotone_constraints": [1, 0, 0, 0],
                       "n_estimators": 2}, ds)

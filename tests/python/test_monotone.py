"""Monotone constraints: predictions never move against the constrained direction."""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
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


@pytest.mark.parametrize("method", ["basic", "intermediate"])
def test_accuracy_near_lightgbm_with_the_same_constraints(method: str) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = _data(8000, seed=2)
    Xt, yt = _data(4000, seed=3)
    mc = [1, -1, 0, 0]
    # monotone_missing="free": missing values pick their side per split, as in LightGBM (this
    # data's NaN means 0, the middle of the range, so ranking it lowest costs accuracy)
    ours = sapwood.train({"n_estimators": 100, "num_leaves": 31, "learning_rate": 0.1,
                          "monotone_constraints": mc, "monotone_constraints_method": method,
                          "monotone_missing": "free"}, sapwood.Dataset(X, y))
    theirs = lgb.train({"objective": "regression", "num_leaves": 31, "learning_rate": 0.1,
                        "monotone_constraints": mc, "monotone_constraints_method": method,
                        "verbose": -1}, lgb.Dataset(X, y), num_boost_round=100)
    rmse = np.sqrt(np.mean((ours.predict(Xt) - yt) ** 2))
    ref = np.sqrt(np.mean((theirs.predict(Xt) - yt) ** 2))
    assert rmse <= ref * 1.03


def test_intermediate_fits_better_than_basic_and_still_holds() -> None:
    X, y = _data(8000, seed=2)
    Xt, yt = _data(4000, seed=3)
    p = {"n_estimators": 100, "num_leaves": 31, "learning_rate": 0.1,
         "monotone_constraints": [1, -1, 0, 0], "monotone_missing": "free"}
    rmse = {}
    for method in ("basic", "intermediate"):
        b = sapwood.train({**p, "monotone_constraints_method": method}, sapwood.Dataset(X, y))
        rmse[method] = float(np.sqrt(np.mean((b.predict(Xt) - yt) ** 2)))
        assert (np.diff(_sweep(b, Xt, 0), axis=1) >= -1e-12).all()
        assert (np.diff(_sweep(b, Xt, 1), axis=1) <= 1e-12).all()
    assert rmse["intermediate"] < rmse["basic"]


def test_intermediate_is_the_same_on_one_and_two_threads() -> None:
    X, y = _data(5000, seed=5)
    p = {"n_estimators": 15, "num_leaves": 31, "monotone_constraints": [1, -1, 0, 0],
         "monotone_constraints_method": "intermediate"}
    models = []
    for n_jobs in (1, 2):
        b = sapwood.train({**p, "n_jobs": n_jobs}, sapwood.Dataset(X, y),
                          reference_profile=False)
        b.params["n_jobs"] = 1
        b.provenance = dict(b.provenance, created_at="2026-01-01T00:00:00Z")
        models.append(b.to_bytes())
    assert models[0] == models[1]


# --------------------------------------------------- every objective, NaN included (hypothesis)
def _labels_for(objective: str, X: np.ndarray, y: np.ndarray) -> dict[str, object]:
    rng = np.random.default_rng(7)
    z = (y - y.mean()) / y.std()
    if objective == "binary":
        return {"label": (z > 0).astype(float)}
    if objective == "multiclass":
        return {"label": np.digitize(z, [-0.5, 0.5]).astype(float)}
    if objective in ("poisson", "tweedie"):
        return {"label": rng.poisson(np.exp(0.5 * z)).astype(float)}
    if objective == "gamma":
        return {"label": rng.gamma(2.0, np.exp(0.3 * z))}
    if objective == "cox":
        t = rng.exponential(np.exp(-0.5 * z)) + 1e-3
        return {"label": np.where(rng.random(z.size) < 0.2, -t, t)}
    if objective in ("lambdarank", "rank_xendcg"):
        return {"label": np.digitize(z, [-1.0, 0.0, 1.0]).astype(float),
                "group": [50] * (z.size // 50)}
    return {"label": y}


_OBJECTIVES = ["regression", "binary", "multiclass", "poisson", "gamma", "tweedie", "cox",
               "lambdarank", "rank_xendcg"]
_MODELS: dict[tuple[str, str, str], sapwood.Booster] = {}


def _model(objective: str, method: str, missing: str) -> sapwood.Booster:
    key = (objective, method, missing)
    if key not in _MODELS:
        X, y = _data(3000, seed=11)
        extra = _labels_for(objective, X, y)
        label = extra.pop("label")
        params = {"objective": objective, "n_estimators": 25, "num_leaves": 15,
                  "learning_rate": 0.3, "min_child_samples": 5,
                  "monotone_constraints": [1, -1, 0, 0], "monotone_constraints_method": method,
                  "monotone_missing": missing}
        if objective == "multiclass":
            params["num_class"] = 3
        _MODELS[key] = sapwood.train(params, sapwood.Dataset(X, label, **extra))
    return _MODELS[key]


_values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False) | st.just(float("nan"))


@pytest.mark.parametrize("objective", _OBJECTIVES)
@pytest.mark.parametrize("method", ["basic", "intermediate"])
@pytest.mark.parametrize("missing", ["low", "high"])
@settings(deadline=None, derandomize=True, max_examples=15)
@given(rows=st.lists(st.lists(_values, min_size=4, max_size=4), min_size=1, max_size=4),
       sweep=st.lists(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False), min_size=2,
                      max_size=40))
def test_every_objective_moves_the_right_way_over_the_whole_range_and_nan(
        objective: str, method: str, missing: str, rows: list[list[float]],
        sweep: list[float]) -> None:
    booster = _model(objective, method, missing)
    # the constrained features' whole range, with NaN where monotone_missing ranks it
    grid = sorted(set(sweep) | {-np.inf, -2.0, -0.5, 0.0, 0.5, 2.0, np.inf})
    grid = [np.nan, *grid] if missing == "low" else [*grid, np.nan]
    raw = objective == "multiclass"  # class probabilities need not be monotone, margins are
    for j, direction in ((0, 1), (1, -1)):
        for row in rows:
            Z = np.tile(np.asarray(row, dtype=np.float64), (len(grid), 1))
            Z[:, j] = grid
            pred = booster.predict(Z, output="raw" if raw else "value")
            steps = np.diff(pred.reshape(len(grid), -1), axis=0) * direction
            assert (steps >= -1e-9 * np.maximum(1.0, np.abs(pred).max())).all(), (j, row)


def test_free_missing_values_can_leave_the_order() -> None:
    """The guarantee for NaN comes from monotone_missing: with "free" (LightGBM's behaviour),
    this data (NaN means the middle of the range) puts NaN's prediction inside the range, so
    the NaN tests above can fail."""
    X, y = _data(6000, seed=2)
    b = sapwood.train({"n_estimators": 60, "num_leaves": 31, "monotone_constraints": [1, -1, 0, 0],
                       "monotone_missing": "free"}, sapwood.Dataset(X, y))
    Z = np.tile(np.nan_to_num(X[:200]), (1, 1))
    lo, nan, hi = Z.copy(), Z.copy(), Z.copy()
    lo[:, 0], nan[:, 0], hi[:, 0] = -10.0, np.nan, 10.0
    p_lo, p_nan, p_hi = b.predict(lo), b.predict(nan), b.predict(hi)
    assert ((p_nan > p_lo + 1e-6) & (p_nan < p_hi - 1e-6)).any()


def test_unknown_methods_are_named() -> None:
    X, y = _data(500)
    ds = sapwood.Dataset(X, y)
    with pytest.raises(ParameterError, match="monotone_constraints_method.*advanced"):
        sapwood.train({"monotone_constraints_method": "advanced", "n_estimators": 2}, ds)
    with pytest.raises(ParameterError, match="monotone_missing"):
        sapwood.train({"monotone_missing": "middle", "n_estimators": 2}, ds)


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

"""Training against LightGBM and against first-principles references."""

from __future__ import annotations

import io

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
import sapwood
from conftest import make_classification, make_regression
from sapwood import metrics

COMMON = {"n_estimators": 100, "num_leaves": 31, "learning_rate": 0.1, "min_child_samples": 20,
          "reg_lambda": 0.0, "max_bin": 255, "random_state": 0, "n_jobs": 2}
LGB_COMMON = {"num_leaves": 31, "learning_rate": 0.1, "min_data_in_leaf": 20,
              "min_sum_hessian_in_leaf": 1e-3, "lambda_l2": 0.0, "max_bin": 255, "verbose": -1,
              "num_threads": 2, "seed": 0}


def split(X: np.ndarray, y: np.ndarray, frac: float = 0.75) -> tuple[np.ndarray, ...]:
    k = int(len(y) * frac)
    return X[:k], y[:k], X[k:], y[k:]


def test_regression_matches_lightgbm() -> None:
    X, y = make_regression(8000, seed=3)
    Xtr, ytr, Xte, yte = split(X, y)
    b = sapwood.train({**COMMON, "objective": "regression"}, sapwood.Dataset(Xtr, ytr))
    m = lgb.train({**LGB_COMMON, "objective": "regression"}, lgb.Dataset(Xtr, ytr), 100)
    p, q = b.predict(Xte), m.predict(Xte)
    assert np.corrcoef(p, q)[0, 1] > 0.99
    r1, r2 = metrics.rmse(yte, p), metrics.rmse(yte, q)
    assert abs(r1 - r2) < 0.03 * r2


def test_binary_matches_lightgbm(binary_data: tuple[np.ndarray, np.ndarray]) -> None:
    Xtr, ytr, Xte, yte = split(*binary_data)
    b = sapwood.train({**COMMON, "objective": "binary"}, sapwood.Dataset(Xtr, ytr))
    m = lgb.train({**LGB_COMMON, "objective": "binary"}, lgb.Dataset(Xtr, ytr), 100)
    p, q = b.predict(Xte), m.predict(Xte)
    assert p.min() >= 0 and p.max() <= 1
    assert np.corrcoef(p, q)[0, 1] > 0.99
    assert abs(metrics.auc(yte, p) - metrics.auc(yte, q)) < 0.01
    assert abs(metrics.logloss(yte, p) - metrics.logloss(yte, q)) < 0.02


def test_multiclass_matches_lightgbm() -> None:
    X, y = make_classification(12000, classes=4, seed=5, nan_share=0.02, signal=3.0)
    Xtr, ytr, Xte, yte = split(X, y)
    b = sapwood.train({**COMMON, "objective": "multiclass", "num_class": 4, "n_estimators": 60},
                      sapwood.Dataset(Xtr, ytr))
    m = lgb.train({**LGB_COMMON, "objective": "multiclass", "num_class": 4}, lgb.Dataset(Xtr, ytr),
                  60)
    p, q = b.predict(Xte), m.predict(Xte)
    assert p.shape == (len(yte), 4)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    assert np.corrcoef(p.ravel(), q.ravel())[0, 1] > 0.99
    assert abs(metrics.multi_logloss(yte, p) - metrics.multi_logloss(yte, q)) < 0.03
    assert b.num_trees == 60 * 4


def test_initial_scores() -> None:
    X, y = make_classification(500, classes=3, seed=2)
    w = np.random.default_rng(0).random(500) + 0.5
    b = sapwood.train({"objective": "multiclass", "num_class": 3, "n_estimators": 1},
                      sapwood.Dataset(X, y, weight=w))
    prior = np.array([w[y == k].sum() for k in range(3)]) / w.sum()
    np.testing.assert_allclose(b.init_score, np.log(prior), rtol=1e-12)
    yb = (y == 1).astype(float)
    b = sapwood.train({"objective": "binary", "n_estimators": 1}, sapwood.Dataset(X, yb, weight=w))
    pm = np.average(yb, weights=w)
    np.testing.assert_allclose(b.init_score, [np.log(pm / (1 - pm))], rtol=1e-12)
    yr = X[:, 0]
    b = sapwood.train({"n_estimators": 1}, sapwood.Dataset(X, yr, weight=w))
    np.testing.assert_allclose(b.init_score, [np.average(yr, weights=w)], rtol=1e-12)


@pytest.mark.parametrize("alpha,lam", [(0.0, 0.0), (0.0, 5.0), (2.0, 1.0)])
def test_leaf_values_follow_regularised_formula(alpha: float, lam: float) -> None:
    X, y = make_regression(3000, seed=7)
    lr = 0.3
    b = sapwood.train({"n_estimators": 1, "learning_rate": lr, "reg_alpha": alpha,
                       "reg_lambda": lam, "num_leaves": 8}, sapwood.Dataset(X, y))
    leaf = b.predict(X, output="leaf")[:, 0]
    tree = b.trees()[0]
    g = b.init_score[0] - y  # squared error gradient at the initial score, hessian 1
    for node in np.unique(leaf):
        G, H = g[leaf == node].sum(), float((leaf == node).sum())
        t = np.sign(G) * max(abs(G) - alpha, 0.0)
        np.testing.assert_allclose(tree["value"][node], -t / (H + lam) * lr, rtol=1e-9, atol=1e-12)
        assert tree["count"][node] == H


def test_split_gain_is_optimal_on_one_feature() -> None:
    # Brute force: the best threshold over all distinct values of a single feature.
    rng = np.random.default_rng(11)
    x = rng.integers(0, 30, 400).astype(float)
    y = np.where(x > 17, 1.0, 0.0) + 0.1 * rng.standard_normal(400)
    b = sapwood.train({"n_estimators": 1, "num_leaves": 2, "min_child_samples": 1,
                       "learning_rate": 1.0}, sapwood.Dataset(x.reshape(-1, 1), y))
    g = y.mean() - y
    best, best_t = -1.0, None
    for t in np.unique(x)[:-1]:
        gl, gr = g[x <= t].sum(), g[x > t].sum()
        nl, nr = (x <= t).sum(), (x > t).sum()
        gain = gl**2 / nl + gr**2 / nr - g.sum() ** 2 / len(g)
        if gain > best:
            best, best_t = gain, t
    tree = b.trees()[0]
    assert tree["feature"][0] == 0
    assert best_t is not None and best_t <= tree["threshold"][0] < best_t + 1
    np.testing.assert_allclose(tree["gain"][0], best, rtol=1e-9)


def test_missing_values_learn_their_direction() -> None:
    rng = np.random.default_rng(4)
    n = 4000
    x = rng.standard_normal(n)
    y = (x > 0.5).astype(float)
    miss = rng.random(n) < 0.2
    y[miss] = 1.0  # missing behaves like large x
    x[miss] = np.nan
    b = sapwood.train({"objective": "binary", "n_estimators": 20}, sapwood.Dataset(x.reshape(-1, 1), y))
    p = b.predict(np.array([[np.nan], [2.0], [-2.0]]))
    assert p[0] > 0.9 and p[1] > 0.9 and p[2] < 0.1


def test_constant_and_all_nan_features_never_split() -> None:
    X, y = make_regression(2000, seed=8)
    X = np.column_stack([np.full(2000, 7.0), np.full(2000, np.nan), X])
    b = sapwood.train({"n_estimators": 20}, sapwood.Dataset(X, y))
    imp = b.feature_importance("split")
    assert imp[0] == 0 and imp[1] == 0 and imp[2:].sum() > 0


def test_structure_limits() -> None:
    X, y = make_regression(5000, seed=9)
    b = sapwood.train({"n_estimators": 5, "num_leaves": 64, "max_depth": 3, "min_child_samples": 50},
                      sapwood.Dataset(X, y))
    for t in b.trees():
        leaves = t["feature"] < 0
        assert leaves.sum() <= 8
        assert t["count"][leaves].min() >= 50
        depth = np.zeros(len(t["feature"]), int)
        for i in range(len(t["feature"])):
            if t["feature"][i] >= 0:
                depth[t["left"][i]] = depth[t["right"][i]] = depth[i] + 1
        assert depth.max() <= 3
    b = sapwood.train({"n_estimators": 3, "num_leaves": 5}, sapwood.Dataset(X, y))
    assert all((t["feature"] < 0).sum() <= 5 for t in b.trees())


def test_min_split_gain_and_min_child_weight_stop_growth() -> None:
    X, y = make_regression(2000, seed=10)
    b = sapwood.train({"n_estimators": 2, "min_split_gain": 1e12}, sapwood.Dataset(X, y))
    assert all(len(t["feature"]) == 1 for t in b.trees())
    b = sapwood.train({"n_estimators": 2, "min_child_weight": 1500}, sapwood.Dataset(X, y))
    assert all(len(t["feature"]) == 1 for t in b.trees())


@pytest.mark.parametrize("params", [
    {"objective": "binary"},
    {"objective": "binary", "subsample": 0.7, "colsample_bytree": 0.5},
    {"objective": "multiclass", "num_class": 3, "subsample": 0.8},
    {"objective": "regression", "colsample_bytree": 0.6, "reg_alpha": 0.5},
])
def test_deterministic_across_thread_counts(params: dict) -> None:
    classes = params.get("num_class", 2)
    X, y = make_classification(20_000, m=10, classes=classes, seed=12, nan_share=0.03)
    base = {"n_estimators": 15, "num_leaves": 31, "random_state": 3, **params}
    preds = []
    for n_jobs in (1, 2):
        b = sapwood.train({**base, "n_jobs": n_jobs}, sapwood.Dataset(X, y))
        preds.append(b.predict(X, output="raw", n_jobs=n_jobs))
    np.testing.assert_array_equal(preds[0], preds[1])
    b2 = sapwood.train({**base, "random_state": 4, "n_jobs": 2}, sapwood.Dataset(X, y))
    if params.get("subsample", 1) < 1 or params.get("colsample_bytree", 1) < 1:
        assert not np.array_equal(b2.predict(X, output="raw"), preds[0])


def test_subsample_and_colsample_change_the_model() -> None:
    X, y = make_regression(5000, seed=13)
    full = sapwood.train({"n_estimators": 10}, sapwood.Dataset(X, y))
    sub = sapwood.train({"n_estimators": 10, "subsample": 0.5}, sapwood.Dataset(X, y))
    col = sapwood.train({"n_estimators": 10, "colsample_bytree": 0.25, "num_leaves": 4},
                        sapwood.Dataset(X, y))
    assert not np.array_equal(full.predict(X), sub.predict(X))
    for t in col.trees():
        used = set(t["feature"][t["feature"] >= 0])
        assert len(used) <= 2  # 8 features * 0.25


def test_integer_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(14)
    X = rng.integers(0, 20, (1500, 3)).astype(float)
    y = X[:, 0] - 2 * X[:, 1] + rng.standard_normal(1500)
    w = rng.integers(1, 4, 1500).astype(float)
    p = {"n_estimators": 10, "min_child_samples": 0, "min_child_weight": 0.0, "num_leaves": 8}
    a = sapwood.train(p, sapwood.Dataset(X, y, weight=w))
    rep = np.repeat(np.arange(1500), w.astype(int))
    b = sapwood.train(p, sapwood.Dataset(X[rep], y[rep]))
    np.testing.assert_allclose(a.predict(X), b.predict(X), rtol=1e-6, atol=1e-6)


def test_early_stopping_keeps_best_iteration(binary_data: tuple[np.ndarray, np.ndarray]) -> None:
    Xtr, ytr, Xte, yte = split(*binary_data)
    valid = sapwood.Dataset(Xte, yte)
    log = io.StringIO()
    b = sapwood.train({"objective": "binary", "n_estimators": 500, "learning_rate": 0.3,
                       "metric": ["logloss", "auc"]},
                      sapwood.Dataset(Xtr, ytr), valid_sets=[valid], valid_names=["test"],
                      callbacks=[sapwood.EarlyStopping(10), sapwood.EvaluationLog(5, stream=log)])
    hist = b.evals_result["test"]["logloss"]
    assert b.best_iteration == int(np.argmin(hist)) + 1
    assert b.num_rounds == b.best_iteration + 10 < 500
    # predict defaults to the best iteration
    best = b.predict(Xte, iteration_range=(0, b.best_iteration))
    np.testing.assert_array_equal(b.predict(Xte), best)
    np.testing.assert_allclose(metrics.logloss(yte, best), min(hist), rtol=1e-9)
    assert "test's logloss" in log.getvalue() and "[5]" in log.getvalue()
    # the evaluation history matches rescoring with a prefix of the trees
    p3 = b.predict(Xte, iteration_range=(0, 3))
    np.testing.assert_allclose(metrics.auc(yte, p3), b.evals_result["test"]["auc"][2], rtol=1e-12)


def test_early_stopping_on_auc_maximises() -> None:
    X, y = make_classification(4000, seed=15)
    Xtr, ytr, Xte, yte = split(X, y)
    b = sapwood.train({"objective": "binary", "n_estimators": 300, "metric": "auc",
                       "learning_rate": 0.5},
                      sapwood.Dataset(Xtr, ytr), valid_sets=[sapwood.Dataset(Xte, yte)],
                      callbacks=[sapwood.EarlyStopping(5)])
    hist = b.evals_result["valid_0"]["auc"]
    assert b.best_iteration == int(np.argmax(hist)) + 1


def test_feature_names_and_importance() -> None:
    X, y = make_regression(3000, seed=16)
    df = pd.DataFrame(X, columns=[f"col_{i}" for i in range(8)])
    b = sapwood.train({"n_estimators": 20}, sapwood.Dataset(df, y))
    assert b.feature_names == [f"col_{i}" for i in range(8)]
    split_imp, gain_imp = b.feature_importance("split"), b.feature_importance("gain")
    assert split_imp.shape == (8,) and split_imp.sum() == sum(
        (t["feature"] >= 0).sum() for t in b.trees())
    assert np.argmax(gain_imp) == 0  # 2 * x0 dominates
    # reordered DataFrame columns are matched by name
    np.testing.assert_array_equal(b.predict(df[df.columns[::-1]]), b.predict(X))


def test_pandas_nullable_and_int_inputs() -> None:
    X, y = make_regression(1000, seed=17)
    df = pd.DataFrame({"a": pd.array(np.round(X[:, 0] * 3).astype(int), dtype="Int64"),
                       "b": X[:, 1], "c": (X[:, 2] > 0)})
    df.loc[::7, "a"] = pd.NA
    b = sapwood.train({"n_estimators": 5}, sapwood.Dataset(df, y))
    ref = np.column_stack([df["a"].to_numpy(dtype=float, na_value=np.nan), X[:, 1],
                           (X[:, 2] > 0).astype(float)])
    np.testing.assert_array_equal(b.predict(df), b.predict(ref))
    Xi = np.round(X * 10).astype(np.int32)
    b = sapwood.train({"n_estimators": 5}, sapwood.Dataset(Xi, y))
    np.testing.assert_array_equal(b.predict(Xi), b.predict(Xi.astype(np.float64)))

"""The robust losses l1, huber and quantile: gradients, leaf values re-fitted to the exact
weighted quantile of each leaf's residuals, metrics, determinism, peers and entry points."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import _core, import_model, metrics
from sapwood.cli import main
from sklearn.metrics import mean_absolute_error, mean_pinball_loss

ROBUST = [("l1", {}), ("huber", {"huber_delta": 0.7}), ("quantile", {"alpha": 0.8}),
          ("quantile", {"alpha": 0.1})]


def ref_quantile(v: np.ndarray, w: np.ndarray | None, alpha: float) -> float:
    """A plain reference: the smallest value whose cumulative weight (ascending) reaches
    alpha * total; where it reaches it exactly, the midpoint with the next value."""
    v = np.asarray(v, dtype=np.float64)
    w = np.ones_like(v) if w is None else np.asarray(w, dtype=np.float64)
    order = np.lexsort((w, v))
    v, w = v[order], w[order]
    keep = w > 0
    cum = np.cumsum(w)
    target = alpha * cum[-1]
    i = int(np.flatnonzero((cum >= target) & keep)[0])
    if cum[i] == target:
        nxt = np.flatnonzero(keep[i + 1:])
        if nxt.size:
            return 0.5 * (v[i] + v[i + 1 + nxt[0]])
    return float(v[i])


def ref_leaf(objective: str, r: np.ndarray, w: np.ndarray | None, p: dict[str, float]) -> float:
    if objective == "l1":
        return ref_quantile(r, w, 0.5)
    if objective == "quantile":
        return ref_quantile(r, w, p["alpha"])
    med = ref_quantile(r, w, 0.5)
    ww = np.ones_like(r) if w is None else w
    d = np.clip(r - med, -p["huber_delta"], p["huber_delta"])
    return med + float(np.sum(ww * d) / np.sum(ww))


def pinball_loss(y: np.ndarray, c: float, alpha: float) -> float:
    d = y - c
    return float(np.sum(np.where(d >= 0, alpha * d, (alpha - 1) * d)))


def data(n: int = 3000, seed: int = 0, m: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, m))
    y = 2 * np.sin(X[:, 0]) + X[:, 1] ** 2 + rng.standard_t(2, n)
    return X, y


# ---------------------------------------------------------------------------- gradients
@pytest.mark.parametrize(("objective", "params"), ROBUST)
def test_gradients_match_numpy(objective: str, params: dict[str, float]) -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=500)
    s = rng.normal(size=500)
    s[:10] = y[:10]  # residual exactly 0
    w = rng.uniform(0.1, 2, 500)
    _, g, h = _core.objective_gradients(objective, s, y, w, params)
    d = s - y
    if objective == "l1":
        ref = np.sign(d)
    elif objective == "huber":
        ref = np.clip(d, -params["huber_delta"], params["huber_delta"])
    else:
        ref = np.where(d >= 0, 1 - params["alpha"], -params["alpha"])
    np.testing.assert_array_equal(g, ref * w)
    np.testing.assert_array_equal(h, w)


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.lists(st.integers(-5, 5), min_size=1, max_size=40),
       st.floats(0.05, 0.95), st.booleans())
def test_init_score_is_the_exact_weighted_quantile(ys: list[int], alpha: float,
                                                   weighted: bool) -> None:
    # integer labels: many ties, and cumulative weights that hit alpha * total exactly
    y = np.asarray(ys, dtype=np.float64)
    w = (np.arange(y.size) % 3 + 1).astype(np.float64) if weighted else None
    init, _, _ = _core.objective_gradients("quantile", np.zeros_like(y), y, w, {"alpha": alpha})
    assert init[0] == ref_quantile(y, w, alpha)
    # and it minimises the pinball loss over every candidate constant
    ww = np.ones_like(y) if w is None else w
    loss = float(np.sum(ww * np.where(y - init[0] >= 0, alpha, alpha - 1) * (y - init[0])))
    for c in np.unique(y):
        assert loss <= float(np.sum(ww * np.where(y - c >= 0, alpha, alpha - 1) * (y - c))) \
            + 1e-9
    init_l1, _, _ = _core.objective_gradients("l1", np.zeros_like(y), y, None, {})
    assert init_l1[0] == np.median(y)


# ---------------------------------------------------------------------------- leaf refit
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize(("objective", "params"), ROBUST)
def test_leaves_are_refit_to_the_residual_quantile(objective: str, params: dict[str, float],
                                                   weighted: bool) -> None:
    X, y = data(2000)
    w = np.random.default_rng(2).integers(1, 4, y.size).astype(np.float64) if weighted \
        else None
    lr = 0.3
    b = sapwood.train({"objective": objective, "n_estimators": 2, "num_leaves": 6,
                       "learning_rate": lr, "n_jobs": 1, **params},
                      sapwood.Dataset(X, y, weight=w))
    init = b.init_score[0]
    # huber's clipped mean: summed in another order than numpy's (last bits)
    exact = {"rel": 1e-12, "abs": 1e-12} if objective == "huber" else {"rel": 0, "abs": 0}
    assert init == pytest.approx(ref_leaf(objective, y, w, params), **exact)
    leaves = b.predict(X, output="leaf")
    score = np.full(y.size, init)
    for t in range(2):
        tree = b.tree(t)
        for leaf in np.unique(leaves[:, t]):
            rows = leaves[:, t] == leaf
            want = ref_leaf(objective, y[rows] - score[rows], None if w is None else w[rows],
                            params)
            assert tree.value[leaf] == pytest.approx(lr * want, rel=1e-12, abs=1e-12)
        score = score + tree.value[leaves[:, t]]
    np.testing.assert_allclose(b.predict(X, output="raw"), score, rtol=0, atol=1e-12)


@pytest.mark.parametrize("weighted", [False, True])
def test_huber_leaf_value_is_the_same_bits_in_any_row_order(weighted: bool) -> None:
    # huber's clipped mean is summed in fixed point (not after sorting the leaf's residuals):
    # any order of the same (residual, weight) pairs, as other thread counts or workers give,
    # must give the same bits, and the value must match the float reference
    from sapwood._params import core_params, resolve_params

    rng = np.random.default_rng(5)
    cp = core_params(resolve_params({"objective": "huber", "huber_delta": 0.7,
                                     "learning_rate": 1.0}))
    for m in (1, 2, 7, 1000, 50_001):
        r = rng.standard_t(2, m) * 3
        r[: m // 10] *= 1e6  # far outliers: clipped
        w = rng.integers(0, 4, m).astype(np.float64) if weighted else np.empty(0)
        if weighted:
            w[0] = 1.0
        want = ref_leaf("huber", r, w if weighted else None, {"huber_delta": 0.7})
        got = _core.robust_leaf_value(cp, r, w)
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
        for _ in range(3):
            perm = rng.permutation(m)
            again = _core.robust_leaf_value(cp, r[perm], w[perm] if weighted else w)
            assert again == got  # bit for bit


PATTERNS = ["ties", "heavy", "sorted", "reversed", "organ", "constant", "sawtooth", "two"]


def leaf_values(pattern: str, m: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if pattern == "ties":  # a handful of distinct values: ties across the sample's pivots
        return rng.integers(-3, 4, m).astype(np.float64)
    if pattern == "constant":
        return np.full(m, 2.5)
    if pattern == "two":  # two values, one of them rare: most partitions keep nearly all
        v = np.full(m, -1.0)
        v[rng.integers(0, m, max(1, m // 50))] = 7.0
        return v
    if pattern == "sawtooth":  # short ascending runs: median-of-three pivots see the runs
        return (np.arange(m) % 17).astype(np.float64) * 1.5 + rng.normal(0, 1e-3, m)
    v = rng.standard_t(1.5, m) * 10
    v[: m // 20] *= 1e8  # far outliers
    if pattern == "sorted":
        return np.sort(v)
    if pattern == "reversed":
        return np.sort(v)[::-1].copy()
    if pattern == "organ":  # ascending then descending: the strided sample sees a biased half
        v = np.sort(v)
        return np.concatenate([v[::2], v[1::2][::-1]])
    return v


@settings(deadline=None, derandomize=True, max_examples=40)
@given(st.integers(2000, 9000), st.sampled_from(PATTERNS),
       st.sampled_from([0.5, 0.1, 0.9, 0.25]), st.integers(0, 10**6))
def test_leaf_quantile_by_sampled_selection_is_exact(m: int, pattern: str, alpha: float,
                                                     seed: int) -> None:
    # from 2,048 residuals the unweighted quantile selects between two pivots drawn from a
    # strided sample (SelectKth): the value must still be the exact order statistic (and the
    # midpoint with the next one at an even split), whatever the order and the ties
    _check_leaf_quantile(m, pattern, alpha, seed, median_in_order=False)


def _check_leaf_quantile(m: int, pattern: str, alpha: float, seed: int,
                         median_in_order: bool) -> None:
    """The quantile (and at alpha 0.5 the l1) leaf value of `pattern`'s m residuals equals
    numpy's order statistic, in the given order and shuffled."""
    from sapwood._params import core_params, resolve_params

    cp = core_params(resolve_params({"objective": "quantile", "alpha": alpha,
                                     "learning_rate": 1.0}))
    r = leaf_values(pattern, m, seed)
    want = ref_quantile(r, None, alpha)
    assert _core.robust_leaf_value(cp, r, np.empty(0)) == want
    perm = np.random.default_rng(seed + 1).permutation(m)
    assert _core.robust_leaf_value(cp, r[perm], np.empty(0)) == want
    if alpha == 0.5 or median_in_order:
        l1 = core_params(resolve_params({"objective": "l1", "learning_rate": 1.0}))
        assert _core.robust_leaf_value(l1, r, np.empty(0)) == float(np.median(r))
        if median_in_order:
            assert _core.robust_leaf_value(l1, r[perm], np.empty(0)) == float(np.median(r))


@settings(deadline=None, derandomize=True, max_examples=60)
@given(st.integers(1, 2100), st.sampled_from(PATTERNS),
       st.sampled_from([0.5, 0.1, 0.9, 0.25, 0.01]), st.integers(0, 10**6))
def test_leaf_quantile_of_small_leaves_is_exact(m: int, pattern: str, alpha: float,
                                               seed: int) -> None:
    # below 2,048 residuals (most leaves) the order statistic comes straight from the branch-free
    # quickselect (QuickSelect: out-of-place three-way partitions, median-of-three pivots, sort
    # below 17 values): the exact order statistic, and at an even split the midpoint with the
    # next one (found from the partitions, not by a second search), in any order
    _check_leaf_quantile(m, pattern, alpha, seed, median_in_order=True)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("m", [1, 3, 2500, 40_000])
def test_huber_leaf_within_delta_is_the_mean(m: int, weighted: bool) -> None:
    # every residual within huber_delta of every other: nothing is clipped, so Friedman's
    # median + mean clipped deviation is the (weighted) mean, found without selecting the
    # median; the same bits in any row order
    from sapwood._params import core_params, resolve_params

    rng = np.random.default_rng(m)
    cp = core_params(resolve_params({"objective": "huber", "huber_delta": 0.7,
                                     "learning_rate": 1.0}))
    r = 100.0 + rng.uniform(0, 0.7, m)
    r[0], r[-1] = 100.0, 100.7  # spread exactly delta
    w = rng.integers(0, 4, m).astype(np.float64) if weighted else np.empty(0)
    if weighted:
        w[0] = 1.0
    ww = w if weighted else np.ones(m)
    got = _core.robust_leaf_value(cp, r, w)
    assert got == pytest.approx(float(np.sum(ww * r) / np.sum(ww)), rel=1e-14, abs=0)
    assert got == pytest.approx(ref_leaf("huber", r, w if weighted else None,
                                         {"huber_delta": 0.7}), rel=1e-14, abs=0)
    for _ in range(2):
        perm = rng.permutation(m)
        assert _core.robust_leaf_value(cp, r[perm], w[perm] if weighted else w) == got


@pytest.mark.parametrize(("objective", "params"), ROBUST)
def test_same_model_bytes_on_any_thread_count(objective: str, params: dict[str, float]) -> None:
    X, y = data(40_000, seed=3)
    w = np.random.default_rng(4).uniform(0.5, 2, y.size)
    models = []
    for n_jobs in (1, 2):
        p = {"objective": objective, "n_estimators": 8, "subsample": 0.8, "n_jobs": n_jobs,
             **params}
        b = sapwood.train(p, sapwood.Dataset(X, y, weight=w), reference_profile=False)
        b.params["n_jobs"] = 1
        b.provenance = dict(b.provenance, created_at="2026-01-01T00:00:00Z")
        models.append(b.to_bytes())
    assert models[0] == models[1]


# ---------------------------------------------------------------------------- metrics
def test_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    y, p, w = rng.normal(size=300), rng.normal(size=300), rng.uniform(0, 2, 300)
    assert metrics.mae(y, p, w) == pytest.approx(mean_absolute_error(y, p, sample_weight=w))
    for a in (0.1, 0.5, 0.93):
        assert metrics.pinball(y, p, w, alpha=a) == pytest.approx(
            mean_pinball_loss(y, p, alpha=a, sample_weight=w))
    d = np.abs(y - p)
    ref = np.average(np.where(d <= 0.8, 0.5 * d * d, 0.8 * (d - 0.4)), weights=w)
    assert metrics.huber(y, p, w, delta=0.8) == pytest.approx(ref)
    small = p * 1e-3
    assert metrics.huber(small, 0 * small, delta=1.0) == pytest.approx(
        0.5 * np.mean(small ** 2))
    with pytest.raises(sapwood.ParameterError, match="alpha"):
        metrics.pinball(y, p, alpha=1.5)
    with pytest.raises(sapwood.ParameterError, match="delta"):
        metrics.huber(y, p, delta=0.0)


def test_train_evaluates_at_the_models_alpha_and_delta() -> None:
    X, y = data(1500)
    ds = sapwood.Dataset(X, y)
    b = sapwood.train({"objective": "quantile", "alpha": 0.9, "n_estimators": 5,
                       "metric": ["pinball", "mae", "huber"], "huber_delta": 0.5},
                      ds, valid_sets=[ds])
    p = b.predict(X)
    ev = b.evals_result["training"]
    assert ev["pinball"][-1] == pytest.approx(mean_pinball_loss(y, p, alpha=0.9))
    assert ev["mae"][-1] == pytest.approx(mean_absolute_error(y, p))
    assert ev["huber"][-1] == pytest.approx(metrics.huber(y, p, delta=0.5))
    assert list(ev) == ["pinball", "mae", "huber"]


# ---------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize(("objective", "params"), ROBUST)
def test_held_out_loss_matches_lightgbm(objective: str, params: dict[str, float]) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = data(8000, seed=6)
    Xt, yt = data(8000, seed=7)
    sb = sapwood.train({"objective": objective, "n_estimators": 60, "n_jobs": 1, **params},
                       sapwood.Dataset(X, y))
    lp = {"alpha": params["huber_delta"]} if objective == "huber" else dict(params)
    lb = lgb.train({"objective": objective, "verbose": -1, "num_threads": 1, **lp},
                   lgb.Dataset(X, y), 60)
    if objective == "huber":
        def loss(pred: np.ndarray) -> float:
            return metrics.huber(yt, pred, delta=params["huber_delta"])
    else:
        alpha = params.get("alpha", 0.5)

        def loss(pred: np.ndarray) -> float:
            return float(mean_pinball_loss(yt, pred, alpha=alpha))
    ours, theirs = loss(sb.predict(Xt)), loss(lb.predict(Xt))
    base = loss(np.full(yt.size, sb.init_score[0]))
    assert ours < 0.9 * base
    assert ours <= theirs * 1.02, (ours, theirs)


def test_quantile_covers_its_level_and_l1_resists_outliers() -> None:
    X, y = data(6000, seed=8)
    for a in (0.1, 0.9):
        b = sapwood.train({"objective": "quantile", "alpha": a, "n_estimators": 80},
                          sapwood.Dataset(X, y))
        assert abs(np.mean(y <= b.predict(X)) - a) < 0.03
    y2 = y.copy()
    y2[::50] += 1e6  # 2% huge outliers barely move an L1 model, and wreck an L2 one
    l1 = sapwood.train({"objective": "l1", "n_estimators": 50}, sapwood.Dataset(X, y2))
    l2 = sapwood.train({"objective": "regression", "n_estimators": 50}, sapwood.Dataset(X, y2))
    clean = np.ones(y.size, bool)
    clean[::50] = False
    assert mean_absolute_error(y[clean], l1.predict(X)[clean]) < 2.0
    assert mean_absolute_error(y[clean], l2.predict(X)[clean]) > 1000


# ---------------------------------------------------------------------------- parameters
@pytest.mark.parametrize(("params", "match"), [
    ({"objective": "quantile", "alpha": 1.0}, "alpha"),
    ({"objective": "quantile", "alpha": 0}, "alpha"),
    ({"objective": "quantile", "alpha": float("nan")}, "alpha"),
    ({"objective": "regression", "alpha": 0.5}, "quantile objective's level"),
    ({"objective": "huber", "alpha": 0.5}, "huber_delta"),
    ({"objective": "huber", "huber_delta": 0}, "huber_delta"),
    ({"objective": "huber", "huber_delta": float("inf")}, "huber_delta"),
])
def test_bad_parameters(params: dict[str, object], match: str) -> None:
    X, y = data(100)
    with pytest.raises(sapwood.ParameterError, match=match):
        sapwood.train(params, sapwood.Dataset(X, y))


def test_aliases_and_foreign_names() -> None:
    from sapwood import objectives

    assert objectives.resolve("reg:absoluteerror").name == "l1"
    assert objectives.resolve("mae").name == "l1"
    assert objectives.resolve("reg:quantileerror").name == "quantile"
    assert objectives.from_xgboost("reg:pseudohubererror").name == "huber"  # type: ignore[union-attr]
    for name in ("l1", "regression_l1", "huber", "quantile"):
        info = objectives.from_lightgbm(name)
        assert info is not None and info.name == name.replace("regression_", "")
    X, y = data(500)
    b = sapwood.train({"objective": "quantile", "quantile_alpha": 0.3, "n_estimators": 3},
                      sapwood.Dataset(X, y))
    assert b.params["alpha"] == 0.3


# ---------------------------------------------------------------------------- round trips
@pytest.mark.parametrize(("objective", "params"), ROBUST)
def test_model_file_round_trip(objective: str, params: dict[str, float], tmp_path: Path) -> None:
    X, y = data(800)
    b = sapwood.train({"objective": objective, "n_estimators": 5, **params},
                      sapwood.Dataset(X, y))
    b.save(tmp_path / "m.sapwood")
    back = sapwood.load(tmp_path / "m.sapwood")
    assert back.objective == objective
    assert {k: back.params[k] for k in params} == params
    np.testing.assert_array_equal(back.predict(X), b.predict(X))


@pytest.mark.parametrize(("objective", "lgb_params"), [
    ("l1", {}), ("regression_l1", {}), ("huber", {"alpha": 0.9}), ("quantile", {"alpha": 0.7})])
def test_lightgbm_import_parity(objective: str, lgb_params: dict[str, float]) -> None:
    lgb = pytest.importorskip("lightgbm")
    X, y = data(1500)
    bst = lgb.train({"objective": objective, "verbose": -1, **lgb_params}, lgb.Dataset(X, y), 10)
    sb = import_model(bst.model_to_string().encode())
    assert sb.objective == objective.replace("regression_", "")
    np.testing.assert_allclose(sb.predict(X), bst.predict(X), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("objective", "xgb_params", "expect"), [
    ("reg:absoluteerror", {}, "l1"),
    ("reg:pseudohubererror", {}, "huber"),
    ("reg:quantileerror", {"quantile_alpha": 0.3}, "quantile"),
])
def test_xgboost_import_parity(objective: str, xgb_params: dict[str, float],
                               expect: str) -> None:
    xgb = pytest.importorskip("xgboost")
    X, y = data(1500)
    bst = xgb.train({"objective": objective, "max_depth": 4, "nthread": 1, **xgb_params},
                    xgb.DMatrix(X, label=y), 10)
    sb = import_model(bst.save_raw("json"))
    assert sb.objective == expect
    np.testing.assert_allclose(sb.predict(X), bst.predict(xgb.DMatrix(X)), rtol=1e-5, atol=1e-5)


def test_sklearn_regressor_takes_the_robust_objectives() -> None:
    from sapwood import GBMRegressor

    X, y = data(2000)
    q = GBMRegressor(objective="quantile", alpha=0.9, n_estimators=40).fit(X, y)
    assert abs(np.mean(y <= q.predict(X)) - 0.9) < 0.04
    assert q.booster_.params["alpha"] == 0.9
    h = GBMRegressor(objective="huber", huber_delta=2.0, n_estimators=5).fit(X, y)
    assert h.booster_.params["huber_delta"] == 2.0
    m = GBMRegressor(objective="mae", alpha=0.3, n_estimators=5).fit(X, y)  # alpha: unused
    assert m.booster_.objective == "l1"
    with pytest.raises(sapwood.ParameterError, match="GBMRegressor"):
        GBMRegressor(objective="binary").fit(X, (y > 0).astype(float))


def test_train_toml_and_validate_metrics(tmp_path: Path) -> None:
    X, y = data(1200)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(X.shape[1])])
    df["label"] = y
    df.iloc[:900].to_csv(tmp_path / "train.csv", index=False)
    df.iloc[900:].to_csv(tmp_path / "test.csv", index=False)
    (tmp_path / "train.toml").write_text(
        '[data]\npath = "train.csv"\nlabel = "label"\n'
        '[params]\nobjective = "quantile"\nalpha = 0.75\nn_estimators = 20\n'
        '[output]\npath = "m.sapwood"\n')
    assert main(["train", str(tmp_path / "train.toml"), "--no-progress"]) == 0
    b = sapwood.load(tmp_path / "m.sapwood")
    assert b.objective == "quantile" and b.params["alpha"] == 0.75
    (tmp_path / "crit.toml").write_text(
        'label = "label"\n[metrics]\npinball = "<= 100"\nhuber = "<= 100"\nmae = "<= 100"\n')
    rc = main(["validate", str(tmp_path / "m.sapwood"), "--data", str(tmp_path / "test.csv"),
               "--criteria", str(tmp_path / "crit.toml"), "--report", str(tmp_path / "r.json")])
    assert rc == 0
    rep = json.loads((tmp_path / "r.json").read_text())
    test = df.iloc[900:]
    p = b.predict(test.drop(columns="label"))
    assert rep["metrics"]["pinball"] == pytest.approx(mean_pinball_loss(test.label, p,
                                                                        alpha=0.75))
    assert rep["metrics"]["huber"] == pytest.approx(metrics.huber(test.label, p))


# ---------------------------------------------------------------------------- class weights
def _classes(n: int = 3000, k: int = 2, seed: int = 9) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    logits = X[:, 0] * 1.5 - 2.0 + X[:, 1] * (np.arange(n) % k)
    y = (rng.random(n) < 1 / (1 + np.exp(-logits))).astype(np.float64)
    if k > 2:
        y = y + (X[:, 2] > 1.0) * (k - 2)
    return X, y


def _trees_equal(a: sapwood.Booster, b: sapwood.Booster) -> None:
    assert a.num_trees == b.num_trees
    np.testing.assert_array_equal(a.init_score, b.init_score)
    for ta, tb in zip(a.trees(), b.trees(), strict=True):
        for f in ("feature", "threshold", "value"):
            np.testing.assert_array_equal(ta[f], tb[f])


@pytest.mark.parametrize("k", [2, 3])
def test_class_weight_equals_the_same_sample_weights(k: int) -> None:
    from sklearn.utils.class_weight import compute_sample_weight

    X, y = _classes(k=k)
    base = {"objective": "binary" if k == 2 else "multiclass", "num_class": k,
            "n_estimators": 10, "n_jobs": 1}
    sw = np.random.default_rng(0).uniform(0.5, 2, y.size)
    mapping = {0: 1.0, 1: 3.5} if k == 2 else {0: 1.0, 1: 3.5, 2: 0.5}
    per_row = np.array([mapping[int(v)] for v in y])
    a = sapwood.train({**base, "class_weight": mapping}, sapwood.Dataset(X, y, weight=sw))
    b = sapwood.train(base, sapwood.Dataset(X, y, weight=sw * per_row))
    _trees_equal(a, b)
    # "balanced": scikit-learn's compute_sample_weight("balanced")
    c = sapwood.train({**base, "class_weight": "balanced"}, sapwood.Dataset(X, y))
    d = sapwood.train(base, sapwood.Dataset(X, y, weight=compute_sample_weight("balanced", y)))
    _trees_equal(c, d)
    assert c.params["class_weight"] == "balanced"


def test_scale_pos_weight() -> None:
    X, y = _classes()
    base = {"objective": "binary", "n_estimators": 10, "n_jobs": 1}
    a = sapwood.train({**base, "scale_pos_weight": 4.0}, sapwood.Dataset(X, y))
    b = sapwood.train({**base, "class_weight": {1: 4.0}}, sapwood.Dataset(X, y))
    _trees_equal(a, b)
    # up-weighting the rare positives raises their predicted share towards balance
    plain = sapwood.train(base, sapwood.Dataset(X, y))
    assert a.predict(X).mean() > plain.predict(X).mean() + 0.1


def test_classifier_class_weight_by_class_value() -> None:
    from sapwood import GBMClassifier

    X, y = _classes(k=3)
    labels = np.array(["low", "mid", "high"])[y.astype(int)]
    a = GBMClassifier(n_estimators=8, class_weight={"high": 3.0, "low": 0.5}, n_jobs=1)
    a.fit(X, labels)
    # classes_ are sorted: high=0, low=1, mid=2
    w = np.select([labels == "high", labels == "low"], [3.0, 0.5], 1.0)
    b = GBMClassifier(n_estimators=8, n_jobs=1).fit(X, labels, sample_weight=w)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    bal = GBMClassifier(n_estimators=8, class_weight="balanced", n_jobs=1).fit(X, labels)
    assert bal.booster_.params["class_weight"] == "balanced"
    spw = GBMClassifier(n_estimators=8, scale_pos_weight=2.0, n_jobs=1).fit(X, labels == "high")
    assert spw.booster_.params["scale_pos_weight"] == 2.0
    with pytest.raises(ValueError, match="not in y"):
        GBMClassifier(n_estimators=2, class_weight={"nope": 2.0}).fit(X, labels)


@pytest.mark.parametrize(("params", "match"), [
    ({"objective": "regression", "class_weight": "balanced"}, "binary and multiclass"),
    ({"objective": "binary", "class_weight": "even"}, "class_weight"),
    ({"objective": "binary", "class_weight": {1: -1.0}}, ">= 0"),
    ({"objective": "binary", "class_weight": {"one": 1.0}}, "not a number"),
    ({"objective": "binary", "class_weight": {7: 2.0}}, "label 7"),
    ({"objective": "binary", "class_weight": {0: 0.0, 1: 0.0}}, "weight zero"),
    ({"objective": "binary", "scale_pos_weight": 0.0}, "scale_pos_weight"),
    ({"objective": "multiclass", "num_class": 2, "scale_pos_weight": 2.0}, "binary objective"),
])
def test_bad_class_weights(params: dict[str, object], match: str) -> None:
    X, y = _classes(200)
    with pytest.raises((sapwood.ParameterError, sapwood.DataError), match=match):
        sapwood.train(params, sapwood.Dataset(X, y))

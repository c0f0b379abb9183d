"""Survival: the cox objective (Breslow partial likelihood) and the concordance index.

The gradients are checked against the plain-numpy O(n^2) derivative of the negative Breslow
log partial likelihood (itself checked by finite differences), the concordance index against
an O(n^2) pair count, and the trained model against XGBoost's survival:cox.
"""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import _core, metrics


def make_survival(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exponential event times with a nonlinear log hazard, exponential censoring; times
    rounded to 0.1 so that ties occur. Returns X, labels (negative = censored), true risk."""
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 6))
    log_haz = X[:, 0] - 0.5 * X[:, 1] + 0.5 * np.sin(2 * X[:, 2]) + 0.3 * X[:, 3] * X[:, 4]
    t = r.exponential(1.0 / np.exp(log_haz))
    c = r.exponential(1.5, n)
    time = np.maximum(np.round(np.minimum(t, c), 1), 0.1)
    return X, np.where(t <= c, time, -time), log_haz


# ----------------------------------------------------------------------------- references
def ref_loss(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    """Negative Breslow log partial likelihood."""
    t = np.abs(y)
    at_risk = t[None, :] >= t[:, None]  # [i, j]: j at risk at t_i
    s = (at_risk * (w * np.exp(f))[None, :]).sum(1)
    ev = y > 0
    return float(-(w[ev] * (f[ev] - np.log(s[ev]))).sum())


def ref_grad_hess(f: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t = np.abs(y)
    e = w * np.exp(f)
    at_risk = t[None, :] >= t[:, None]
    s = (at_risk * e[None, :]).sum(1)
    ev = (y > 0).astype(float)
    coef = ev * w / s  # per event i
    a = (at_risk * coef[:, None]).sum(0)  # per row k: events i with t_i <= t_k
    b = (at_risk * (coef / s)[:, None]).sum(0)
    return e * a - w * ev, e * a - e * e * b


def ref_cindex(y: np.ndarray, risk: np.ndarray, w: np.ndarray | None = None) -> float:
    t = np.abs(y)
    w = np.ones_like(t) if w is None else w
    num = den = 0.0
    for i in range(t.size):
        if y[i] < 0:
            continue
        for j in range(t.size):
            if t[j] > t[i] or (t[j] == t[i] and y[j] < 0):
                pw = w[i] * w[j]
                den += pw
                num += pw * (1.0 if risk[i] > risk[j] else 0.5 if risk[i] == risk[j] else 0.0)
    return num / den if den > 0 else float("nan")


# ----------------------------------------------------------------------------- gradients
def test_reference_gradient_is_the_loss_derivative() -> None:
    r = np.random.default_rng(0)
    _, y, _ = make_survival(40, 1)
    f, w = r.normal(size=40), r.uniform(0.5, 2, 40)
    g, _ = ref_grad_hess(f, y, w)
    eps = 1e-6
    num = np.array([(ref_loss(f + eps * np.eye(40)[k], y, w)
                     - ref_loss(f - eps * np.eye(40)[k], y, w)) / (2 * eps) for k in range(40)])
    np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("weighted", [False, True])
def test_cox_gradients_equal_reference(weighted: bool) -> None:
    r = np.random.default_rng(2)
    _, y, _ = make_survival(300, 3)
    assert np.unique(np.abs(y)).size < 200  # ties in time
    f = r.normal(size=300) * 2
    w = r.uniform(0.2, 3, 300) if weighted else None
    init, g, h = _core.objective_gradients("cox", f, y, w, {})
    rg, rh = ref_grad_hess(f, y, np.ones(300) if w is None else w)
    assert init.tolist() == [0.0]
    np.testing.assert_allclose(g, rg, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h, rh, rtol=1e-9, atol=1e-12)
    # shift invariance: the partial likelihood ignores a constant (and large scores are safe)
    _, g2, h2 = _core.objective_gradients("cox", f + 700.0, y, w, {})
    np.testing.assert_allclose(g2, g, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(h2, h, rtol=1e-9, atol=1e-12)


def test_cox_gradients_same_on_any_order_and_thread_count() -> None:
    _, y, _ = make_survival(500, 4)
    f = np.random.default_rng(5).normal(size=500)
    _, g, h = _core.objective_gradients("cox", f, y, None, {"n_jobs": 1})
    _, g2, h2 = _core.objective_gradients("cox", f, y, None, {"n_jobs": 2})
    assert np.array_equal(g, g2) and np.array_equal(h, h2)
    p = np.random.default_rng(6).permutation(500)
    _, gp, hp = _core.objective_gradients("cox", f[p], y[p], None, {})
    np.testing.assert_allclose(gp, g[p], rtol=1e-12, atol=1e-15)


def test_cox_labels_checked() -> None:
    with pytest.raises(sapwood.DataError, match="row 2"):
        _core.objective_gradients("cox", np.zeros(3), np.array([1.0, -2.0, 0.0]), None, {})
    with pytest.raises(sapwood.DataError, match="censored"):
        _core.objective_gradients("cox", np.zeros(2), np.array([-1.0, -2.0]), None, {})
    X, y, _ = make_survival(50, 7)
    y[4] = 0
    with pytest.raises(sapwood.DataError, match="row 4"):
        sapwood.train({"objective": "cox"}, sapwood.Dataset(X, y))
    y[4] = np.inf
    with pytest.raises(sapwood.DataError, match="row 4"):
        sapwood.train({"objective": "cox"}, sapwood.Dataset(X, y))


# ----------------------------------------------------------------------------- cindex
def test_cindex_equals_reference() -> None:
    r = np.random.default_rng(8)
    _, y, _ = make_survival(400, 9)
    risk = np.round(r.normal(size=400), 1)  # ties in risk
    w = r.uniform(0.1, 2, 400)
    assert metrics.cindex(y, risk) == pytest.approx(ref_cindex(y, risk), rel=1e-12)
    assert metrics.cindex(y, risk, w) == pytest.approx(ref_cindex(y, risk, w), rel=1e-12)
    distinct = np.arange(1.0, 401.0) * np.where(r.random(400) < 0.3, -1, 1)
    assert metrics.cindex(distinct, -np.abs(distinct)) == 1.0  # earlier events riskier
    assert metrics.cindex(distinct, np.abs(distinct)) == 0.0
    assert np.isnan(metrics.cindex(np.array([-1.0, 2.0]), np.zeros(2)))


@settings(deadline=None, derandomize=True, max_examples=80)
@given(st.lists(st.tuples(st.sampled_from([1.0, 2.0, 3.0]), st.booleans(),
                          st.sampled_from([-1.0, 0.0, 0.0, 2.0, np.inf])),
                min_size=1, max_size=25))
def test_cindex_hypothesis(rows: list[tuple[float, bool, float]]) -> None:
    y = np.array([t if ev else -t for t, ev, _ in rows])
    risk = np.array([v for _, _, v in rows])
    got, want = metrics.cindex(y, risk), ref_cindex(y, risk)
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-12)


def test_cindex_equals_lifelines() -> None:
    lifelines = pytest.importorskip("lifelines.utils")
    _, y, _ = make_survival(300, 10)
    risk = np.random.default_rng(11).normal(size=300)
    want = lifelines.concordance_index(np.abs(y), -risk, y > 0)
    assert metrics.cindex(y, risk) == pytest.approx(want, rel=1e-9)


def test_cindex_errors() -> None:
    with pytest.raises(sapwood.DataError, match="row 1"):
        metrics.cindex(np.array([1.0, 0.0]), np.zeros(2))
    with pytest.raises(sapwood.DataError, match="row 0"):
        metrics.cindex(np.array([1.0, 2.0]), np.array([np.nan, 0.0]))


# ----------------------------------------------------------------------------- training
def test_cox_model_predicts_hazard_ratios(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y, _ = make_survival(2000, 12)
    b = sapwood.train({"objective": "survival:cox", "n_estimators": 20},
                      sapwood.Dataset(X, y), valid_sets=[sapwood.Dataset(X, y)],
                      valid_names=["train"])
    assert b.objective == "cox"
    raw = b.predict(X, output="raw")
    np.testing.assert_allclose(b.predict(X), np.exp(raw), rtol=1e-12)
    assert b.evals_result["train"]["cindex"][-1] == pytest.approx(metrics.cindex(y, raw))
    b.save(tmp_path / "cox.sapwood")
    back = sapwood.load(tmp_path / "cox.sapwood")
    np.testing.assert_array_equal(back.predict(X), b.predict(X))
    models = [sapwood.train({"objective": "cox", "n_estimators": 10, "n_jobs": nj},
                            sapwood.Dataset(X, y), reference_profile=False) for nj in (1, 2)]
    models[1].provenance = dict(models[0].provenance)
    assert models[0].to_bytes() == models[1].to_bytes()


def test_heldout_concordance_close_to_xgboost() -> None:
    xgb = pytest.importorskip("xgboost")
    X, y, log_haz = make_survival(6000, 13)
    tr, te = slice(0, 4000), slice(4000, None)
    b = sapwood.train({"objective": "cox", "n_estimators": 100, "learning_rate": 0.05,
                       "num_leaves": 15, "n_jobs": 2}, sapwood.Dataset(X[tr], y[tr]),
                      reference_profile=False)
    bst = xgb.train({"objective": "survival:cox", "eta": 0.05, "max_depth": 0,
                     "max_leaves": 15, "grow_policy": "lossguide", "tree_method": "hist",
                     "nthread": 2, "min_child_weight": 1e-3},
                    xgb.DMatrix(X[tr], y[tr]), 100)
    ours = metrics.cindex(y[te], b.predict(X[te]))
    theirs = metrics.cindex(y[te], bst.predict(xgb.DMatrix(X[te])))
    oracle = metrics.cindex(y[te], log_haz[te])
    assert ours > theirs - 0.01, (ours, theirs, oracle)
    assert ours > 0.6


def test_xgboost_cox_model_imports() -> None:
    xgb = pytest.importorskip("xgboost")
    X, y, _ = make_survival(800, 14)
    bst = xgb.train({"objective": "survival:cox", "max_depth": 3, "nthread": 1},
                    xgb.DMatrix(X, y), 10)
    sb = sapwood.import_model(bst.save_raw("json"))
    assert sb.objective == "cox"
    Xf = X.astype(np.float32)
    np.testing.assert_allclose(sb.predict(Xf), bst.inplace_predict(Xf), rtol=1e-5)
    np.testing.assert_allclose(sb.predict(Xf, output="raw"),
                               bst.inplace_predict(Xf, predict_type="margin"), atol=1e-5)


def test_validate_gates_on_concordance() -> None:
    import pandas as pd
    from sapwood.validation.criteria import Criteria, Threshold
    from sapwood.validation.gates import evaluate

    X, y, _ = make_survival(3000, 15)
    b = sapwood.train({"objective": "cox", "n_estimators": 30}, sapwood.Dataset(X[:2000], y[:2000]))
    df = pd.DataFrame(X[2000:], columns=b.feature_names).assign(t=y[2000:])
    c = Criteria(label="t", thresholds=[Threshold("cindex", ">=", 0.6)])
    report = evaluate(b, df, c)
    assert report["metrics"]["cindex"] == pytest.approx(metrics.cindex(y[2000:],
                                                                       b.predict(X[2000:])))
    assert report["checks"][0]["passed"]
    reg = sapwood.train({"n_estimators": 3}, sapwood.Dataset(X[:2000], y[:2000]))
    with pytest.raises(sapwood.DataError, match="needs a cox"):
        evaluate(reg, df, c)


def test_cox_exports_to_xgboost_and_onnx() -> None:
    xgb = pytest.importorskip("xgboost")
    X, y, _ = make_survival(1000, 16)
    b = sapwood.train({"objective": "cox", "n_estimators": 10}, sapwood.Dataset(X, y))
    Xf = X.astype(np.float32)
    xb = xgb.Booster(model_file=bytearray(b.to_xgboost_json().encode()))
    np.testing.assert_allclose(xb.inplace_predict(Xf), b.predict(Xf), rtol=1e-5)
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from sapwood.model.export.onnx import to_onnx

    sess = ort.InferenceSession(to_onnx(b).SerializeToString(),
                                providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": Xf})[0].reshape(-1)
    np.testing.assert_allclose(got, b.predict(Xf), rtol=1e-5)


def test_regressor_estimator_fits_cox_and_refuses_ranking() -> None:
    X, y, _ = make_survival(1500, 17)
    est = sapwood.GBMRegressor(objective="cox", n_estimators=10, n_jobs=1).fit(X, y)
    b = sapwood.train({"objective": "cox", "n_estimators": 10, "n_jobs": 1},
                      sapwood.Dataset(X, y))
    np.testing.assert_array_equal(est.predict(X), b.predict(X))
    with pytest.raises(sapwood.ParameterError, match="GBMRanker"):
        sapwood.GBMRegressor(objective="lambdarank").fit(X, np.abs(y).round())

"""Custom objectives with several outputs per row (num_class=K), and custom losses in
GBMClassifier: against the built-in multiclass / binary losses (the same trees from the same
start), single-output custom models (K independent regressions) and LightGBM's custom
multiclass objective."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sapwood
from sapwood.errors import DataError, ParameterError
from sapwood.train.callbacks import EarlyStopping
from sapwood.train.custom import gradients_of

K = 3


def _data(n: int = 3000, seed: int = 0, k: int = K) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[rng.random(X.shape) < 0.05] = np.nan
    z = np.nan_to_num(X[:, :k]) * 1.5 + rng.gumbel(size=(n, k))
    y = np.argmax(z, axis=1).astype(np.float64)
    w = rng.uniform(0.5, 2.0, n)
    return X, y, w


# The C library's exp, elementwise. numpy's own (vectorised) exp may differ from it in the
# last bit, and the built-in losses call the C library's: with this one the custom losses below
# compute the built-in gradients bit for bit, so the trees can be compared byte for byte.
_libm_exp = np.frompyfunc(math.exp, 1, 1)


def _exp(x: np.ndarray) -> np.ndarray:
    return np.asarray(_libm_exp(x), dtype=np.float64)


def _softmax_np(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Softmax cross-entropy in plain numpy, with the built-in loss's arithmetic: the row
    maximum subtracted, the exponentials summed in output order, the hessian scaled by
    K / (K - 1) (as LightGBM's multiclass) and floored at 1e-16."""
    k = raw.shape[1]
    e = _exp(raw - raw.max(axis=1, keepdims=True))
    s = e[:, 0].copy()
    for j in range(1, k):  # in output order, as the C++ loop sums
        s += e[:, j]
    p = e / s[:, None]
    onehot = np.zeros_like(p)
    onehot[np.arange(y.size), y.astype(np.intp)] = 1.0
    return p - onehot, np.maximum(k / (k - 1.0) * p * (1.0 - p), 1e-16)


def _softmax_flat(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The same loss returned in LightGBM's flat output-major layout."""
    g, h = _softmax_np(y, raw)
    return g.T.reshape(-1), h.T.reshape(-1)


def _logistic(y: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = 1.0 / (1.0 + _exp(-raw))
    return p - y, np.maximum(p * (1.0 - p), 1e-16)


def _same_trees(a: sapwood.Booster, b: sapwood.Booster) -> None:
    assert a.num_trees == b.num_trees
    for t1, t2 in zip(a.trees(), b.trees(), strict=True):
        for key in ("feature", "threshold", "left", "right", "default_left"):
            np.testing.assert_array_equal(np.asarray(t1[key]), np.asarray(t2[key]), key)
        np.testing.assert_array_equal(np.asarray(t1["value"]), np.asarray(t2["value"]))


def _log_loss(y: np.ndarray, p: np.ndarray) -> float:
    return float(-np.mean(np.log(np.clip(p[np.arange(y.size), y.astype(np.intp)], 1e-15, 1))))


def _softmax(raw: np.ndarray) -> np.ndarray:
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


PARAMS = {"n_estimators": 12, "num_leaves": 15, "learning_rate": 0.2}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("layout", ["2d", "flat"])
def test_numpy_softmax_grows_the_multiclass_trees(weighted: bool, layout: str) -> None:
    """A numpy softmax cross-entropy (num_class=3) grows the built-in multiclass trees bit for
    bit when both start from zero margins, in XGBoost's (n, K) and LightGBM's flat layouts."""
    X, y, w = _data()
    weight = w if weighted else None
    ref = sapwood.train({**PARAMS, "objective": "multiclass", "num_class": K},
                        sapwood.Dataset(X, y, weight, init_score=np.zeros((y.size, K))))
    fn = _softmax_np if layout == "2d" else _softmax_flat
    got = sapwood.train({**PARAMS, "objective": fn, "num_class": K},
                        sapwood.Dataset(X, y, weight))
    assert (got.objective, got.num_class, got.num_outputs) == ("custom", K, K)
    assert got.num_trees == K * PARAMS["n_estimators"]
    _same_trees(ref, got)
    raw = got.predict(X)
    assert raw.shape == (X.shape[0], K)  # a custom model predicts its raw margins
    np.testing.assert_array_equal(
        raw, ref.predict(X, output="raw", init_score=np.zeros((X.shape[0], K))))


def test_independent_regressions_equal_single_output_models() -> None:
    """K squared errors on K targets (the function closes over them) grow, for output k, the
    trees a single-output custom model grows on target k alone."""
    X, _, w = _data(seed=3)
    rng = np.random.default_rng(3)
    Y = np.column_stack([np.nan_to_num(X[:, 0]) * 2 + rng.normal(size=X.shape[0]),
                         np.nan_to_num(X[:, 1]) ** 2 + rng.normal(size=X.shape[0])])

    def squared_2(_: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return raw - Y, np.ones_like(raw)

    label = np.zeros(X.shape[0])  # the targets live in the closure
    both = sapwood.train({**PARAMS, "objective": squared_2, "num_class": 2},
                         sapwood.Dataset(X, label, w))
    pred = both.predict(X)
    assert pred.shape == (X.shape[0], 2)
    trees = both.trees()
    for j in range(2):
        def squared(_: np.ndarray, raw: np.ndarray, j: int = j) -> tuple[np.ndarray, np.ndarray]:
            return raw - Y[:, j], np.ones_like(raw)

        one = sapwood.train({**PARAMS, "objective": squared}, sapwood.Dataset(X, label, w))
        for t1, t2 in zip(one.trees(), trees[j::2], strict=True):
            for key in ("feature", "threshold", "left", "right", "value"):
                np.testing.assert_array_equal(np.asarray(t1[key]), np.asarray(t2[key]), key)
        np.testing.assert_array_equal(one.predict(X), pred[:, j])


def test_multioutput_model_saves_and_loads(tmp_path: object) -> None:
    X, y, _ = _data(800, seed=4)
    got = sapwood.train({**PARAMS, "objective": _softmax_np, "num_class": K},
                        sapwood.Dataset(X, y))
    again = sapwood.Booster.from_bytes(got.to_bytes())
    assert (again.objective, again.num_class) == ("custom", K)
    np.testing.assert_array_equal(again.predict(X), got.predict(X))
    import pathlib

    path = pathlib.Path(str(tmp_path)) / "m.sapwood"
    got.save(path)
    np.testing.assert_array_equal(sapwood.Booster.load(path).predict(X), got.predict(X))
    # one row, and the scoring column names
    np.testing.assert_array_equal(again.predict(X[:1]), got.predict(X)[:1])
    assert again.prediction_names == ["prediction_0", "prediction_1", "prediction_2"]


def test_multioutput_metric_sees_the_margins_and_drives_early_stopping() -> None:
    """A callable metric gets the (n, K) raw margins; with EarlyStopping it stops where the
    built-in multiclass (from zero margins) with multi_logloss stops, at the same values."""
    X, y, _ = _data(4000, seed=5)
    tr, va = slice(0, 3000), slice(3000, None)
    shapes: list[tuple[int, ...]] = []

    def mlogloss(yt: np.ndarray, raw: np.ndarray, w: np.ndarray | None) -> float:
        shapes.append(raw.shape)
        return _log_loss(yt, _softmax(raw))

    params = {"n_estimators": 300, "num_leaves": 31, "learning_rate": 0.5}
    zeros = np.zeros((1000, K))
    ref = sapwood.train(
        {**params, "objective": "multiclass", "num_class": K, "metric": "multi_logloss"},
        sapwood.Dataset(X[tr], y[tr], init_score=np.zeros((3000, K))),
        valid_sets=[sapwood.Dataset(X[va], y[va], init_score=zeros)],
        callbacks=[EarlyStopping(5)])
    got = sapwood.train(
        {**params, "objective": _softmax_np, "num_class": K, "metric": mlogloss},
        sapwood.Dataset(X[tr], y[tr]), valid_sets=[sapwood.Dataset(X[va], y[va])],
        callbacks=[EarlyStopping(5)])
    assert set(shapes) == {(1000, K)}
    assert ref.num_rounds < 300
    assert got.best_iteration == ref.best_iteration
    np.testing.assert_allclose(got.evals_result["valid_0"]["mlogloss"],
                               ref.evals_result["valid_0"]["multi_logloss"], rtol=1e-9)


def test_against_lightgbm_custom_multiclass() -> None:
    """The same softmax loss as a LightGBM custom objective: held-out log loss close."""
    lgb = pytest.importorskip("lightgbm")
    X, y, _ = _data(6000, seed=6)
    tr, te = slice(0, 4500), slice(4500, None)
    rounds, leaves, lr = 40, 15, 0.1

    def lgb_softmax(preds: np.ndarray, data: object) -> tuple[np.ndarray, np.ndarray]:
        return _softmax_np(data.get_label(), preds)  # type: ignore[attr-defined]

    lgb_model = lgb.train({"objective": lgb_softmax, "num_class": K, "num_leaves": leaves,
                           "learning_rate": lr, "verbose": -1, "num_threads": 2,
                           "deterministic": True, "seed": 0},
                          lgb.Dataset(X[tr], y[tr]), num_boost_round=rounds)
    ours = sapwood.train({"objective": _softmax_np, "num_class": K, "num_leaves": leaves,
                          "learning_rate": lr, "n_estimators": rounds},
                         sapwood.Dataset(X[tr], y[tr]))
    loss_lgb = _log_loss(y[te], _softmax(np.asarray(lgb_model.predict(X[te], raw_score=True))))
    loss_ours = _log_loss(y[te], _softmax(ours.predict(X[te])))
    prior = _log_loss(y[te], np.tile(np.bincount(y[tr].astype(int)) / 4500.0, (1500, 1)))
    assert loss_ours < 0.8 * prior  # it learned something
    assert abs(loss_ours - loss_lgb) < 0.03 * loss_lgb, (loss_ours, loss_lgb)


def test_gradients_of_layouts_against_numpy() -> None:
    rng = np.random.default_rng(7)
    n, k = 5, 3
    raw = rng.normal(size=(n, k))
    y = rng.integers(0, k, n).astype(float)
    w = rng.uniform(0.5, 2, n)
    g_ref, h_ref = _softmax_np(y, raw)
    for fn in (_softmax_np, _softmax_flat):
        g, h = gradients_of(fn, y, raw, w, 0)
        assert g.flags.c_contiguous and g.shape == (n, k)
        np.testing.assert_array_equal(g, g_ref * w[:, None])
        np.testing.assert_array_equal(h, h_ref * w[:, None])


def test_bad_multioutput_objectives_name_the_round_row_and_output() -> None:
    X, y, _ = _data(500, seed=8)
    ds = sapwood.Dataset(X, y)
    calls = [0]

    def transposed(yt: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        g, h = _softmax_np(yt, raw)
        return g.T, h.T

    def short_in_round_2(yt: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls[0] += 1
        g, h = _softmax_np(yt, raw)
        return (g[:-1], h[:-1]) if calls[0] == 3 else (g, h)

    def nan_at(row: int, out: int, what: str) -> object:
        def fn(yt: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            g, h = _softmax_np(yt, raw)
            (g if what == "g" else h)[row, out] = np.nan if what == "g" else -1.0
            return g, h
        return fn

    base = {"num_class": K, "n_estimators": 4}
    with pytest.raises(DataError, match=r"grad of shape \(500, 3\) or \(1500,\).*got "
                                        r"\(3, 500\) in round 0"):
        sapwood.train({**base, "objective": transposed}, ds)
    with pytest.raises(DataError, match=r"got \(499, 3\) in round 2"):
        sapwood.train({**base, "objective": short_in_round_2}, ds)
    with pytest.raises(DataError, match="non-finite gradient at row 7, output 2, in round 0"):
        sapwood.train({**base, "objective": nan_at(7, 2, "g")}, ds)
    with pytest.raises(DataError, match="negative hessian at row 3, output 1, in round 0"):
        sapwood.train({**base, "objective": nan_at(3, 1, "h")}, ds)
    with pytest.raises(ParameterError, match="num_class"):
        sapwood.train({**base, "objective": _softmax_np, "num_class": 0}, ds)


def test_compiled_objective_refuses_several_outputs() -> None:
    pytest.importorskip("numba")

    @sapwood.compiled_objective
    def squared(label: float, score: float) -> tuple[float, float]:
        return score - label, 1.0

    X, y, _ = _data(300)
    with pytest.raises(ParameterError, match="compiled custom objective works on one output"):
        sapwood.train({"objective": squared, "num_class": 2}, sapwood.Dataset(X, y))


# ------------------------------------------------------------------ GBMClassifier
@pytest.mark.parametrize("classes", [2, 3])
def test_classifier_custom_loss_equals_the_builtin(classes: int) -> None:
    """GBMClassifier(objective=fn) with the built-in loss written in numpy grows the built-in
    trees (both from zero margins); predict_proba applies the sigmoid / softmax, predict gives
    the labels, clone keeps the callable."""
    from sklearn.base import clone

    X, y, w = _data(seed=9, k=classes)
    labels = np.array(["ant", "bee", "cat"])[y.astype(np.intp)]  # classes by name
    fn = _logistic if classes == 2 else _softmax_np
    kw = {"n_estimators": 12, "num_leaves": 15, "learning_rate": 0.2}
    zeros = np.zeros(y.size) if classes == 2 else np.zeros((y.size, classes))
    ref = sapwood.GBMClassifier(**kw).fit(X, labels, sample_weight=w, init_score=zeros)
    est = sapwood.GBMClassifier(objective=fn, **kw).fit(X, labels, sample_weight=w)
    assert est.booster_.objective == "custom"
    assert est.booster_.num_outputs == (1 if classes == 2 else classes)
    _same_trees(ref.booster_, est.booster_)
    p_ref = ref.predict_proba(X, init_score=zeros)
    p = est.predict_proba(X)
    assert p.shape == (X.shape[0], classes)
    np.testing.assert_allclose(p, p_ref, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(est.predict(X), ref.predict(X, init_score=zeros))
    assert set(est.predict(X)) <= set(labels)
    assert clone(est).get_params()["objective"] is fn
    assert est.score(X, labels) > 0.6
    # raw margins from the booster, probabilities through the link
    raw = est.booster_.predict(X)
    expect = 1 / (1 + np.exp(-raw)) if classes == 2 else _softmax(raw)
    np.testing.assert_allclose(p[:, 1] if classes == 2 else p, expect, rtol=1e-12)


def test_classifier_custom_loss_metrics_and_early_stopping() -> None:
    """With a custom loss the classifier's metric (default logloss) is computed on its
    probabilities: the same values, and the same stopping round, as the built-in loss."""
    X, y, _ = _data(4000, seed=10, k=2)
    tr, va = slice(0, 3000), slice(3000, None)
    kw = {"n_estimators": 300, "learning_rate": 0.5, "early_stopping_rounds": 5}
    ref = sapwood.GBMClassifier(**kw).fit(X[tr], y[tr], init_score=np.zeros(3000),
                                          eval_set=[(X[va], y[va])],
                                          eval_init_score=[np.zeros(1000)])
    est = sapwood.GBMClassifier(objective=_logistic, **kw).fit(X[tr], y[tr],
                                                               eval_set=[(X[va], y[va])])
    assert ref.n_estimators_ < 300
    assert est.best_iteration_ == ref.best_iteration_
    np.testing.assert_allclose(est.evals_result_["valid_0"]["logloss"],
                               ref.evals_result_["valid_0"]["logloss"], rtol=1e-12)
    # a named metric that is better when higher (auc) keeps its direction
    auc = sapwood.GBMClassifier(objective=_logistic, metric="auc", **kw).fit(
        X[tr], y[tr], eval_set=[(X[va], y[va])])
    hist = auc.evals_result_["valid_0"]["auc"]
    assert auc.best_iteration_ == int(np.argmax(hist)) + 1


def test_classifier_custom_loss_with_class_weights() -> None:
    """class_weight and scale_pos_weight reach a custom loss as sample weights: the same
    trees as the built-in loss with them."""
    X, y, _ = _data(seed=11, k=3)
    kw = {"n_estimators": 8, "num_leaves": 7}
    zeros = np.zeros((y.size, 3))
    for cw in ("balanced", {0: 2.0, 2: 0.5}):
        ref = sapwood.GBMClassifier(class_weight=cw, **kw).fit(X, y, init_score=zeros)
        est = sapwood.GBMClassifier(objective=_softmax_np, class_weight=cw, **kw).fit(X, y)
        _same_trees(ref.booster_, est.booster_)
    yb = (y == 1).astype(float)
    ref = sapwood.GBMClassifier(scale_pos_weight=3.0, **kw).fit(X, yb, init_score=np.zeros(y.size))
    est = sapwood.GBMClassifier(objective=_logistic, scale_pos_weight=3.0, **kw).fit(X, yb)
    _same_trees(ref.booster_, est.booster_)


def test_classifier_compiled_logistic() -> None:
    pytest.importorskip("numba")

    @sapwood.compiled_objective
    def logistic(label: float, score: float) -> tuple[float, float]:
        p = 1.0 / (1.0 + np.exp(-score))
        return p - label, max(p * (1.0 - p), 1e-16)

    X, y, w = _data(seed=12, k=2)
    kw = {"n_estimators": 10, "num_leaves": 15}
    compiled = sapwood.GBMClassifier(objective=logistic, **kw).fit(X, y, sample_weight=w)
    numpy_fn = sapwood.GBMClassifier(objective=_logistic, **kw).fit(X, y, sample_weight=w)
    _same_trees(numpy_fn.booster_, compiled.booster_)
    np.testing.assert_array_equal(compiled.predict_proba(X), numpy_fn.predict_proba(X))
    X3, y3, _ = _data(500, seed=12, k=3)
    with pytest.raises(ParameterError, match="one output"):
        sapwood.GBMClassifier(objective=logistic, n_estimators=2).fit(X3, y3)


def test_classifier_objective_names() -> None:
    X, y, _ = _data(400, seed=13, k=2)
    a = sapwood.GBMClassifier(objective="binary", n_estimators=3).fit(X, y)
    b = sapwood.GBMClassifier(n_estimators=3).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    with pytest.raises(ParameterError, match="objective must be None"):
        sapwood.GBMClassifier(objective="regression", n_estimators=3).fit(X, y)

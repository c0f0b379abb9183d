"""sapwood.metrics against scikit-learn, with and without sample weights (hypothesis)."""

from __future__ import annotations

import numpy as np
import pytest
import sapwood
from hypothesis import given, settings
from hypothesis import strategies as st
from sapwood import metrics as M
from sklearn import metrics as skm

SETTINGS = settings(max_examples=60, derandomize=True, deadline=None)


@st.composite
def binary_case(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(2, 300))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < draw(st.floats(0.05, 0.95))).astype(np.float64)
    y[0], y[1] = 0.0, 1.0  # both classes
    ties = draw(st.sampled_from([None, 3, 10]))
    s = rng.random(n)
    if ties is not None:
        s = np.round(s * ties) / ties  # many tied scores
    w = rng.random(n) * 3 if draw(st.booleans()) else None
    if w is not None and draw(st.booleans()):
        w[rng.random(n) < 0.2] = 0.0
        w[0] = w[1] = 1.0
    return y, s, w


@SETTINGS
@given(binary_case())
def test_ranking_metrics_match_sklearn(case) -> None:  # type: ignore[no-untyped-def]
    y, s, w = case
    assert M.roc_auc(y, s, w) == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w),
                                               rel=1e-10, abs=1e-12)
    assert M.pr_auc(y, s, w) == pytest.approx(
        skm.average_precision_score(y, s, sample_weight=w), rel=1e-10, abs=1e-12)
    # the legacy name used by train() is the same function
    assert M.auc(y, s, w) == M.roc_auc(y, s, w)


@SETTINGS
@given(binary_case(), st.sampled_from([0.3, 0.5, 0.7]))
def test_threshold_metrics_match_sklearn(case, t: float) -> None:  # type: ignore[no-untyped-def]
    y, p, w = case
    p = np.clip(p, 0.01, 0.99)
    yp = (p > t).astype(np.float64)
    kw = {"sample_weight": w, "zero_division": 0}
    assert M.accuracy(y, p, w, threshold=t) == pytest.approx(
        skm.accuracy_score(y, yp, sample_weight=w))
    assert M.precision(y, p, w, threshold=t) == pytest.approx(skm.precision_score(y, yp, **kw))
    assert M.recall(y, p, w, threshold=t) == pytest.approx(skm.recall_score(y, yp, **kw))
    assert M.f1(y, p, w, threshold=t) == pytest.approx(skm.f1_score(y, yp, **kw))
    assert M.log_loss(y, p, w) == pytest.approx(skm.log_loss(y, p, sample_weight=w))
    assert M.brier(y, p, w) == pytest.approx(skm.brier_score_loss(y, p, sample_weight=w))


@SETTINGS
@given(st.integers(1, 200), st.integers(0, 2**32 - 1), st.booleans())
def test_regression_metrics_match_sklearn(n: int, seed: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    y = rng.standard_normal(n) * 10
    p = y + rng.standard_normal(n)
    w = rng.random(n) + 0.01 if weighted else None
    assert M.rmse(y, p, w) == pytest.approx(
        np.sqrt(skm.mean_squared_error(y, p, sample_weight=w)))
    assert M.mae(y, p, w) == pytest.approx(skm.mean_absolute_error(y, p, sample_weight=w))
    assert M.mape(y, p, w) == pytest.approx(
        skm.mean_absolute_percentage_error(y, p, sample_weight=w))
    if n > 1:
        assert M.r2(y, p, w) == pytest.approx(skm.r2_score(y, p, sample_weight=w))


@SETTINGS
@given(st.integers(5, 200), st.integers(3, 5), st.integers(0, 2**32 - 1), st.booleans())
def test_multiclass_metrics_match_sklearn(n: int, k: int, seed: int, weighted: bool) -> None:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n).astype(np.float64)
    y[:k] = np.arange(k)  # every class present
    logits = rng.standard_normal((n, k)) + 2 * np.eye(k)[y.astype(int)] * rng.random((n, 1))
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    w = rng.random(n) + 0.01 if weighted else None
    labels = list(range(k))
    assert M.log_loss(y, prob, w) == pytest.approx(
        skm.log_loss(y, prob, sample_weight=w, labels=labels))
    assert M.multiclass_log_loss(y, prob, w) == M.log_loss(y, prob, w)
    yp = prob.argmax(axis=1)
    assert M.accuracy(y, prob, w) == pytest.approx(skm.accuracy_score(y, yp, sample_weight=w))
    assert M.f1_macro(y, prob, w) == pytest.approx(
        skm.f1_score(y, yp, average="macro", sample_weight=w, zero_division=0))
    assert M.f1_micro(y, prob, w) == pytest.approx(
        skm.f1_score(y, yp, average="micro", sample_weight=w, zero_division=0))
    # class labels work as well as probabilities
    assert M.f1_macro(y, yp, w) == M.f1_macro(y, prob, w)


def test_auc_large_input_uses_radix_path_and_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    n = 50_000
    y = (rng.random(n) < 0.3).astype(np.float64)
    s = rng.standard_normal(n) + y
    s[::7] = np.round(s[::7], 1)  # ties
    s[:10] = [-0.0, 0.0, 1e308, -1e308, 1e300, -1e-300, 5e-324, -5e-324, 0.0, -0.0]
    w = rng.random(n)
    assert M.roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), rel=1e-12)
    assert M.roc_auc(y, s, w) == pytest.approx(skm.roc_auc_score(y, s, sample_weight=w), rel=1e-12)
    assert M.pr_auc(y, s, w) == pytest.approx(
        skm.average_precision_score(y, s, sample_weight=w), rel=1e-10)
    s32 = s[10:].astype(np.float32)  # any float input
    y = y[10:]
    assert M.roc_auc(y, s32) == pytest.approx(skm.roc_auc_score(y, s32), rel=1e-12)


def test_metric_errors() -> None:
    assert np.isnan(M.roc_auc([1, 1], [0.2, 0.3]))
    with pytest.raises(sapwood.DataError, match="row 1"):
        M.roc_auc([0, 1], [0.2, np.nan])
    with pytest.raises(sapwood.DataError, match="sample_weight"):
        M.roc_auc([0, 1], [0.2, 0.3], [1.0, -1.0])
    with pytest.raises(sapwood.DataError, match="rows"):
        M.rmse([1.0, 2.0], [1.0])
    with pytest.raises(sapwood.DataError, match=r"\[0, 3\)"):
        M.log_loss([0, 3], np.full((2, 3), 1 / 3))


def test_training_metric_names_still_work() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3))
    y = (X[:, 0] > 0).astype(float)
    ds = sapwood.Dataset(X, y)
    b = sapwood.train({"objective": "binary", "n_estimators": 5, "metric": ["auc", "logloss"]},
                      ds, valid_sets=[ds], valid_names=["train"])
    p = b.predict(X)
    assert b.evals_result["train"]["auc"][-1] == pytest.approx(skm.roc_auc_score(y, p))
    assert b.evals_result["train"]["logloss"][-1] == pytest.approx(skm.log_loss(y, p))
    assert "auc" in M.HIGHER_IS_BETTER and "r2" in M.HIGHER_IS_BETTER
    assert "rmse" not in M.HIGHER_IS_BETTER

"""Estimated performance before labels (sapwood.monitoring.estimate, `sapwood monitor estimate`):
the expected metrics against independent computations (pairwise numpy, scikit-learn on
weighted rows, simulated labels), and the estimate tracking the realised metric under
covariate shift where the model is calibrated."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sapwood.cli.main import main
from sapwood.errors import DataError, ParameterError, SchemaError
from sapwood.monitoring.estimate import _simulate, estimate, expected_metrics
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score


def _pairwise_auc(s: np.ndarray, q: np.ndarray) -> float:
    """Every (positive row i, negative row j) pair with weight q_i (1 - q_j), the row against
    itself included; ties count one half."""
    w = q[:, None] * (1.0 - q)[None, :]
    gt = (s[:, None] > s[None, :]) + 0.5 * (s[:, None] == s[None, :])
    return float((w * gt).sum() / w.sum())


probs = arrays(np.float64, st.integers(2, 40),
               elements=st.floats(0.0, 1.0, allow_nan=False).map(lambda v: round(v, 2)))


@settings(deadline=None, derandomize=True, max_examples=60)
@given(probs, st.integers(0, 2**31 - 1), st.sampled_from([0.3, 0.5, 0.7]))
def test_expected_metrics_equal_independent_references(q: np.ndarray, seed: int,
                                                       threshold: float) -> None:
    rng = np.random.default_rng(seed)
    s = np.round(rng.random(q.size), 1)  # scores with ties
    got = expected_metrics(s, q, threshold)
    if q.sum() > 0 and (1 - q).sum() > 0:
        assert got["auc"] == pytest.approx(_pairwise_auc(s, q), abs=1e-9)
        y2 = np.r_[np.ones(q.size), np.zeros(q.size)]
        assert got["auc"] == pytest.approx(
            roc_auc_score(y2, np.r_[s, s], sample_weight=np.r_[q, 1 - q]), abs=1e-9)
    else:
        assert math.isnan(got["auc"])
    yhat = s > threshold
    assert got["accuracy"] == pytest.approx(np.mean(np.where(yhat, q, 1 - q)), abs=1e-12)
    tp, fp, fn = q[yhat].sum(), (1 - q[yhat]).sum(), q[~yhat].sum()
    f1 = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn > 0 else 0.0
    assert got["f1"] == pytest.approx(f1, abs=1e-12)


@settings(deadline=None, derandomize=True, max_examples=30)
@given(probs)
def test_expected_accuracy_is_mean_max_p_when_deciding_on_p(q: np.ndarray) -> None:
    assert expected_metrics(q, q, 0.5)["accuracy"] == pytest.approx(
        np.mean(np.maximum(q, 1 - q)), abs=1e-12)


def test_simulated_interval_equals_metrics_of_the_same_draws() -> None:
    rng = np.random.default_rng(3)
    s = np.round(rng.random(300), 2)
    q = np.clip(s + rng.normal(0, 0.1, s.size), 0.01, 0.99)
    got = _simulate(s, q, 0.5, 50, np.random.default_rng(11), 0.9)
    draws = np.random.default_rng(11).random((50, s.size)) < q
    ref = {"auc": [roc_auc_score(y, s) for y in draws],
           "accuracy": [accuracy_score(y, s > 0.5) for y in draws],
           "f1": [f1_score(y, s > 0.5) for y in draws]}
    for m, vals in ref.items():
        assert got[m] == pytest.approx(list(np.quantile(vals, [0.05, 0.95])), abs=1e-9), m


def _rows(rng: np.random.Generator, n: int, loc: float, scale: float = 1.0,
          model_k: float = 2.0) -> pd.DataFrame:
    """Truth P(y=1|x) = sigmoid(2x); the model reports sigmoid(model_k x) (calibrated when
    model_k = 2)."""
    x = rng.normal(loc, scale, n)
    y = (rng.random(n) < 1 / (1 + np.exp(-2 * x))).astype(float)
    return pd.DataFrame({"prediction": 1 / (1 + np.exp(-model_k * x)), "label": y})


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_estimate_tracks_realised_auc_under_covariate_shift(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref = _rows(rng, 20_000, 0.0)
    shifts = [(0.0, 1.0), (1.0, 1.0), (-1.0, 1.0), (0.0, 0.3), (0.5, 2.0)]
    cur = pd.concat([_rows(rng, 8_000, loc, sc).assign(ts=f"2024-02-0{i + 1}")
                     for i, (loc, sc) in enumerate(shifts)])
    rep = estimate(ref, cur, time="ts", seed=seed)
    assert rep.calibration["method"] in ("none", "platt")
    est = [w["metrics"]["auc"]["estimate"] for w in rep.windows]
    real = [w["metrics"]["auc"]["realised"] for w in rep.windows]
    assert np.max(np.abs(np.subtract(est, real))) < 0.025
    # the narrow window's AUC falls far below the reference: the estimate sees it
    assert est[3] < rep.reference["realised"]["auc"] - 0.1
    assert np.corrcoef(est, real)[0, 1] > 0.95
    for w in rep.windows:
        acc = w["metrics"]["accuracy"]
        assert abs(acc["estimate"] - acc["realised"]) < 0.02


def test_platt_calibration_repairs_an_overconfident_model() -> None:
    rng = np.random.default_rng(5)
    ref = _rows(rng, 20_000, 0.0, model_k=3.5)
    cur = pd.concat([_rows(rng, 8_000, loc, model_k=3.5).assign(ts=f"2024-03-0{i + 1}")
                     for i, loc in enumerate([0.0, 1.0, -1.5])])
    raw = estimate(ref, cur, time="ts", calibration="none")
    fixed = estimate(ref, cur, time="ts")
    assert fixed.calibration["method"] == "platt"
    assert fixed.calibration["ece_calibrated"] < fixed.calibration["ece_raw"] / 2
    for wr, wf in zip(raw.windows, fixed.windows, strict=True):
        real = wf["metrics"]["auc"]["realised"]
        assert abs(wf["metrics"]["auc"]["estimate"] - real) < 0.02
        assert abs(wr["metrics"]["auc"]["estimate"] - real) > 0.03  # raw scores mislead


def test_report_is_marked_as_an_estimate_and_checks_thresholds() -> None:
    rng = np.random.default_rng(7)
    ref = _rows(rng, 5_000, 0.0)
    cur = pd.concat([_rows(rng, 2_000, 0.0).assign(ts="2024-01-01"),
                     _rows(rng, 2_000, 0.0, 0.3).assign(ts="2024-01-02")]).drop(columns="label")
    cfg = {"performance": {"auc": {"warn": 0.8, "fail": 0.75},
                           "drop": {"accuracy": {"warn": 0.05, "fail": 0.1}}}}
    rep = estimate(ref, cur, time="ts", config=cfg)
    d = json.loads(rep.to_json())
    assert d["estimated"] is True and "CBPE" in d["method"]
    assert [w["status"] for w in d["windows"]] == ["ok", "fail"]
    assert "realised" not in d["windows"][0]["metrics"]["auc"]
    assert not rep.passed
    page = rep.to_html()
    assert "ESTIMATE, not measured" in page and "<script" not in page


def test_bad_inputs_raise_named_errors() -> None:
    rng = np.random.default_rng(0)
    ref = _rows(rng, 500, 0.0)
    with pytest.raises(DataError, match="row 3"):
        estimate(ref.assign(prediction=np.r_[0.1, 0.2, 0.3, 1.5, np.full(496, 0.5)]), ref)
    with pytest.raises(DataError, match="row 2"):
        estimate(ref.assign(label=np.r_[0, 1, 2, np.zeros(497)]), ref)
    with pytest.raises(DataError, match="both classes"):
        estimate(ref.assign(label=0.0), ref)
    with pytest.raises(SchemaError, match="'score'"):
        estimate(ref, ref, prediction_column="score")
    with pytest.raises(ParameterError, match="calibration"):
        estimate(ref, ref, calibration="beta")
    with pytest.raises(ParameterError, match="cannot be estimated"):
        estimate(ref, ref, config={"performance": {"logloss": {"warn": 0.5, "fail": 0.6}}})
    with pytest.raises(DataError, match="row 1"):
        estimate(ref, ref.assign(prediction=np.r_[0.2, np.nan, np.full(498, 0.5)]))
    with pytest.raises(DataError, match="no rows"):
        estimate(ref, ref.head(0))


def test_cli_monitor_estimate(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    ref = tmp_path / "ref.parquet"
    cur = tmp_path / "cur.parquet"
    _rows(rng, 4_000, 0.0).to_parquet(ref)
    pd.concat([_rows(rng, 1_000, 0.0).assign(ts="2024-01-01"),
               _rows(rng, 1_000, 0.0, 0.3).assign(ts="2024-01-09")]).drop(
        columns="label").to_parquet(cur)
    out, page = tmp_path / "est.json", tmp_path / "est.html"
    args = ["monitor", "estimate", "--reference", str(ref), "--current", str(cur), "--time",
            "ts", "--window", "week", "--json", str(out), "--html", str(page)]
    assert main(args) == 0
    d = json.loads(out.read_text())
    assert d["estimated"] is True and len(d["windows"]) == 2
    assert "ESTIMATED" in capsys.readouterr().out
    cfg = tmp_path / "t.toml"
    cfg.write_text("[performance]\nauc = { warn = 0.8, fail = 0.75 }\n")
    assert main([*args, "--config", str(cfg)]) == 1
    assert main(["monitor", "estimate", "--reference", str(ref), "--current",
                 str(tmp_path / "missing.parquet")]) == 2


def test_cli_monitor_performance_html(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`monitor performance --html` (the realised counterpart of the estimate): one chart per
    metric, the windows' table, nothing external."""
    rng = np.random.default_rng(2)
    rows = pd.concat([_rows(rng, 600, loc).assign(ts=f"2024-01-0{i + 1}")
                      for i, loc in enumerate([0.0, 1.0, -1.0])]).reset_index(drop=True)
    rows["id"] = np.arange(len(rows))
    rows[["id", "ts", "prediction"]].to_parquet(tmp_path / "pred.parquet")
    rows[["id", "label"]].iloc[:1500].to_parquet(tmp_path / "labels.parquet")
    page = tmp_path / "perf.html"
    assert main(["monitor", "performance", "--predictions", str(tmp_path / "pred.parquet"),
                 "--labels", str(tmp_path / "labels.parquet"), "--join", "id", "--time", "ts",
                 "--objective", "binary", "--bootstrap", "20", "--html", str(page)]) == 0
    text = page.read_text()
    assert text.count("<svg") == 5  # auc, logloss, brier, accuracy, coverage
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        assert day in text
    assert "<script" not in text and "http" not in text.replace("http-equiv", "")

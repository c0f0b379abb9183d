"""Multivariate drift by a domain classifier (sapwood.monitoring.domain, `sapwood monitor
domain`): no drift between two samples of one distribution, a shifted feature flagged and
named first (its AUC against the analytic optimum), a correlation-only change detected."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from sapwood.cli.main import main
from sapwood.errors import DataError, ParameterError, SchemaError
from sapwood.monitoring.domain import domain_drift

N = 6_000


def _frame(rng: np.random.Generator, n: int = N, k: int = 6) -> pd.DataFrame:
    return pd.DataFrame(rng.standard_normal((n, k)), columns=[f"c{i}" for i in range(k)])


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_two_samples_of_one_distribution_do_not_drift(seed: int) -> None:
    rng = np.random.default_rng(seed)
    ref, cur = _frame(rng), _frame(rng)
    cur["cat"] = rng.choice(["a", "b", "c"], N)
    ref["cat"] = rng.choice(["a", "b", "c"], N)
    rep = domain_drift(ref, cur, seed=seed, n_jobs=1)
    assert rep.status == "ok" and not rep.drifted
    assert abs(rep.auc - 0.5) < 0.03
    assert rep.p_value > 0.01 or rep.auc < 0.55


def test_mean_shift_is_flagged_named_first_and_near_the_optimal_auc() -> None:
    rng = np.random.default_rng(10)
    ref, cur = _frame(rng), _frame(rng)
    cur["c2"] += 0.5
    rep = domain_drift(ref, cur, n_jobs=1)
    assert rep.drifted and rep.top_features(1) == ["c2"]
    assert rep.features[0]["shap_share"] > 0.5
    # the best possible AUC between N(0, 1) and N(0.5, 1): Phi(0.5 / sqrt(2))
    best = 0.5 * (1 + math.erf(0.5 / math.sqrt(2) / math.sqrt(2)))
    assert best - 0.05 < rep.auc < best + 0.015


def test_correlation_only_change_is_detected() -> None:
    rng = np.random.default_rng(11)
    ref, cur = _frame(rng), _frame(rng)
    # c1 becomes 0.8 c0 + 0.6 e: still N(0, 1), and every marginal is unchanged
    cur["c1"] = 0.8 * cur["c0"] + 0.6 * cur["c1"]
    for c in ref.columns:  # the marginals really are alike (two-sample KS)
        from scipy.stats import ks_2samp

        assert ks_2samp(ref[c], cur[c]).pvalue > 0.001
    rep = domain_drift(ref, cur, n_jobs=1)
    assert rep.status == "fail"
    assert set(rep.top_features(2)) == {"c0", "c1"}


def test_categorical_frequency_change_and_numpy_input() -> None:
    rng = np.random.default_rng(12)
    ref, cur = _frame(rng), _frame(rng)
    ref["cat"] = pd.Categorical(rng.choice(["a", "b", "c"], N, p=[0.6, 0.3, 0.1]))
    cur["cat"] = pd.Categorical(rng.choice(["a", "b", "c"], N, p=[0.3, 0.3, 0.4]))
    rep = domain_drift(ref, cur, n_jobs=1)
    assert rep.drifted and rep.top_features(1) == ["cat"]
    a, b = rng.standard_normal((3000, 4)), rng.standard_normal((3000, 4))
    b[:, 3] *= 2.0
    rep = domain_drift(a, b, n_jobs=1)
    assert rep.drifted and rep.top_features(1) == ["f3"]


def test_subsampling_is_seeded_and_capped() -> None:
    rng = np.random.default_rng(13)
    ref, cur = _frame(rng, 9_000), _frame(rng, 4_000)
    cfg = {"domain": {"max_rows": 3_000, "folds": 3}}
    r1 = domain_drift(ref, cur, config=cfg, seed=5, n_jobs=1)
    r2 = domain_drift(ref, cur, config=cfg, seed=5, n_jobs=1)
    assert r1.rows == {"reference": 3000, "current": 3000, "reference_total": 9000,
                       "current_total": 4000}
    assert r1.auc == r2.auc and len(r1.fold_auc) == 3
    d = json.loads(r1.to_json())
    assert d["rows"]["reference"] == 3000 and d["features"][0]["name"].startswith("c")


def test_bad_inputs_raise_named_errors() -> None:
    rng = np.random.default_rng(0)
    ref = _frame(rng, 200)
    with pytest.raises(SchemaError, match="c5"):
        domain_drift(ref, ref.drop(columns="c5"), n_jobs=1)
    with pytest.raises(DataError, match="at least 5 rows"):
        domain_drift(ref, ref.head(3), n_jobs=1)
    with pytest.raises(ParameterError, match="domain.auc"):
        domain_drift(ref, ref, config={"domain": {"auc": {"warn": 0.7, "fail": 0.6}}})
    with pytest.raises(ParameterError, match="unknown key"):
        domain_drift(ref, ref, config={"domain": {"aucc": 1}})
    with pytest.raises(SchemaError, match="columns"):
        domain_drift(np.zeros((10, 2)), np.zeros((10, 3)))


def test_cli_monitor_domain(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(14)
    ref, cur = _frame(rng, 3000), _frame(rng, 3000)
    ref.to_parquet(tmp_path / "ref.parquet")
    cur.to_parquet(tmp_path / "same.parquet")
    cur.assign(c4=cur["c4"] + 1.0).to_parquet(tmp_path / "moved.parquet")
    base = ["monitor", "domain", "--reference", str(tmp_path / "ref.parquet"), "--n-jobs", "1"]
    assert main([*base, "--current", str(tmp_path / "same.parquet")]) == 0
    out = tmp_path / "d.json"
    assert main([*base, "--current", str(tmp_path / "moved.parquet"), "--json", str(out)]) == 1
    d = json.loads(out.read_text())
    assert d["status"] == "fail" and d["features"][0]["name"] == "c4"
    assert main([*base, "--current", str(tmp_path / "moved.parquet"), "--features",
                 "c0,c1"]) == 0
    assert main([*base, "--current", str(tmp_path / "nope.parquet")]) == 2

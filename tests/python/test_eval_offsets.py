"""Offsets beyond training: eval_init_score for the estimators' eval sets, the warning for a
valid set without offsets, and ``sapwood score --init-score-column``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood import metrics
from sapwood.cli import main


def exposure_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    expo = rng.uniform(0.05, 5, n)
    y = rng.poisson(np.exp(0.6 * X[:, 0] - 0.3 * X[:, 1] ** 2) * expo).astype(np.float64)
    return X, y, np.log(expo)


def test_eval_init_score_scores_eval_sets_with_their_offsets() -> None:
    X, y, off = exposure_data(3000, 0)
    Xv, yv, offv = exposure_data(1000, 1)
    est = sapwood.GBMRegressor(objective="poisson", n_estimators=20, n_jobs=1)
    est.fit(X, y, init_score=off, eval_set=[(Xv, yv)], eval_init_score=[offv])
    got = est.evals_result_["valid_0"]["poisson_deviance"][-1]
    want = metrics.poisson_deviance(yv, est.predict(Xv, init_score=offv))
    assert got == pytest.approx(want, rel=1e-12)
    with pytest.raises(sapwood.DataError, match="eval_init_score has 2"):
        est.fit(X, y, init_score=off, eval_set=[(Xv, yv)], eval_init_score=[offv, offv])


def test_eval_init_score_classifier_and_ranker() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(800, 3))
    y = (X[:, 0] + rng.normal(size=800) > 0).astype(int)
    off = rng.normal(size=800)
    clf = sapwood.GBMClassifier(n_estimators=5, n_jobs=1).fit(
        X[:600], y[:600], init_score=off[:600], eval_set=[(X[600:], y[600:])],
        eval_init_score=[off[600:]])
    got = clf.evals_result_["valid_0"]["logloss"][-1]
    p = clf.predict_proba(X[600:], init_score=off[600:])[:, 1]
    assert got == pytest.approx(metrics.logloss(y[600:], p), rel=1e-12)
    sizes = np.full(40, 20)
    rel = rng.integers(0, 3, 800).astype(float)
    rk = sapwood.GBMRanker(n_estimators=5, n_jobs=1).fit(
        X, rel, group=sizes, init_score=off, eval_set=[(X, rel)], eval_group=[sizes],
        eval_init_score=[off])
    want = metrics.ndcg(rel, rk.predict(X, init_score=off), group=sizes, k=10)
    assert rk.evals_result_["valid_0"]["ndcg@10"][-1] == pytest.approx(want, rel=1e-12)


def test_valid_set_without_offsets_warns() -> None:
    X, y, off = exposure_data(1000, 3)
    with pytest.warns(UserWarning, match="valid set 'v' has none"):
        sapwood.train({"objective": "poisson", "n_estimators": 3},
                      sapwood.Dataset(X, y, init_score=off), valid_sets=[sapwood.Dataset(X, y)],
                      valid_names=["v"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sapwood.train({"objective": "poisson", "n_estimators": 3},
                      sapwood.Dataset(X, y, init_score=off),
                      valid_sets=[sapwood.Dataset(X, y, init_score=off)])


def test_score_init_score_column(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    X, y, off = exposure_data(2000, 4)
    b = sapwood.train({"objective": "poisson", "n_estimators": 10},
                      sapwood.Dataset(X, y, init_score=off))
    model = tmp_path / "m.sapwood"
    b.save(model)
    df = pd.DataFrame(X, columns=b.feature_names).assign(log_expo=off)
    src = tmp_path / "in.parquet"
    df.to_parquet(src)
    out = tmp_path / "out.parquet"
    rc = main(["score", "--no-progress", str(model), str(src), "-o", str(out),
               "--init-score-column", "log_expo", "--batch-rows", "700"])
    assert rc == 0
    got = pd.read_parquet(out)["prediction"].to_numpy()
    np.testing.assert_allclose(got, b.predict(X, init_score=off), rtol=1e-12)
    raw_out = tmp_path / "raw.parquet"
    assert main(["score", "--no-progress", str(model), str(src), "-o", str(raw_out),
                 "--predict", "raw", "--init-score-column", "log_expo"]) == 0
    np.testing.assert_allclose(pd.read_parquet(raw_out)["prediction"].to_numpy(),
                               b.predict(X, init_score=off, output="raw"), rtol=1e-12)
    capsys.readouterr()
    # a missing column, a missing value: exit 2 naming the column / row, no output left
    bad_out = tmp_path / "bad.parquet"
    assert main(["score", "--no-progress", str(model), str(src), "-o", str(bad_out),
                 "--init-score-column", "nope"]) == 2
    assert "nope" in capsys.readouterr().err and not bad_out.exists()
    df.loc[1234, "log_expo"] = np.nan
    df.to_parquet(src)
    assert main(["score", "--no-progress", str(model), str(src), "-o", str(bad_out),
                 "--init-score-column", "log_expo", "--batch-rows", "700"]) == 2
    assert "row 1234" in capsys.readouterr().err and not bad_out.exists()


def test_score_init_score_column_needs_one_output(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    b = sapwood.train({"objective": "multiclass", "num_class": 3, "n_estimators": 2},
                      sapwood.Dataset(X, rng.integers(0, 3, 300).astype(float)))
    src = tmp_path / "in.parquet"
    pd.DataFrame(X, columns=b.feature_names).assign(o=0.0).to_parquet(src)
    from sapwood.scoring.api import score

    with pytest.raises(sapwood.ParameterError, match="3 outputs"):
        score(b, src, tmp_path / "o.parquet", init_score_column="o")

"""sapwood validate with query metrics: ndcg@k / map@k within the queries of a qid column,
checked against a plain-numpy NDCG, the baseline bootstrap resampling whole queries, and the
errors that name what is missing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood.cli import main
from test_ranking import make_queries, ref_map, ref_ndcg


@pytest.fixture(scope="module")
def ranking_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("rank")
    X, y, sizes = make_queries(300, seed=3)
    Xt, yt, st = make_queries(120, seed=4)
    cols = [f"f{j}" for j in range(X.shape[1])]
    strong = sapwood.train({"objective": "lambdarank", "n_estimators": 40, "num_leaves": 15},
                           sapwood.Dataset(pd.DataFrame(X, columns=cols), y, group=sizes))
    weak = sapwood.train({"objective": "lambdarank", "n_estimators": 2, "num_leaves": 3},
                         sapwood.Dataset(pd.DataFrame(X, columns=cols), y, group=sizes))
    strong.save(d / "strong.sapwood")
    weak.save(d / "weak.sapwood")
    test = pd.DataFrame(Xt, columns=cols)
    test["rel"] = yt
    test["query"] = np.repeat(np.arange(st.size) * 7 + 100, st)  # ids need not be 0..n-1
    test["segment"] = np.where(test["query"] % 2 == 0, "even", "odd")
    test.to_csv(d / "test.csv", index=False)
    return d


def _ref_mean(metric, test: pd.DataFrame, pred: np.ndarray, k: int) -> float:  # type: ignore[no-untyped-def]
    vals = []
    for _, idx in test.groupby("query", sort=False).indices.items():
        vals.append(metric(pred[idx], test["rel"].to_numpy()[idx], k))
    return float(np.mean(vals))


def test_ndcg_and_map_at_k_match_numpy(ranking_dir: Path) -> None:
    d = ranking_dir
    (d / "c.toml").write_text('label = "rel"\nqid = "query"\n[metrics]\n'
                              '"ndcg@5" = ">= 0.3"\n"map@3" = ">= 0.1"\nndcg = ">= 0.3"\n'
                              '[[slices]]\ncolumn = "segment"\nmetrics = { "ndcg@5" = ">= 0.2" }\n')
    rc = main(["validate", str(d / "strong.sapwood"), "--data", str(d / "test.csv"),
               "--criteria", str(d / "c.toml"), "--report", str(d / "r.json")])
    report = json.loads((d / "r.json").read_text())
    assert rc == 0, report["failed"]
    test = pd.read_csv(d / "test.csv")
    pred = sapwood.load(d / "strong.sapwood").predict(test[[f"f{j}" for j in range(8)]])
    assert report["metrics"]["ndcg@5"] == pytest.approx(_ref_mean(ref_ndcg, test, pred, 5))
    assert report["metrics"]["map@3"] == pytest.approx(_ref_mean(ref_map, test, pred, 3))
    assert report["metrics"]["ndcg"] == pytest.approx(
        _ref_mean(lambda s, y, k: ref_ndcg(s, y, None), test, pred, 0))
    even = test[test.segment == "even"].reset_index(drop=True)
    pe = pred[(test.segment == "even").to_numpy()]
    got = [s for s in report["slices"] if s["value"] == "even"][0]["metrics"]["ndcg@5"]
    assert got == pytest.approx(_ref_mean(ref_ndcg, even, pe, 5))


def test_a_weaker_model_is_rejected_against_its_baseline(ranking_dir: Path) -> None:
    d = ranking_dir
    (d / "b.toml").write_text('label = "rel"\nqid = "query"\n[metrics]\n"ndcg@10" = ">= 0"\n'
                              '[baseline]\nmax_drop = { "ndcg@10" = 0.01 }\nbootstrap = 40\n')
    rc = main(["validate", str(d / "weak.sapwood"), "--data", str(d / "test.csv"),
               "--criteria", str(d / "b.toml"), "--baseline", str(d / "strong.sapwood"),
               "--report", str(d / "rb.json")])
    report = json.loads((d / "rb.json").read_text())
    assert rc == 1
    chk = [c for c in report["checks"] if c["kind"] == "baseline"][0]
    assert chk["drop"] > 0.01 and not chk["passed"]
    lo, hi = chk["difference_ci"]
    assert lo <= chk["difference"] <= hi < 0  # queries resampled: a real interval around it


def test_missing_qid_and_bad_names_are_errors_that_say_so(
        ranking_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = ranking_dir
    (d / "noq.toml").write_text('label = "rel"\n[metrics]\n"ndcg@5" = ">= 0.3"\n')
    rc = main(["validate", str(d / "strong.sapwood"), "--data", str(d / "test.csv"),
               "--criteria", str(d / "noq.toml")])
    assert rc == 2 and "qid" in capsys.readouterr().err
    (d / "bad.toml").write_text('label = "rel"\nqid = "query"\n[metrics]\n"ndcg@0" = ">= 0.3"\n')
    rc = main(["validate", str(d / "strong.sapwood"), "--data", str(d / "test.csv"),
               "--criteria", str(d / "bad.toml")])
    assert rc == 2 and "ndcg@0" in capsys.readouterr().err
    (d / "col.toml").write_text('label = "rel"\nqid = "nope"\n[metrics]\n"ndcg@5" = ">= 0"\n')
    rc = main(["validate", str(d / "strong.sapwood"), "--data", str(d / "test.csv"),
               "--criteria", str(d / "col.toml")])
    assert rc == 2 and "nope" in capsys.readouterr().err

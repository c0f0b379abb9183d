"""sapwood train CONFIG.toml and sapwood validate: exit codes, reports, criteria errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood.cli import main
from sklearn.metrics import log_loss, roc_auc_score

CRITERIA = """\
label = "label"                 # the column holding the truth in --data
[metrics]
auc = ">= 0.85"
log_loss = "<= 0.40"
[baseline]                      # used when --baseline is given
max_drop = { auc = 0.005 }
bootstrap = 50
[[slices]]
column = "origin"
metrics = { auc = ">= 0.80" }
[latency]
p99_single_row_us = 1_000_000
min_batch_rows_per_s = 1
[model]
max_file_bytes = 10_000_000
"""

TRAIN = """\
[data]
path = "train.parquet"
label = "label"
drop = ["origin"]
[params]
objective = "binary"
n_estimators = {n}
metric = ["auc", "logloss"]
n_jobs = 1
[validation]
fraction = 0.2
early_stopping_rounds = 10
[output]
path = "{out}"
tags = {{ team = "demo" }}
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("validate")
    rng = np.random.default_rng(0)
    n = 3000
    df = pd.DataFrame({"a": rng.standard_normal(n), "b": rng.standard_normal(n),
                       "c": rng.standard_normal(n),
                       "origin": rng.choice(["EWR", "JFK", "LGA"], n)})
    df["label"] = ((df.a + 0.5 * df.b + 0.4 * rng.standard_normal(n)) > 0).astype(int)
    df.iloc[:2000].to_parquet(d / "train.parquet")
    df.iloc[2000:].to_csv(d / "test.csv", index=False)
    (d / "train.toml").write_text(TRAIN.format(n=60, out="model.sapwood"))
    (d / "old.toml").write_text(TRAIN.format(n=3, out="old.sapwood"))
    (d / "acc.toml").write_text(CRITERIA)
    assert main(["train", str(d / "train.toml"), "--no-progress"]) == 0
    assert main(["train", str(d / "old.toml"), "--no-progress"]) == 0
    return d


def test_train_config_is_reproducible(workdir: Path) -> None:
    first = (workdir / "model.sapwood").read_bytes()
    assert main(["train", str(workdir / "train.toml"), "--no-progress"]) == 0
    assert (workdir / "model.sapwood").read_bytes() == first
    b = sapwood.load(workdir / "model.sapwood")
    assert b.tags == {"team": "demo"}
    assert b.feature_names == ["a", "b", "c"]
    assert b.provenance["config"] == "train.toml"


def test_validate_accepts_and_reports(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = workdir
    rc = main(["validate", str(d / "model.sapwood"), "--data", str(d / "test.csv"),
               "--criteria", str(d / "acc.toml"), "--report", str(d / "r.json"),
               "--html", str(d / "r.html")])
    report = json.loads((d / "r.json").read_text())
    test = pd.read_csv(d / "test.csv")
    p = sapwood.load(d / "model.sapwood").predict(test[["a", "b", "c"]])
    assert report["metrics"]["auc"] == pytest.approx(roc_auc_score(test.label, p))
    assert report["metrics"]["log_loss"] == pytest.approx(log_loss(test.label, p))
    assert rc == (0 if report["accepted"] else 1)
    assert rc == 0, report["failed"]
    kinds = {c["kind"] for c in report["checks"]}
    assert kinds == {"metric", "slice", "latency", "size"}
    assert {s["value"] for s in report["slices"]} == {"EWR", "JFK", "LGA"}
    html = (d / "r.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "ACCEPTED" in html
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert html.count("<svg") >= 4  # ROC, PR, calibration, importance


def test_validate_rejects_with_baseline_and_failing_metric(workdir: Path,
                                                           tmp_path: Path) -> None:
    d = workdir
    crit = tmp_path / "strict.toml"
    crit.write_text(CRITERIA.replace('auc = ">= 0.85"', 'auc = ">= 0.9999"').replace(
        "max_drop = { auc = 0.005 }", "max_drop = { auc = 0.005, log_loss = 0.01 }"))
    rc = main(["validate", str(d / "old.sapwood"), "--data", str(d / "test.csv"),
               "--criteria", str(crit), "--baseline", str(d / "model.sapwood"),
               "--report", str(tmp_path / "r.json")])
    assert rc == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert "auc >= 0.9999" in report["failed"]
    base = next(c for c in report["checks"]
                if c["kind"] == "baseline" and c["metric"] == "log_loss")
    assert base["drop"] > 0.01 and not base["passed"]  # 3 rounds vs 60: the champion wins
    lo, hi = base["difference_ci"]
    assert lo <= base["difference"] <= hi
    failing = next(c for c in report["checks"] if c["criterion"] == "auc >= 0.9999")
    assert failing["margin"] < 0


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ('label = "label"\n[metrics]\nauc = ">= 0.85"\nlog_loss = "<< 0.4"\n',
         "line 4: key 'metrics.log_loss'"),
        ('label = "label"\n[metrics]\nbogus = ">= 1"\n', "line 3: key 'metrics.bogus'"),
        ('label = "label"\n[metrics\n', "line 2"),
        ('label = "label"\n[latency]\np99_single_row_us = "fast"\n',
         "line 3: key 'latency.p99_single_row_us'"),
        ('label = "label"\n[[slices]]\nmetrics = { auc = ">= 0.8" }\n', "slices.column"),
        ('[metrics]\nauc = ">= 0.8"\n', "key 'label'"),
        ('label = "label"\nextra = 1\n', "line 2: key 'extra'"),
        ('label = "nope"\n', "no label column 'nope'"),
    ],
)
def test_malformed_criteria_exit_2(workdir: Path, tmp_path: Path, text: str, needle: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    crit = tmp_path / "c.toml"
    crit.write_text(text)
    rc = main(["validate", str(workdir / "model.sapwood"), "--data",
               str(workdir / "test.csv"), "--criteria", str(crit)])
    assert rc == 2
    assert needle in capsys.readouterr().err


def test_unrunnable_inputs_exit_2(workdir: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    d = workdir
    bad = tmp_path / "bad.sapwood"
    bad.write_bytes((d / "model.sapwood").read_bytes()[:-3])
    assert main(["validate", str(bad), "--data", str(d / "test.csv"),
                 "--criteria", str(d / "acc.toml")]) == 2
    assert "truncated" in capsys.readouterr().err
    pd.read_csv(d / "test.csv").drop(columns=["b"]).to_csv(tmp_path / "t.csv", index=False)
    assert main(["validate", str(d / "model.sapwood"), "--data", str(tmp_path / "t.csv"),
                 "--criteria", str(d / "acc.toml")]) == 2
    assert "'b'" in capsys.readouterr().err
    assert main(["validate", str(d / "model.sapwood"), "--data", str(tmp_path / "none.csv"),
                 "--criteria", str(d / "acc.toml")]) == 2


def test_train_config_errors_name_line_and_key(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[data]\npath = "x.csv"\nlabel = "y"\nlabels = 3\n[output]\npath = "m"\n')
    assert main(["train", str(cfg)]) == 2
    assert "line 4: key 'data.labels'" in capsys.readouterr().err

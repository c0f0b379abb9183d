"""`sapwood diagnose` (sapwood.validation.diagnose): planted faults are each found (a leaked
label copy, a shuffled label slice, duplicated rows, a drifting feature, an identifier column,
...) and clean data raises nothing at warn or fail over several seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood.cli.main import main
from sapwood.errors import DataError, ParameterError, SchemaError
from sapwood.validation.diagnose import diagnose

PARAMS = {"objective": "binary", "n_estimators": 100, "learning_rate": 0.1, "num_leaves": 15,
          "n_jobs": 1}


def _rows(rng: np.random.Generator, n: int) -> pd.DataFrame:
    X = pd.DataFrame(rng.standard_normal((n, 6)), columns=[f"x{i}" for i in range(6)])
    X["region"] = pd.Categorical(rng.choice(["r0", "r1", "r2", "r3", "r4"], n))
    X["size"] = rng.integers(0, 5, n).astype(float) + rng.random(n)
    logit = (0.9 * X.x0 - 0.8 * X.x1 + 0.7 * X.x2 * X.x3 + 0.6 * np.sin(2 * X.x4)
             + 0.3 * X["size"] - 0.6 + 0.4 * (X.region == "r1"))
    X["label"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(float)
    return X


def _data(seed: int, n: int = 12_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    return _rows(rng, n), _rows(rng, n // 2)


def _fit(train: pd.DataFrame, params: dict | None = None) -> sapwood.Booster:  # type: ignore[type-arg]
    feats = [c for c in train.columns if c != "label"]
    return sapwood.train(params or PARAMS, sapwood.Dataset(train[feats], train["label"]))


def _found(rep, check: str, key: str | None = None, severity: str = "warn") -> bool:  # type: ignore[no-untyped-def]
    return any(key is None or f["id"] == f"{check}:{key}" for f in rep.of(check, severity))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_data_raises_nothing_at_warn_or_fail(seed: int) -> None:
    train, test = _data(seed)
    rep = diagnose(_fit(train), train, test, seed=seed, n_jobs=1)
    bad = [f["id"] for f in rep.findings if f["severity"] != "info"]
    assert bad == [], rep.summary()
    assert rep.passed and rep.status == "ok"
    assert all(v == "ran" for v in rep.checks.values())


def test_leaked_label_copy_fails() -> None:
    train, test = _data(10)
    for df in (train, test):
        df.insert(0, "outcome_code", df["label"] * 2 + 1)  # the label, recoded
    rep = diagnose(_fit(train), train, test, n_jobs=1)
    assert _found(rep, "leakage", "outcome_code", "fail")
    assert not rep.passed
    # the honest features are not suspects
    assert [f["evidence"]["feature"] for f in rep.of("leakage")] == ["outcome_code"]
    assert _found(rep, "importance", "outcome_code")


def test_shuffled_label_slice_is_a_weak_slice() -> None:
    train, test = _data(11)
    rng = np.random.default_rng(0)
    for df in (train, test):
        m = (df["region"] == "r3").to_numpy()
        df.loc[m, "label"] = rng.permutation(df.loc[m, "label"].to_numpy())
    rep = diagnose(_fit(train), train, test, n_jobs=1)
    f = rep.of("weak_slice", "warn")
    assert [x["id"] for x in f] == ["weak_slice:region=r3"]
    ev = f[0]["evidence"]
    assert ev["rows"] == int((test["region"] == "r3").sum()) and ev["slice"] < 0.6


def test_flipped_labels_top_the_label_noise_suspects() -> None:
    # labels flipped at random rows (no feature marks them): the rows with the highest
    # cross-validated loss are mostly those rows
    rng = np.random.default_rng(12)
    n = 12_000
    X = pd.DataFrame(rng.standard_normal((n + 3000, 4)), columns=["a", "b", "c", "d"])
    X["label"] = (rng.random(n + 3000) < 1 / (1 + np.exp(-6 * X.a))).astype(float)
    train, test = X.iloc[:n].copy(), X.iloc[n:].copy()
    flipped = rng.choice(n, 400, replace=False)
    train.loc[flipped, "label"] = 1.0 - train.loc[flipped, "label"]
    rep = diagnose(_fit(train), train, test, n_jobs=1)
    f = rep.of("label_noise", "info")
    assert len(f) == 1
    listed = [r["row"] for r in f[0]["evidence"]["highest_loss_rows"]]
    assert len(listed) == 20
    assert len(set(listed) & set(flipped.tolist())) >= 16


def test_duplicated_rows_fail_and_near_duplicates_warn() -> None:
    train, test = _data(13)
    copies = train.sample(900, random_state=0)
    rep = diagnose(_fit(train), train, pd.concat([test, copies]), n_jobs=1)
    f = rep.of("duplicates", "fail")
    assert f and f[0]["evidence"]["test_rows_matching"] == 900
    near = copies.copy()
    near[[f"x{i}" for i in range(6)]] += 1e-7  # numerically different, the same rows
    rep = diagnose(_fit(train), train, pd.concat([test, near]), n_jobs=1)
    assert not rep.of("duplicates", "warn")
    assert rep.of("near_duplicates", "warn")


def test_drifting_feature_is_found() -> None:
    train, test = _data(14)
    test["x5"] = test["x5"] + 1.0
    rep = diagnose(_fit(train), train, test, n_jobs=1)
    assert _found(rep, "feature_drift", "x5")
    skew = rep.of("skew", "warn")
    assert skew and skew[0]["evidence"]["features"][0]["name"] == "x5"


def test_identifier_column_is_found() -> None:
    train, test = _data(15)
    train.insert(0, "customer_id", np.arange(len(train)) * 7 + 1000)
    test.insert(0, "customer_id", np.arange(len(test)) * 7 + 1000 + 7 * len(train))
    rep = diagnose(_fit(train), train, test, n_jobs=1)
    assert _found(rep, "identifier", "customer_id")
    # a float timestamp that rises with the rows
    train2, test2 = _data(16)
    train2.insert(0, "ts", np.sort(np.random.default_rng(0).random(len(train2))) * 1e6)
    test2.insert(0, "ts", 1e6 + np.arange(len(test2), dtype=float))
    rep = diagnose(_fit(train2), train2, test2, n_jobs=1)
    assert _found(rep, "identifier", "ts")


def test_columns_labels_and_fit_checks() -> None:
    train, test = _data(17)
    for df in (train, test):
        df["x0_copy"] = df["x0"]
        df["sparse"] = np.where(np.arange(len(df)) % 50 == 0, 1.0, np.nan)
    # a slice whose label is constant: the category decides the label
    for df in (train, test):
        df.loc[df["region"] == "r2", "label"] = 1.0
    over = {**PARAMS, "n_estimators": 400, "learning_rate": 0.5, "num_leaves": 63,
            "min_child_samples": 2}
    rep = diagnose(_fit(train, over), train, test, n_jobs=1)
    assert _found(rep, "duplicate_feature", "x0_copy")
    assert _found(rep, "missing", "sparse")
    assert _found(rep, "constant_label_slice", "region=r2")
    f = rep.of("overfitting", "warn")
    assert f and f[0]["evidence"]["best_round"] < 400
    under = {**PARAMS, "n_estimators": 20, "learning_rate": 0.02}
    rep = diagnose(_fit(train, under), train, test, n_jobs=1)
    assert rep.of("underfitting")


def test_imbalance_regression_and_config() -> None:
    rng = np.random.default_rng(18)
    train, test = _rows(rng, 8000), _rows(rng, 4000)
    train, test = (df[(df["label"] == 0).to_numpy() | (rng.random(len(df)) < 0.012)]
                   for df in (train, test))
    rep = diagnose(_fit(train), train, test, n_jobs=1)
    assert rep.of("imbalance", "info")
    # regression runs end to end, and the config turns checks off and moves levels
    reg = train.assign(label=train["x0"] * 2 + rng.normal(0, 0.5, len(train)))
    regt = test.assign(label=test["x0"] * 2 + rng.normal(0, 0.5, len(test)))
    model = _fit(reg, {**PARAMS, "objective": "regression"})
    rep = diagnose(model, reg, regt, n_jobs=1,
                   config={"diagnose": {"leakage": {"warn": 0.5, "fail": 0.99},
                                        "skew": {"enabled": False}}})
    assert _found(rep, "leakage", "x0") and rep.checks["skew"] == "disabled"
    with pytest.raises(ParameterError, match="unknown check"):
        diagnose(model, reg, regt, config={"diagnose": {"leak": {}}})
    with pytest.raises(ParameterError, match="diagnose.skew.severity"):
        diagnose(model, reg, regt, config={"diagnose": {"skew": {"severity": "bad"}}})


def test_bad_inputs_raise_named_errors() -> None:
    train, test = _data(19, 2000)
    model = _fit(train)
    with pytest.raises(SchemaError, match="x3"):
        diagnose(model, train, test.drop(columns="x3"))
    with pytest.raises(SchemaError, match="'y'"):
        diagnose(model, train, test, label="y")
    bad = test.copy()
    bad.loc[5, "label"] = np.nan
    with pytest.raises(DataError, match="row 5"):
        diagnose(model, train, bad)


def test_cli_diagnose(tmp_path) -> None:  # type: ignore[no-untyped-def]
    train, test = _data(20, 6000)
    model = _fit(train)
    mp = tmp_path / "m.sapwood"
    model.save(mp)
    train.to_parquet(tmp_path / "train.parquet")
    test.to_parquet(tmp_path / "test.parquet")
    out, page = tmp_path / "d.json", tmp_path / "d.html"
    args = ["diagnose", str(mp), "--train", str(tmp_path / "train.parquet"), "--test",
            str(tmp_path / "test.parquet"), "--n-jobs", "1", "--json", str(out), "--html",
            str(page)]
    assert main(args) == 0
    d = json.loads(out.read_text())
    assert d["status"] == "ok" and "findings" in d
    assert "<script" not in page.read_text() and "sapwood diagnose" in page.read_text()
    leaky = test.assign(x1=test["label"])
    leaky.to_parquet(tmp_path / "leaky.parquet")
    train.assign(x1=train["label"]).to_parquet(tmp_path / "leaky_train.parquet")
    assert main(["diagnose", str(mp), "--train", str(tmp_path / "leaky_train.parquet"),
                 "--test", str(tmp_path / "leaky.parquet"), "--n-jobs", "1"]) == 1
    cfg = tmp_path / "c.toml"
    cfg.write_text("[diagnose.leakage]\nenabled = false\n[diagnose.weak_slice]\nenabled = "
                   "false\n[diagnose.skew]\nenabled = false\n[diagnose.feature_drift]\n"
                   "enabled = false\n")
    assert main(["diagnose", str(mp), "--train", str(tmp_path / "leaky_train.parquet"),
                 "--test", str(tmp_path / "leaky.parquet"), "--n-jobs", "1", "--config",
                 str(cfg)]) in (0, 1)
    assert main(["diagnose", str(mp), "--train", str(tmp_path / "nope.parquet"), "--test",
                 str(tmp_path / "test.parquet")]) == 2


def test_multiclass_runs_every_check_and_finds_a_leak() -> None:
    rng = np.random.default_rng(21)

    def rows(n: int) -> pd.DataFrame:
        X = pd.DataFrame(rng.standard_normal((n, 4)), columns=list("abcd"))
        z = np.c_[X.a, X.b, -X.a - X.b]
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        X["label"] = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1).astype(float)
        X["ticket"] = X["label"].map({0.0: "A", 1.0: "B", 2.0: "C"}).astype("category")
        return X

    train, test = rows(5000), rows(2500)
    model = _fit(train, {**PARAMS, "objective": "multiclass", "num_class": 3,
                         "n_estimators": 40})
    rep = diagnose(model, train, test, n_jobs=1)
    assert all(v == "ran" for v in rep.checks.values()), rep.checks
    assert _found(rep, "leakage", "ticket", "fail")
    assert [f["evidence"]["feature"] for f in rep.of("leakage")] == ["ticket"]

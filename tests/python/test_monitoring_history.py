"""Monitoring over time: the profile store, `monitor history` and `monitor performance`.

References: PSI and null rates recomputed with numpy on the raw rows of each merged window,
metrics with scikit-learn on the same joined rows."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sapwood
from sapwood import Profile
from sapwood.cli.main import main
from sapwood.errors import DataError, ParameterError, SchemaError
from sapwood.monitoring import compare
from sapwood.monitoring.history import history, merge_windows
from sapwood.monitoring.performance import performance
from sapwood.monitoring.store import ProfileStore, model_checksum
from sklearn.metrics import log_loss, mean_absolute_error, roc_auc_score

ROOT = Path(__file__).resolve().parents[2]
# The folder holding the sapwood under test (the source tree with a built extension, or
# site-packages after pip install): subprocesses must import that one, not ROOT/python.
SAPWOOD_PATH = str(Path(sapwood.__file__).resolve().parents[1])
DAY0 = dt.datetime(2024, 3, 4, tzinfo=dt.UTC)  # a Monday


def _batch(rng: np.random.Generator, n: int, shift: float = 0.0,
           nan_share: float = 0.0) -> pd.DataFrame:
    a = rng.standard_normal(n) + shift
    b = rng.standard_normal(n)
    if nan_share:
        b[rng.random(n) < nan_share] = np.nan
    return pd.DataFrame({"a": a, "b": b})


@pytest.fixture(scope="module")
def reference() -> tuple[pd.DataFrame, Profile]:
    ref = _batch(np.random.default_rng(0), 20_000)
    return ref, Profile.from_data(ref)


# ---------------------------------------------------------------------------- the store
def test_store_round_trip(tmp_path: Path, reference) -> None:
    _, ref = reference
    model = tmp_path / "m.bin"
    model.write_bytes(b"model bytes")
    store = ProfileStore(tmp_path / "store")
    cur = Profile.from_data(_batch(np.random.default_rng(1), 500), edges_from=ref)
    path = store.append(cur, window_start="2024-03-04T10:00:00Z",
                        window_end="2024-03-04T11:00:00+00:00", model=model, source="batch-1")
    assert "date=2024-03-04" in path and os.path.isfile(path)
    [rec] = store.read()
    assert rec.profile == cur
    assert rec.rows == 500 and rec.source == "batch-1"
    assert rec.window_start == dt.datetime(2024, 3, 4, 10, tzinfo=dt.UTC)
    assert rec.window_end == dt.datetime(2024, 3, 4, 11, tzinfo=dt.UTC)
    assert rec.model == hashlib.sha256(b"model bytes").hexdigest()
    # filters: by model (full or prefix, or the file) and by time
    assert len(store.read(model=rec.model[:10])) == 1
    assert store.read(model="0" * 64) == []
    assert store.read(since="2024-03-05") == []
    assert len(store.read(since="2024-03-04", until="2024-03-05")) == 1
    # temporaries and foreign files are never read as windows
    Path(path).with_name(".part-x.parquet.123.abcdef12.tmp").write_bytes(b"partial")
    Path(path).with_name("notes.txt").write_text("x")
    assert len(store.read()) == 1


def test_store_on_an_fsspec_file_system(reference) -> None:
    _, ref = reference
    store = ProfileStore("memory://sapwood-test-store")
    store.append(ref, window_start=DAY0)
    store.append(ref, window_start=DAY0 + dt.timedelta(days=1))
    recs = store.read()
    assert [r.window_start for r in recs] == [DAY0, DAY0 + dt.timedelta(days=1)]
    assert recs[1].profile == ref


def test_booster_checksum_is_the_model_files(tmp_path: Path) -> None:
    X = np.random.default_rng(0).standard_normal((300, 3))
    b = sapwood.train({"objective": "regression", "n_estimators": 3, "n_jobs": 1},
                      sapwood.Dataset(X, X[:, 0]))
    b.save(tmp_path / "m.sapwood")
    assert model_checksum(b) == model_checksum(tmp_path / "m.sapwood") == hashlib.sha256(
        (tmp_path / "m.sapwood").read_bytes()).hexdigest()


def test_store_bad_input(tmp_path: Path, reference) -> None:
    _, ref = reference
    store = ProfileStore(tmp_path / "s")
    with pytest.raises(ParameterError, match="window_end"):
        store.append(ref, window_start="2024-03-05", window_end="2024-03-04")
    with pytest.raises(ParameterError, match="ISO 8601"):
        store.append(ref, window_start="yesterday")
    with pytest.raises(ParameterError, match="Profile"):
        store.append({"not": "a profile"})  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="retention_days"):
        ProfileStore(tmp_path / "s", retention_days=0)
    assert not (tmp_path / "s").exists() or store.read() == []


def test_retention_drops_old_windows_on_append_and_compact(tmp_path: Path, reference) -> None:
    _, ref = reference
    store = ProfileStore(tmp_path / "s")
    for d in range(10):
        store.append(ref, window_start=DAY0 + dt.timedelta(days=d))
    now = DAY0 + dt.timedelta(days=10)
    assert store.compact(5, now=now) == 5  # days 0..4 started more than 5 days before now
    assert [r.window_start for r in store.read()] == [DAY0 + dt.timedelta(days=d)
                                                      for d in range(5, 10)]
    assert not (tmp_path / "s" / "date=2024-03-04").exists()  # emptied partitions go
    kept = ProfileStore(tmp_path / "s", retention_days=2)
    kept.append(ref, window_start=now, now=now)
    assert [r.window_start.day for r in kept.read()] == [12, 13, 14]


_WRITER = """
import sys
import numpy as np
from sapwood import Profile
from sapwood.monitoring.store import ProfileStore
store, who = ProfileStore(sys.argv[1]), int(sys.argv[2])
ref = Profile.from_data(np.arange(100.0).reshape(-1, 1))
for i in range(25):
    # both writers append to the same days: file names, not windows, keep them apart
    store.append(ref, window_start=f"2024-03-{1 + i % 5:02d}T00:00:00Z", source=f"{who}-{i}")
"""


def test_two_concurrent_writers_lose_no_window(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SAPWOOD_PATH}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path / "s"), str(w)],
                              env=env) for w in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    recs = ProfileStore(tmp_path / "s").read()
    assert sorted(r.source for r in recs) == sorted(f"{w}-{i}" for w in range(2)
                                                    for i in range(25))
    assert not [p for p in (tmp_path / "s").rglob(".*")]  # no temporary left behind


# ---------------------------------------------------------------------------- history
def _fill(store: ProfileStore, ref: Profile, days: int, *, drift_from: int | None = None,
          seed: int = 5) -> list[pd.DataFrame]:
    """Two batches a day; feature a shifts by 1.5 from day ``drift_from``, b's null rate grows."""
    rng = np.random.default_rng(seed)
    raw = []
    for d in range(days):
        parts = []
        for h in (3, 15):
            shift = 1.5 if drift_from is not None and d >= drift_from else 0.0
            df = _batch(rng, 1500 + 100 * d, shift, nan_share=0.01 * d)
            store.append(Profile.from_data(df, edges_from=ref),
                         window_start=DAY0 + dt.timedelta(days=d, hours=h), source=f"d{d}h{h}")
            parts.append(df)
        raw.append(pd.concat(parts, ignore_index=True))
    return raw


def _numpy_psi(ref: np.ndarray, cur: np.ndarray, cuts: np.ndarray) -> float:
    rb = np.bincount(np.searchsorted(cuts, ref.astype(np.float32), side="left"),
                     minlength=cuts.size + 1)
    cb = np.bincount(np.searchsorted(cuts, cur.astype(np.float32), side="left"),
                     minlength=cuts.size + 1)
    p = np.maximum(rb / rb.sum(), 1e-4)
    q = np.maximum(cb / cb.sum(), 1e-4)
    return float(np.sum((q - p) * np.log(q / p)))


def test_history_numbers_match_numpy_on_the_merged_windows(tmp_path: Path, reference) -> None:
    ref_df, ref = reference
    store = ProfileStore(tmp_path / "s")
    raw = _fill(store, ref, 6, drift_from=3)
    rep = history(store, reference=ref)
    assert [w.label for w in rep.windows] == [(DAY0 + dt.timedelta(days=d)).date().isoformat()
                                              for d in range(6)]
    cuts = {c: np.asarray(compare(ref, ref).features[c]["decile_cuts"], dtype=np.float32)
            for c in ("a", "b")}
    for d, df in enumerate(raw):
        assert rep.dataset["rows"][d] == len(df)
        assert rep.windows[d].batches == 2
        for c in ("a", "b"):
            s = rep.features[c]["series"]
            r, x = ref_df[c].to_numpy(), df[c].to_numpy()
            want = _numpy_psi(r[~np.isnan(r)], x[~np.isnan(x)], cuts[c])
            assert s["psi"][d] == pytest.approx(want, rel=1e-9, abs=1e-12)
            assert s["null_rate"][d] == pytest.approx(np.isnan(x).mean(), abs=1e-15)
        if d:  # against the previous window: the previous window's own deciles
            prev = raw[d - 1]["a"].to_numpy()
            pcuts = np.asarray(compare(Profile.from_data(raw[d - 1], edges_from=ref),
                                       Profile.from_data(df, edges_from=ref))
                               .features["a"]["decile_cuts"], dtype=np.float32)
            want = _numpy_psi(prev, df["a"].to_numpy(), pcuts)
            assert rep.features["a"]["series"]["psi_vs_previous"][d] == pytest.approx(
                want, rel=1e-9, abs=1e-12)
    # weekly windows merge the same stored profiles exactly
    week = merge_windows(store.read(), "week")
    assert len(week) == 1 and week[0].profile == Profile.from_data(
        pd.concat(raw, ignore_index=True), edges_from=ref)


def test_alert_first_window(tmp_path: Path, reference) -> None:
    _, ref = reference
    store = ProfileStore(tmp_path / "s")
    raw = _fill(store, ref, 7, drift_from=4)
    rep = history(store, reference=ref)
    psi_a = next(a for a in rep.alerts if a["feature"] == "a" and a["check"] == "psi")
    assert psi_a["first_fail"] == (DAY0 + dt.timedelta(days=4)).date().isoformat()
    assert psi_a["first_warn"] == psi_a["first_fail"]  # a jump, not a creep
    assert psi_a["windows_at_warn_or_worse"] == 3
    assert not any(a["feature"] == "a" and a["first_warn"] < psi_a["first_warn"]
                   for a in rep.alerts)
    prev_a = next(a for a in rep.alerts if a["feature"] == "a"
                  and a["check"] == "psi_vs_previous")
    assert prev_a["windows_at_warn_or_worse"] == 1  # only the day of the jump
    # null rate of b grows ~1% a day (the reference has none): fails at 0.05, counted by numpy
    nulls = next(a for a in rep.alerts if a["feature"] == "b"
                 and a["check"] == "null_rate_increase")
    first = next(d for d, df in enumerate(raw) if df["b"].isna().mean() >= 0.05)
    assert nulls["first_fail"] == (DAY0 + dt.timedelta(days=first)).date().isoformat()
    assert not rep.passed
    # a quiet history raises no alert
    quiet = ProfileStore(tmp_path / "q")
    rng = np.random.default_rng(9)
    for d in range(5):
        quiet.append(Profile.from_data(_batch(rng, 3000), edges_from=ref),
                     window_start=DAY0 + dt.timedelta(days=d))
    ok = history(quiet, reference=ref)
    assert ok.alerts == [] and ok.passed


class _Balance(HTMLParser):
    VOID = {"meta", "br", "img", "input", "link", "hr", "col", "area", "base", "wbr"}
    SVG_VOID = {"rect", "line", "path", "circle"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()


def test_history_html_is_well_formed_and_self_contained(tmp_path: Path, reference) -> None:
    _, ref = reference
    store = ProfileStore(tmp_path / "s")
    _fill(store, ref, 4, drift_from=2)
    text = history(store, reference=ref).to_html(tmp_path / "h.html")
    assert (tmp_path / "h.html").read_text(encoding="utf-8") == text
    p = _Balance()
    p.feed(text)
    p.close()
    assert p.errors == [] and p.stack == []
    low = text.lower()
    for banned in ("http://", "https://", "<script", "src=", "href=", "@import", "url("):
        assert banned not in low
    assert low.count("<svg") == 1 + 3 * 2  # volume + three charts per feature
    assert "first alert" in text  # the marker of the window where a's alert fired


def test_monitor_history_cli(tmp_path: Path, reference,
                             capsys: pytest.CaptureFixture[str]) -> None:
    _, ref = reference
    ref.save(tmp_path / "ref.json")
    store = ProfileStore(tmp_path / "s")
    _fill(store, ref, 5, drift_from=3)
    out = tmp_path / "out"
    out.mkdir()
    code = main(["monitor", "history", str(tmp_path / "s"), "--reference",
                 str(tmp_path / "ref.json"), "--json", str(out / "h.json"), "--html",
                 str(out / "h.html")])
    assert code == 1
    doc = json.loads((out / "h.json").read_text())
    assert doc["passed"] is False and len(doc["windows"]) == 5
    assert "sapwood monitor history: FAILED" in capsys.readouterr().out
    code = main(["monitor", "history", str(tmp_path / "s"), "--until", "2024-03-07",
                 "--window", "week", "--json", "-"])
    assert code == 0  # the quiet days only, against themselves
    assert json.loads(capsys.readouterr().out)["window"] == "week"
    # no such store / empty range: exit 2 with one line
    assert main(["monitor", "history", str(tmp_path / "s"), "--since", "2030-01-01"]) == 2
    assert "no stored profiles" in capsys.readouterr().err
    # the single-batch form still works, and --store appends its profile
    data = tmp_path / "cur.csv"
    _batch(np.random.default_rng(3), 2000).to_csv(data, index=False)
    code = main(["monitor", "--reference", str(tmp_path / "ref.json"), "--current", str(data),
                 "--store", str(tmp_path / "s2"), "--time", "2024-03-09"])
    assert code == 0
    [rec] = ProfileStore(tmp_path / "s2").read()
    assert rec.rows == 2000 and rec.source == str(data) and rec.window_start.day == 9
    assert main(["monitor", "--current", str(data)]) == 2
    assert "--reference" in capsys.readouterr().err


def test_score_profile_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.standard_normal(800), "z": rng.standard_normal(800)})
    b = sapwood.train({"objective": "regression", "n_estimators": 5, "n_jobs": 1},
                      sapwood.Dataset(df, df.x.to_numpy() * 2))
    b.save(tmp_path / "m.sapwood")
    df.to_parquet(tmp_path / "in.parquet")
    code = main(["score", str(tmp_path / "m.sapwood"), str(tmp_path / "in.parquet"), "-o",
                 str(tmp_path / "out.parquet"), "--profile-store", str(tmp_path / "s"),
                 "--no-progress"])
    assert code == 0
    [rec] = ProfileStore(tmp_path / "s").read()
    assert rec.rows == 800 and rec.model == model_checksum(tmp_path / "m.sapwood")
    assert "__prediction__" in rec.profile.columns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "m.sapwood",
                                                          "out.parquet", "s"]


def test_dask_profile_appends_to_a_store(tmp_path: Path, reference) -> None:
    dd = pytest.importorskip("dask.dataframe")
    _, ref = reference
    df = _batch(np.random.default_rng(4), 3000)
    p = sapwood.dask.profile(dd.from_pandas(df, npartitions=3), edges_from=ref,
                             store=str(tmp_path / "s"), window_start=DAY0, source="dask")
    [rec] = ProfileStore(tmp_path / "s").read()
    assert rec.profile == p == Profile.from_data(df, edges_from=ref)
    assert rec.source == "dask" and rec.window_start == DAY0


# ---------------------------------------------------------------------------- performance
@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory):
    """A binary model, 4 days of scored rows (the model weakens on days 2-3: labels flipped),
    and labels for 70% of the rows."""
    d = tmp_path_factory.mktemp("perf")
    rng = np.random.default_rng(1)
    n = 6000
    X = rng.standard_normal((n, 3))
    y = (X[:, 0] + 0.5 * rng.standard_normal(n) > 0).astype(float)
    Xv = rng.standard_normal((2000, 3))
    yv = (Xv[:, 0] + 0.5 * rng.standard_normal(2000) > 0).astype(float)
    b = sapwood.train({"objective": "binary", "n_estimators": 20, "n_jobs": 1},
                      sapwood.Dataset(X, y), valid_sets=[sapwood.Dataset(Xv, yv)],
                      valid_names=["valid"])
    b.save(d / "m.sapwood")
    m = 4000
    Xs = rng.standard_normal((m, 3))
    ys = (Xs[:, 0] + 0.5 * rng.standard_normal(m) > 0).astype(float)
    day = np.repeat(np.arange(4), m // 4)
    flip = (day >= 2) & (rng.random(m) < 0.3)
    ys[flip] = 1 - ys[flip]
    ts = pd.Timestamp("2024-03-04", tz="UTC") + pd.to_timedelta(day, unit="D") + \
        pd.to_timedelta(rng.integers(0, 86400, m), unit="s")
    preds = pd.DataFrame({"id": np.arange(m), "ts": ts, "prediction": b.predict(Xs)})
    has = rng.random(m) < 0.7
    labels = pd.DataFrame({"id": np.arange(m)[has], "label": ys[has]}).sample(frac=1,
                                                                             random_state=0)
    preds.to_parquet(d / "pred.parquet")
    labels.to_csv(d / "labels.csv", index=False)
    return d, b, preds, labels, ys, has


def test_performance_metrics_per_window_match_sklearn(scored) -> None:
    d, b, preds, labels, ys, has = scored
    rep = performance(preds, labels, join="id", time="ts", model=b, n_bootstrap=50, seed=3)
    assert [w["window"] for w in rep.windows] == ["2024-03-04", "2024-03-05", "2024-03-06",
                                                  "2024-03-07"]
    day = preds["ts"].dt.floor("D").dt.strftime("%Y-%m-%d").to_numpy()
    for w in rep.windows:
        rows = day == w["window"]
        lab = rows & has
        yt, p = ys[lab], preds["prediction"].to_numpy()[lab]
        assert w["rows"] == rows.sum() and w["labelled"] == lab.sum()
        assert w["coverage"] == pytest.approx(lab.sum() / rows.sum())
        assert w["metrics"]["auc"]["value"] == pytest.approx(roc_auc_score(yt, p), rel=1e-12)
        assert w["metrics"]["logloss"]["value"] == pytest.approx(log_loss(yt, p), rel=1e-9)
        lo, hi = w["metrics"]["auc"]["ci"]
        assert lo <= w["metrics"]["auc"]["value"] <= hi
    assert "logloss" in rep.baseline
    assert rep.baseline["logloss"] == pytest.approx(b.evals_result["valid"]["logloss"][-1])
    # the flipped days are worse, and their targets drifted
    aucs = [w["metrics"]["auc"]["value"] for w in rep.windows]
    assert min(aucs[:2]) > max(aucs[2:]) + 0.1
    assert any("no label" in n for n in rep.notes)
    # seeded bootstrap: the same intervals again
    again = performance(preds, labels, join="id", time="ts", model=b, n_bootstrap=50, seed=3)
    assert again.to_dict() == rep.to_dict()


def test_performance_regression_and_one_window() -> None:
    rng = np.random.default_rng(2)
    y = rng.standard_normal(500)
    p = y + 0.3 * rng.standard_normal(500)
    preds = pd.DataFrame({"k": np.arange(500), "prediction": p})
    labels = pd.DataFrame({"k": np.arange(500)[::2], "label": y[::2]})
    rep = performance(preds, labels, join="k", objective="regression", n_bootstrap=0)
    [w] = rep.windows
    assert w["window"] == "all" and w["coverage"] == 0.5 and w["metrics"]["mae"]["ci"] is None
    assert w["metrics"]["mae"]["value"] == pytest.approx(mean_absolute_error(y[::2], p[::2]))


def test_performance_bad_input(scored) -> None:
    _, b, preds, labels, _, _ = scored
    with pytest.raises(DataError, match="repeat the id"):
        performance(preds, pd.concat([labels, labels.head(1)]), join="id", model=b)
    with pytest.raises(SchemaError, match="label"):
        performance(preds, labels.rename(columns={"label": "y"}), join="id", model=b)
    with pytest.raises(SchemaError, match="nowhere|neither"):
        performance(preds, labels, join="id", time="when", model=b)
    with pytest.raises(ParameterError, match="objective"):
        performance(preds, labels, join="id")
    with pytest.raises(DataError, match="labels"):
        performance(preds, labels.assign(label=3.0), join="id", model=b)
    with pytest.raises(ParameterError, match="warn"):
        performance(preds, labels, join="id", model=b,
                    config={"performance": {"auc": {"warn": 0.7, "fail": 0.8}}})


def test_monitor_performance_cli_exit_codes(scored, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    d, *_ = scored
    base = ["monitor", "performance", "--predictions", str(d / "pred.parquet"), "--labels",
            str(d / "labels.csv"), "--join", "id", "--time", "ts", "--model",
            str(d / "m.sapwood"), "--bootstrap", "20"]
    (tmp_path / "loose.toml").write_text("[performance]\nauc = { warn = 0.6, fail = 0.5 }\n")
    (tmp_path / "tight.toml").write_text(
        "[performance]\ncoverage = { warn = 0.9, fail = 0.5 }\n"
        "[performance.drop]\nlogloss = { warn = 0.05, fail = 0.2 }\n")
    assert main([*base, "--config", str(tmp_path / "loose.toml")]) == 0
    assert main([*base, "--config", str(tmp_path / "tight.toml"), "--json",
                 str(tmp_path / "p.json")]) == 1
    doc = json.loads((tmp_path / "p.json").read_text())
    assert [w["checks"]["logloss_drop"] for w in doc["windows"]] == ["ok", "ok", "fail", "fail"]
    assert all(w["checks"]["coverage"] == "warn" for w in doc["windows"])
    assert "FAILED" in capsys.readouterr().out
    (tmp_path / "bad.toml").write_text("[performance]\nnot_a_metric = { warn = 1, fail = 2 }\n")
    assert main([*base, "--config", str(tmp_path / "bad.toml")]) == 2
    assert "unknown metric" in capsys.readouterr().err

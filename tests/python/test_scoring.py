"""sapwood score / sapwood.scoring.api.score: formats, layouts, atomicity, resume, bad inputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")
pacsv = pytest.importorskip("pyarrow.csv")
paipc = pytest.importorskip("pyarrow.feather")

import sapwood  # noqa: E402
from sapwood.cli import main  # noqa: E402
from sapwood.scoring.api import TMP_SUFFIX, score  # noqa: E402

F = 6
FEATURES = [f"x{i}" for i in range(F)]


def _data(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, F)).astype(np.float32)
    X[rng.random((n, F)) < 0.05] = np.nan
    return X


def _table(n: int, seed: int = 0, id0: int = 0) -> tuple[pa.Table, np.ndarray]:
    X = _data(n, seed)
    cols = {"id": pa.array(np.arange(id0, id0 + n, dtype=np.int64)),
            "name": pa.array([f"r{i}" for i in range(id0, id0 + n)])}
    for j, f in enumerate(FEATURES[::-1]):  # a different column order than the model's
        cols[f] = pa.array(X[:, F - 1 - j])
    cols["unused"] = pa.array(np.zeros(n))
    return pa.table(cols), X


def _train(objective: str = "binary", rounds: int = 15) -> sapwood.Booster:
    X = _data(3000, 42)
    if objective == "multiclass":
        y = (np.nan_to_num(X[:, 0]) > 0).astype(int) + (np.nan_to_num(X[:, 1]) > 0.5)
        params = {"objective": "multiclass", "num_class": 3}
    else:
        y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 2]) > 0).astype(float)
        params = {"objective": objective}
    params.update(num_leaves=15, learning_rate=0.2, n_jobs=2, n_estimators=rounds)
    return sapwood.train(params, sapwood.Dataset(X, y, feature_names=FEATURES))


@pytest.fixture(scope="module")
def booster() -> sapwood.Booster:
    return _train()


@pytest.fixture()
def model_path(tmp_path: Path, booster: sapwood.Booster) -> str:
    p = tmp_path / "model.sapwood"
    booster.save(p)
    return str(p)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(["score", "--no-progress", *args])
    out, err = capsys.readouterr()
    return rc, out, err


def _no_temporaries(folder: Path) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(TMP_SUFFIX)]


# ---------------------------------------------------------------------------- formats
def test_parquet_to_parquet_matches_predict(tmp_path: Path, model_path: str,
                                            booster: sapwood.Booster,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    t, X = _table(5000)
    pq.write_table(t, tmp_path / "in.parquet", row_group_size=1200)
    out = tmp_path / "out.parquet"
    rc, stdout, _ = _run([model_path, str(tmp_path / "in.parquet"), "-o", str(out),
                          "--id-columns", "id,name", "--batch-rows", "700"], capsys)
    assert rc == 0
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["rows"] == 5000 and summary["parts_written"] == 1
    assert summary["peak_memory_mb"] > 0 and summary["rows_per_s"] > 0
    res = pq.read_table(out)
    assert res.column_names == ["id", "name", "prediction"]
    np.testing.assert_array_equal(res["id"].to_numpy(), np.arange(5000))
    assert res["name"].to_pylist()[:2] == ["r0", "r1"]
    np.testing.assert_array_equal(res["prediction"].to_numpy(), booster.predict(X))
    assert _no_temporaries(tmp_path)


def test_csv_to_csv(tmp_path: Path, model_path: str, booster: sapwood.Booster,
                    capsys: pytest.CaptureFixture[str]) -> None:
    t, X = _table(3000)
    pacsv.write_csv(t, tmp_path / "in.csv")
    out = tmp_path / "out.csv"
    rc, _, err = _run([model_path, str(tmp_path / "in.csv"), "-o", str(out),
                       "--id-columns", "id", "--batch-rows", "1000"], capsys)
    assert rc == 0, err
    res = pacsv.read_csv(out)
    assert res.column_names == ["id", "prediction"]
    np.testing.assert_array_equal(res["id"].to_numpy(), np.arange(3000))
    np.testing.assert_allclose(res["prediction"].to_numpy(), booster.predict(X), rtol=1e-12)


def test_ipc_input_and_output_kinds(tmp_path: Path, model_path: str, booster: sapwood.Booster,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    t, X = _table(1500)
    paipc.write_feather(t, tmp_path / "in.arrow")
    out = tmp_path / "out.parquet"
    rc, _, err = _run([model_path, str(tmp_path / "in.arrow"), "-o", str(out),
                       "--predict", "raw,leaf,contrib", "--batch-rows", "400"], capsys)
    assert rc == 0, err
    res = pq.read_table(out)
    n_trees = booster.num_trees
    assert res.column_names == (["prediction"] + [f"leaf_{t}" for t in range(n_trees)]
                                + [f"contrib_{f}" for f in FEATURES] + ["contrib_bias"])
    np.testing.assert_array_equal(res["prediction"].to_numpy(), booster.predict(X, "raw"))
    leaf = np.column_stack([res[f"leaf_{t}"].to_numpy() for t in range(n_trees)])
    np.testing.assert_array_equal(leaf, booster.predict(X, "leaf"))
    contrib = np.column_stack([res[c].to_numpy() for c in res.column_names[1 + n_trees:]])
    np.testing.assert_array_equal(contrib, booster.predict(X, "contrib"))


def test_multiclass_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    b = _train("multiclass", rounds=5)
    b.save(tmp_path / "m.sapwood")
    t, X = _table(800)
    pq.write_table(t, tmp_path / "in.parquet")
    rc, _, err = _run([str(tmp_path / "m.sapwood"), str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "out.parquet"), "--id-columns", "id"], capsys)
    assert rc == 0, err
    res = pq.read_table(tmp_path / "out.parquet")
    assert res.column_names == ["id", "prediction_0", "prediction_1", "prediction_2"]
    got = np.column_stack([res[f"prediction_{k}"].to_numpy() for k in range(3)])
    np.testing.assert_array_equal(got, b.predict(X))


def _folder_input(root: Path, sizes: list[int]) -> np.ndarray:
    root.mkdir()
    Xs = []
    start = 0
    for i, n in enumerate(sizes):
        t, X = _table(n, seed=i, id0=start)
        pq.write_table(t, root / f"part-{i}.parquet")
        Xs.append(X)
        start += n
    (root / "_SUCCESS").write_text("")
    return np.vstack(Xs)


def test_folder_and_glob(tmp_path: Path, model_path: str, booster: sapwood.Booster,
                         capsys: pytest.CaptureFixture[str]) -> None:
    X = _folder_input(tmp_path / "in", [700, 0, 1300])
    for src, dst in [(str(tmp_path / "in"), tmp_path / "out1"),
                     (str(tmp_path / "in" / "part-*.parquet"), tmp_path / "out2")]:
        rc, stdout, err = _run([model_path, src, "-o", str(dst), "--id-columns", "id",
                                "--batch-rows", "500"], capsys)
        assert rc == 0, err
        assert sorted(p.name for p in dst.iterdir()) == [f"part-{i}.parquet" for i in range(3)]
        res = pa.concat_tables([pq.read_table(dst / f"part-{i}.parquet") for i in range(3)])
        np.testing.assert_array_equal(res["id"].to_numpy(), np.arange(2000))
        np.testing.assert_array_equal(res["prediction"].to_numpy(), booster.predict(X))
        assert json.loads(stdout.strip().splitlines()[-1])["parts_written"] == 3


def test_library_call_with_booster_and_csv_output(tmp_path: Path,
                                                  booster: sapwood.Booster) -> None:
    t, X = _table(900)
    pq.write_table(t, tmp_path / "in.parquet")
    s = score(booster, tmp_path / "in.parquet", f"{tmp_path}/out/", output_format="csv",
              id_columns=["id"], progress=False)
    assert s.rows == 900 and s.outputs == [os.path.join(f"{tmp_path}/out/", "in.csv")]
    res = pacsv.read_csv(tmp_path / "out" / "in.csv")
    np.testing.assert_allclose(res["prediction"].to_numpy(), booster.predict(X), rtol=1e-12)


def test_profile_written(tmp_path: Path, model_path: str,
                         capsys: pytest.CaptureFixture[str]) -> None:
    t, X = _table(2500)
    pq.write_table(t, tmp_path / "in.parquet")
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "out.parquet"), "--batch-rows", "600",
                       "--profile", str(tmp_path / "p.json")], capsys)
    assert rc == 0, err
    prof = sapwood.Profile.load(tmp_path / "p.json")
    assert prof.num_rows == 2500
    assert set(FEATURES) <= set(prof.column_names)
    assert any("prediction" in c for c in prof.column_names)
    col = prof[FEATURES[0]]
    assert col.null_rate == pytest.approx(float(np.isnan(X[:, 0]).mean()))
    # Against a reference profile: counted on its edges, so monitoring can compare the two.
    from sapwood.monitoring import compare

    ref = sapwood.Profile.from_data(_data(3000, 7), names=FEATURES)
    ref.save(tmp_path / "ref.json")
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "out2.parquet"), "--batch-rows", "600",
                       "--profile", str(tmp_path / "p2.json"),
                       "--profile-reference", str(tmp_path / "ref.json")], capsys)
    assert rc == 0, err
    cur = sapwood.Profile.load(tmp_path / "p2.json")
    np.testing.assert_array_equal(cur[FEATURES[0]].edges, ref[FEATURES[0]].edges)
    assert compare(ref, cur) is not None


# ---------------------------------------------------------------------------- bad inputs
def test_missing_column_names_file_batch_column(tmp_path: Path, model_path: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    t, _ = _table(100)
    t = t.drop(["x3"])
    pq.write_table(t, tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o", str(out)], capsys)
    assert rc == 2
    assert "in.parquet" in err and "batch 0" in err and "'x3'" in err
    assert not out.exists() and _no_temporaries(tmp_path)


def test_non_numeric_feature_and_missing_id(tmp_path: Path, model_path: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    t, _ = _table(100)
    t = t.set_column(t.column_names.index("x1"), "x1", pa.array(["a"] * 100))
    pq.write_table(t, tmp_path / "in.parquet")
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "o.parquet")], capsys)
    assert rc == 2 and "'x1'" in err and "numeric" in err
    t2, _ = _table(10)
    pq.write_table(t2, tmp_path / "in2.parquet")
    rc, _, err = _run([model_path, str(tmp_path / "in2.parquet"), "-o",
                       str(tmp_path / "o.parquet"), "--id-columns", "nope"], capsys)
    assert rc == 2 and "'nope'" in err
    assert not (tmp_path / "o.parquet").exists()


def test_bad_row_mid_file_leaves_no_output(tmp_path: Path, model_path: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    t, _ = _table(20000)
    pacsv.write_csv(t, tmp_path / "in.csv")
    lines = (tmp_path / "in.csv").read_text().splitlines()
    header = lines[0].split(",")
    j = header.index('"x2"') if '"x2"' in header else header.index("x2")
    row = lines[15001].split(",")
    row[j] = "oops"
    lines[15001] = ",".join(row)
    (tmp_path / "in.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "out.parquet"
    rc, _, err = _run([model_path, str(tmp_path / "in.csv"), "-o", str(out),
                       "--batch-rows", "1000"], capsys)
    assert rc == 2
    assert "in.csv" in err and "batch" in err and "'x2'" in err, err
    assert not out.exists() and _no_temporaries(tmp_path)


def test_bad_arguments_exit_2(tmp_path: Path, model_path: str,
                              capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 9: a missing input or a bad model means the job could not run: exit 2."""
    rc, _, err = _run([model_path, str(tmp_path / "nope.parquet"), "-o",
                       str(tmp_path / "o.parquet")], capsys)
    assert rc == 2 and "does not exist" in err
    t, _ = _table(10)
    pq.write_table(t, tmp_path / "in.parquet")
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "o.parquet"), "--predict", "proba"], capsys)
    assert rc == 2 and "output" in err and "proba" in err
    rc, _, err = _run([str(tmp_path / "in.parquet"), str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "o.parquet")], capsys)
    assert rc == 2 and "model" in err.lower()
    rc, _, err = _run([str(tmp_path / "missing.sapwood"), str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "o.parquet")], capsys)
    assert rc == 2 and "missing.sapwood" in err
    assert "Traceback" not in err
    assert not (tmp_path / "o.parquet").exists()


def test_cuda_without_device_is_a_clear_error(tmp_path: Path, model_path: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    from sapwood.model.gpu import cuda_available

    if cuda_available():
        pytest.skip("a GPU is present")
    t, _ = _table(10)
    pq.write_table(t, tmp_path / "in.parquet")
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o",
                       str(tmp_path / "o.parquet"), "--device", "cuda"], capsys)
    assert rc == 2 and "cuda" in err.lower()
    assert not (tmp_path / "o.parquet").exists()


# ---------------------------------------------------------------------------- kill / resume
def _spawn(args: list[str], delay: float, gate: Path | None = None) -> subprocess.Popen[bytes]:
    """A scoring run that sleeps `delay` s after each batch written and, with `gate`, waits
    after each batch until that path exists (the test decides when the run may finish)."""
    env = dict(os.environ, SAPWOOD_SCORE_TEST_WRITE_DELAY=str(delay))
    if gate is not None:
        env["SAPWOOD_SCORE_TEST_WRITE_GATE"] = str(gate)
    return subprocess.Popen([sys.executable, "-m", "sapwood", "score", "--no-progress",
                             *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(pred, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("timed out waiting for the scoring run")


def test_sigkill_leaves_no_output_and_resume_completes(tmp_path: Path, model_path: str,
                                                       booster: sapwood.Booster) -> None:
    t, X = _table(20000)
    pq.write_table(t, tmp_path / "in.parquet")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "scores.parquet"
    proc = _spawn([model_path, str(tmp_path / "in.parquet"), "-o", str(out),
                   "--id-columns", "id", "--batch-rows", "500"], delay=0.1)
    try:
        _wait_for(lambda: any(p.name.endswith(TMP_SUFFIX) for p in out_dir.iterdir()))
        time.sleep(0.3)  # some batches written
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    left = list(out_dir.iterdir())
    assert left, "the killed run's temporary should still be there"
    for p in left:  # unmistakable: hidden, and not a .parquet name
        assert p.name.startswith(".") and p.name.endswith(TMP_SUFFIX)
        assert not p.name.endswith(".parquet")
    r = subprocess.run([sys.executable, "-m", "sapwood", "score", "--no-progress",
                        model_path, str(tmp_path / "in.parquet"), "-o", str(out),
                        "--id-columns", "id", "--batch-rows", "5000", "--resume"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["rows"] == 20000
    assert [p.name for p in out_dir.iterdir()] == ["scores.parquet"]
    res = pq.read_table(out)
    np.testing.assert_array_equal(res["id"].to_numpy(), np.arange(20000))
    np.testing.assert_array_equal(res["prediction"].to_numpy(), booster.predict(X))


def test_folder_resume_skips_finished_parts(tmp_path: Path, model_path: str,
                                            booster: sapwood.Booster) -> None:
    X = _folder_input(tmp_path / "in", [3000, 3000, 3000])
    out = tmp_path / "out"
    proc = _spawn([model_path, str(tmp_path / "in"), "-o", str(out), "--id-columns", "id",
                   "--batch-rows", "300"], delay=0.05)
    try:
        _wait_for(lambda: (out / "part-0.parquet").exists()
                  and any(p.name.endswith(TMP_SUFFIX) for p in out.iterdir()))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert not (out / "part-2.parquet").exists()
    done_before = {p.name for p in out.iterdir() if p.suffix == ".parquet"}
    r = subprocess.run([sys.executable, "-m", "sapwood", "score", "--no-progress",
                        model_path, str(tmp_path / "in"), "-o", str(out), "--id-columns", "id",
                        "--resume"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["parts_skipped"] == len(done_before) >= 1
    assert summary["parts_written"] == 3 - len(done_before)
    assert sorted(p.name for p in out.iterdir()) == [f"part-{i}.parquet" for i in range(3)]
    res = pa.concat_tables([pq.read_table(out / f"part-{i}.parquet") for i in range(3)])
    np.testing.assert_array_equal(res["id"].to_numpy(), np.arange(9000))
    np.testing.assert_array_equal(res["prediction"].to_numpy(), booster.predict(X))


def test_sigint_and_sigterm_clean_up(tmp_path: Path, model_path: str) -> None:
    t, _ = _table(20000)
    pq.write_table(t, tmp_path / "in.parquet")
    for sig in (signal.SIGINT, signal.SIGTERM):
        out = tmp_path / f"out-{int(sig)}.parquet"
        proc = _spawn([model_path, str(tmp_path / "in.parquet"), "-o", str(out),
                       "--batch-rows", "500"], delay=0.1)
        try:
            _wait_for(lambda: any(p.name.endswith(TMP_SUFFIX) for p in tmp_path.iterdir()))
            proc.send_signal(sig)
            _, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        assert proc.returncode == 130, err
        assert b"interrupted" in err
        assert not out.exists() and _no_temporaries(tmp_path)


def test_categorical_model_scores_like_predict(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pandas as pd
    import pyarrow.parquet as pq
    import sapwood
    from sapwood.scoring.api import score

    rng = np.random.default_rng(21)
    n = 3000
    df = pd.DataFrame({"x": rng.standard_normal(n),
                       "city": rng.choice(["oslo", "rome", "lima", "kiev"], n)})
    y = ((df["city"] == "rome") ^ (df["x"] > 0)).astype(float).to_numpy()
    b = sapwood.train({"objective": "binary", "n_estimators": 20, "min_child_samples": 5},
                      sapwood.Dataset(df, y))
    test = df.iloc[:1000].copy()
    test.loc[test.index[:50], "city"] = "paris"  # unseen category
    test["id"] = np.arange(1000)
    src = tmp_path / "in.parquet"
    test[["id", "city", "x"]].to_parquet(src)  # reordered columns
    out = tmp_path / "out.parquet"
    score(b, src, out, id_columns=["id"], batch_rows=256, profile=tmp_path / "p.json",
          progress=False)
    got = pq.read_table(out).to_pandas()
    np.testing.assert_array_equal(got["id"], np.arange(1000))
    np.testing.assert_array_equal(got["prediction"], b.predict(test[["x", "city"]]))


def test_mixed_column_types_and_nulls(tmp_path: Path, booster: sapwood.Booster) -> None:
    """Nullable integers, booleans, float64 and float32 with nulls score as float32 with NaN,
    also in batches that are slices (non-zero offsets) of a row group."""
    n = 1000
    rng = np.random.default_rng(7)
    X = _data(n, 3)
    X[:, 1] = np.round(X[:, 1] * 3)  # integer-valued
    X[:, 2] = np.where(np.isnan(X[:, 2]), np.nan, (X[:, 2] > 0).astype(np.float32))
    null = rng.random((n, F)) < 0.1
    cols = {"id": pa.array(np.arange(n))}
    for j, f in enumerate(FEATURES):
        missing = null[:, j] | np.isnan(X[:, j])
        if j == 1:
            arr = pa.array(np.nan_to_num(X[:, 1]).astype(np.int64), mask=missing)
        elif j == 2:
            arr = pa.array(X[:, 2] > 0, mask=missing)
        elif j == 3:
            arr = pa.array(X[:, 3].astype(np.float64), mask=missing)
        else:
            arr = pa.array(X[:, j], mask=missing)
        X[missing, j] = np.nan
        cols[f] = arr
    src = tmp_path / "mixed.parquet"
    pq.write_table(pa.table(cols), src, row_group_size=300)
    out = tmp_path / "out.parquet"
    score(booster, src, out, id_columns=["id"], batch_rows=128, n_jobs=1)
    got = pq.read_table(out)
    assert got["id"].to_pylist() == list(range(n))
    np.testing.assert_allclose(got["prediction"].to_numpy(), booster.predict(X), rtol=0, atol=0)


def test_lightgbm_and_xgboost_model_files_score_directly(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """`sapwood score` / `inspect` take a LightGBM text or XGBoost JSON model as they are."""
    lgb = pytest.importorskip("lightgbm")
    xgb = pytest.importorskip("xgboost")
    table, X = _table(800, seed=5)
    y = (np.nan_to_num(X[:, 0]) > 0).astype(int)
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    lm = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7},
                   lgb.Dataset(X, y, feature_name=FEATURES), 10)
    lm.save_model(str(tmp_path / "model.txt"))
    xm = xgb.train({"objective": "binary:logistic", "max_depth": 3},
                   xgb.DMatrix(X, y, feature_names=FEATURES), 10)
    xm.save_model(str(tmp_path / "model.json"))
    for path, expected in [(tmp_path / "model.txt", lm.predict(X)),
                           (tmp_path / "model.json",
                            xm.predict(xgb.DMatrix(X, feature_names=FEATURES)))]:
        out = tmp_path / f"{path.suffix[1:]}.parquet"
        rc, _, err = _run([str(path), str(src), "-o", str(out)], capsys)
        assert rc == 0, err
        np.testing.assert_allclose(pq.read_table(out)["prediction"].to_numpy(), expected,
                                   atol=1e-6)
        assert main(["inspect", str(path)]) == 0
        assert "imported" in capsys.readouterr().out


def test_a_parquet_job_does_not_import_pandas(tmp_path: Path, model_path: str) -> None:
    """pandas costs about a second of a job's start-up (and pyarrow.compute another 0.15 s):
    reading, scoring and writing float32 Parquet needs neither."""
    table, X = _table(5000)
    src = tmp_path / "in.parquet"
    pq.write_table(table, src)
    out = tmp_path / "out.parquet"
    code = (
        "import sys, sapwood.scoring.api as s\n"
        f"s.score({model_path!r}, {str(src)!r}, {str(out)!r}, id_columns=['id'],"
        " output=['value', 'leaf'])\n"
        "print(sorted(m for m in ('pandas', 'pyarrow.compute') if m in sys.modules))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip().splitlines()[-1] == "[]", res.stdout + res.stderr
    got = pq.read_table(out)
    booster = sapwood.load(model_path)
    np.testing.assert_allclose(got["prediction"].to_numpy(), booster.predict(X), rtol=1e-12)
    leaf = booster.predict(X, output="leaf")
    assert got.schema.field("leaf_0").type == pa.int32()
    np.testing.assert_array_equal(got["leaf_0"].to_numpy(), leaf[:, 0])


# ---------------------------------------------------------------------------- output formats
def _read_any(path: Path) -> pa.Table:
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        return pq.read_table(path)
    if name.endswith((".csv", ".csv.gz")):
        return pacsv.read_csv(path)  # pyarrow opens .gz compressed by its name
    return paipc.read_table(path)


@pytest.mark.parametrize("name", ["o.pq", "o.csv", "o.csv.gz", "o.arrow", "o.feather", "o.ipc"])
def test_output_format_follows_the_extension(tmp_path: Path, model_path: str,
                                             booster: sapwood.Booster, name: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 5: the output's name chooses its format (x.csv.gz was written as Parquet)."""
    t, X = _table(1200)
    pq.write_table(t, tmp_path / "in.parquet")
    out = tmp_path / name
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o", str(out),
                       "--id-columns", "id", "--batch-rows", "500"], capsys)
    assert rc == 0, err
    head = out.read_bytes()[:6]
    is_parquet = head[:4] == b"PAR1"
    assert is_parquet == name.endswith(".pq")
    assert (head[:2] == b"\x1f\x8b") == name.endswith(".gz")  # gzip magic
    assert (head == b"ARROW1") == name.endswith((".arrow", ".feather", ".ipc"))
    res = _read_any(out)
    assert res.column_names == ["id", "prediction"]
    np.testing.assert_array_equal(res["id"].to_numpy(), np.arange(1200))
    np.testing.assert_allclose(res["prediction"].to_numpy(), booster.predict(X), rtol=1e-12)
    assert _no_temporaries(tmp_path)


def test_unknown_output_extension_is_refused(tmp_path: Path, model_path: str,
                                             booster: sapwood.Booster,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 5: x.txt was silently written as Parquet; it is refused naming the accepted
    names, unless --output-format says which format; a format that contradicts the name is
    refused too."""
    t, X = _table(300)
    pq.write_table(t, tmp_path / "in.parquet")
    src = str(tmp_path / "in.parquet")
    rc, _, err = _run([model_path, src, "-o", str(tmp_path / "x.txt")], capsys)
    assert rc == 2 and "x.txt" in err and ".csv.gz" in err and ".parquet" in err
    assert not (tmp_path / "x.txt").exists()
    rc, _, err = _run([model_path, src, "-o", str(tmp_path / "x.parquet"),
                       "--output-format", "csv"], capsys)
    assert rc == 2 and "x.parquet" in err and not (tmp_path / "x.parquet").exists()
    rc, _, err = _run([model_path, src, "-o", str(tmp_path / "x.txt"),
                       "--output-format", "csv"], capsys)
    assert rc == 0, err
    np.testing.assert_allclose(pacsv.read_csv(tmp_path / "x.txt")["prediction"].to_numpy(),
                               booster.predict(X), rtol=1e-12)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.parquet", "model.sapwood",
                                                          "x.txt"]


def test_folder_output_parts_take_the_format(tmp_path: Path, model_path: str,
                                             booster: sapwood.Booster,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    X = _folder_input(tmp_path / "in", [400, 600])
    out = tmp_path / "out"
    rc, _, err = _run([model_path, str(tmp_path / "in"), "-o", str(out),
                       "--output-format", "csv.gz"], capsys)
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == ["part-0.csv.gz", "part-1.csv.gz"]
    got = np.concatenate([pacsv.read_csv(out / f"part-{i}.csv.gz")["prediction"].to_numpy()
                          for i in range(2)])
    np.testing.assert_allclose(got, booster.predict(X), rtol=1e-12)
    # a folder input cannot go into one file: a file-like output name is refused
    rc, _, err = _run([model_path, str(tmp_path / "in"), "-o", str(tmp_path / "all.csv")],
                      capsys)
    assert rc == 2 and "folder" in err and not (tmp_path / "all.csv").exists()


def test_output_option_names_the_path_and_predict_the_kinds(
        tmp_path: Path, model_path: str, booster: sapwood.Booster,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Defect 10: --output (next to -o/--output-path) chose value|raw; now -o/--output is the
    path, --predict the kinds, and the old `--output value` gets a message naming --predict."""
    t, X = _table(500)
    pq.write_table(t, tmp_path / "in.parquet")
    src = str(tmp_path / "in.parquet")
    rc, _, err = _run([model_path, src, "--output", str(tmp_path / "a.parquet"),
                       "--predict", "raw"], capsys)
    assert rc == 0, err
    np.testing.assert_array_equal(pq.read_table(tmp_path / "a.parquet")["prediction"]
                                  .to_numpy(), booster.predict(X, "raw"))
    rc, _, err = _run([model_path, src, "--output-path", str(tmp_path / "b.parquet")], capsys)
    assert rc == 0, err
    np.testing.assert_array_equal(pq.read_table(tmp_path / "b.parquet")["prediction"]
                                  .to_numpy(), booster.predict(X))
    rc, _, err = _run([model_path, src, "-o", str(tmp_path / "c.parquet"), "--output",
                       "value,leaf"], capsys)
    assert rc == 2 and "--predict value,leaf" in err
    assert not (tmp_path / "c.parquet").exists() and not (tmp_path / "value,leaf").exists()


def test_help_names_every_model_kind_and_every_default() -> None:
    """Defect 8/9 (score's part): the model may be sapwood, LightGBM or XGBoost; every option
    has help that shows its default."""
    import argparse

    from sapwood.cli import score as score_cli

    parser = argparse.ArgumentParser()
    score_cli.add_parser(parser.add_subparsers())
    sc = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cmd = sc.choices["score"]
    text = cmd.format_help()
    assert "LightGBM" in text and "XGBoost" in text and "2: could not run" in text
    for action in cmd._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        assert action.help, action.dest
        if action.option_strings and not action.required:
            assert "default" in action.help, action.dest


# ---------------------------------------------------------------------------- outputs vs inputs
def test_output_that_is_or_lies_inside_an_input_is_refused(
        tmp_path: Path, model_path: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 2: `score m in.parquet -o in.parquet` (and `dir -o dir`) replaced the
    input with the predictions. Each is refused before anything is written."""
    t, _ = _table(200)
    src = tmp_path / "in.parquet"
    pq.write_table(t, src)
    _folder_input(tmp_path / "d", [100, 100])
    (tmp_path / "link.parquet").symlink_to(src)

    def snapshot() -> dict[str, bytes]:
        return {str(p): p.read_bytes() for p in sorted(tmp_path.rglob("*")) if p.is_file()}

    before = snapshot()
    d = tmp_path / "d"
    cases = [
        ([str(src), "-o", str(src)], "is the input"),
        ([str(src), "-o", str(tmp_path / "link.parquet")], "is the input"),
        ([str(tmp_path / "link.parquet"), "-o", str(src)], "is the input"),
        ([str(d), "-o", str(d)], "inside the input folder"),
        ([str(d), "-o", str(d / "scores") + "/"], "inside the input folder"),
        ([str(d / "*.parquet"), "-o", str(d)], "is the input"),
        ([str(d / "*"), "-o", str(d) + "/", "--output-format", "csv"], "matches the input glob"),
        ([str(tmp_path / "**" / "*.parquet"), "-o", str(tmp_path / "o") + "/"],
         "matches the input glob"),
        ([str(src), "-o", str(tmp_path / "o.parquet"), "--profile", str(src)], "is the input"),
        ([str(d), "-o", str(tmp_path / "o") + "/", "--profile", str(d / "p.json")],
         "inside the input folder"),
    ]
    for args, msg in cases:
        rc, out, err = _run([model_path, *args], capsys)
        assert rc == 2, (args, err)
        assert msg in err, (args, err)
        assert snapshot() == before, args
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.parquet").exists()


# ---------------------------------------------------------------------------- temporaries
def test_cleanup_removes_only_temporaries_of_dead_processes(
        tmp_path: Path, model_path: str, booster: sapwood.Booster,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 3: a run removed every temporary of its output as stale, also the live
    one of another run writing the same output; only those of gone processes go now."""
    from sapwood import _fs

    t, X = _table(300)
    pq.write_table(t, tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    live_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead_proc = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_proc.wait()
    try:
        live = tmp_path / f".out.parquet.{live_proc.pid}.0123abcd.tmp"
        dead = tmp_path / f".out.parquet.{dead_proc.pid}.4567cdef.tmp"
        live.write_bytes(b"being written")
        dead.write_bytes(b"left by a killed run")
        assert _fs.is_stale_temporary(str(dead)) and not _fs.is_stale_temporary(str(live))
        rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o", str(out)], capsys)
        assert rc == 0, err
        assert live.read_bytes() == b"being written"
        assert not dead.exists()
        np.testing.assert_array_equal(pq.read_table(out)["prediction"].to_numpy(),
                                      booster.predict(X))
    finally:
        live_proc.kill()
        live_proc.wait()


def test_two_runs_writing_the_same_output_both_succeed(tmp_path: Path, model_path: str,
                                                       booster: sapwood.Booster) -> None:
    """Issue 14 item 3: the second run deleted the first one's live temporary, and the first
    failed at its end. Both finish now, and the output is complete."""
    t, X = _table(20000)
    pq.write_table(t, tmp_path / "in.parquet")
    out = tmp_path / "out.parquet"
    args = [model_path, str(tmp_path / "in.parquet"), "-o", str(out), "--batch-rows", "500"]
    gate = tmp_path.parent / f"{tmp_path.name}-gate"  # (outside the output's folder)
    # the first run holds after its first batch until the gate exists: it is mid-output while
    # the second runs, however loaded the machine (a fixed delay raced on a busy one)
    first = _spawn(args, delay=0.0, gate=gate)
    try:
        _wait_for(lambda: any(p.name.endswith(TMP_SUFFIX) for p in tmp_path.iterdir()))
        second = subprocess.run([sys.executable, "-m", "sapwood", "score", "--no-progress",
                                 *args], capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stderr
        assert first.poll() is None, "the first run should still be writing"
        gate.write_text("go")
        _, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, err
    np.testing.assert_array_equal(pq.read_table(out)["prediction"].to_numpy(),
                                  booster.predict(X))
    assert _no_temporaries(tmp_path)


# ---------------------------------------------------------------------------- failed jobs
def test_failed_profile_leaves_no_predictions(tmp_path: Path, model_path: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 14 item 4: when the profile cannot be written, the predictions written before
    stayed; a failed job leaves none of its outputs (here the profile's folder is a file)."""
    t, _ = _table(800)
    pq.write_table(t, tmp_path / "in.parquet")
    (tmp_path / "blocker").write_text("a file, not a folder")
    out = tmp_path / "out" / "scores.parquet"
    rc, _, err = _run([model_path, str(tmp_path / "in.parquet"), "-o", str(out),
                       "--profile", str(tmp_path / "blocker" / "p.json")], capsys)
    assert rc == 2 and "p.json" in err
    assert not out.exists() and not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker", "in.parquet",
                                                          "model.sapwood"]


def _can_mount_tmpfs() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and sys.platform.startswith("linux")


@pytest.fixture()
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A 64 KiB tmpfs (needs root and `mount`; else the test is skipped)."""
    if not _can_mount_tmpfs():
        pytest.skip("mounting a tmpfs needs root on Linux")
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)],
                       capture_output=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {r.stderr!r}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("full", ["predictions", "profile"])
def test_full_disk_leaves_no_output_and_names_the_path(
        tmp_path: Path, model_path: str, small_disk: Path, full: str) -> None:
    """Issue 14 item 4: on a full disk `score --profile` exited 1 and left the predictions
    file, with a message naming no path. It exits 2, names the path, and leaves neither."""
    t, _ = _table(30000 if full == "predictions" else 2000)
    pq.write_table(t, tmp_path / "in.parquet")
    if full == "predictions":
        out, prof = small_disk / "scores.csv", small_disk / "p.json"
    else:
        out, prof = tmp_path / "scores.parquet", small_disk / "p.json"
        filler = small_disk / "filler"
        try:
            with open(filler, "wb") as f:
                while True:
                    f.write(b"\0" * 1024)
                    f.flush()
        except OSError:
            pass
    r = subprocess.run([sys.executable, "-m", "sapwood", "score", "--no-progress", model_path,
                        str(tmp_path / "in.parquet"), "-o", str(out), "--profile", str(prof)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr
    assert str(out if full == "predictions" else prof) in r.stderr
    assert not out.exists() and not prof.exists()
    left = sorted(p.name for p in small_disk.iterdir())
    assert left == ([] if full == "predictions" else ["filler"])
    assert _no_temporaries(tmp_path)


def test_without_pyarrow_the_error_names_the_extra(tmp_path: Path, booster: sapwood.Booster,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 13 defect 4 (scoring's part): no traceback about a missing module, but a
    SapwoodError naming the extra to install."""
    from sapwood._compat import MissingDependencyError

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # `import pyarrow` now fails
    with pytest.raises(MissingDependencyError, match=r"sapwood\[scoring\]"):
        score(booster, tmp_path / "in.parquet", tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()

"""`sapwood serve`: a real server on 127.0.0.1 (a subprocess on a free port), called over HTTP.

Predictions are compared with Booster.predict on the same rows, drift with
sapwood.monitoring.compare on the same rows. Every wait is bounded in count and time.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("prometheus_client")
httpx = pytest.importorskip("httpx")
pd = pytest.importorskip("pandas")
pa = pytest.importorskip("pyarrow")

import sapwood  # noqa: E402
from sapwood.monitoring import compare  # noqa: E402

ARROW = "application/vnd.apache.arrow.stream"
ROOT = Path(__file__).resolve().parents[2]
# The folder holding the sapwood under test (the source tree with a built extension, or
# site-packages after pip install): subprocesses must import that one, not ROOT/python.
SAPWOOD_PATH = str(Path(sapwood.__file__).resolve().parents[1])


# ---------------------------------------------------------------------------- models
def _frame(n: int, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.integers(0, 10, n),
        "c": pd.Categorical(rng.choice(["x", "y", "z"], n), categories=["x", "y", "z"]),
    })


def _train_cat(seed: int, rounds: int = 15) -> Any:
    df = _frame(2000, seed)
    rng = np.random.default_rng(seed + 100)
    y = ((df.a + (df.c == "x") * 1.0 + 0.1 * df.b + rng.normal(size=len(df)) * 0.3) > 0.8)
    return sapwood.train({"objective": "binary", "n_estimators": rounds},
                         sapwood.Dataset(df, label=y.to_numpy(dtype=float)))


@pytest.fixture(scope="module")
def models(tmp_path_factory: Any) -> dict[str, Any]:
    d = tmp_path_factory.mktemp("serve_models")
    cat = _train_cat(0)
    cat2 = _train_cat(1, rounds=10)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2000, 4))
    num = sapwood.train({"objective": "regression", "n_estimators": 15},
                        sapwood.Dataset(X, label=X[:, 0] * 2 + X[:, 1]))
    out = {"dir": d, "cat": cat, "cat2": cat2, "num": num}
    for k in ("cat", "cat2", "num"):
        out[k + "_path"] = str(d / f"{k}.sapwood")
        out[k].save(out[k + "_path"])
    return out


# ---------------------------------------------------------------------------- the server
class Server:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc, self.url, self.log = proc, url, log

    def get(self, path: str, **kw: Any) -> Any:
        return httpx.get(self.url + path, timeout=30, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return httpx.post(self.url + path, timeout=60, **kw)

    def metric(self, name: str, labels: str = "") -> float:
        text = self.get("/metrics").text
        pat = re.compile(r"^" + re.escape(name) + (r"\{" + re.escape(labels) + r"\}"
                                                   if labels else "") + r" (\S+)$", re.M)
        m = pat.search(text)
        assert m is not None, f"{name}{{{labels}}} not in /metrics"
        return float(m.group(1))


@contextlib.contextmanager
def serving(model_path: str, tmp_path: Path, *args: str) -> Iterator[Server]:
    log = tmp_path / f"serve-{time.monotonic_ns()}.log"
    env = dict(os.environ, PYTHONPATH=SAPWOOD_PATH + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sapwood", "serve", model_path, "--host", "127.0.0.1",
             "--port", "0", "--log-level", "warning", *args],
            stdout=fh, stderr=subprocess.STDOUT, env=env)
    try:
        url = None
        deadline = time.monotonic() + 90
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text())
            if m:
                url = m.group(1)
            else:
                time.sleep(0.05)
        assert url is not None, f"the server did not start:\n{log.read_text()}"
        yield Server(proc, url, log)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def _records(df: Any) -> list[dict[str, Any]]:
    out = []
    for r in df.itertuples(index=False):
        out.append({"a": float(r.a), "b": int(r.b), "c": str(r.c)})
    return out


def _arrow_body(table: Any) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


@pytest.fixture(scope="module")
def cat_server(models: dict[str, Any], tmp_path_factory: Any) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("serve_cat")
    with serving(models["cat_path"], tmp, "--max-body-bytes", "200000",
                 "--unseen-categories", "reject") as s:
        yield s


# ---------------------------------------------------------------------------- predictions
@pytest.mark.parametrize("output", ["value", "raw", "contrib"])
def test_predict_json_records_and_columns_equal_booster(cat_server: Server,
                                                       models: dict[str, Any],
                                                       output: str) -> None:
    df = _frame(37, seed=9)
    expect = models["cat"].predict(df, output=output)
    r = cat_server.post(f"/predict?output={output}", json={"records": _records(df)})
    assert r.status_code == 200, r.text
    got = np.array(r.json()["predictions"])
    np.testing.assert_array_equal(got, expect)
    cols = {"a": df.a.tolist(), "b": df.b.tolist(), "c": [str(v) for v in df.c]}
    r = cat_server.post("/predict", json={"columns": cols, "output": output})
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(np.array(r.json()["predictions"]), expect)
    if output == "contrib":
        assert r.json()["columns"] == ["a", "b", "c", "bias"]


def test_predict_arrow_stream_equals_booster(cat_server: Server, models: dict[str, Any]) -> None:
    df = _frame(500, seed=4)
    table = pa.Table.from_pandas(df, preserve_index=False)
    expect = models["cat"].predict(table)
    r = cat_server.post("/predict", content=_arrow_body(table),
                        headers={"content-type": ARROW})
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(np.array(r.json()["predictions"]), expect)
    # Arrow back when asked
    r = cat_server.post("/predict?output=raw", content=_arrow_body(table),
                        headers={"content-type": ARROW, "accept": ARROW})
    assert r.status_code == 200 and r.headers["content-type"].startswith(ARROW)
    back = pa.ipc.open_stream(r.content).read_all()
    np.testing.assert_array_equal(back.column("prediction").to_numpy(),
                                  models["cat"].predict(table, output="raw"))


def test_numeric_model_missing_values_and_nulls(models: dict[str, Any], tmp_path: Path) -> None:
    X = np.random.default_rng(5).normal(size=(20, 4))
    X[3, 1] = np.nan
    with serving(models["num_path"], tmp_path) as s:
        recs = [{f"f{j}": (None if np.isnan(v) else float(v)) for j, v in enumerate(row)}
                for row in X]
        r = s.post("/predict", json=recs)  # a bare list of records
        assert r.status_code == 200, r.text
        np.testing.assert_array_equal(np.array(r.json()["predictions"]),
                                      models["num"].predict(X))
        one = s.post("/predict", json={"records": recs[:1]})
        np.testing.assert_array_equal(np.array(one.json()["predictions"]),
                                      models["num"].predict(X[:1]))


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("body,status,kind,column,row", [
    ({"records": [{"a": 1.0, "b": 1, "c": "x"}, {"a": 1.0, "c": "y"}]}, 422, "schema", "b", 1),
    ({"records": [{"a": 1.0, "b": 1, "c": "x"}, {"a": "1.5", "b": 1, "c": "y"}]}, 422, "data",
     "a", 1),
    ({"records": [{"a": 1.0, "b": [1], "c": "x"}]}, 422, "data", "b", 0),
    ({"records": [{"a": 1.0, "b": 1, "c": 3}]}, 422, "data", "c", 0),
    # --unseen-categories reject
    ({"records": [{"a": 1.0, "b": 1, "c": "x"}, {"a": 1.0, "b": 1, "c": "w"}]}, 422, "data",
     "c", 1),
    ({"columns": {"a": [1.0, 2.0], "b": [1], "c": ["x", "y"]}}, 422, "data", "b", None),
    ({"columns": {"a": [1.0], "c": ["x"]}}, 422, "schema", "b", None),
    ({"rows": []}, 400, "bad_request", None, None),
    ({"records": [1, 2]}, 400, "bad_request", None, 0),
    ({"records": [{"a": 1.0, "b": 1, "c": "x"}], "output": "leafs"}, 400, "bad_request", None,
     None),
])
def test_bad_requests_get_4xx_naming_column_and_row(cat_server: Server, body: Any, status: int,
                                                    kind: str, column: str | None,
                                                    row: int | None) -> None:
    r = cat_server.post("/predict", json=body)
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert (err["kind"], err["column"], err["row"]) == (kind, column, row)
    if column is not None:
        assert repr(column) in err["message"]


def test_malformed_bodies_never_stop_the_server(cat_server: Server,
                                                models: dict[str, Any]) -> None:
    before = cat_server.metric("sapwood_errors_total", 'kind="bad_request"') \
        if "bad_request" in cat_server.get("/metrics").text else 0.0
    bad = [b"{", b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000, b"null", b'{"records": 3}']
    for body in bad:
        r = cat_server.post("/predict", content=body,
                            headers={"content-type": "application/json"})
        assert r.status_code == 400, (body[:20], r.text)
    r = cat_server.post("/predict", content=b"\x00garbage", headers={"content-type": ARROW})
    assert r.status_code == 400
    r = cat_server.post("/predict", content=b"a,b\n1,2", headers={"content-type": "text/csv"})
    assert r.status_code == 415
    # an Arrow table with a string where a number belongs, and one without column b
    t = pa.table({"a": ["1.0", None], "b": [1, 2], "c": ["x", "y"]})
    r = cat_server.post("/predict", content=_arrow_body(t), headers={"content-type": ARROW})
    assert r.status_code == 422 and r.json()["error"]["column"] == "a"
    assert r.json()["error"]["row"] == 0
    t = pa.table({"a": [1.0], "c": ["x"]})
    r = cat_server.post("/predict", content=_arrow_body(t), headers={"content-type": ARROW})
    assert r.status_code == 422 and r.json()["error"]["column"] == "b"
    assert cat_server.metric("sapwood_errors_total", 'kind="bad_request"') >= before + 6
    assert cat_server.get("/healthz").status_code == 200
    df = _frame(3, seed=2)
    r = cat_server.post("/predict", json={"records": _records(df)})
    np.testing.assert_array_equal(np.array(r.json()["predictions"]), models["cat"].predict(df))
    assert cat_server.proc.poll() is None


def test_body_over_the_limit_gets_413(cat_server: Server) -> None:
    big = {"records": [{"a": 1.0, "b": 1, "c": "x"}] * 10_000}  # ~300 kB > 200 kB
    r = cat_server.post("/predict", json=big)
    assert r.status_code == 413 and r.json()["error"]["kind"] == "too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        data = json.dumps(big).encode()
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    r = cat_server.post("/predict", content=chunks(),
                        headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert cat_server.get("/healthz").status_code == 200


def test_health_ready_model(cat_server: Server, models: dict[str, Any]) -> None:
    assert cat_server.get("/healthz").json() == {"status": "ok"}
    assert cat_server.get("/readyz").json()["ready"] is True
    info = cat_server.get("/model").json()
    data = Path(models["cat_path"]).read_bytes()
    import hashlib

    assert info["sha256"] == hashlib.sha256(data).hexdigest()
    assert info["objective"] == "binary"
    assert [f["name"] for f in info["features"]] == ["a", "b", "c"]
    assert info["features"][2]["categories"] == ["x", "y", "z"] or \
        sorted(info["features"][2]["categories"]) == ["x", "y", "z"]
    assert info["schema"] == json.loads(json.dumps(models["cat"].schema))
    assert "best_score" in info["metrics"]
    text = cat_server.get("/metrics").text
    assert f'sapwood_model_info{{name="cat",sha256="{info["sha256"]}",version=' in text


def test_bad_model_file_exits_2(tmp_path: Path) -> None:
    p = tmp_path / "bad.sapwood"
    p.write_bytes(b"\x89SPWOOD\n" + b"\x00" * 40)
    env = dict(os.environ, PYTHONPATH=SAPWOOD_PATH)
    r = subprocess.run([sys.executable, "-m", "sapwood", "serve", str(p), "--port", "0"],
                       capture_output=True, env=env, timeout=120)
    assert r.returncode == 2
    assert b"bad.sapwood" in r.stderr and b"Traceback" not in r.stderr


# ---------------------------------------------------------------------------- batching
def test_concurrent_requests_are_micro_batched(models: dict[str, Any], tmp_path: Path) -> None:
    df = _frame(16 * 12, seed=11)
    recs = _records(df)
    expect = models["cat"].predict(df)
    with serving(models["cat_path"], tmp_path, "--max-wait-ms", "50", "--batch-slots", "1") as s:
        # an idle server scores a lone request at once, alone
        r = s.post("/predict", json={"records": recs[:1]})
        assert r.status_code == 200
        assert s.metric("sapwood_batch_requests_count") == 1
        got: dict[int, float] = {}
        failures: list[str] = []

        def client(k: int) -> None:
            with httpx.Client(base_url=s.url, timeout=60) as c:
                for i in range(k, len(recs), 16):
                    resp = c.post("/predict", json={"records": [recs[i]]})
                    if resp.status_code != 200:
                        failures.append(resp.text)
                        return
                    got[i] = resp.json()["predictions"][0]

        threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not failures and len(got) == len(recs)
        np.testing.assert_array_equal(np.array([got[i] for i in range(len(recs))]), expect)
        batches = s.metric("sapwood_batch_requests_count")
        requests = s.metric("sapwood_batch_requests_sum")
        alone = s.metric("sapwood_batch_requests_bucket", 'le="1.0"')
        assert requests == len(recs) + 1
        assert s.metric("sapwood_rows_total") == len(recs) + 1
        # some predict calls served several requests
        assert batches < requests and alone < batches


# ---------------------------------------------------------------------------- reload
def test_reload_good_and_bad_file(models: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "model.sapwood"
    shutil.copy(models["cat_path"], path)
    df = _frame(25, seed=7)
    recs = {"records": _records(df)}
    old, new = models["cat"].predict(df), models["cat2"].predict(df)
    with serving(str(path), tmp_path, "--admin-token", "s3cret") as s:
        sha_old = s.get("/model").json()["sha256"]
        assert s.post("/admin/reload").status_code == 401
        assert s.post("/admin/reload", headers={"authorization": "Bearer nope"}).status_code == 401
        # load during the reload: every answer is the old or the new model's, whole
        answers: list[Any] = []
        stop = threading.Event()

        def load() -> None:
            with httpx.Client(base_url=s.url, timeout=60) as c:
                for _ in range(400):
                    if stop.is_set():
                        break
                    answers.append(c.post("/predict", json=recs))

        t = threading.Thread(target=load)
        t.start()
        shutil.copy(models["cat2_path"], tmp_path / "next.tmp")
        os.replace(tmp_path / "next.tmp", path)
        r = s.post("/admin/reload", headers={"authorization": "Bearer s3cret"})
        assert r.status_code == 200 and r.json()["ok"], r.text
        time.sleep(0.2)
        stop.set()
        t.join(120)
        assert answers and all(a.status_code == 200 for a in answers)
        versions = set()
        for a in answers:
            p = np.array(a.json()["predictions"])
            v = a.json()["model"]["version"]
            versions.add(v)
            assert np.array_equal(p, old) or np.array_equal(p, new)
            assert np.array_equal(p, new) == (v != sha_old[:12])
        info = s.get("/model").json()
        assert info["sha256"] != sha_old and info["last_reload"]["ok"]
        r = s.post("/predict", json=recs)
        np.testing.assert_array_equal(np.array(r.json()["predictions"]), new)
        # a bad file: refused, reported, the current model keeps serving
        path.write_bytes(b"not a model")
        r = s.post("/admin/reload", headers={"authorization": "Bearer s3cret"})
        assert r.status_code == 422 and not r.json()["ok"] and r.json()["error"]
        info2 = s.get("/model").json()
        assert info2["sha256"] == info["sha256"] and info2["last_reload"]["ok"] is False
        r = s.post("/predict", json=recs)
        np.testing.assert_array_equal(np.array(r.json()["predictions"]), new)
        assert s.metric("sapwood_model_reloads_total", 'result="error"') == 1
        # SIGHUP reloads too
        shutil.copy(models["cat_path"], path)
        s.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and s.get("/model").json()["sha256"] != sha_old:
            time.sleep(0.05)
        assert s.get("/model").json()["sha256"] == sha_old
        r = s.post("/predict", json=recs)
        np.testing.assert_array_equal(np.array(r.json()["predictions"]), old)


def test_reload_is_off_without_a_token(cat_server: Server) -> None:
    assert cat_server.post("/admin/reload",
                           headers={"authorization": "Bearer x"}).status_code == 404


def test_mixed_valid_and_invalid_traffic_across_a_reload(models: dict[str, Any],
                                                         tmp_path: Path) -> None:
    """Several clients interleave good and bad requests while the model file is replaced
    and reloaded: each good answer is whole and from the model version it names, each bad
    one gets its 4xx, and the server neither dies nor leaks a fault into the good ones."""
    path = tmp_path / "model.sapwood"
    shutil.copy(models["cat_path"], path)
    df = _frame(200, seed=31)
    recs = _records(df)
    expect = {(m, out): models[m].predict(df, output=out)
              for m in ("cat", "cat2") for out in ("value", "raw")}
    auth = {"authorization": "Bearer s3cret"}
    over = {"records": [recs[0]] * 1000}  # ~30 kB > --max-body-bytes 20000
    assert len(json.dumps(over)) > 20000
    # kind -> (request arguments, expected status)
    invalid: dict[str, tuple[dict[str, Any], int]] = {
        "malformed": ({"content": b'{"records": [{"a": 1.0,',
                       "headers": {"content-type": "application/json"}}, 400),
        "missing_column": ({"json": {"records": [{"a": 1.0, "c": "x"}]}}, 422),
        "wrong_type": ({"json": {"records": [{"a": "one", "b": 1, "c": "x"}]}}, 422),
        "unknown_output": ({"json": {"records": recs[:2], "output": "leafs"}}, 400),
        "too_large": ({"json": over}, 413),
    }
    kinds = ["single", "batch", *invalid, "bad_token"]
    n_threads, n_before, n_after = 6, 24, 8
    with serving(str(path), tmp_path, "--admin-token", "s3cret",
                 "--max-body-bytes", "20000") as s:
        v_old = s.get("/model").json()["version"]
        done = [0]
        lock = threading.Lock()
        reloaded = threading.Event()
        # (thread, after the reload?, kind, status, version, rows, output, predictions)
        results: list[tuple[int, bool, str, int, str | None, list[int], str, Any]] = []
        errors: list[str] = []

        def one(c: Any, k: int, kind: str, rng: Any) -> None:
            late = reloaded.is_set()  # sent after the reload had returned
            rows: list[int] = []
            out = "value"
            if kind in ("single", "batch"):
                size = 1 if kind == "single" else int(rng.integers(2, 9))
                rows = [int(i) for i in rng.choice(len(recs), size, replace=False)]
                out = "raw" if rng.random() < 0.3 else "value"
                r = c.post(f"/predict?output={out}",
                           json={"records": [recs[i] for i in rows]})
            elif kind == "bad_token":
                r = c.post("/admin/reload", headers={"authorization": "Bearer wrong"})
            else:
                r = c.post("/predict", **invalid[kind][0])
            body = r.json() if r.status_code == 200 else None
            with lock:
                results.append((k, late, kind, r.status_code,
                                body["model"]["version"] if body else None, rows, out,
                                body["predictions"] if body else None))
                done[0] += 1

        def client(k: int) -> None:
            rng = np.random.default_rng(1000 + k)
            try:
                with httpx.Client(base_url=s.url, timeout=60) as c:
                    for _ in range(n_before):
                        one(c, k, kinds[int(rng.integers(len(kinds)))], rng)
                    if not reloaded.wait(60):
                        errors.append(f"thread {k}: no reload within 60 s")
                        return
                    for j in range(n_after):  # after the reload: every kind again
                        one(c, k, kinds[(k + j) % len(kinds)], rng)
            except Exception as e:  # noqa: BLE001
                errors.append(f"thread {k}: {e!r}")

        threads = [threading.Thread(target=client, args=(k,)) for k in range(n_threads)]
        for t in threads:
            t.start()
        # replace the model in the middle of the traffic
        for _ in range(6000):
            with lock:
                if done[0] >= n_threads * n_before // 2:
                    break
            time.sleep(0.005)
        shutil.copy(models["cat2_path"], tmp_path / "next.tmp")
        os.replace(tmp_path / "next.tmp", path)
        r = s.post("/admin/reload", headers=auth)
        reloaded.set()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads)
        assert r.status_code == 200 and r.json()["ok"], r.text
        v_new = s.get("/model").json()["version"]
        assert v_new != v_old and v_new == r.json()["version"]
        assert not errors, errors
        assert len(results) == n_threads * (n_before + n_after)

        seen = {v_old: 0, v_new: 0}
        for k, late, kind, status, version, rows, out, preds in results:
            if kind in ("single", "batch"):
                assert status == 200, (k, kind, status)
                assert version in seen, version
                if late:
                    assert version == v_new, (k, kind, version)
                seen[version] += 1
                model = "cat" if version == v_old else "cat2"
                np.testing.assert_array_equal(np.array(preds), expect[model, out][rows])
            elif kind == "bad_token":
                assert status == 401, (k, kind, status)
            else:
                assert status == invalid[kind][1], (k, kind, status)
        assert seen[v_old] > 0 and seen[v_new] > 0
        assert {x[2] for x in results if x[1]} == set(kinds)  # every kind after the reload
        assert s.get("/model").json()["version"] == v_new
        assert s.get("/healthz").status_code == 200
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(60) == 0
        assert "Traceback" not in s.log.read_text()


# ---------------------------------------------------------------------------- shutdown
def test_sigterm_drains_in_flight_requests_and_exits_0(models: dict[str, Any],
                                                       tmp_path: Path) -> None:
    df = _frame(60_000, seed=5)
    table = pa.Table.from_pandas(df, preserve_index=False)
    body = _arrow_body(table)
    expect = models["cat"].predict(table, output="contrib")
    with serving(models["cat_path"], tmp_path) as s:
        result: list[Any] = []

        def big() -> None:
            result.append(httpx.post(s.url + "/predict?output=contrib", content=body,
                                     headers={"content-type": ARROW, "accept": ARROW},
                                     timeout=120))

        t = threading.Thread(target=big)
        t.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and s.metric("sapwood_requests_in_flight") < 1:
            time.sleep(0.002)
        s.proc.send_signal(signal.SIGTERM)
        t.join(120)
        assert s.proc.wait(60) == 0
        assert result and result[0].status_code == 200
        back = pa.ipc.open_stream(result[0].content).read_all()
        np.testing.assert_array_equal(back.column("bias").to_numpy(), expect[:, -1])
        np.testing.assert_array_equal(back.column("a").to_numpy(), expect[:, 0])
        assert "Traceback" not in s.log.read_text()


# ---------------------------------------------------------------------------- drift
def test_live_drift_equals_monitoring_compare(models: dict[str, Any], tmp_path: Path) -> None:
    booster = models["cat"]
    df = _frame(900, seed=21)
    df["a"] = df["a"] + 0.5  # some drift
    prof_dir = tmp_path / "profiles"
    store_dir = tmp_path / "store"
    with serving(models["cat_path"], tmp_path, "--profile-dir", str(prof_dir),
                 "--profile-store", str(store_dir), "--profile-interval", "0.3") as s:
        a = 0
        for size in (1, 7, 300, 92, 500):  # requests of several sizes, JSON and Arrow
            part = df.iloc[a:a + size]
            if size == 300:
                body = _arrow_body(pa.Table.from_pandas(part, preserve_index=False))
                r = s.post("/predict", content=body, headers={"content-type": ARROW})
            else:
                r = s.post("/predict", json={"records": _records(part)})
            assert r.status_code == 200, r.text
            a += size
        sent = df.iloc[:a].reset_index(drop=True)
        rep = s.get("/drift").json()
        assert rep["enabled"] and rep["rows"] == a
        ref = compare(booster, sent)
        for name in ("a", "b", "c", "__prediction__"):
            assert rep["features"][name]["psi"] == pytest.approx(ref.features[name]["psi"],
                                                                 rel=1e-9, abs=1e-12), name
            assert rep["features"][name]["status"] == ref.features[name]["status"], name
        assert rep["status"] == ref.status
        for name in ("a", "b", "c"):
            assert s.metric("sapwood_drift_psi", f'feature="{name}"') == pytest.approx(
                ref.features[name]["psi"], rel=1e-9, abs=1e-12)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(prof_dir.glob("profile-*.json")):
            time.sleep(0.05)
        s.proc.send_signal(signal.SIGTERM)
        assert s.proc.wait(60) == 0
    files = sorted(prof_dir.iterdir())
    assert files and all(f.name.startswith("profile-") and f.suffix == ".json" for f in files)
    profiles = [sapwood.Profile.load(f) for f in files]
    merged = profiles[0].merge(*profiles[1:]) if len(profiles) > 1 else profiles[0]
    assert merged.num_rows == a
    again = compare(booster, merged)
    assert again.features["a"]["psi"] == pytest.approx(ref.features["a"]["psi"], rel=1e-9)
    # the same windows went to the monitoring store, with the model's checksum
    from sapwood.monitoring.store import ProfileStore, model_checksum

    entries = ProfileStore(store_dir).read()
    assert sum(int(e.rows) for e in entries) == a
    assert {e.model for e in entries} == {model_checksum(models["cat_path"])}


def test_json_bodies_parse_the_same_with_and_without_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    # orjson (when installed) parses large bodies faster; the accepted bodies and the decoded
    # values must not change, including the NaN / Infinity literals Python's json.dumps writes
    # (strict JSON, which orjson refuses: those bodies fall back to json).
    from sapwood.serve import inputs as I

    feats = [I.Feature("a"), I.Feature("b")]
    bodies = [b'[{"a": 1.5, "b": null}, {"a": -2, "b": true}]',
              b'{"records": [{"a": NaN, "b": Infinity}, {"a": -Infinity, "b": 0.1}]}',
              b'{"columns": {"a": [1e300, 2], "b": [3, 4.25]}, "output": "raw"}']
    with_fast = [I.decode_json(b, feats) for b in bodies]
    monkeypatch.setattr(I, "_orjson", None)
    plain = [I.decode_json(b, feats) for b in bodies]
    for (fast, out_f), (ref, out_r) in zip(with_fast, plain, strict=True):
        assert out_f == out_r and fast.num_rows == ref.num_rows
        for x, y in zip(fast.columns, ref.columns, strict=True):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(I.RequestError, match="not valid JSON"):
        I.decode_json(b'[{"a": 1,}]', feats)

"""Load test, side by side: ``sapwood serve`` vs MLflow's model server on the same model.

    python benchmarks/compare/serve.py [--seconds 5] [--trees 300] [--leaves 63]

Trains a LightGBM model (fixed seed; 300 trees of up to 63 leaves, 20 numeric features),
serves it with ``sapwood serve`` (imported from LightGBM's text file) and with
``mlflow models serve --env-manager local`` (the ``mlflow.lightgbm`` flavor), one process
each, both on 127.0.0.1, and drives each with an async httpx client: 1, 16 and 64 concurrent
clients sending single rows, and 1 and 16 clients sending batches of 1,000 rows (JSON
records to both). Prints requests/s, rows/s, p50 and p99 latency per case and the ratios,
measured in one run. Both servers' predictions are checked against LightGBM first.

The load generator shares the machine with the servers: on a small machine it is part of
what is measured (report the machine with the figures). Every phase is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not ready after {timeout} s")


async def _drive(url: str, bodies: list[bytes], clients: int, seconds: float
                 ) -> tuple[list[float], int]:
    import httpx

    lat: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker(k: int) -> None:
            nonlocal errors
            i = k
            while time.perf_counter() < stop:
                body = bodies[i % len(bodies)]
                i += clients
                t = time.perf_counter()
                r = await client.post(url, content=body,
                                      headers={"content-type": "application/json"})
                if r.status_code != 200:
                    errors += 1
                lat.append(time.perf_counter() - t)

        await asyncio.gather(*(worker(k) for k in range(clients)))
    return lat, errors


def _records(X: np.ndarray, names: list[str]) -> list[dict[str, float]]:
    return [dict(zip(names, map(float, row), strict=True)) for row in X]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=5.0, help="per case")
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--features", type=int, default=20)
    ap.add_argument("--clients", default="1,16,64")
    ap.add_argument("--batch-clients", default="1,16")
    ap.add_argument("--no-mlflow", action="store_true")
    a = ap.parse_args()

    import lightgbm as lgb
    import sapwood

    rng = np.random.default_rng(0)
    n, m = 50_000, a.features
    X = rng.normal(size=(n, m))
    y = X[:, 0] * 2 + np.sin(X[:, 1] * 3) + X[:, 2] * X[:, 3] + rng.normal(size=n) * 0.1
    names = [f"f{j}" for j in range(m)]
    model = lgb.train({"objective": "regression", "num_leaves": a.leaves, "verbose": -1,
                       "min_data_in_leaf": 5, "seed": 0},
                      lgb.Dataset(X, label=y, feature_name=names), num_boost_round=a.trees)
    tmp = Path(tempfile.mkdtemp(prefix="sapwood-serve-bench-"))
    txt = tmp / "model.txt"
    model.save_model(str(txt))
    booster = sapwood.import_model(str(txt))
    sw_path = tmp / "model.sapwood"
    booster.save(sw_path)
    Xq = rng.normal(size=(4096, m))
    ref = model.predict(Xq)
    assert np.allclose(booster.predict(Xq), ref, rtol=1e-6, atol=1e-6)
    singles = [json.dumps({"records": [r]}).encode() for r in _records(Xq[:512], names)]
    batches = [json.dumps({"records": _records(Xq[i:i + 1000], names)}).encode()
               for i in range(0, 3000, 1000)]
    ml_singles = [json.dumps({"dataframe_records": [r]}).encode()
                  for r in _records(Xq[:512], names)]
    ml_batches = [json.dumps({"dataframe_records": _records(Xq[i:i + 1000], names)}).encode()
                  for i in range(0, 3000, 1000)]

    env = dict(os.environ, PYTHONPATH=str(ROOT / "python") + os.pathsep
               + os.environ.get("PYTHONPATH", ""))
    servers: dict[str, tuple[list[str], str, list[bytes], list[bytes], str]] = {}
    p1 = _free_port()
    servers["sapwood"] = ([sys.executable, "-m", "sapwood", "serve", str(sw_path), "--host",
                           "127.0.0.1", "--port", str(p1), "--log-level", "warning"],
                          f"http://127.0.0.1:{p1}", singles, batches, "/readyz")
    if not a.no_mlflow:
        import mlflow

        ml_dir = tmp / "mlflow_model"
        mlflow.lightgbm.save_model(model, str(ml_dir))
        p2 = _free_port()
        servers["mlflow"] = ([sys.executable, "-m", "mlflow", "models", "serve", "-m",
                              str(ml_dir), "--env-manager", "local", "-h", "127.0.0.1", "-p",
                              str(p2), "-w", "1"],
                             f"http://127.0.0.1:{p2}", ml_singles, ml_batches, "/ping")
    cases = [("1 row", int(c)) for c in a.clients.split(",")] + \
            [("1000 rows", int(c)) for c in a.batch_clients.split(",")]
    results: dict[str, dict[tuple[str, int], dict[str, float]]] = {}
    for name, (cmd, url, single_b, batch_b, ready) in servers.items():
        log = open(tmp / f"{name}.log", "wb")  # noqa: SIM115
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        try:
            _wait_ready(url + ready, proc, 180)
            import httpx

            r = httpx.post(url + ("/predict" if name == "sapwood" else "/invocations"),
                           content=batch_b[0], headers={"content-type": "application/json"},
                           timeout=60)
            r.raise_for_status()
            got = np.asarray(r.json()["predictions"], dtype=np.float64).ravel()
            assert np.allclose(got, ref[:1000], rtol=1e-6, atol=1e-6), name
            path = "/predict" if name == "sapwood" else "/invocations"
            results[name] = {}
            for what, clients in cases:
                bodies = single_b if what == "1 row" else batch_b
                asyncio.run(_drive(url + path, bodies, clients, 1.0))  # warm-up
                lat, errors = asyncio.run(_drive(url + path, bodies, clients, a.seconds))
                arr = np.array(lat)
                rows = 1 if what == "1 row" else 1000
                results[name][(what, clients)] = {
                    "rps": len(arr) / a.seconds, "rows_s": len(arr) * rows / a.seconds,
                    "p50_ms": float(np.percentile(arr, 50) * 1e3),
                    "p99_ms": float(np.percentile(arr, 99) * 1e3), "errors": errors}
                res = results[name][(what, clients)]
                print(f"{name:8s} {what:9s} x{clients:<3d} {res['rps']:9.1f} req/s "
                      f"{res['rows_s']:11.0f} rows/s  p50 {res['p50_ms']:8.2f} ms  "
                      f"p99 {res['p99_ms']:8.2f} ms  errors {errors}", flush=True)
            if name == "sapwood":
                text = httpx.get(url + "/metrics").text
                mm = re.search(r"^sapwood_batch_requests_sum (\S+)$", text, re.M)
                cc = re.search(r"^sapwood_batch_requests_count (\S+)$", text, re.M)
                if mm and cc:
                    print(f"sapwood: {float(mm.group(1)) / float(cc.group(1)):.2f} requests "
                          "per predict call on average", flush=True)
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()
    if "mlflow" in results:
        print("\nratios (sapwood / mlflow): throughput, p99")
        for key in results["sapwood"]:
            s, ml = results["sapwood"][key], results["mlflow"][key]
            print(f"  {key[0]:9s} x{key[1]:<3d} throughput {s['rps'] / ml['rps']:6.2f}x   "
                  f"p99 {s['p99_ms'] / ml['p99_ms']:6.3f}x")


if __name__ == "__main__":
    main()

"""Soak test of ``sapwood serve``: mixed valid and invalid traffic, a reload in the middle.

    python benchmarks/compare/serve_soak.py [--seconds 600] [--clients 8] [--growth-bound-mib 64]

Trains two sapwood models (fixed seeds; 8 numeric features and one categorical, 100 rounds
of up to 31 leaves, the second with another seed), starts ``sapwood serve`` on 127.0.0.1 (a
free port, ``--admin-token``, a 1 MiB body limit) and drives it with an async httpx client
for ``--seconds``: single valid records, valid 200-row column batches, malformed JSON, a
missing column, a wrong type, an unknown output, oversized bodies, bodies that are not JSON,
and reloads with a wrong token. Halfway, the second model is written over the served file
(atomically) and ``POST /admin/reload`` swaps it in while the load goes on.

Checks and reports: every valid request answered 200 with the prediction of model A or B
for its row (after the reload: B; failures listed), every invalid one answered 4xx (counts
by status code), the server's RSS sampled every ``--sample-seconds`` (at start, after the
warm-up, at the end, and the growth after warm-up against ``--growth-bound-mib``). Traffic
goes only to 127.0.0.1; every loop is bounded in time and in count. Exit status 0 when every
check holds, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "soak-token"
MAX_BODY = 1 << 20
MAX_REQUESTS = 20_000_000  # a bound on the loop besides the clock


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its children, MiB (Linux /proc)."""
    total = 0
    pids = [pid]
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(k) for k in kids]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def _data(seed: int, n: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(8)})
    X["shop"] = pd.Categorical(rng.choice(["north", "south", "east", "west", "online"], n))
    X.loc[rng.random(n) < 0.05, "x1"] = np.nan
    y = (X["x0"] * 2 + np.sin(X["x2"] * 3) + (X["shop"] == "online") * 1.5
         + rng.normal(size=n) * 0.3).to_numpy()
    return X, y


def _train(seed: int) -> Any:
    import sapwood

    X, y = _data(seed, 20_000)
    return sapwood.train({"objective": "regression", "n_estimators": 100, "num_leaves": 31,
                          "random_state": seed, "n_jobs": 1}, sapwood.Dataset(X, label=y))


def _record(X: Any, i: int) -> dict[str, Any]:
    rec: dict[str, Any] = {}
    for c in X.columns:
        v = X[c].iloc[i]
        rec[c] = None if (isinstance(v, float) and np.isnan(v)) else \
            (str(v) if c == "shop" else float(v))
    return rec


async def _soak(a: argparse.Namespace, url: str, pid: int, model_path: Path, second: Any,
                X: Any, pred: dict[str, np.ndarray]) -> dict[str, Any]:
    import httpx

    n = len(X)
    records = [_record(X, i) for i in range(n)]
    batch_rows = 200
    batch_starts = list(range(0, n - batch_rows, batch_rows))
    batches = {s: json.dumps({"columns": {c: [r[c] for r in records[s:s + batch_rows]]
                                          for c in X.columns}}).encode()
               for s in batch_starts}
    singles = [json.dumps({"records": [r]}).encode() for r in records]
    missing_col = [json.dumps({"records": [{k: v for k, v in r.items() if k != "x3"}]}).encode()
                   for r in records[:50]]
    wrong_type = [json.dumps({"records": [{**r, "x0": "not a number"}]}).encode()
                  for r in records[:50]]
    oversized = json.dumps({"records": [records[0]] * (MAX_BODY // 100 + 2000)}).encode()
    assert len(oversized) > MAX_BODY
    malformed = [b'{"records": [', b"{", b'{"records": 5}', b"[1, 2", b'{"columns": {"x0": [1'
                 b"\x00"]
    invalid_kinds = ("malformed", "missing_column", "wrong_type", "bad_output", "oversized",
                     "not_json", "bad_token")
    # weights: mostly valid single rows and batches, every invalid kind often
    kinds = (["single"] * 50 + ["batch"] * 12 + ["malformed"] * 8 + ["missing_column"] * 8
             + ["wrong_type"] * 8 + ["bad_output"] * 5 + ["oversized"] * 2 + ["not_json"] * 5
             + ["bad_token"] * 2)

    valid_ok = Counter[str]()
    valid_failed: list[str] = []
    invalid_codes: dict[str, Counter[int]] = {k: Counter() for k in invalid_kinds}
    invalid_not_4xx: list[str] = []
    latencies: list[float] = []
    rss: list[tuple[float, float]] = []
    t_start = time.monotonic()
    deadline = t_start + a.seconds
    reload_at = t_start + a.seconds / 2
    state = {"reloaded_at": None, "sent": 0, "reload": None}

    def expected(rows: slice | int) -> tuple[np.ndarray, np.ndarray]:
        return pred["a"][rows], pred["b"][rows]

    def check(values: Any, rows: slice | int, t_sent: float) -> str | None:
        got = np.asarray(values, dtype=np.float64).reshape(-1)
        ea, eb = (np.asarray(e).reshape(-1) for e in expected(rows))
        ok_a = got.shape == ea.shape and np.allclose(got, ea, rtol=1e-6, atol=1e-9)
        ok_b = got.shape == eb.shape and np.allclose(got, eb, rtol=1e-6, atol=1e-9)
        done = state["reloaded_at"]
        if done is not None and t_sent > done:  # sent after the swap: model B only
            return None if ok_b else "not model B's prediction after the reload"
        return None if (ok_a or ok_b) else "neither model's prediction"

    async def client(cid: int, http: Any) -> None:
        rng = random.Random(cid)
        while time.monotonic() < deadline and state["sent"] < MAX_REQUESTS:
            state["sent"] += 1
            kind = rng.choice(kinds)
            headers = {"content-type": "application/json"}
            path = "/predict"
            t0 = time.monotonic()
            rows: slice | int = 0
            if kind == "single":
                i = rng.randrange(n)
                body, rows = singles[i], i
            elif kind == "batch":
                s = rng.choice(batch_starts)
                body, rows = batches[s], slice(s, s + batch_rows)
            elif kind == "malformed":
                body = rng.choice(malformed)
            elif kind == "missing_column":
                body = rng.choice(missing_col)
            elif kind == "wrong_type":
                body = rng.choice(wrong_type)
            elif kind == "bad_output":
                body, path = singles[rng.randrange(n)], "/predict?output=nonsense"
            elif kind == "oversized":
                body = oversized
            elif kind == "not_json":
                body, headers = b"x0=1&x1=2", {"content-type": "text/plain"}
            else:  # bad_token
                body, path = b"", "/admin/reload"
                headers = {"authorization": "Bearer wrong"}
            try:
                r = await http.post(url + path, content=body, headers=headers)
                status, payload = r.status_code, r.content
            except httpx.HTTPError as e:
                status, payload = -1, str(e).encode()
            dt = time.monotonic() - t0
            if kind in ("single", "batch"):
                latencies.append(dt)
                why = None
                if status != 200:
                    why = f"status {status}: {payload[:200]!r}"
                else:
                    try:
                        doc = json.loads(payload)
                        why = check(doc.get("value", doc.get("predictions")), rows, t0)
                    except (ValueError, AttributeError) as e:
                        why = f"unreadable answer: {e}"
                if why is None:
                    valid_ok[kind] += 1
                else:
                    valid_failed.append(f"{kind} rows {rows}: {why}")
            else:
                invalid_codes[kind][status] += 1
                if not 400 <= status < 500:
                    invalid_not_4xx.append(f"{kind}: status {status}: {payload[:200]!r}")

    async def sampler() -> None:
        while time.monotonic() < deadline:
            rss.append((time.monotonic() - t_start, _rss_mib(pid)))
            await asyncio.sleep(min(a.sample_seconds, max(0.0, deadline - time.monotonic())))
        rss.append((time.monotonic() - t_start, _rss_mib(pid)))

    async def reloader(http: Any) -> None:
        await asyncio.sleep(max(0.0, reload_at - time.monotonic()))
        second.save(model_path)  # atomic: the served file is whole at every moment
        t0 = time.monotonic()
        r = await http.post(url + "/admin/reload",
                            headers={"authorization": f"Bearer {TOKEN}"}, timeout=120)
        state["reloaded_at"] = time.monotonic()
        state["reload"] = {"status": r.status_code, "seconds": round(time.monotonic() - t0, 3),
                           "at_s": round(t0 - t_start, 1), "answer": r.json()}

    limits = httpx.Limits(max_connections=a.clients + 4)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        await asyncio.gather(sampler(), reloader(http),
                             *(client(c, http) for c in range(a.clients)))

    warm = [m for t, m in rss if t >= a.warmup_seconds] or [rss[-1][1]]
    lat = np.asarray(latencies) * 1000 if latencies else np.zeros(1)
    return {
        "seconds": a.seconds, "clients": a.clients, "requests": state["sent"],
        "valid_ok": dict(valid_ok), "valid_failed": len(valid_failed),
        "valid_failed_examples": valid_failed[:10],
        "invalid_by_kind_and_status": {k: dict(v) for k, v in invalid_codes.items()},
        "invalid_not_4xx": len(invalid_not_4xx), "invalid_not_4xx_examples": invalid_not_4xx[:10],
        "reload": state["reload"],
        "valid_latency_ms": {"p50": float(np.percentile(lat, 50)),
                             "p99": float(np.percentile(lat, 99))},
        "rss_mib": {"start": rss[0][1], "after_warmup": warm[0], "end": rss[-1][1],
                    "max": max(m for _, m in rss),
                    "growth_after_warmup": rss[-1][1] - warm[0],
                    "samples": " ".join(f"{t:.0f}s:{m:.1f}" for t, m in rss)},
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=600.0)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--sample-seconds", type=float, default=5.0)
    ap.add_argument("--warmup-seconds", type=float, default=60.0)
    ap.add_argument("--growth-bound-mib", type=float, default=64.0)
    ap.add_argument("--json", help="also write the report here")
    a = ap.parse_args()
    a.warmup_seconds = min(a.warmup_seconds, a.seconds / 4)

    first, second = _train(1), _train(2)
    X, _ = _data(99, 4000)
    pred = {"a": first.predict(X), "b": second.predict(X)}
    tmp = Path(tempfile.mkdtemp(prefix="sapwood-soak-"))
    model_path = tmp / "model.sapwood"
    first.save(model_path)
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT / "python") + os.pathsep
           + os.environ.get("PYTHONPATH", "")}
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "sapwood", "serve", str(model_path), "--host", "127.0.0.1",
         "--port", str(port), "--admin-token", TOKEN, "--max-body-bytes", str(MAX_BODY),
         "--log-level", "warning"], stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode}; see {tmp}/server.log")
            try:
                if httpx.get(url + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready after 120 s")
            time.sleep(0.2)
        report = asyncio.run(_soak(a, url, proc.pid, model_path, second, X, pred))
        report["server_alive_at_end"] = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                report_exit = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                report_exit = proc.wait()
        else:
            report_exit = proc.returncode
        log.close()
    report["server_exit_code_after_sigterm"] = report_exit
    r = report["rss_mib"]
    checks = {
        "no failed valid request": report["valid_failed"] == 0,
        "every invalid request answered 4xx": report["invalid_not_4xx"] == 0,
        "reload answered 200": (report["reload"] or {}).get("status") == 200,
        f"RSS growth after warm-up <= {a.growth_bound_mib} MiB":
            r["growth_after_warmup"] <= a.growth_bound_mib,
        "server alive until SIGTERM, then exit 0": report["server_alive_at_end"]
            and report_exit == 0,
    }
    report["checks"] = checks
    text = json.dumps(report, indent=1)
    print(text)
    if a.json:
        Path(a.json).write_text(text)
    print("\n" + "\n".join(f"{'PASS' if ok else 'FAIL'}  {name}" for name, ok in checks.items()))
    print(f"requests {report['requests']} in {a.seconds:.0f} s; valid ok {report['valid_ok']}; "
          f"RSS start {r['start']:.1f} MiB, after warm-up {r['after_warmup']:.1f}, end "
          f"{r['end']:.1f} (growth {r['growth_after_warmup']:+.1f}, max {r['max']:.1f})")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

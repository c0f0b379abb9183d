"""Distributed training side by side: sapwood.dask.train vs lightgbm.dask and xgboost.dask on
a LocalCluster of single-threaded worker processes, and single-machine sapwood.train, in one
run, on the same data and settings.

Each library gets a fresh cluster, started in its own subprocess, so its workers' peak memory
(max RSS, read from each worker process) is its own. The data is generated on the workers as
a Dask array (the same seed for everyone); single-machine sapwood gets it as one numpy array.

    python benchmarks/compare/dask_train.py [--rows 2000000] [--features 32] [--rounds 100]
        [--leaves 63] [--workers 2] [--only sapwood_dask,lightgbm_dask,xgboost_dask,sapwood]
        [--batch B] [--lead-extra F] [--narrow 0|1] [--comms rpc|actor] [--profile 0|1]
        [--array 0|1]

`--only` may name a library more than once (runs alternate in that order, for before/after
pairs on a loaded machine); `--lead-extra`, `--narrow` and `--comms` set sapwood.dask.train's
leader share, histogram narrowing and how the leader calls its peers (the defaults are the
library's). `--profile 1` has both sapwood runs store the reference profile (the default, 0,
builds none in either, as the peers build none; before the fourth pass the distributed run
built one and the single-machine run did not). `--array 0` sends the Dask array to the workers
as pandas frames (the path before the fifth pass) instead of numpy blocks.

Prints one JSON line per library: wall seconds of the fit (data already on the workers), peak
RSS per worker (MiB), held-out AUC, and for sapwood.dask the round trips to the workers and
the seconds they took, and where the leader's time went (sending + its own share, waiting for
the peers, adding histograms up, the growth loop).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

PEERS = ["sapwood_dask", "lightgbm_dask", "xgboost_dask", "sapwood"]


def make(rows: int, features: int, chunks: int) -> tuple[object, object]:
    """A Dask array of float32 features with 2% NaN and binary labels, seeded."""
    import dask.array as da

    rs = da.random.RandomState(42)
    X = rs.normal(size=(rows, features), chunks=(chunks, features)).astype(np.float32)
    X = da.where(rs.random_sample(size=(rows, features), chunks=(chunks, features)) < 0.02,
                 np.float32(np.nan), X)
    w = np.linspace(-1.0, 1.0, features).astype(np.float32)
    Xz = da.nan_to_num(X)
    logit = Xz @ w + 0.5 * Xz[:, 0] * Xz[:, 1] - 0.3 * Xz[:, 2] ** 2
    noise = rs.logistic(size=rows, chunks=chunks)
    y = (logit + noise > 0).astype(np.float64)
    return X, y


def worker_peaks(client: object) -> list[float]:
    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    return sorted(client.run(peak).values())  # type: ignore[attr-defined]


def actor_round_trip_ms(client: object, calls: int = 300) -> float:
    """Median wall time of one empty call to a Dask actor on a worker (Dask's per-message
    cost as sapwood's training pays it)."""
    from sapwood.train.dask_training import TrainWorker

    actor = client.submit(TrainWorker, [], [], {}, [], [],  # type: ignore[attr-defined]
                          actor=True).result()
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        actor.begin_round().result()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1e3)


def run_one(name: str, rows: int, features: int, rounds: int, leaves: int,
            workers: int, batch: int | None = None, lead_extra: float | None = None,
            narrow: int | None = None, comms: str | None = None,
            profile: int = 0, array: int | None = None) -> dict[str, object]:
    from distributed import Client, LocalCluster, wait

    out: dict[str, object] = {"library": name, "rows": rows, "features": features,
                              "rounds": rounds, "leaves": leaves, "workers": workers,
                              "profile": profile}
    test_rows = min(200_000, rows // 10)
    if name == "sapwood":
        import dask
        import sapwood

        with dask.config.set(scheduler="threads"):
            X, y = make(rows + test_rows, features, max(1, (rows + test_rows) // (4 * workers)))
            Xn, yn = dask.compute(X, y)
        Xtr, ytr, Xte, yte = Xn[:rows], yn[:rows], Xn[rows:], yn[rows:]
        t0 = time.perf_counter()
        b = sapwood.train({"objective": "binary", "n_estimators": rounds, "num_leaves": leaves,
                           "learning_rate": 0.1, "n_jobs": workers, "random_state": 0},
                          sapwood.Dataset(Xtr, ytr), reference_profile=bool(profile))
        out["fit_s"] = time.perf_counter() - t0
        p = b.predict(Xte)
        out["peak_rss_mib"] = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
    else:
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1",
                          memory_limit=0) as cluster, Client(cluster) as client:
            X, y = make(rows + test_rows, features, max(1, (rows + test_rows) // (4 * workers)))
            Xtr, ytr = X[:rows].persist(), y[:rows].persist()
            wait([Xtr, ytr])
            Xte, yte = X[rows:].compute(), y[rows:].compute()
            out["rss_before_mib"] = worker_peaks(client)
            t0 = time.perf_counter()
            if name == "sapwood_dask":
                import sapwood
                from sapwood.train import dask_training
                from sapwood.train.dask_training import _LAST_RUN

                if lead_extra is not None:
                    dask_training._LEAD_EXTRA = lead_extra
                if narrow is not None:
                    dask_training._NARROW = bool(narrow)
                if comms is not None:
                    dask_training._COMMS = comms
                if array is not None:
                    dask_training._ARRAY_PATH = bool(array)
                out["comms"] = dask_training._COMMS
                out["lead_extra"] = dask_training._LEAD_EXTRA
                out["narrow"] = dask_training._NARROW
                b = sapwood.dask.train({"objective": "binary", "n_estimators": rounds,
                                        "num_leaves": leaves, "learning_rate": 0.1,
                                        "random_state": 0}, Xtr, label=ytr, batch=batch,
                                       reference_profile=bool(profile))
                out["fit_s"] = time.perf_counter() - t0
                out.update({f"dask_{k}": v for k, v in _LAST_RUN.items()})
                out["received_mib_per_tree"] = (
                    _LAST_RUN["leader"]["received_bytes"] / 2**20 / max(1, rounds))
                p = b.predict(Xte)
                out["actor_round_trip_ms"] = actor_round_trip_ms(client)
            elif name == "lightgbm_dask":
                import lightgbm as lgb

                m = lgb.DaskLGBMClassifier(n_estimators=rounds, num_leaves=leaves,
                                           learning_rate=0.1, max_bin=255, verbose=-1,
                                           random_state=0, client=client)
                m.fit(Xtr, ytr)
                out["fit_s"] = time.perf_counter() - t0
                p = m.to_local().predict_proba(Xte)[:, 1]
            elif name == "xgboost_dask":
                import xgboost as xgb
                import xgboost.dask  # noqa: F401  (the Dask module is a subpackage)

                dtrain = xgb.dask.DaskQuantileDMatrix(client, Xtr, ytr, max_bin=255)
                res = xgb.dask.train(client, {"objective": "binary:logistic",
                                              "tree_method": "hist", "max_leaves": leaves,
                                              "max_depth": 0, "grow_policy": "lossguide",
                                              "eta": 0.1, "max_bin": 255, "nthread": 1},
                                     dtrain, num_boost_round=rounds)
                out["fit_s"] = time.perf_counter() - t0
                p = res["booster"].inplace_predict(Xte)
            else:
                raise SystemExit(f"unknown library {name}")
            out["peak_rss_mib"] = worker_peaks(client)
    from sklearn.metrics import roc_auc_score

    out["auc"] = float(roc_auc_score(yte, p))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=2_000_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--only", default=",".join(PEERS))
    ap.add_argument("--batch", type=int, default=None, help="sapwood.dask.train's batch")
    ap.add_argument("--lead-extra", type=float, default=None,
                    help="the leader's extra share of rows (a fraction of n / W)")
    ap.add_argument("--narrow", type=int, default=None, choices=(0, 1),
                    help="peers send narrowed histograms")
    ap.add_argument("--comms", default=None, choices=("rpc", "actor"),
                    help="how sapwood.dask.train's leader calls its peers")
    ap.add_argument("--profile", type=int, default=0, choices=(0, 1),
                    help="both sapwood runs store the reference profile")
    ap.add_argument("--array", type=int, default=None, choices=(0, 1),
                    help="sapwood.dask.train keeps Dask arrays as numpy blocks (1) or frames (0)")
    ap.add_argument("--child", default=None)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(run_one(a.child, a.rows, a.features, a.rounds, a.leaves, a.workers,
                                 a.batch, a.lead_extra, a.narrow, a.comms, a.profile,
                                 a.array)))
        return
    for name in a.only.split(","):
        cmd = [sys.executable, os.path.abspath(__file__), "--child", name, "--rows",
               str(a.rows), "--features", str(a.features), "--rounds", str(a.rounds),
               "--leaves", str(a.leaves), "--workers", str(a.workers)]
        if a.batch is not None:  # was parsed but never passed on
            cmd += ["--batch", str(a.batch)]
        if a.lead_extra is not None:
            cmd += ["--lead-extra", str(a.lead_extra)]
        if a.narrow is not None:
            cmd += ["--narrow", str(a.narrow)]
        if a.comms is not None:
            cmd += ["--comms", a.comms]
        cmd += ["--profile", str(a.profile)]
        if a.array is not None:
            cmd += ["--array", str(a.array)]
        r = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
        res = json.loads(lines[-1]) if lines else {"library": name, "error": r.stderr[-2000:]}
        res["load_avg"] = [round(x, 2) for x in os.getloadavg()]
        print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()

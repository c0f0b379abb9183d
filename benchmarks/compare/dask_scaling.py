"""How sapwood.dask.train's coordination cost grows with the number of workers, simulated with
many single-threaded worker processes on one machine (docs/distributed.md uses the figures).

For each worker count: round trips per tree (the leader's calls to every worker, itself
included), seconds per round trip (all workers answering), bytes of histograms per tree, an
empty actor call's median round trip, and where the leader's time went.

    python benchmarks/compare/dask_scaling.py [--rows 200000] [--features 32] [--rounds 10]
        [--leaves 63] [--workers 2,4,8,16]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--workers", default="2,4,8,16")
    a = ap.parse_args()

    import dask.array as da
    import sapwood
    from distributed import Client, LocalCluster, wait
    from sapwood.train.dask_training import _LAST_RUN, TrainWorker

    rng = np.random.default_rng(0)
    X = rng.normal(size=(a.rows, a.features)).astype(np.float32)
    y = (X[:, :8].sum(1) + 0.5 * X[:, 8] * X[:, 9] + rng.logistic(size=a.rows) > 0).astype(float)
    for w in [int(v) for v in a.workers.split(",")]:
        with LocalCluster(n_workers=w, threads_per_worker=1, processes=True,
                          dashboard_address=None, host="127.0.0.1") as cl, Client(cl) as c:
            chunk = -(-a.rows // (2 * w))
            Xd = da.from_array(X, chunks=(chunk, a.features)).persist()
            yd = da.from_array(y, chunks=chunk).persist()
            wait([Xd, yd])
            t0 = time.perf_counter()
            b = sapwood.dask.train({"objective": "binary", "n_estimators": a.rounds,
                                    "num_leaves": a.leaves}, Xd, label=yd,
                                   reference_profile=False)
            wall = time.perf_counter() - t0
            run = dict(_LAST_RUN)
            actor = c.submit(TrainWorker, [], [], {}, [], [], actor=True).result()
            times = []
            for _ in range(200):
                t1 = time.perf_counter()
                actor.begin_round().result()
                times.append(time.perf_counter() - t1)
            bins = sum(len(e) + 2 for e in b.bin_edges)  # value bins + the NaN bin, per feature
            trees = b.num_trees
            print(json.dumps({
                "workers": w, "rows": a.rows, "features": a.features, "leaves": a.leaves,
                "wall_s": round(wall, 3), "rounds_s": round(run["rounds_s"], 3),
                "calls_per_tree": round(run["calls"] / trees, 2),
                "ms_per_call": round(1e3 * run["call_seconds"] / run["calls"], 3),
                "empty_actor_call_ms": round(float(np.median(times)) * 1e3, 3),
                # the leader's time: sending + its own share, waiting for the peers, adding up
                "leader": {k: round(v, 3) for k, v in run.get("leader", {}).items()},
                "histogram_bytes": 16 * bins,
            }), flush=True)


if __name__ == "__main__":
    main()

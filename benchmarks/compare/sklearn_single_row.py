"""Single-row latency: the scikit-learn estimators next to Booster.predict, in one run.

Fits GBMClassifier (--trees trees of up to --leaves leaves, float32 synthetic data with 2% NaN)
on a numpy array, on a pandas frame and on a polars frame, then times one row at a time:

* Booster.predict on a float32 row (the reference) and on a float64 row;
* the estimator's predict_proba / predict on the same rows: array, pandas, polars, Arrow;
* the same estimator calls through scikit-learn's input validation (the fast path switched
  off), which is what every call cost before the fast path;
* Booster.predict on a one-row pandas frame.

Each figure is the median over --samples samples of the mean time of --calls calls, each call
on another of 64 prepared rows; the cases take turns sample by sample, so that a busy machine
slows them alike and their ratios hold. Ratios are to Booster.predict on a float32 row, in this
run. Example (about a minute on 2 cores, most of it fitting):

    PYTHONPATH=python python benchmarks/compare/sklearn_single_row.py
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import sapwood  # noqa: E402
from _data import binary_classification  # noqa: E402

sksw = importlib.import_module("sapwood.train.sklearn")


def cycle(fn: Callable[[Any], Any], inputs: list[Any]) -> Callable[[int], None]:
    n = len(inputs)

    def run(calls: int) -> None:
        for i in range(calls):
            fn(inputs[i % n])

    return run


def slow(fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """fn with the estimator's fast path switched off (scikit-learn validates every call)."""

    def call(x: Any) -> Any:
        sksw._FAST_PATH = False
        try:
            return fn(x)
        finally:
            sksw._FAST_PATH = True

    return call


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train-rows", type=int, default=20_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--trees", type=int, default=100)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--samples", type=int, default=41)
    ap.add_argument("--calls", type=int, default=200)
    args = ap.parse_args()

    import pandas as pd

    params = {"n_estimators": args.trees, "num_leaves": args.leaves, "n_jobs": args.threads,
              "random_state": 0}
    X, y = binary_classification(args.train_rows, args.features)
    names = [f"f{j}" for j in range(args.features)]
    t0 = time.perf_counter()
    clf = sapwood.GBMClassifier(**params).fit(X, y)
    clf_pd = sapwood.GBMClassifier(**params).fit(pd.DataFrame(X, columns=names), y)
    print(f"fitted in {time.perf_counter() - t0:.1f} s: {clf.booster_.num_trees} trees, "
          f"{args.features} features; sapwood {sapwood.__version__}, numpy {np.__version__}, "
          f"pandas {pd.__version__}", flush=True)
    booster = clf.booster_

    Xs, _ = binary_classification(64, args.features, seed=1)
    rows = [Xs[i:i + 1].copy() for i in range(64)]
    rows64 = [r.astype(np.float64) for r in rows]
    frames = [pd.DataFrame(r, columns=names) for r in rows]
    cases: dict[str, Callable[[int], None]] = {
        "Booster.predict, float32 row": cycle(booster.predict, rows),
        "Booster.predict, float64 row": cycle(booster.predict, rows64),
        "predict_proba, float32 row": cycle(clf.predict_proba, rows),
        "predict_proba, float64 row": cycle(clf.predict_proba, rows64),
        "predict, float32 row": cycle(clf.predict, rows),
        "predict_proba, pandas row": cycle(clf_pd.predict_proba, frames),
        "predict, pandas row": cycle(clf_pd.predict, frames),
        "slow path: predict_proba, float32 row": cycle(slow(clf.predict_proba), rows),
        "slow path: predict, float32 row": cycle(slow(clf.predict), rows),
        "slow path: predict_proba, pandas row": cycle(slow(clf_pd.predict_proba), frames),
        "Booster.predict, pandas row": cycle(clf_pd.booster_.predict, frames),
    }
    try:
        import polars as pl
        import pyarrow as pa

        clf_pl = sapwood.GBMClassifier(**params).fit(pl.from_numpy(X, schema=names), y)
        pl_rows = [pl.from_pandas(f) for f in frames]
        pa_rows = [pa.Table.from_pandas(f, preserve_index=False) for f in frames]
        cases["predict_proba, polars row"] = cycle(clf_pl.predict_proba, pl_rows)
        cases["predict_proba, Arrow row"] = cycle(clf_pl.predict_proba, pa_rows)
        cases["slow path: predict_proba, polars row"] = cycle(slow(clf_pl.predict_proba),
                                                             pl_rows)
    except ImportError as e:
        print(f"  note: polars/pyarrow cases skipped: {e}")

    # Same results both ways (the tests check this bit for bit; here as a guard).
    for r, f in zip(rows[:8], frames[:8], strict=True):
        assert np.array_equal(clf.predict_proba(r)[:, 1], booster.predict(r))
        assert np.array_equal(clf_pd.predict_proba(f), slow(clf_pd.predict_proba)(f))

    for run in cases.values():  # warm up: pack forests, first calls
        run(args.calls)
    times: dict[str, list[float]] = {k: [] for k in cases}
    gc.disable()
    try:
        for _ in range(args.samples):
            for name, run in cases.items():
                t = time.perf_counter()
                run(args.calls)
                times[name].append((time.perf_counter() - t) / args.calls)
    finally:
        gc.enable()
    ref = statistics.median(times["Booster.predict, float32 row"])
    print(f"\n{'one row':44s} {'median us':>10s} {'best us':>9s} {'x Booster':>10s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:44s} {med * 1e6:10.2f} {min(ts) * 1e6:9.2f} {med / ref:10.2f}")


if __name__ == "__main__":
    main()

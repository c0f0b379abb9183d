"""Custom objectives side by side, in one run: the logistic loss as sapwood's built-in
``binary``, as a numba function compiled by ``sapwood.compiled_objective`` (called from the C++
round, no Python per round), as a numpy callable (one Python call per round), and LightGBM's
built-in ``binary`` and Python custom objective (a callable in ``params["objective"]``).

1M x 32 float32 synthetic binary (2% NaN), 50 rounds, 31 leaves, learning rate 0.1, 2 threads.
Each variant runs twice, alternated; the table shows both fit times and the held-out AUC.

With ``--classes K`` (K > 2) the rows are K classes instead and the loss is the softmax
cross-entropy: sapwood's built-in ``multiclass``, a numpy callable with ``num_class=K``
((n, K) margins in, (n, K) gradients out), LightGBM's built-in and its Python callable; the
table shows the held-out multi log loss.

    python benchmarks/compare/custom_objective.py [--rows 1000000] [--rounds 50] [--threads 2]
        [--classes 5]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "benchmarks"))


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--classes", type=int, default=2)
    args = ap.parse_args()
    if args.classes > 2:
        multiclass(args)
        return
    import lightgbm as lgb
    import sapwood
    from _data import binary_classification

    X, y = binary_classification(args.rows, 32, nan_share=0.02, seed=42)
    y = y.astype(np.float64)
    cut = int(0.8 * args.rows)
    Xtr, ytr, Xte, yte = X[:cut], y[:cut], X[cut:], y[cut:]

    @sapwood.compiled_objective
    def logistic(label: float, score: float) -> tuple[float, float]:
        p = 1.0 / (1.0 + math.exp(-score))
        return p - label, max(p * (1.0 - p), 1e-16)

    def numpy_logistic(label: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-score))
        return p - label, np.maximum(p * (1.0 - p), 1e-16)

    def lgb_logistic(score: np.ndarray, data: Any) -> tuple[np.ndarray, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-score))
        return p - data.get_label(), np.maximum(p * (1.0 - p), 1e-16)

    base = {"n_estimators": args.rounds, "num_leaves": 31, "learning_rate": 0.1,
            "n_jobs": args.threads}
    ds = sapwood.Dataset(Xtr, ytr)

    def sapwood_fit(objective: Any) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            t0 = time.perf_counter()
            b = sapwood.train({**base, "objective": objective}, ds, reference_profile=False)
            fit = time.perf_counter() - t0
            return fit, _auc(yte, b.predict(Xte, output="raw"))
        return run

    lds = lgb.Dataset(Xtr, ytr, free_raw_data=False)

    def lgb_fit(objective: Any) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            p = {"objective": objective, "num_leaves": 31, "learning_rate": 0.1,
                 "num_threads": args.threads, "verbose": -1}
            t0 = time.perf_counter()
            m = lgb.train(p, lds, num_boost_round=args.rounds)
            fit = time.perf_counter() - t0
            return fit, _auc(yte, m.predict(Xte, raw_score=True))
        return run

    variants = {
        "sapwood built-in binary": sapwood_fit("binary"),
        "sapwood compiled (numba) logistic": sapwood_fit(logistic),
        "sapwood numpy callable logistic": sapwood_fit(numpy_logistic),
        "lightgbm built-in binary": lgb_fit("binary"),
        "lightgbm Python callable logistic": lgb_fit(lgb_logistic),
    }
    lgb.train({"objective": "binary", "verbose": -1}, lds, num_boost_round=1)  # builds lds once
    _alternate(variants, "sapwood built-in binary", "test AUC",
               f"{cut} train rows x 32, {args.rounds} rounds, 31 leaves, {args.threads} threads")


def _alternate(variants: dict[str, Any], ref: str, score: str, setting: str) -> None:
    """Runs every variant twice, alternating, and prints both fit times, the best against
    `ref`'s best, and the first run's held-out score."""
    results: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
    for _ in range(2):
        for name, run in variants.items():
            results[name].append(run())
    print(f"load average {os.getloadavg()[0]:.1f}; {setting}")
    best_ref = min(f for f, _ in results[ref])
    print(f"{'variant':38s} {'fit s (two runs)':>18s} {'vs built-in':>11s} {score:>9s}")
    for name, rs in results.items():
        best = min(f for f, _ in rs)
        print(f"{name:38s} {rs[0][0]:8.2f} {rs[1][0]:8.2f} {best / best_ref:10.2f}x "
              f"{rs[0][1]:9.4f}")


def _softmax(raw: np.ndarray) -> np.ndarray:
    e = np.exp(raw - raw.max(axis=1, keepdims=True))
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def multiclass(args: argparse.Namespace) -> None:
    """The softmax cross-entropy, built in and as a numpy callable, in both libraries."""
    import lightgbm as lgb
    import sapwood

    k = args.classes
    rng = np.random.default_rng(42)
    X = rng.normal(size=(args.rows, 32)).astype(np.float32)
    logits = X[:, :k] * 1.5 + X[:, k:2 * k] * X[:, 2 * k:3 * k]
    y = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1).astype(np.float64)
    X[rng.random(X.shape) < 0.02] = np.nan
    cut = int(0.8 * args.rows)
    Xtr, ytr, Xte, yte = X[:cut], y[:cut], X[cut:], y[cut:]
    onehot = np.eye(k)[ytr.astype(np.intp)]

    def softmax_loss(label: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = _softmax(raw)
        return p - onehot, np.maximum(k / (k - 1.0) * p * (1.0 - p), 1e-16)

    def lgb_softmax(raw: np.ndarray, data: Any) -> tuple[np.ndarray, np.ndarray]:
        return softmax_loss(data.get_label(), raw)

    def mlogloss(raw: np.ndarray) -> float:
        p = _softmax(raw)[np.arange(yte.size), yte.astype(np.intp)]
        return float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))

    base = {"n_estimators": args.rounds, "num_leaves": 31, "learning_rate": 0.1,
            "n_jobs": args.threads, "num_class": k}
    ds = sapwood.Dataset(Xtr, ytr)
    lds = lgb.Dataset(Xtr, ytr, free_raw_data=False)

    def sapwood_fit(objective: Any) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            t0 = time.perf_counter()
            b = sapwood.train({**base, "objective": objective}, ds, reference_profile=False)
            fit = time.perf_counter() - t0
            return fit, mlogloss(b.predict(Xte, output="raw"))
        return run

    def lgb_fit(objective: Any) -> Callable[[], tuple[float, float]]:
        def run() -> tuple[float, float]:
            p = {"objective": objective, "num_class": k, "num_leaves": 31, "learning_rate": 0.1,
                 "num_threads": args.threads, "verbose": -1}
            t0 = time.perf_counter()
            m = lgb.train(p, lds, num_boost_round=args.rounds)
            fit = time.perf_counter() - t0
            return fit, mlogloss(np.asarray(m.predict(Xte, raw_score=True)))
        return run

    variants = {
        "sapwood built-in multiclass": sapwood_fit("multiclass"),
        "sapwood numpy callable softmax": sapwood_fit(softmax_loss),
        "lightgbm built-in multiclass": lgb_fit("multiclass"),
        "lightgbm Python callable softmax": lgb_fit(lgb_softmax),
    }
    lgb.train({"objective": "multiclass", "num_class": k, "verbose": -1}, lds,
              num_boost_round=1)  # builds lds once
    _alternate(variants, "sapwood built-in multiclass", "mlogloss",
               f"{cut} train rows x 32, {k} classes, {args.rounds} rounds, 31 leaves, "
               f"{args.threads} threads")


if __name__ == "__main__":
    main()

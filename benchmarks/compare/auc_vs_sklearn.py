"""Side by side: sapwood.metrics.roc_auc (C++, O(n log n)) vs sklearn.metrics.roc_auc_score.

    python benchmarks/compare/auc_vs_sklearn.py [--rows 1000000] [--repeat 7]

Prints the best-of-repeat time of each and the ratio, measured in one run on the same data.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
from sapwood import metrics
from sklearn.metrics import average_precision_score, roc_auc_score


def best(fn: Callable[[], float], repeat: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return min(times), value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    y = (rng.random(a.rows) < 0.3).astype(np.float64)
    s = 1.0 / (1.0 + np.exp(-(rng.standard_normal(a.rows) + y)))
    w = rng.random(a.rows)
    cases = [
        ("roc_auc", lambda: metrics.roc_auc(y, s), lambda: roc_auc_score(y, s)),
        ("roc_auc weighted", lambda: metrics.roc_auc(y, s, w),
         lambda: roc_auc_score(y, s, sample_weight=w)),
        ("average precision", lambda: metrics.pr_auc(y, s),
         lambda: average_precision_score(y, s)),
    ]
    print(f"{a.rows:,} rows, best of {a.repeat}")
    for name, ours, theirs in cases:
        t1, v1 = best(ours, a.repeat)
        t2, v2 = best(theirs, a.repeat)
        print(f"{name:<18} sapwood {1e3 * t1:8.2f} ms   sklearn {1e3 * t2:8.2f} ms   "
              f"speed-up {t2 / t1:5.1f}x   |diff| {abs(v1 - v2):.2e}")


if __name__ == "__main__":
    main()

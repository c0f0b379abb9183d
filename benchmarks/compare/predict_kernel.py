"""Batch predict kernel cost in nanoseconds per (row, tree), one thread.

Scores --rows rows of the benchmark's input distribution (float32, 2% NaN) with the models that
``predict.py --model-cache DIR`` saved (LightGBM ``lgb_*.txt``, XGBoost ``xgb_*.ubj``) and
reports the CPU time of ``Booster.predict(n_jobs=1, output="raw")`` per row and tree, the
best of --repeat calls, and the kernel the forest chose. For comparing kernel changes in one
process on a noisy machine (CPU time, minimum of several calls):

    python benchmarks/compare/predict.py --rows 200000 --model-cache /tmp/predict-cache
    python benchmarks/compare/predict_kernel.py --model-cache /tmp/predict-cache
"""

from __future__ import annotations

import argparse
import glob
import os
import resource

import numpy as np


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    import sapwood

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-cache", required=True, help="folder of predict.py's saved models")
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--kernel", default="auto",
                    help="the forest's kernel choice: auto, bitvector-avx512, bitvector-avx2, "
                         "lockstep-avx2, super")
    args = ap.parse_args()
    paths = sorted(glob.glob(os.path.join(args.model_cache, "lgb_*.txt"))
                   + glob.glob(os.path.join(args.model_cache, "xgb_*.ubj")))
    if not paths:
        raise SystemExit(f"no lgb_*.txt / xgb_*.ubj models in {args.model_cache}")
    for path in paths:
        b = sapwood.import_model(path)
        rng = np.random.default_rng(0)
        X = rng.standard_normal((args.rows, b.num_features), dtype=np.float32)
        X[rng.random(X.shape) < 0.02] = np.nan
        b.predict(X[:1000], n_jobs=1)  # pack the forest outside the timing
        forest = b._get_forest()
        if hasattr(forest, "set_kernel"):  # older builds chose kernels process-wide
            forest.set_kernel(args.kernel)
        best = float("inf")
        for _ in range(args.repeat):
            c0 = _cpu()
            b.predict(X, n_jobs=1, output="raw")
            best = min(best, _cpu() - c0)
        trees = len(b.trees())
        print(f"{os.path.basename(path):<34} {best / args.rows / trees * 1e9:6.1f} ns/row-tree "
              f"({trees} trees, kernel {b._get_forest().kernel})")


if __name__ == "__main__":
    main()

"""Times sapwood's GPU predict vs its CPU predictor vs XGBoost's GPU predict (see run.sh).

One model per size (300 and 1000 trees, up to 63 leaves, 32 features): trained by XGBoost on
the GPU when its wheel has CUDA (and imported into sapwood, so all score the same trees),
otherwise by sapwood on a sample. Parity (max |GPU - CPU|) is checked on every run.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import sapwood
from sapwood.model.gpu import cuda_available


def _timeit(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    fn()  # warm-up (device forest copy, pinned buffers, JIT)
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def _xgb_cuda() -> object | None:
    try:
        import xgboost as xgb
    except ImportError:
        return None
    try:
        if not xgb.build_info().get("USE_CUDA"):
            return None
    except Exception:  # noqa: BLE001
        return None
    return xgb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--trees", default="300,1000")
    args = ap.parse_args()
    if not cuda_available():
        raise SystemExit("no CUDA build or no GPU: nothing to time")
    rng = np.random.default_rng(0)
    n, f = args.rows, args.features
    t = time.perf_counter()
    X = rng.standard_normal((n, f), dtype=np.float32)
    X[rng.random((n, f), dtype=np.float32) < 0.02] = np.nan
    w = rng.standard_normal(f)
    print(f"data {n} x {f} float32: {time.perf_counter() - t:.1f} s", flush=True)
    train_n = 200_000
    Xt = X[:train_n]
    yt = (np.nan_to_num(Xt) @ w + rng.standard_normal(train_n) > 0).astype(np.float32)
    xgb = _xgb_cuda()
    cupy = None
    try:
        import cupy
    except ImportError:
        pass
    rows = []
    for trees in (int(s) for s in args.trees.split(",")):
        t = time.perf_counter()
        if xgb is not None:
            bst = xgb.train({"objective": "binary:logistic", "tree_method": "hist",
                             "device": "cuda", "grow_policy": "lossguide", "max_leaves": 63,
                             "max_depth": 0, "learning_rate": 0.05},
                            xgb.DMatrix(Xt, yt), trees)
            model = sapwood.import_model(bytes(bst.save_raw("json")))
            source = "xgboost (imported)"
        else:
            model = sapwood.train({"objective": "binary", "n_estimators": trees,
                                   "num_leaves": 63, "learning_rate": 0.05},
                                  sapwood.Dataset(Xt, yt))
            source = "sapwood"
        print(f"{trees} trees: model from {source} in {time.perf_counter() - t:.1f} s",
              flush=True)
        model.predict(X[:1000])  # pack the forest outside the timing
        t = time.perf_counter()
        cpu = model.predict(X)  # one CPU run: timed and used for parity
        t_cpu = time.perf_counter() - t
        gpu = model.predict(X, device="cuda")
        diff = float(np.max(np.abs(gpu - cpu)))
        del gpu, cpu
        print(f"  parity: max |gpu - cpu| = {diff:.2e} ({'OK' if diff <= 1e-6 else 'FAIL'})",
              flush=True)
        t_gpu = _timeit(lambda m=model: m.predict(X, device="cuda"), 3)
        row = {"trees": trees, "gpu (numpy in)": t_gpu, "cpu": t_cpu, "parity": diff}
        if cupy is not None:
            Xd = cupy.asarray(X)
            row["gpu (device in)"] = _timeit(
                lambda m=model, Xd=Xd: (m.predict(Xd, device="cuda"),
                                         cupy.cuda.Device().synchronize()), 3)
            del Xd
        if xgb is not None:
            bst.set_param({"device": "cuda"})
            row["xgboost gpu (numpy in)"] = _timeit(lambda b=bst: b.inplace_predict(X), 3)
            if cupy is not None:
                Xd = cupy.asarray(X)
                row["xgboost gpu (device in)"] = _timeit(
                    lambda b=bst, Xd=Xd: (b.inplace_predict(Xd),
                                          cupy.cuda.Device().synchronize()), 3)
                del Xd
        rows.append(row)
    cols = ["gpu (numpy in)", "gpu (device in)", "cpu", "xgboost gpu (numpy in)",
            "xgboost gpu (device in)"]
    print(f"\nbatch predict, {n} x {f} rows, seconds (best of 3; CPU: 1 run, "
          f"{os.cpu_count()} cores); rows/s in brackets")
    print(f"{'trees':>6} | " + " | ".join(f"{c:>24}" for c in cols) + " | max|gpu-cpu|")
    for r in rows:
        cells = []
        for c in cols:
            v = r.get(c)
            cells.append(f"{'-':>24}" if v is None else f"{v:8.3f} ({n / v / 1e6:7.1f}M/s)  ")
        print(f"{r['trees']:>6} | " + " | ".join(cells) + f" | {r['parity']:.1e}")


if __name__ == "__main__":
    main()

"""Histograms on the wire in sapwood.dask.train: bytes and time of the exact narrowing a peer
applies to its reply (_core.hist_narrow) and of the leader's add (_core.hist_add_narrow),
against numpy's plain int64 add of the full-width reply.

    python benchmarks/compare/dask_wire.py [--hists 8] [--slots 8256] [--rows-per-bin 40]

The reply is `hists` histograms of `slots` slots (32 features of 255 bins: 8,256), each slot a
gradient sum and a hessian-and-count word as sapwood's fixed point makes them: about
`rows-per-bin` rows of gradients scaled by 2^40 (2M rows, |g| <= 1). Prints one JSON line:
bytes before and after, and the best of 50 timings of each step in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import numpy as np
from sapwood import _core


def best_ms(f: Callable[[], object], repeat: int = 50) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hists", type=int, default=8)
    ap.add_argument("--slots", type=int, default=8256)
    ap.add_argument("--rows-per-bin", type=float, default=40.0)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    scale = 2.0**40
    rows = rng.poisson(a.rows_per_bin, size=(a.hists, a.slots))
    g = rng.normal(0.0, 0.5, size=(a.hists, a.slots)) * np.sqrt(rows) * scale
    h = np.empty((a.hists, a.slots, 2), dtype=np.int64)
    h[..., 0] = g.astype(np.int64)
    # hessian (<= 0.25 a row, scale 2^40 / 2^21 per unit) shifted past a 21-bit row count
    hess = (rows * 0.2 * 2.0**19).astype(np.int64)
    h[..., 1] = (hess << 21) | rows
    total = np.zeros_like(h)
    packed = _core.hist_narrow(h)
    check = np.zeros_like(h)
    _core.hist_add_narrow(check, packed)
    assert np.array_equal(check, h)
    print(json.dumps({
        "hists": a.hists, "slots": a.slots, "rows_per_bin": a.rows_per_bin,
        "bytes_full": int(h.nbytes), "bytes_narrowed": int(packed.nbytes),
        "ratio": round(packed.nbytes / h.nbytes, 3),
        "narrow_ms": round(best_ms(lambda: _core.hist_narrow(h)), 3),
        "add_narrowed_ms": round(best_ms(lambda: _core.hist_add_narrow(total, packed)), 3),
        "numpy_add_ms": round(best_ms(lambda: np.add(total, h, out=total)), 3),
    }))


if __name__ == "__main__":
    main()

"""Ingestion: bin a 1M x 32 Parquet file through sapwood vs reading it with pyarrow.

Targets (issue 4): sapwood's streamed binning takes at most 1.5x pyarrow's read time, and its
peak memory stays under the float32 size of the data (rows * cols * 4 bytes). Each measurement
runs in a fresh subprocess so peak RSS is its own; the peak is counted from a baseline taken
after the imports (pyarrow and sapwood in both), and each run's figures are printed.

    python benchmarks/compare/ingest.py [--rows 1000000] [--cols 32] [--row-group 65536]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def make_file(path: str, rows: int, cols: int, row_group: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    writer = None
    for start in range(0, rows, row_group):
        n = min(row_group, rows - start)
        data = {f"f{j}": rng.normal(size=n).astype(np.float32) for j in range(cols)}
        t = pa.table(data)
        if writer is None:
            writer = pq.ParquetWriter(path, t.schema)
        writer.write_table(t, row_group_size=row_group)
    assert writer is not None
    writer.close()


def child(kind: str, path: str, threads: int) -> None:
    # Both children import the same libraries before the baseline, so the peak growth and the
    # time count only the data-dependent work.
    import pyarrow.parquet as pq
    import sapwood

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    if kind == "pyarrow":
        t = pq.read_table(path)
        n = t.num_rows
    else:
        ds = sapwood.Dataset(path)
        b = ds.construct(255, 200_000, 0, threads)
        n = b.num_rows
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"kind": kind, "seconds": dt, "rows": n, "peak_kib": peak,
                      "import_kib": base}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--cols", type=int, default=32)
    ap.add_argument("--row-group", type=int, default=65536)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=2)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], args.child[1], args.threads)
        return
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.parquet")
        make_file(path, args.rows, args.cols, args.row_group)
        f32 = args.rows * args.cols * 4
        print(f"{args.rows} x {args.cols} Parquet, {os.path.getsize(path) / 2**20:.0f} MiB on disk, "
              f"float32 size {f32 / 2**20:.0f} MiB, row groups of {args.row_group}")
        best: dict[str, dict[str, float]] = {}
        for rep in range(args.repeat):
            run: dict[str, dict[str, float]] = {}
            for kind in ("pyarrow", "sapwood"):
                out = subprocess.run([sys.executable, __file__, "--child", kind, path,
                                      "--threads", str(args.threads)],
                                     capture_output=True, text=True, check=True).stdout
                r = json.loads(out.strip().splitlines()[-1])
                run[kind] = r
                if kind not in best or r["seconds"] < best[kind]["seconds"]:
                    best[kind] = r
            grow = {k: (v["peak_kib"] - v["import_kib"]) / 1024 for k, v in run.items()}
            print(f"run {rep + 1}: pyarrow {run['pyarrow']['seconds']:.3f} s "
                  f"(+{grow['pyarrow']:.0f} MiB), sapwood {run['sapwood']['seconds']:.3f} s "
                  f"(+{grow['sapwood']:.0f} MiB), ratio "
                  f"x{run['sapwood']['seconds'] / run['pyarrow']['seconds']:.2f}", flush=True)
        print("best of runs:")
        for kind, r in best.items():
            extra = (r["peak_kib"] - r["import_kib"]) * 1024
            print(f"{kind:8s} {r['seconds']:.3f} s  peak RSS {r['peak_kib'] / 1024:.0f} MiB "
                  f"(+{extra / 2**20:.0f} MiB over imports)")
        ratio = best["sapwood"]["seconds"] / best["pyarrow"]["seconds"]
        print(f"sapwood binning / pyarrow read: x{ratio:.2f} (target <= 1.5)")
        print(f"sapwood peak growth / float32 data: "
              f"{(best['sapwood']['peak_kib'] - best['sapwood']['import_kib']) * 1024 / f32:.2f} "
              "(target < 1)")


if __name__ == "__main__":
    main()

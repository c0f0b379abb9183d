"""Monitoring history at a year's scale: 365 daily profiles of 50 features.

Measures (one run, fixed seed):
- store append throughput (profiles already computed: the cost of the store itself);
- two concurrent writer processes: every window kept;
- `sapwood monitor history` over the 365 windows: seconds to read + merge + compare + render,
  and the sizes of the JSON and HTML reports.

Run: PYTHONPATH=python python benchmarks/compare/monitor_history.py [--days 365] [--features 50]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

_WRITER = """
import sys, datetime as dt
from sapwood import Profile
from sapwood.monitoring.store import ProfileStore
store, who, n = ProfileStore(sys.argv[1]), sys.argv[2], int(sys.argv[3])
prof = Profile.from_json(open(sys.argv[4]).read())
day0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
for i in range(n):
    store.append(prof, window_start=day0 + dt.timedelta(days=i), source=f"{who}-{i}")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--rows", type=int, default=2000, help="rows per daily batch")
    args = ap.parse_args()

    from sapwood import Profile
    from sapwood.cli.main import main as cli
    from sapwood.monitoring.store import ProfileStore

    rng = np.random.default_rng(0)
    m = args.features
    ref = Profile.from_data(rng.standard_normal((20_000, m)))
    day0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    profiles = []
    for d in range(args.days):
        X = rng.standard_normal((args.rows, m))
        X[:, 0] += 0.004 * d  # a slow drift in f0
        X[rng.random(X.shape) < 0.0001 * d] = np.nan  # nulls creeping in
        profiles.append(Profile.from_data(X, edges_from=ref))
    print(f"profile JSON: {len(profiles[0].to_json()) / 1e6:.2f} MB per day ({m} features)")
    with tempfile.TemporaryDirectory() as tmp:
        store = ProfileStore(os.path.join(tmp, "store"))
        t0 = time.perf_counter()
        for d, p in enumerate(profiles):
            store.append(p, window_start=day0 + dt.timedelta(days=d), source=f"day-{d}")
        t_app = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(tmp, "store").rglob("*.parquet"))
        print(f"append: {args.days} profiles in {t_app:.2f} s ({args.days / t_app:.1f} "
              f"appends/s), store {size / 1e6:.1f} MB on disk")

        ref_path = os.path.join(tmp, "ref.json")
        ref.save(ref_path)
        out = Path(tmp)
        t0 = time.perf_counter()
        code = cli(["monitor", "history", os.path.join(tmp, "store"), "--reference", ref_path,
                    "--json", str(out / "h.json"), "--html", str(out / "h.html")])
        t_hist = time.perf_counter() - t0
        print(f"monitor history: {args.days} daily windows x {m} features + predictions-free "
              f"in {t_hist:.2f} s (exit {code}); JSON {os.path.getsize(out / 'h.json') / 1e6:.2f}"
              f" MB, HTML {os.path.getsize(out / 'h.html') / 1e6:.2f} MB")
        t0 = time.perf_counter()
        cli(["monitor", "history", os.path.join(tmp, "store"), "--reference", ref_path,
             "--window", "week", "--json", str(out / "w.json")])
        print(f"monitor history --window week: {time.perf_counter() - t0:.2f} s")

        # two concurrent writers into one fresh store
        prof_path = os.path.join(tmp, "day.json")
        profiles[0].to_json(prof_path)
        env = {**os.environ, "PYTHONPATH": str(ROOT / "python")}
        n = 100
        t0 = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", _WRITER, os.path.join(tmp, "two"),
                                   str(w), str(n), prof_path], env=env) for w in range(2)]
        codes = [p.wait() for p in procs]
        t_two = time.perf_counter() - t0
        recs = ProfileStore(os.path.join(tmp, "two")).read()
        want = {f"{w}-{i}" for w in range(2) for i in range(n)}
        got = {r.source for r in recs}
        print(f"two concurrent writers: {2 * n} appends in {t_two:.2f} s (incl. start-up), "
              f"exit {codes}, stored {len(recs)}, lost {len(want - got)}")


if __name__ == "__main__":
    main()

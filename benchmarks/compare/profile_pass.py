"""The drift check's profile pass, kernel against kernel (and against another build), in one run.

Times ``compare(reference, current)`` on the drift benchmark's data (``drift.py``: 1M x 20
float64 pandas columns, four of them shifted; the reference profile stored and loaded as a
monitoring job would), and the C++ pass alone (``_core.profile_numeric`` on the reference's
bins), for each profile kernel: "portable" and "avx512" (``auto`` picks AVX-512 where the CPU
has it). ``--before DIR`` adds another sapwood source tree (a python/ folder with its built
``_core``, e.g. the main branch's) timed the same way. Variants run in worker processes that take
turns (--rounds rounds), each reporting the median of --repeat calls; the figures given are the
medians over rounds. Run:

    PYTHONPATH=python python benchmarks/compare/profile_pass.py [--before /tmp/main/python]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(kernel: str, rows: int, repeat: int, threads: int) -> dict[str, Any]:
    import functools
    import tempfile

    import numpy as np

    sys.path.insert(0, HERE)
    import drift  # the drift benchmark's data
    import sapwood
    from sapwood import _core
    from sapwood.monitoring import compare
    from sapwood.monitoring import profile as profile_mod

    if kernel != "default":
        # the pass is the same call with the kernel named
        core = functools.partial(_core.profile_numeric, kernel=kernel)
        profile_mod._core = _Shim(_core, core)  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "reference.json")
        sapwood.Profile.from_data(drift.make_reference(rows)).save(path)
        reference = sapwood.Profile.load(path)
    cur = drift.make_current(rows)
    cols = [np.ascontiguousarray(cur[c].to_numpy()) for c in cur.columns]
    edges = [np.asarray(reference.columns[c].edges, np.float32) for c in cur.columns]
    pass_fn = profile_mod._core.profile_numeric
    compare(reference, cur, n_jobs=threads)  # warm up
    t_compare, t_pass = [], []
    flagged: list[str] = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        report = compare(reference, cur, n_jobs=threads)
        t_compare.append(time.perf_counter() - t0)
        flagged = sorted(report.flagged())
        t0 = time.perf_counter()
        pass_fn(cols, rows, edges, [None] * len(cols), 1024, 200_000, 0, threads)
        t_pass.append(time.perf_counter() - t0)
    return {"compare": statistics.median(t_compare), "pass": statistics.median(t_pass),
            "flagged": flagged}


class _Shim:
    """_core with profile_numeric replaced (the other names pass through)."""

    def __init__(self, core: Any, fn: Any) -> None:
        self._c, self.profile_numeric = core, fn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._c, name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--before", default="", help="another sapwood python/ tree to time")
    ap.add_argument("--worker", default="")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.repeat, args.threads)))
        return
    here_tree = os.environ.get("PYTHONPATH", "")
    variants = [("portable", "portable", here_tree), ("avx512", "avx512", here_tree)]
    if args.before:
        variants.insert(0, ("before", "default", args.before))
    res: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in variants}
    for _ in range(args.rounds):
        for name, kernel, tree in variants:
            env = dict(os.environ, PYTHONPATH=tree)
            cmd = [sys.executable, __file__, "--worker", kernel, "--rows", str(args.rows),
                   "--repeat", str(args.repeat), "--threads", str(args.threads)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
            if out.returncode != 0:
                print(f"[{name}] failed:\n{out.stderr[-2000:]}", file=sys.stderr)
                continue
            res[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.rows} rows x 20 float64 columns, {args.threads} threads, load average "
          f"{os.getloadavg()[0]:.2f}; medians of {args.rounds} rounds of median-of-"
          f"{args.repeat}")
    print(f"{'variant':10s} {'compare s':>10s} {'C++ pass s':>11s}  flagged")
    for name, rs in res.items():
        if not rs:
            continue
        print(f"{name:10s} {statistics.median(r['compare'] for r in rs):10.4f} "
              f"{statistics.median(r['pass'] for r in rs):11.4f}  {rs[-1]['flagged']}")


if __name__ == "__main__":
    main()

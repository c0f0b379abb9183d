"""Drift check side by side: sapwood vs a numpy PSI vs Evidently's default data drift report.

1M x 20 float columns (pandas DataFrames), a reference and a current batch in which 4 columns
are shifted. Times, in one run and each in a fresh worker process (so peak memory is its own):

- sapwood: profile of the current batch on the stored reference profile's bins + compare();
- numpy PSI on 10 reference-decile bins, both from the raw reference ("full") and with the
  reference deciles stored beforehand ("stored deciles"), flagging PSI >= 0.1;
- Evidently 0.7 DataDriftPreset (its own venv under /tmp with pandas < 3; skipped when it
  cannot be installed).

Memory: "peak extra" is the growth of the worker's resident size during the step (after the
data exist); "peak/data" is the worker's peak resident size during the step, less its size
after the imports and before the data were made, over the size of the data the step reads. Run:

    python benchmarks/compare/drift.py [--rows 1000000] [--no-evidently]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

N_COLS = 20
SHIFTED = {"c0": ("mean", 0.5), "c5": ("scale", 1.5), "c10": ("mean", -0.5), "c15": ("mix", 0.3)}
EVIDENTLY_VENV = Path(os.environ.get("SAPWOOD_EVIDENTLY_VENV", "/tmp/sapwood-evidently-venv"))


def make_reference(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    cols = [f"c{i}" for i in range(N_COLS)]
    return pd.DataFrame(rng.standard_normal((rows, N_COLS)), columns=cols)


def make_current(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    cols = [f"c{i}" for i in range(N_COLS)]
    # shift in numpy before the frame exists (pandas column updates leave freed blocks in the
    # heap, which would count as the step's memory)
    arr = rng.standard_normal((rows, N_COLS))
    for name, (kind, amount) in SHIFTED.items():
        j = cols.index(name)
        if kind == "mean":
            arr[:, j] += amount
        elif kind == "scale":
            arr[:, j] *= amount
        else:  # a share of the rows moves by 3 sd
            m = rng.random(rows) < amount
            arr[m, j] += 3.0
    return pd.DataFrame(arr, columns=cols)


def _trim_heap() -> None:
    """Give freed heap pages back to the OS (glibc), so that RSS counts live data only."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        pass


def worker(kind: str, rows: int, ref_profile: str | None) -> dict[str, Any]:
    import numpy as np
    import pandas  # noqa: F401

    if kind == "sapwood":
        import sapwood  # noqa: F401
        from sapwood.monitoring import compare  # noqa: F401
    elif kind == "evidently":
        from evidently import Report  # noqa: F401
        from evidently.presets import DataDriftPreset  # noqa: F401
    import_rss = _rss_kib("VmRSS")  # after the imports: what follows is data and work
    cur = make_current(rows)
    data_bytes = int(cur.memory_usage(index=False).sum())
    ref = None if kind == "sapwood" else make_reference(rows)
    if kind in ("numpy_full", "evidently"):
        data_bytes *= 2  # reads both batches
    _trim_heap()
    before = _rss_kib("VmRSS")
    flagged: list[str] = []
    if kind == "sapwood":
        import sapwood
        from sapwood.monitoring import compare

        assert ref_profile is not None
        reference = sapwood.Profile.load(ref_profile)
        _trim_heap()
        before = _rss_kib("VmRSS")
        _reset_peak()
        t0 = time.perf_counter()
        report = compare(reference, cur)
        elapsed = time.perf_counter() - t0
        flagged = report.flagged()
    elif kind in ("numpy_full", "numpy_stored"):
        deciles = None
        if kind == "numpy_stored":
            deciles = {c: np.quantile(ref[c].to_numpy(), np.linspace(0.1, 0.9, 9))
                       for c in ref.columns}
            del ref
        _trim_heap()
        before = _rss_kib("VmRSS")
        _reset_peak()
        t0 = time.perf_counter()
        for c in cur.columns:
            cv = cur[c].to_numpy()
            if deciles is None:
                rv = ref[c].to_numpy()
                cuts = np.quantile(rv, np.linspace(0.1, 0.9, 9))
                rb = np.bincount(np.searchsorted(cuts, rv), minlength=10)
            else:
                cuts = deciles[c]
                rb = np.full(10, rows / 10)
            cb = np.bincount(np.searchsorted(cuts, cv), minlength=10)
            p = np.maximum(rb / rb.sum(), 1e-4)
            q = np.maximum(cb / cb.sum(), 1e-4)
            if float(np.sum((q - p) * np.log(q / p))) >= 0.1:
                flagged.append(c)
        elapsed = time.perf_counter() - t0
    elif kind == "evidently":
        from evidently import Report
        from evidently.presets import DataDriftPreset

        before = _rss_kib("VmRSS")
        _reset_peak()
        t0 = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(current_data=cur, reference_data=ref)
        elapsed = time.perf_counter() - t0
        for m in snapshot.dict().get("metrics", []):
            cfg = m.get("config", {})
            if not str(cfg.get("type", "")).endswith("ValueDrift"):
                continue
            value, thr = m.get("value"), float(cfg.get("threshold", 0.1))
            method = str(cfg.get("method", "")).lower()
            if isinstance(value, (int, float)):
                # p-value tests drift below the threshold, distances at or above it
                drift = value < thr if "p_value" in method or "test" in method else value >= thr
                if drift:
                    flagged.append(str(cfg.get("column")))
    else:
        raise SystemExit(f"unknown worker {kind}")
    peak = _rss_kib("VmHWM")
    return {"kind": kind, "seconds": elapsed, "flagged": sorted(flagged),
            "peak_extra_mib": (peak - before) / 1024, "data_mib": data_bytes / 2**20,
            "peak_over_data": (peak - import_rss) * 1024 / data_bytes}


def _run_worker(python: str, kind: str, rows: int, ref_profile: str | None,
                env: dict[str, str] | None = None) -> dict[str, Any] | None:
    cmd = [python, __file__, "--worker", kind, "--rows", str(rows)]
    if ref_profile:
        cmd += ["--ref-profile", ref_profile]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if res.returncode != 0:
        print(f"[{kind}] failed:\n{res.stderr[-2000:]}", file=sys.stderr)
        return None
    out: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return out


def _evidently_python() -> str | None:
    py = EVIDENTLY_VENV / "bin" / "python"
    if py.exists():
        ok = subprocess.run([str(py), "-c", "import evidently, pandas"], capture_output=True)
        if ok.returncode == 0:
            return str(py)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "evidently>=0.7,<0.8",
                        "pandas<3", "numpy<2.4"], check=True, timeout=1200)
        return str(py)
    except (subprocess.SubprocessError, OSError) as e:
        print(f"Evidently unavailable ({e}); skipping it", file=sys.stderr)
        return None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--worker")
    ap.add_argument("--ref-profile")
    ap.add_argument("--no-evidently", action="store_true")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.rows, args.ref_profile)))
        return
    import tempfile

    import sapwood

    ref = make_reference(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        prof_path = str(Path(tmp) / "reference.json")
        t0 = time.perf_counter()
        sapwood.Profile.from_data(ref).save(prof_path)
        print(f"reference profile (not timed below): {time.perf_counter() - t0:.2f} s, "
              f"{Path(prof_path).stat().st_size / 1024:.0f} KiB")
        del ref
        results = {}
        for kind in ("sapwood", "numpy_stored", "numpy_full"):
            results[kind] = _run_worker(sys.executable, kind, args.rows, prof_path)
        if not args.no_evidently:
            py = _evidently_python()
            if py is not None:
                results["evidently"] = _run_worker(py, "evidently", args.rows, None)
    expected = sorted(SHIFTED)
    print(f"\n{args.rows} rows x {N_COLS} float64 columns, shifted: {expected}")
    print(f"{'method':14s} {'seconds':>9s} {'peak extra MiB':>15s} {'peak/data':>10s}  flagged")
    for kind, r in results.items():
        if r is None:
            print(f"{kind:14s} (failed)")
            continue
        ok = "OK" if r["flagged"] == expected else "MISMATCH"
        print(f"{kind:14s} {r['seconds']:9.3f} {r['peak_extra_mib']:15.1f} "
              f"{r['peak_over_data']:10.2f}  {ok} {r['flagged']}")
    s = results.get("sapwood")
    if s:
        for kind in ("numpy_stored", "numpy_full", "evidently"):
            r = results.get(kind)
            if r:
                print(f"sapwood is {r['seconds'] / s['seconds']:.1f}x faster than {kind}")


if __name__ == "__main__":
    main()

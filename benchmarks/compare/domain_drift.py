"""Multivariate drift side by side: sapwood's domain classifier vs NannyML's
DataReconstructionDriftCalculator (PCA reconstruction error), on 1M x 20 rows per side.

The reference has correlated columns (5 latent factors + noise, so that PCA has structure to
learn). Three current sets of the same size:

- ``none``: another sample of the reference's distribution;
- ``marginal``: column c0 moved by +0.2 sd (every other column as before);
- ``correlation``: columns c0..c3 each permuted on their own, which keeps every marginal
  exactly and breaks their correlations.

sapwood: ``monitoring.domain_drift`` with its defaults (50,000 rows a side sampled with the
seed, 5 folds; detection = status warn or fail). NannyML (its own interpreter, see
benchmarks/compare/cbpe.py on why; ``--nannyml-python`` or ``$SAPWOOD_NANNYML_PYTHON``): fitted
on the reference in chunks of 100,000 rows, computed on the current set in chunks of 100,000;
detection = any chunk's reconstruction error outside NannyML's alert band; its time covers fit
and calculate. Data generation is not timed. Run:

    python benchmarks/compare/domain_drift.py [--rows 1000000] [--n-jobs N] [--max-rows N]
        [--nannyml-python PATH | --no-nannyml]
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

import numpy as np

N_COLS = 20
CASES = ("none", "marginal", "correlation")
NANNYML_PYTHON = os.environ.get("SAPWOOD_NANNYML_PYTHON",
                                "/tmp/sapwood-nannyml-venv/bin/python")


def make(rows: int, seed: int, case: str = "none") -> np.ndarray:
    rng = np.random.default_rng(seed)
    load = np.random.default_rng(0).normal(0, 1, (5, N_COLS))  # one loading for all sets
    x = rng.standard_normal((rows, 5)) @ load + rng.standard_normal((rows, N_COLS))
    x /= np.sqrt((load ** 2).sum(axis=0) + 1.0)  # unit variance per column
    if case == "marginal":
        x[:, 0] += 0.2
    elif case == "correlation":
        for j in range(4):
            x[:, j] = x[rng.permutation(rows), j]
    return x


def nannyml_worker(rows: int) -> None:
    import warnings

    import nannyml as nml
    import pandas as pd

    warnings.filterwarnings("ignore")
    cols = [f"c{i}" for i in range(N_COLS)]
    ref = pd.DataFrame(make(rows, 1), columns=cols)
    out: dict[str, Any] = {"version": nml.__version__}
    for i, case in enumerate(CASES):
        cur = pd.DataFrame(make(rows, 2 + i, case), columns=cols)
        t = time.perf_counter()
        calc = nml.DataReconstructionDriftCalculator(column_names=cols, chunk_size=100_000)
        calc.fit(ref)
        res = calc.calculate(cur).filter(period="analysis").to_df()
        secs = time.perf_counter() - t
        alerts = res[("reconstruction_error", "alert")].to_numpy()
        values = res[("reconstruction_error", "value")].to_numpy()
        out[case] = {"seconds": secs, "detected": bool(alerts.any()),
                     "alert_chunks": int(alerts.sum()), "chunks": int(alerts.size),
                     "error_mean": float(values.mean()),
                     "upper": float(res[("reconstruction_error", "upper_threshold")].iloc[0])}
    print(json.dumps(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--nannyml-python", default=NANNYML_PYTHON)
    ap.add_argument("--nannyml-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None)
    ap.add_argument("--n-jobs", type=int, default=None, help="sapwood threads (default: all)")
    ap.add_argument("--max-rows", type=int, default=None,
                    help="sapwood rows per side (default: domain_drift's, 50,000)")
    ap.add_argument("--no-nannyml", action="store_true")
    args = ap.parse_args()
    if args.nannyml_worker:
        nannyml_worker(args.rows)
        return
    from sapwood.monitoring.domain import domain_drift

    results: dict[str, Any] = {"rows": args.rows, "columns": N_COLS, "sapwood": {}}
    ref = make(args.rows, 1)
    names = [f"c{i}" for i in range(N_COLS)]
    for i, case in enumerate(CASES):
        cur = make(args.rows, 2 + i, case)
        t = time.perf_counter()
        cfg = None if args.max_rows is None else {"max_rows": args.max_rows}
        rep = domain_drift(ref, cur, features=names, n_jobs=args.n_jobs, config=cfg)
        secs = time.perf_counter() - t
        results["sapwood"][case] = {"seconds": secs, "detected": rep.drifted,
                                    "status": rep.status, "auc": rep.auc,
                                    "top": rep.top_features(4)}
        del cur
    del ref
    if args.no_nannyml:
        results["nannyml_error"] = "--no-nannyml"
    elif args.nannyml_python and Path(args.nannyml_python).exists():
        r = subprocess.run([args.nannyml_python, __file__, "--nannyml-worker", "--rows",
                            str(args.rows)], capture_output=True, text=True, timeout=3600)
        if r.returncode == 0:
            results["nannyml"] = json.loads(r.stdout.strip().splitlines()[-1])
        else:
            results["nannyml_error"] = r.stderr.strip().splitlines()[-3:]
    else:
        results["nannyml_error"] = f"no interpreter at {args.nannyml_python}"
    print(f"{args.rows:,} x {N_COLS} rows per side")
    print(f"{'case':12s} {'sapwood':>40s} {'NannyML PCA reconstruction':>44s}")
    for case in CASES:
        s = results["sapwood"][case]
        cell = (f"{'DRIFT' if s['detected'] else 'no drift'} auc={s['auc']:.3f} "
                f"top={','.join(s['top'][:2])} {s['seconds']:.1f}s")
        n = results.get("nannyml", {}).get(case)
        ncell = "-" if n is None else (
            f"{'DRIFT' if n['detected'] else 'no drift'} {n['alert_chunks']}/{n['chunks']} "
            f"chunks err={n['error_mean']:.4f} (upper {n['upper']:.4f}) {n['seconds']:.1f}s")
        print(f"{case:12s} {cell:>40s} {ncell:>44s}")
    if "nannyml_error" in results:
        print(f"NannyML not run: {results['nannyml_error']}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

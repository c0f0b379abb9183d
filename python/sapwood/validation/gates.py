"""Run acceptance criteria against a model and test data; build the report."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from .. import metrics as _metrics
from ..errors import DataError, SchemaError
from ..frame.columns import float64_column
from ..metrics import METRICS, interval_coverage, pinball_per_level
from ..model.booster import Booster
from .criteria import Criteria, Threshold, higher_is_better, ranking_metric

__all__ = ["evaluate", "ACCEPTED", "REJECTED", "ERROR"]

ACCEPTED, REJECTED, ERROR = 0, 1, 2


def _metric(name: str, booster: Booster, y: np.ndarray, pred: np.ndarray,
            w: np.ndarray | None, threshold: float, qid: np.ndarray | None = None) -> float:
    rank = ranking_metric(name)
    if rank is not None:
        if qid is None:
            raise DataError(f"metric {name!r} ranks rows within queries: name the query-id "
                            "column with qid = \"...\" in the criteria")
        if pred.ndim != 1:
            raise DataError(f"metric {name!r} needs one score per row; this "
                            f"{booster.objective!r} model gives {pred.shape[1]}")
        kind, k = rank
        fn_q = _metrics.ndcg if kind == "ndcg" else _metrics.map_at_k
        return float(fn_q(y, pred, w, qid=qid, k=k))
    fn, _, _ = METRICS[name]
    alphas = booster.quantile_alphas
    if alphas is not None and name != "pinball":
        raise DataError(f"metric {name!r} reads one prediction per row; this multi-quantile "
                        f"model predicts {len(alphas)} levels: use pinball (the report lists "
                        "each level's pinball loss and the outer interval's coverage)")
    if name in ("accuracy", "precision", "recall", "f1"):
        if booster.objective == "multiclass" and name != "accuracy":
            raise DataError(f"metric {name!r} is binary; use f1_macro / f1_micro for multiclass")
        return float(fn(y, pred, w, threshold=threshold))
    if name in ("auc", "roc_auc", "pr_auc", "average_precision", "brier", "precision",
                "recall", "f1", "error", "logloss") and booster.objective != "binary":
        raise DataError(f"metric {name!r} needs a binary model, this one is "
                        f"{booster.objective!r}")
    if name in ("rmse", "mae", "r2", "mape") and booster.objective not in (
            "regression", "poisson", "gamma", "tweedie", "l1", "huber", "quantile"):
        raise DataError(f"metric {name!r} needs a regression model")
    if name in ("huber", "pinball"):
        if booster.objective not in ("regression", "l1", "huber", "quantile"):
            raise DataError(f"metric {name!r} needs a regression model with the identity link")
        if name == "huber":
            return float(fn(y, pred, w, delta=float(booster.params.get("huber_delta", 1.0))))
        if alphas is not None:  # the mean over the levels
            return float(fn(y, pred, w, alpha=alphas))
        alpha = booster.params.get("alpha")
        return float(fn(y, pred, w, alpha=float(alpha) if alpha is not None else 0.5))
    if name in ("poisson_deviance", "poisson_nloglik", "gamma_deviance", "tweedie_nloglik") \
            and booster.objective not in ("poisson", "gamma", "tweedie"):
        raise DataError(f"metric {name!r} needs a poisson, gamma or tweedie model")
    if name in ("cindex", "concordance") and booster.objective != "cox":
        raise DataError(f"metric {name!r} needs a cox (survival) model, this one is "
                        f"{booster.objective!r}")
    if name == "tweedie_nloglik":
        power = booster.params.get("tweedie_variance_power", 1.5)
        return float(fn(y, pred, w, power=float(power)))
    return float(fn(y, pred, w))


def _quantile_report(booster: Booster, y: np.ndarray, pred: np.ndarray,
                     w: np.ndarray | None) -> dict[str, Any] | None:
    """A multi-quantile model's pinball loss per level, and the coverage of its outer interval
    [first level, last level] (nominally last - first), whatever the criteria ask."""
    alphas = booster.quantile_alphas
    if alphas is None:
        return None
    losses = pinball_per_level(y, pred, w, alphas)
    lo, hi = alphas[0], alphas[-1]
    return {
        "levels": alphas,
        "pinball": {f"{a:g}": v for a, v in zip(alphas, losses, strict=True)},
        "coverage": {"interval": [lo, hi], "nominal": hi - lo,
                     "observed": interval_coverage(y, pred[:, 0], pred[:, -1], w)},
    }


def _first_bad(bad: np.ndarray) -> tuple[int, int]:
    rows = np.flatnonzero(bad)
    return int(rows[0]), int(rows.size)


def _labels(values: Any, column: str, booster: Booster) -> np.ndarray:
    """The label column, checked for the model's objective: a missing, non-numeric or
    out-of-range label is an error naming its row (never silently counted as a negative)."""
    y = float64_column(values, column, "label")
    obj = booster.objective
    checks: list[tuple[np.ndarray, str]] = [(~np.isfinite(y), "missing or not finite")]
    if obj == "binary":
        checks.append(((y != 0) & (y != 1), "not 0 or 1 (a binary model's labels)"))
    elif obj == "multiclass":
        k = booster.num_class
        checks.append(((y != np.floor(y)) | (y < 0) | (y >= k),
                       f"not a class index in [0, {k})"))
    elif obj in ("poisson", "tweedie"):
        checks.append((y < 0, f"negative (a {obj} model's labels are >= 0)"))
    elif obj == "gamma":
        checks.append((y <= 0, "not > 0 (a gamma model's labels are > 0)"))
    with np.errstate(invalid="ignore"):
        for bad, why in checks:
            if bad.any():
                i, count = _first_bad(bad)
                raise DataError(f"label column {column!r}: row {i} holds {float(y[i])!r}, "
                                f"{why}" + (f" ({count} rows like it)" if count > 1 else ""))
    return y


def _weights(values: Any, column: str) -> np.ndarray:
    w = float64_column(values, column, "weight")
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i, count = _first_bad(bad)
        raise DataError(f"weight column {column!r}: row {i} holds {float(w[i])!r}; weights "
                        f"must be finite and >= 0"
                        + (f" ({count} rows like it)" if count > 1 else ""))
    return w


def _check(t: Threshold, observed: float, where: str) -> dict[str, Any]:
    ok = t.passes(observed)
    return {"criterion": f"{where}{t}", "kind": "metric", "metric": t.metric,
            "observed": observed, "op": t.op, "threshold": t.value, "passed": ok,
            "margin": t.margin(observed)}


def _is_numeric_table(X: Any) -> bool:
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None:
        return False
    return all(getattr(dt, "kind", "O") in "biuf" for dt in dtypes)


def _row_slicer(X: Any) -> tuple[Any, int]:
    """(a function i -> one-row input that Booster.predict takes, the row count). An all
    numeric table becomes a float32 matrix (what a serving call would pass); a table with
    string or categorical columns is kept as a table, as Booster.predict accepts it (its
    categories are matched by value, which a float matrix cannot carry)."""
    if _is_numeric_table(X):
        arr = np.ascontiguousarray(X.to_numpy(dtype=np.float32))
        return (lambda i: arr[i:i + 1]), arr.shape[0]
    if hasattr(X, "iloc"):
        return (lambda i: X.iloc[i:i + 1]), len(X)
    if hasattr(X, "slice") and hasattr(X, "num_rows"):  # pyarrow
        return (lambda i: X.slice(i, 1)), int(X.num_rows)
    arr = np.asarray(X)
    return (lambda i: arr[i:i + 1]), arr.shape[0]


def _repeat_to(X: Any, rows: int) -> Any:
    """``X`` repeated until it has at least ``rows`` rows (a batch big enough to time)."""
    n = len(X) if hasattr(X, "__len__") else int(X.num_rows)
    times = max(1, -(-rows // max(n, 1)))
    if _is_numeric_table(X):
        return np.tile(np.ascontiguousarray(X.to_numpy(dtype=np.float32)), (times, 1))
    if hasattr(X, "iloc"):
        import pandas as pd

        return pd.concat([X] * times, ignore_index=True)
    return np.tile(np.asarray(X), (times, 1))


def _latency(booster: Booster, X: Any, reps: int = 300) -> tuple[float, float]:
    """p99 single-row latency (us) and batch rows/s, measured on the spot."""
    row, n = _row_slicer(X)
    if n == 0:
        raise DataError("--data has no rows to time [latency] on")
    rows = [row(i % n) for i in range(reps)]  # built before timing: only predict is timed
    for _ in range(20):
        booster.predict(rows[0], n_jobs=1)
    times = np.empty(reps)
    for i in range(reps):
        t = time.perf_counter()
        booster.predict(rows[i], n_jobs=1)
        times[i] = time.perf_counter() - t
    p99 = float(np.percentile(times, 99)) * 1e6
    batch = _repeat_to(X, 200_000)
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        booster.predict(batch)
        best = min(best, time.perf_counter() - t)
    return p99, len(batch) / best


def _bootstrap_diff(name: str, challenger: Booster, champion: Booster, y: np.ndarray,
                    pc: np.ndarray, pb: np.ndarray, w: np.ndarray | None, c: Criteria,
                    qid: np.ndarray | None = None) -> tuple[float, float]:
    rng = np.random.default_rng(c.seed)
    n = y.shape[0]
    diffs = []
    by_query = ranking_metric(name) is not None and qid is not None
    if by_query:  # whole queries are resampled (a query's rows belong together)
        assert qid is not None
        starts = np.flatnonzero(np.r_[True, qid[1:] != qid[:-1]])
        sizes = np.diff(np.r_[starts, n])
    for _ in range(c.bootstrap):
        q: np.ndarray | None = None
        idx: np.ndarray
        if by_query:
            pick = rng.integers(0, starts.size, starts.size)
            idx = np.concatenate([np.arange(starts[j], starts[j] + sizes[j]) for j in pick])
            q = np.repeat(np.arange(pick.size), sizes[pick])
        else:
            idx = np.asarray(rng.integers(0, n, size=n))
        ww = None if w is None else w[idx]
        try:
            a = _metric(name, challenger, y[idx], pc[idx], ww, c.threshold, q)
            b = _metric(name, champion, y[idx], pb[idx], ww, c.threshold, q)
        except DataError:
            continue
        if a == a and b == b:
            diffs.append(a - b)
    if not diffs:
        return float("nan"), float("nan")
    alpha = (1 - c.confidence) / 2
    lo, hi = np.quantile(diffs, [alpha, 1 - alpha])
    return float(lo), float(hi)


def evaluate(booster: Booster, df: Any, c: Criteria, *, model_bytes: int | None = None,
             baseline: Booster | None = None) -> dict[str, Any]:
    """The report: every check with observed value, threshold, pass/fail and margin."""
    cols = [str(x) for x in df.columns]
    for col, what in ((c.label, "label"), (c.weight, "weight"), (c.qid, "query-id")):
        if col is not None and col not in cols:
            raise SchemaError(f"--data has no {what} column {col!r} (columns: {cols[:20]})")
    missing = [f for f in booster.feature_names if f not in cols]
    if missing:
        raise SchemaError(f"--data is missing feature column(s) the model needs: {missing[:10]}")
    y = _labels(df[c.label], c.label, booster)
    w = None if c.weight is None else _weights(df[c.weight], c.weight)
    qid = None if c.qid is None else np.asarray(df[c.qid])
    X = df[booster.feature_names]
    pred = booster.predict(X)
    checks: list[dict[str, Any]] = []
    metrics: dict[str, float] = {}
    quantiles = _quantile_report(booster, y, pred, w)
    for t in c.thresholds:
        v = _metric(t.metric, booster, y, pred, w, c.threshold, qid)
        metrics[t.metric] = v
        checks.append(_check(t, v, ""))
    baseline_info: dict[str, Any] | None = None
    if baseline is not None:
        schema_issues = []
        if baseline.feature_names != booster.feature_names:
            gone = [f for f in baseline.feature_names if f not in booster.feature_names]
            new = [f for f in booster.feature_names if f not in baseline.feature_names]
            schema_issues.append(f"features differ (removed {gone[:10]}, added {new[:10]}"
                                 + (", order changed" if not gone and not new else "") + ")")
        if (baseline.objective, baseline.num_class) != (booster.objective, booster.num_class):
            schema_issues.append(f"objective {baseline.objective!r}/{baseline.num_class} -> "
                                 f"{booster.objective!r}/{booster.num_class}")
        if c.schema_compatible:
            checks.append({"criterion": "schema compatible with baseline", "kind": "schema",
                           "passed": not schema_issues, "issues": schema_issues})
        missing_b = [f for f in baseline.feature_names if f not in cols]
        if missing_b:
            raise SchemaError(f"--data is missing column(s) the baseline needs: {missing_b[:10]}")
        pb = baseline.predict(df[baseline.feature_names])
        baseline_info = {"metrics": {}}
        for name, max_drop in c.max_drop.items():
            a = _metric(name, booster, y, pred, w, c.threshold, qid)
            b = _metric(name, baseline, y, pb, w, c.threshold, qid)
            higher = higher_is_better(name)
            drop = (b - a) if higher else (a - b)
            lo, hi = _bootstrap_diff(name, booster, baseline, y, pred, pb, w, c, qid)
            baseline_info["metrics"][name] = {"challenger": a, "champion": b}
            checks.append({"criterion": f"{name} drop vs baseline <= {max_drop:g}",
                           "kind": "baseline", "metric": name, "challenger": a, "champion": b,
                           "difference": a - b, "drop": drop,
                           "difference_ci": [lo, hi], "confidence": c.confidence,
                           "max_drop": max_drop, "passed": bool(drop <= max_drop),
                           "margin": max_drop - drop})
    slices_out = []
    for s in c.slices:
        if s.column not in cols:
            raise SchemaError(f"--data has no slice column {s.column!r} (columns: {cols[:20]})")
        keys = df[s.column].astype("string").fillna("<NA>").to_numpy()
        for value in sorted(set(keys)):
            mask = keys == value
            n = int(mask.sum())
            row: dict[str, Any] = {"column": s.column, "value": str(value), "rows": n,
                                   "metrics": {}}
            if n < s.min_rows:
                row["skipped"] = f"fewer than {s.min_rows} rows"
                slices_out.append(row)
                continue
            for t in s.thresholds:
                try:
                    v = _metric(t.metric, booster, y[mask], pred[mask],
                                None if w is None else w[mask], c.threshold,
                                None if qid is None else qid[mask])
                except DataError as e:
                    v = float("nan")
                    row["error"] = str(e)
                row["metrics"][t.metric] = v
                chk = _check(t, v, f"slice {s.column}={value}: ")
                chk["kind"] = "slice"
                checks.append(chk)
            slices_out.append(row)
    latency: dict[str, float] | None = None
    if c.p99_single_row_us is not None or c.min_batch_rows_per_s is not None:
        p99, rps = _latency(booster, X)
        latency = {"p99_single_row_us": p99, "batch_rows_per_s": rps}
        if c.p99_single_row_us is not None:
            checks.append({"criterion": f"p99 single-row latency <= {c.p99_single_row_us:g} us",
                           "kind": "latency", "observed": p99, "passed": p99 <=
                           c.p99_single_row_us, "margin": c.p99_single_row_us - p99})
        if c.min_batch_rows_per_s is not None:
            checks.append({"criterion": f"batch rows/s >= {c.min_batch_rows_per_s:g}",
                           "kind": "latency", "observed": rps,
                           "passed": rps >= c.min_batch_rows_per_s,
                           "margin": rps - c.min_batch_rows_per_s})
    if c.max_file_bytes is not None and model_bytes is not None:
        checks.append({"criterion": f"model file size <= {c.max_file_bytes} bytes",
                       "kind": "size", "observed": model_bytes,
                       "passed": model_bytes <= c.max_file_bytes,
                       "margin": c.max_file_bytes - model_bytes})
    for chk in checks:
        chk["passed"] = bool(chk["passed"])
    failed = [chk["criterion"] for chk in checks if not chk["passed"]]
    return {
        "accepted": not failed,
        "exit_code": ACCEPTED if not failed else REJECTED,
        "failed": failed,
        "checks": checks,
        "metrics": metrics,
        "rows": int(len(df)),
        "model": {"objective": booster.objective, "num_class": booster.num_class,
                  "features": booster.feature_names, "rounds": booster.num_rounds,
                  "file_bytes": model_bytes, "provenance": booster.provenance},
        "baseline": baseline_info,
        "slices": slices_out,
        "latency": latency,
        "quantiles": quantiles,
        "_pred": pred,
        "_y": y,
        "_w": w,
    }


def file_size(path: str) -> int:
    return os.path.getsize(path)

"""Model performance once the labels arrive: late labels joined to stored predictions, metrics
per time window with bootstrap confidence intervals, label coverage, target and prediction
drift, and a comparison with the validation metrics stored in the model file.

Thresholds come from a TOML ``[performance]`` table (warn / fail levels; for a metric where
higher is better, such as auc, the metric is at warn / fail when it is *at or below* the level,
otherwise at or above)::

    [performance]
    min_labelled_rows = 100            # windows with fewer labelled rows are reported, not judged
    coverage = { warn = 0.8, fail = 0.5 }          # share of predictions with a label
    auc = { warn = 0.80, fail = 0.75 }
    logloss = { warn = 0.45, fail = 0.55 }

    [performance.drop]                 # worse than the model's validation metric by this much
    auc = { warn = 0.02, fail = 0.05 }

Target drift (the labels' distribution) is measured against the first window, prediction drift
against the model's reference profile (else the first window), both by PSI as ``compare`` does;
they are reported with their status and do not decide the exit code.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics as _metrics
from .. import objectives as _objectives
from .._compat import require
from .._fs import write_text
from ..errors import DataError, ParameterError, SchemaError
from .compare import compare, json_clean, worst_status
from .config import MonitorConfig, count_value, parse_level
from .profile import Profile

__all__ = ["performance", "PerformanceReport", "PerformanceConfig", "DEFAULT_METRICS"]

# metrics computed per window when none are asked for, by the objective's link
DEFAULT_METRICS: dict[str, tuple[str, ...]] = {
    "sigmoid": ("auc", "logloss", "brier", "accuracy"),
    "softmax": ("multi_logloss", "multi_error"),
    "identity": ("rmse", "mae", "r2"),
    "exp": ("rmse", "mae"),
}
_MAX_BOOTSTRAP = 10_000
# The validation metric names train() stores (best_score / evals_result) for the public ones.
_STORED_NAMES = {"auc": "auc", "roc_auc": "auc", "logloss": "logloss", "log_loss": "logloss",
                 "error": "error", "rmse": "rmse", "mae": "mae",
                 "multi_logloss": "multi_logloss", "multi_error": "multi_error",
                 "poisson_deviance": "poisson_deviance", "poisson_nloglik": "poisson_nloglik",
                 "gamma_deviance": "gamma_deviance", "tweedie_nloglik": "tweedie_nloglik"}


@dataclass
class PerformanceConfig:
    """Thresholds of :func:`performance` (see the module docstring)."""

    metrics: dict[str, Any] = field(default_factory=dict)  # name -> Level
    drop: dict[str, Any] = field(default_factory=dict)  # name -> Level
    coverage: Any = None  # Level (below is worse)
    min_labelled_rows: int = 100

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PerformanceConfig:
        if not isinstance(d, Mapping):
            raise ParameterError("performance config must be a table")
        perf = d.get("performance", {})
        if not isinstance(perf, Mapping):
            raise ParameterError("performance config: [performance] must be a table")
        cfg = cls()
        for key, val in perf.items():
            where = f"performance.{key}"
            if key == "min_labelled_rows":
                cfg.min_labelled_rows = count_value(val, where, 1)
            elif key == "coverage":
                cfg.coverage = _ordered(_level_any(val, where), True, where)
            elif key == "drop":
                if not isinstance(val, Mapping):
                    raise ParameterError(f"performance config: [{where}] must be a table")
                for m, lv in val.items():
                    _known_metric(m, f"{where}.{m}")
                    cfg.drop[m] = parse_level(lv, f"{where}.{m}")
            else:
                _known_metric(key, where)
                cfg.metrics[key] = _ordered(_level_any(val, where),
                                            _metrics.METRICS[key][1], where)
        return cfg

    @classmethod
    def from_toml(cls, path: str | Path) -> PerformanceConfig:
        import tomllib

        p = Path(path)
        if not p.is_file():
            raise ParameterError(f"performance config file {str(path)!r} does not exist")
        try:
            d = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ParameterError(f"performance config is not valid TOML: {e}") from None
        return cls.from_dict(d)


def _known_metric(name: str, where: str) -> None:
    if name not in _metrics.METRICS:
        raise ParameterError(f"performance config: unknown metric {where!r}; known: "
                             f"{sorted(_metrics.METRICS)}")


@dataclass(frozen=True)
class _Bound:
    """warn / fail levels in either direction (a higher-is-better metric's levels descend)."""

    warn: float
    fail: float
    higher_is_better: bool

    def status(self, v: float | None) -> str:
        if v is None or not math.isfinite(v):
            return "ok"
        if self.higher_is_better:
            return "fail" if v <= self.fail else ("warn" if v <= self.warn else "ok")
        return "fail" if v >= self.fail else ("warn" if v >= self.warn else "ok")


def _level_any(v: Any, where: str) -> tuple[float, float]:
    """(warn, fail) of a table {warn, fail}, in either order (direction comes from the metric)."""
    if not isinstance(v, Mapping) or set(v) != {"warn", "fail"}:
        raise ParameterError(f"performance config: {where} must be {{warn = .., fail = ..}}")
    out = []
    for k in ("warn", "fail"):
        x = v[k]
        if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
            raise ParameterError(f"performance config: {where}.{k} must be a finite number, "
                                 f"got {x!r}")
        out.append(float(x))
    return out[0], out[1]


def _ordered(levels: tuple[float, float], higher_is_better: bool,
             where: str) -> tuple[float, float]:
    warn, fail = levels
    if (warn < fail) if higher_is_better else (warn > fail):
        rule = ">=" if higher_is_better else "<="
        raise ParameterError(f"performance config: {where}: warn ({warn:g}) must be {rule} fail "
                             f"({fail:g}) (higher is {'better' if higher_is_better else 'worse'})")
    return levels


def _as_perf_config(config: Any) -> PerformanceConfig:
    if config is None:
        return PerformanceConfig()
    if isinstance(config, PerformanceConfig):
        return config
    if isinstance(config, (str, Path)):
        return PerformanceConfig.from_toml(config)
    if isinstance(config, Mapping):
        return PerformanceConfig.from_dict(config)
    raise ParameterError(f"config must be a PerformanceConfig, a TOML path or a mapping, got "
                         f"{type(config).__name__}")


class PerformanceReport:
    """The result of :func:`performance`: ``windows`` (one dict per window: rows, labelled,
    coverage, metrics with confidence intervals, drift, checks), ``baseline`` (the model's
    validation metrics) and ``passed`` (no check at fail)."""

    def __init__(self, windows: list[dict[str, Any]], objective: str, metrics: list[str],
                 baseline: dict[str, float], n_bootstrap: int, confidence: float,
                 notes: list[str]) -> None:
        self.windows = windows
        self.objective = objective
        self.metrics = metrics
        self.baseline = baseline
        self.n_bootstrap = n_bootstrap
        self.confidence = confidence
        self.notes = notes

    @property
    def status(self) -> str:
        return worst_status(*(w["status"] for w in self.windows))

    @property
    def passed(self) -> bool:
        return self.status != "fail"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_clean({"passed": self.passed, "status": self.status,
                       "objective": self.objective, "metrics": self.metrics,
                       "baseline": self.baseline, "bootstrap": self.n_bootstrap,
                       "confidence": self.confidence, "notes": self.notes,
                       "windows": self.windows})
        return out

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            write_text(path, text)
        return text

    def to_html(self) -> str:
        """A self-contained HTML report (metric charts with intervals, the table)."""
        from .performance_html import render

        return render(self)

    def summary(self) -> str:
        lines = [f"sapwood monitor performance: {'PASSED' if self.passed else 'FAILED'} "
                 f"(status {self.status}); objective {self.objective}; {len(self.windows)} "
                 f"window(s)"]
        if self.baseline:
            lines.append("  validation (model file): " + ", ".join(
                f"{k}={v:.4g}" for k, v in self.baseline.items()))
        for w in self.windows:
            ms = []
            for m in self.metrics:
                r = w["metrics"].get(m) or {}
                v = r.get("value")
                if v is None or not math.isfinite(v):
                    continue
                ci = r.get("ci")
                ms.append(f"{m}={v:.4g}" + (f" [{ci[0]:.4g}, {ci[1]:.4g}]" if ci else ""))
            lines.append(f"  {w['status']:4s} {w['window']}: rows={w['rows']} labelled="
                         f"{w['labelled']} coverage={w['coverage']:.3f} {' '.join(ms)}")
            for msg in w["messages"]:
                lines.append(f"       {msg}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


# ---------------------------------------------------------------------------- computation
def _frame(data: Any, what: str) -> Any:
    pd = require("pandas", "sapwood monitor performance")
    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):
        return data.to_pandas()
    if isinstance(data, (str, Path)):
        from ..frame.readers import read_pandas

        return read_pandas(data)
    raise ParameterError(f"{what} must be a table (pandas, pyarrow) or a data file path, got "
                         f"{type(data).__name__}")


def _prediction_columns(df: Any) -> list[str]:
    if "prediction" in df.columns:
        return ["prediction"]
    cols = sorted((c for c in df.columns if isinstance(c, str) and c.startswith("prediction_")
                   and c[len("prediction_"):].isdigit()), key=lambda c: int(c.split("_")[1]))
    if not cols:
        raise SchemaError("the predictions have no 'prediction' (or 'prediction_<k>') column; "
                          f"columns: {list(df.columns)[:20]}")
    return cols


def _baseline(model: Any, names: list[str]) -> dict[str, float]:
    """The model's validation metrics: its best_score (early stopping) else the last round of
    evals_result, from the first evaluation set not named like the training set."""
    if model is None:
        return {}
    out: dict[str, float] = {}
    sets = dict(getattr(model, "best_score", None) or {})
    evals = getattr(model, "evals_result", None) or {}
    for ds, ms in evals.items():
        if ds not in sets and ms:
            sets[ds] = {m: v[-1] for m, v in ms.items() if v}
    order = sorted(sets, key=lambda s: s.lower() in ("train", "training"))
    for m in names:
        stored = _STORED_NAMES.get(m)
        for ds in order:
            v = sets[ds].get(stored) if stored else None
            if isinstance(v, (int, float)) and math.isfinite(v):
                out[m] = float(v)
                break
    return out


def _metric_value(name: str, y: np.ndarray, p: np.ndarray) -> float:
    fn = _metrics.METRICS[name][0]
    try:
        return float(fn(y, p if p.shape[1] > 1 else p[:, 0]))
    except (DataError, ValueError, ZeroDivisionError):
        return math.nan  # e.g. AUC of a window with one class


def _bootstrap(name: str, y: np.ndarray, p: np.ndarray, n: int, rng: np.random.Generator,
               confidence: float) -> list[float] | None:
    if n <= 0 or y.size < 2:
        return None
    vals = np.empty(n)
    for b in range(n):
        idx = rng.integers(0, y.size, y.size)
        vals[b] = _metric_value(name, y[idx], p[idx])
    vals = vals[np.isfinite(vals)]
    if vals.size < max(10, n // 2):
        return None  # too many resamples undefined (one class): no honest interval
    a = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(vals, [a, 1.0 - a])
    return [float(lo), float(hi)]


def performance(predictions: Any, labels: Any, *, join: str | Sequence[str],
                time: str | None = None, window: str = "day", label_column: str = "label",
                model: Any = None, objective: str | None = None,
                metrics: Sequence[str] | None = None, n_bootstrap: int = 200, seed: int = 0,
                confidence: float = 0.95, config: Any = None) -> PerformanceReport:
    """Metrics per window once labels arrive (see the module docstring).

    predictions: scored rows (a table or a data file) with ``prediction`` (``prediction_<k>``
        per class) and the join column(s); labels: rows with the join column(s) and
        ``label_column``. Every prediction is kept (a left join): rows without a label count
        against the coverage and are left out of the metrics. A label whose id matches no
        prediction is counted in ``unmatched_labels``; duplicate ids are a DataError.
    time: a timestamp column (predictions', else labels') windowing the rows by UTC day or
        ISO week; None: one window.
    model: a Booster: its objective picks the metrics, its stored validation metrics are the
        baseline, its reference profile the prediction-drift reference.
    n_bootstrap: resamples per metric and window (0..10000), seeded by ``seed``.
    """
    pd = require("pandas", "sapwood monitor performance")
    keys = [join] if isinstance(join, str) else list(join)
    if not keys:
        raise ParameterError("join needs at least one id column")
    if isinstance(n_bootstrap, bool) or not isinstance(n_bootstrap, int) or \
            not 0 <= n_bootstrap <= _MAX_BOOTSTRAP:
        raise ParameterError(f"n_bootstrap must be an integer in [0, {_MAX_BOOTSTRAP}], got "
                             f"{n_bootstrap!r}")
    if not 0.0 < confidence < 1.0:
        raise ParameterError(f"confidence must be in (0, 1), got {confidence!r}")
    if window not in ("day", "week"):
        raise ParameterError(f"window must be 'day' or 'week', got {window!r}")
    cfg = _as_perf_config(config)
    obj_name = objective if objective is not None else getattr(model, "objective", None)
    if obj_name is None:
        raise ParameterError("give the model (its objective picks the metrics) or objective=")
    info = _objectives.resolve(obj_name)
    names = list(metrics) if metrics is not None else list(DEFAULT_METRICS[info.link])
    for m in names:
        if m not in _metrics.METRICS:
            raise ParameterError(f"unknown metric {m!r}; known: {sorted(_metrics.METRICS)}")
    pdf, ldf = _frame(predictions, "predictions"), _frame(labels, "labels")
    for what, df, need in (("predictions", pdf, keys), ("labels", ldf, [*keys, label_column])):
        miss = [c for c in need if c not in df.columns]
        if miss:
            raise SchemaError(f"the {what} have no column(s) {miss}; columns: "
                              f"{list(df.columns)[:20]}")
    pcols = _prediction_columns(pdf)
    for what, df in (("predictions", pdf), ("labels", ldf)):
        dup = df.duplicated(keys, keep=False)
        if dup.any():
            row = int(np.flatnonzero(dup.to_numpy())[0])
            raise DataError(f"the {what} repeat the id {df.iloc[row][keys].tolist()} "
                            f"(row {row}); ids in --join must be unique")
    tcol = None
    if time is not None:
        if time in pdf.columns:
            tcol = "p"
        elif time in ldf.columns:
            tcol = "l"
        else:
            raise SchemaError(f"time column {time!r} is in neither the predictions nor the "
                              "labels")
    lkeep = [*keys, label_column] + ([time] if tcol == "l" else [])
    ren = {label_column: "__label__"}
    merged = pdf[[*keys, *pcols] + ([time] if tcol == "p" else [])].merge(
        ldf[lkeep].rename(columns=ren), on=keys, how="left", indicator=True)
    matched_ids = pdf[keys].merge(ldf[keys], on=keys, how="inner")
    unmatched = int(len(ldf) - len(matched_ids))
    y_all = pd.to_numeric(merged["__label__"], errors="coerce").to_numpy(dtype=np.float64)
    labelled = np.isfinite(y_all)
    if time is not None:
        try:
            ts = pd.to_datetime(merged[time], utc=True)
        except (ValueError, TypeError) as e:
            raise DataError(f"time column {time!r} is not a timestamp: {e}") from None
        if ts.isna().any():
            row = int(np.flatnonzero(ts.isna().to_numpy())[0])
            raise DataError(f"time column {time!r} is empty in row {row}")
        day = ts.dt.floor("D")
        if window == "week":
            day = day - pd.to_timedelta(day.dt.weekday, unit="D")
        keys_w = day.dt.strftime("%Y-%m-%d").to_numpy()
        order = sorted(set(keys_w.tolist()))
    else:
        keys_w = np.full(len(merged), "all", dtype=object)
        order = ["all"]
    P = merged[pcols].to_numpy(dtype=np.float64)
    baseline = _baseline(model, names)
    notes: list[str] = []
    if unmatched:
        notes.append(f"{unmatched} label(s) match no prediction (not used)")
    if labelled.any():
        try:
            info.check_labels(y_all[labelled], max(len(pcols), 1))
        except DataError as e:
            raise DataError(f"labels: {e}") from None
    # drift references: predictions (the model's reference profile, else the first window)
    # and labels (the first window)
    pred_ref: Profile | None = None
    ref_prof = getattr(model, "reference_profile", None)
    if ref_prof is not None and len(pcols) == 1 and "__prediction__" in ref_prof.columns:
        pred_ref = Profile({"__prediction__": ref_prof.columns["__prediction__"]},
                           ref_prof.num_rows)
    label_ref: Profile | None = None
    mcfg = MonitorConfig(small_sample_rows=0)
    out_windows: list[dict[str, Any]] = []
    for wi, key in enumerate(order):
        rows = np.flatnonzero(keys_w == key)
        lab = rows[labelled[rows]]
        y, p = y_all[lab], P[lab]
        w: dict[str, Any] = {"window": str(key), "rows": int(rows.size), "labelled": int(lab.size),
                             "coverage": lab.size / rows.size if rows.size else 0.0,
                             "metrics": {}, "checks": {}, "messages": []}
        judged = lab.size >= cfg.min_labelled_rows
        w["judged"] = bool(judged)
        if not judged:
            w["messages"].append(f"{lab.size} labelled rows < min_labelled_rows "
                                 f"{cfg.min_labelled_rows}: metrics reported, not judged")
        rng = np.random.default_rng([seed, wi])
        for m in names:
            v = _metric_value(m, y, p) if lab.size else math.nan
            ci = _bootstrap(m, y, p, n_bootstrap, rng, confidence) if lab.size else None
            r: dict[str, Any] = {"value": v, "ci": ci}
            hib = _metrics.METRICS[m][1]
            if m in baseline:
                r["baseline"] = baseline[m]
                r["change"] = v - baseline[m]
                r["degradation"] = (baseline[m] - v) if hib else (v - baseline[m])
            w["metrics"][m] = r
            if judged and m in cfg.metrics:
                wv, fv = cfg.metrics[m]
                s = _Bound(wv, fv, hib).status(v)
                w["checks"][m] = s
                if s != "ok":
                    w["messages"].append(f"{m} {v:.4g} at {s} (levels {wv:g} / {fv:g})")
            if judged and m in cfg.drop and "degradation" in r:
                lv = cfg.drop[m]
                s = _Bound(lv.warn, lv.fail, False).status(r["degradation"])
                w["checks"][f"{m}_drop"] = s
                if s != "ok":
                    w["messages"].append(f"{m} is {r['degradation']:.4g} worse than validation "
                                         f"({baseline[m]:.4g}) at {s}")
        if cfg.coverage is not None:
            s = _Bound(cfg.coverage[0], cfg.coverage[1], True).status(w["coverage"])
            w["checks"]["coverage"] = s
            if s != "ok":
                w["messages"].append(f"label coverage {w['coverage']:.3f} at {s}")
        # drift (reported; does not decide the verdict)
        if len(pcols) == 1 and rows.size:
            pp = Profile.from_data(P[rows, :1], names=["__prediction__"],
                                   edges_from=pred_ref)
            if pred_ref is None:
                pred_ref = pp
            rep = compare(pred_ref, pp, mcfg).features["__prediction__"]
            w["prediction_drift"] = {"psi": rep.get("psi"), "status": rep["drift_status"]}
        if lab.size:
            lp = Profile.from_data(y.reshape(-1, 1), names=["label"], edges_from=label_ref)
            if label_ref is None:
                label_ref = lp
            rep = compare(label_ref, lp, mcfg).features["label"]
            w["target_drift"] = {"psi": rep.get("psi"), "mean": float(np.mean(y)),
                                 "status": rep["drift_status"]}
        w["status"] = worst_status(*w["checks"].values())
        out_windows.append(w)
    cov = float(labelled.mean()) if labelled.size else 0.0
    if cov < 1.0:
        notes.append(f"label coverage {cov:.3f} overall: {int((~labelled).sum())} of "
                     f"{labelled.size} predictions have no label yet (left out of the metrics)")
    return PerformanceReport(out_windows, info.name, names, baseline, n_bootstrap, confidence,
                             notes)

"""compare(reference, current) -> MonitorReport: drift and data-quality checks from profiles."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .._fs import write_text
from ..errors import DataError, ParameterError, SapwoodError
from . import stats as st
from .config import Level, MonitorConfig
from .profile import (
    PREDICTION_COLUMN,
    CategoricalColumnProfile,
    ColumnProfile,
    NumericColumnProfile,
    Profile,
    _dtype_family,
)

__all__ = ["compare", "MonitorReport", "profile_for_booster", "calibrate"]

STATUS_ORDER = {"ok": 0, "warn": 1, "fail": 2}


def worst_status(*statuses: str) -> str:
    return max(statuses, key=lambda s: STATUS_ORDER[s], default="ok")


def _is_prediction(name: str) -> bool:
    return name == PREDICTION_COLUMN or (name.startswith("__prediction_") and name.endswith("__"))


def json_clean(v: Any) -> Any:
    """JSON-safe: nan/inf floats become None / large strings are kept."""
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, (np.floating,)):
        return json_clean(float(v))
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, dict):
        return {k: json_clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_clean(x) for x in v]
    return v


class MonitorReport:
    """The result of :func:`compare`.

    ``passed`` is True when no feature and no dataset-level check is at ``fail`` (warnings alone
    do not fail it). ``features[name]`` holds every statistic and quality check of a feature
    and its ``status`` (the worst of them); ``dataset`` the dataset-level checks.
    """

    def __init__(self, features: dict[str, dict[str, Any]], dataset: dict[str, Any],
                 reference: Profile, current: Profile, config: MonitorConfig) -> None:
        self.features = features
        self.dataset = dataset
        self.reference = reference
        self.current = current
        self.config = config

    @property
    def passed(self) -> bool:
        return self.dataset["status"] != "fail" and all(
            f["status"] != "fail" for f in self.features.values())

    @property
    def status(self) -> str:
        return worst_status(self.dataset["status"], *(f["status"] for f in self.features.values()))

    def flagged(self) -> list[str]:
        """Features whose status is not ok, worst first."""
        return [n for n in self._ordered() if self.features[n]["status"] != "ok"]

    def _ordered(self) -> list[str]:
        def key(n: str) -> tuple[int, float]:
            f = self.features[n]
            score = f.get("psi")
            return (-STATUS_ORDER[f["status"]], -(score if isinstance(score, float) and
                                            math.isfinite(score) else 0.0))
        return sorted(self.features, key=key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status,
            "dataset": json_clean(self.dataset),
            "features": {n: json_clean(self.features[n]) for n in self.features},
        }

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            write_text(path, text)  # atomic: the whole report or none
        return text

    def to_frame(self) -> Any:
        """One row per feature (drifted first): status and every scalar statistic."""
        import pandas as pd

        rows = []
        for n in self._ordered():
            f = self.features[n]
            rows.append({"feature": n, **{k: v for k, v in f.items()
                                          if not isinstance(v, (dict, list))}})
        return pd.DataFrame(rows).set_index("feature") if rows else pd.DataFrame()

    def to_html(self, path: str | Path | None = None) -> str:
        """A self-contained HTML report (inline SVG histograms); written to path when given."""
        from .html import render

        text = render(self)
        if path is not None:
            write_text(path, text)  # atomic: the whole report or none
        return text

    def summary(self) -> str:
        ds = self.dataset
        lines = [
            f"sapwood monitor: {'PASSED' if self.passed else 'FAILED'} "
            f"(status {self.status}); rows reference={ds['rows_reference']} "
            f"current={ds['rows_current']}; drifted {ds['n_drifted']}/{ds['n_features']} "
            f"features (share {ds['drift_share']:.3f})",
        ]
        for msg in ds.get("messages", []):
            lines.append(f"  dataset: {msg}")
        for n in self.flagged():
            f = self.features[n]
            bits = [f"{k}={f[k]:.4g}" for k in ("psi", "wasserstein", "jensen_shannon",
                                                 "unseen_share", "null_rate_increase",
                                                 "out_of_range_share")
                    if isinstance(f.get(k), float) and math.isfinite(f[k])]
            why = "; ".join(f.get("messages", []))
            lines.append(f"  {f['status']:4s} {n}: {' '.join(bits)}{(' - ' + why) if why else ''}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"<MonitorReport passed={self.passed} drifted={self.dataset['n_drifted']}/"
                f"{self.dataset['n_features']}>")


# ---------------------------------------------------------------------------- per column
def _numeric_checks(name: str, ref: NumericColumnProfile, cur: NumericColumnProfile,
                    cfg: MonitorConfig, pre: st.NumericDrift) -> dict[str, Any]:
    """pre: this pair's figures from st.numeric_drift_many (computed for all columns at once)."""
    if not pre.edges_equal:
        raise DataError(f"column {name!r}: the current profile was not built on the reference's "
                        "bin edges; build it with Profile.from_data(data, edges_from=reference)")
    out: dict[str, Any] = {"kind": "numeric"}
    ends = pre.ends
    out["psi"], w_raw, d = pre.psi, pre.wasserstein_raw, pre.ks
    sd = ref.std
    if math.isnan(w_raw):
        w = math.nan
    elif sd > 0:
        w = w_raw / sd
    else:
        w = 0.0 if w_raw == 0 else math.inf
    out["wasserstein"] = w
    out["wasserstein_raw"] = w_raw
    out["ks_statistic"] = d
    out["ks_pvalue"] = st.ks_pvalue(d, ref.finite_count, cur.finite_count)
    out["null_rate_reference"] = ref.null_rate
    out["null_rate_current"] = cur.null_rate
    out["null_rate_increase"] = cur.null_rate - ref.null_rate
    # values outside the reference range: bins before the first / after the last reference bin
    out["out_of_range_share"] = pre.out_of_range_share
    ref_inf = (ref.neg_inf_count + ref.pos_inf_count) / max(ref.num_rows, 1)
    cur_inf = (cur.neg_inf_count + cur.pos_inf_count) / max(cur.num_rows, 1)
    out["inf_share_reference"] = ref_inf
    out["inf_share_current"] = cur_inf
    out["inf_share_increase"] = cur_inf - ref_inf
    out["mean_reference"], out["mean_current"] = ref.mean, cur.mean
    out["std_reference"], out["std_current"] = sd, cur.std
    out["min_reference"], out["min_current"] = ref.min, cur.min
    out["max_reference"], out["max_current"] = ref.max, cur.max
    out["decile_cuts"] = st.decile_cuts(ref.edges, ends).astype(np.float64).tolist()
    checks = {
        "psi": cfg.level(name, "psi").status(out["psi"]),
        "wasserstein": cfg.level(name, "wasserstein").status(w),
    }
    quality = {k: cfg.level(name, k).status(out[k])
               for k in ("null_rate_increase", "out_of_range_share", "inf_share_increase")}
    small = min(ref.finite_count, cur.finite_count) < cfg.small_sample_rows
    return _finish(out, checks, quality,
                   advisory=("psi", "wasserstein", "out_of_range_share") if small else ())


def _categorical_checks(name: str, ref: CategoricalColumnProfile, cur: CategoricalColumnProfile,
                        cfg: MonitorConfig) -> dict[str, Any]:
    r, c, unseen = st.categorical_vectors(ref, cur)
    out: dict[str, Any] = {"kind": "categorical"}
    out["psi"] = st.psi(r, c)
    out["jensen_shannon"] = st.jensen_shannon(r, c)
    nn = cur.non_null_count
    out["unseen_share"] = unseen / nn if nn else math.nan
    ref_set = set(ref.categories)
    new = sorted(((cat, int(n)) for cat, n in zip(cur.categories, cur.counts.tolist(), strict=False)
                  if cat not in ref_set), key=lambda t: -t[1])
    out["unseen_categories"] = dict(new[:10])
    out["null_rate_reference"] = ref.null_rate
    out["null_rate_current"] = cur.null_rate
    out["null_rate_increase"] = cur.null_rate - ref.null_rate
    out["chi2_statistic"], out["chi2_pvalue"] = st.chi2_homogeneity(r, c)
    checks = {
        "psi": cfg.level(name, "psi").status(out["psi"]),
        "jensen_shannon": cfg.level(name, "jensen_shannon").status(out["jensen_shannon"]),
    }
    quality = {k: cfg.level(name, k).status(out[k])
               for k in ("unseen_share", "null_rate_increase")}
    small = min(ref.non_null_count, nn) < cfg.small_sample_rows
    return _finish(out, checks, quality, advisory=("psi", "jensen_shannon") if small else ())


def _finish(out: dict[str, Any], checks: dict[str, str], quality: dict[str, str],
            advisory: tuple[str, ...] = ()) -> dict[str, Any]:
    """advisory: checks that may only warn and never count as drift (small samples; a test
    gates those features' drift after all features are compared)."""
    for k in advisory:
        if k in checks and checks[k] == "fail":
            checks[k] = "warn"
        if k in quality and quality[k] == "fail":
            quality[k] = "warn"
    out["small_sample"] = bool(advisory)
    out["drift_status"] = worst_status(*(v for k, v in checks.items() if k not in advisory))
    out["quality_status"] = worst_status(*(v for k, v in quality.items() if k not in advisory))
    out["checks"] = {**checks, **quality}
    out["drifted"] = out["drift_status"] != "ok"
    out["status"] = worst_status(out["drift_status"], out["quality_status"],
                           *(out["checks"][k] for k in advisory if k in out["checks"]))
    out["messages"] = [f"{k} at {v}" for k, v in out["checks"].items() if v != "ok"]
    return out


def _schema_fail(kind: str, message: str, ref: ColumnProfile | None,
                 cur: ColumnProfile | None) -> dict[str, Any]:
    return {
        "kind": kind,
        "status": "fail",
        "drift_status": "ok",
        "quality_status": "fail",
        "drifted": False,
        "checks": {"schema": "fail"},
        "schema": message,
        "dtype_reference": None if ref is None else ref.dtype,
        "dtype_current": None if cur is None else cur.dtype,
        "messages": [message],
    }


# ---------------------------------------------------------------------------- entry points
def as_config(config: Any) -> MonitorConfig:
    if config is None:
        return MonitorConfig()
    if isinstance(config, MonitorConfig):
        return config
    if isinstance(config, (str, Path)):
        return MonitorConfig.from_toml(config)
    if isinstance(config, Mapping):
        return MonitorConfig.from_dict(config)
    raise ParameterError(f"config must be a MonitorConfig, a TOML path or a mapping, "
                         f"got {type(config)!r}")


def reference_profile_of(reference: Any) -> tuple[Profile, Any]:
    if isinstance(reference, Profile):
        return reference, None
    if isinstance(reference, (str, Path)):
        return Profile.load(reference), None
    if hasattr(reference, "predict") and hasattr(reference, "feature_names"):
        prof = getattr(reference, "reference_profile", None)
        if prof is None:
            raise DataError("this Booster carries no reference profile; train it with a "
                            "sapwood that stores one, or pass a Profile "
                            "(sapwood.monitoring.profile_for_booster(booster, X_train))")
        if not isinstance(prof, Profile):
            prof = Profile.from_dict(prof)
        return prof, reference
    raise ParameterError(f"reference must be a Profile or a Booster, got {type(reference)!r}")


def compare(reference: Any, current: Any, config: Any = None, *,
            n_jobs: int | None = None) -> MonitorReport:
    """Check ``current`` against ``reference`` for drift and data quality.

    reference: a :class:`~sapwood.Profile`, a path to a profile JSON, or a Booster that
        carries ``reference_profile``.
    current: a Profile built with ``edges_from=reference``, or any data input (numpy,
        pandas, pyarrow), profiled here on the reference's bins (with the Booster's
        predictions profiled too when the reference is a Booster with a prediction profile).
    config: a :class:`MonitorConfig`, a TOML path or a mapping (see ``config.py``).
    """
    cfg = as_config(config)
    ref, booster = reference_profile_of(reference)
    if isinstance(current, Profile):
        cur = current
        current_names = list(cur.columns)
    else:
        current_names = _data_column_names(current)
        preds = None
        has_pred = any(_is_prediction(n) for n in ref.columns)
        if booster is not None and has_pred:
            try:
                preds = booster.predict(current)
            except SapwoodError:
                preds = None  # the schema checks below report what is wrong
        forced = [n for n, c in ref.columns.items()
                  if isinstance(c, CategoricalColumnProfile)
                  and _dtype_family(c.dtype) != "categorical"]
        cur = Profile.from_data(current, edges_from=ref, categorical=forced,
                                columns=list(ref.columns), predictions=preds, n_jobs=n_jobs)
    features: dict[str, dict[str, Any]] = {}
    missing: list[str] = []
    numeric: list[tuple[str, NumericColumnProfile, NumericColumnProfile]] = []
    for name, rc in ref.columns.items():
        cc = cur.columns.get(name)
        if (isinstance(rc, NumericColumnProfile) and isinstance(cc, NumericColumnProfile)
                and not cfg.feature(name).ignore):
            numeric.append((name, rc, cc))
    numeric_pre = dict(zip((n for n, _, _ in numeric),
                           st.numeric_drift_many([(r, c) for _, r, c in numeric]), strict=True))
    for name, rc in ref.columns.items():
        fc = cfg.feature(name)
        if fc.ignore:
            continue
        cc = cur.columns.get(name)
        if cc is None:
            if _is_prediction(name) and not isinstance(current, Profile):
                continue  # no predictions to compare (no booster given)
            missing.append(name)
            features[name] = _schema_fail(rc.kind, "missing in the current data", rc, None)
            continue
        fam_r, fam_c = _dtype_family(rc.dtype), _dtype_family(cc.dtype)
        if rc.kind != cc.kind or fam_r != fam_c:
            features[name] = _schema_fail(
                rc.kind, f"dtype changed from {rc.dtype} ({rc.kind}) to {cc.dtype} ({cc.kind})",
                rc, cc)
            continue
        if isinstance(rc, NumericColumnProfile) and isinstance(cc, NumericColumnProfile):
            f = _numeric_checks(name, rc, cc, cfg, numeric_pre[name])
        elif isinstance(rc, CategoricalColumnProfile) and isinstance(cc, CategoricalColumnProfile):
            f = _categorical_checks(name, rc, cc, cfg)
        else:  # pragma: no cover - kinds were checked above
            raise DataError(f"column {name!r}: incompatible profiles")
        f["dtype_reference"], f["dtype_current"] = rc.dtype, cc.dtype
        f["critical"] = fc.critical
        f["is_prediction"] = _is_prediction(name)
        features[name] = f
    # KS as a gate (Bonferroni over the compared numeric features), only when asked
    if cfg.ks_alpha is not None:
        _gate_by_test(features, [n for n, f in features.items()
                                 if f.get("kind") == "numeric" and "ks_pvalue" in f],
                      cfg.ks_alpha, "")
    # Small samples: a test gates drift (Bonferroni over the features tested that way), unless
    # the KS gate above already judged the numeric ones.
    _gate_by_test(features, [n for n, f in features.items() if f.get("small_sample")
                             and not (cfg.ks_alpha is not None and f.get("kind") == "numeric")],
                  cfg.small_sample_alpha, "small sample: ")
    unexpected = [n for n in current_names if n not in ref.columns]
    dataset = _dataset_checks(ref, cur, features, missing, unexpected, cfg)
    return MonitorReport(features, dataset, ref, cur, cfg)


def _gate_by_test(features: dict[str, dict[str, Any]], names: list[str], alpha: float,
                  why: str) -> None:
    """Fails the drift of each named feature whose test p-value (KS for numeric, chi-square
    for categorical features) is below alpha / len(names) (Bonferroni)."""
    if not names:
        return
    thr = alpha / len(names)
    for n in names:
        f = features[n]
        test = "ks" if f.get("kind") == "numeric" else "chi2"
        p = f.get(f"{test}_pvalue")
        s = "fail" if isinstance(p, float) and not math.isnan(p) and p < thr else "ok"
        f["checks"][test] = s
        f[f"{test}_threshold"] = thr
        if s == "fail":
            f["drift_status"] = "fail"
            f["drifted"] = True
            f["status"] = "fail"
            label = "KS" if test == "ks" else "chi-square"
            f["messages"].append(f"{why}{label} p-value {p:.3g} < {thr:.3g} (Bonferroni)")


def _dataset_checks(ref: Profile, cur: Profile, features: dict[str, dict[str, Any]],
                    missing: list[str], unexpected: list[str],
                    cfg: MonitorConfig) -> dict[str, Any]:
    feats = [n for n, f in features.items() if not f.get("is_prediction")]
    drifted = [n for n in feats if features[n].get("drifted")]
    share = len(drifted) / len(feats) if feats else 0.0
    critical = [n for n in drifted if cfg.feature(n).critical]
    checks: dict[str, str] = {}
    messages: list[str] = []
    checks["drift_share"] = "fail" if feats and share >= cfg.drift_share_fail else "ok"
    if checks["drift_share"] == "fail":
        messages.append(f"{len(drifted)} of {len(feats)} features drifted "
                        f"(share {share:.2f} >= {cfg.drift_share_fail})")
    checks["critical_drift"] = "fail" if critical else "ok"
    if critical:
        messages.append(f"critical feature(s) drifted: {critical}")
    checks["schema"] = "fail" if missing else ("warn" if unexpected else "ok")
    if missing:
        messages.append(f"column(s) missing from the current data: {missing[:20]}")
    if unexpected:
        messages.append(f"column(s) not in the reference (not monitored): {unexpected[:20]}")
    small = [n for n, f in features.items() if f.get("small_sample")]
    if small:
        messages.append(f"{len(small)} column(s) have fewer than {cfg.small_sample_rows} values "
                        "on a side: their PSI / Wasserstein / Jensen-Shannon only warn, and a KS "
                        "or chi-square test judges their drift")
    rows = cur.num_rows
    if rows == 0:
        checks["row_count"] = "fail"
        messages.append("the current data has no rows")
    elif cfg.expected_rows is not None:
        ratio = max(rows / cfg.expected_rows, cfg.expected_rows / rows)
        checks["row_count"] = cfg.row_count_ratio.status(ratio)
        if checks["row_count"] != "ok":
            messages.append(f"{rows} rows, expected about {cfg.expected_rows}")
    else:
        checks["row_count"] = "ok"
    return {
        "status": worst_status(*checks.values()),
        "rows_reference": ref.num_rows,
        "rows_current": rows,
        "expected_rows": cfg.expected_rows,
        "n_features": len(feats),
        "n_drifted": len(drifted),
        "drift_share": share,
        "drifted_features": drifted,
        "critical_drifted": critical,
        "missing_columns": missing,
        "unexpected_columns": unexpected,
        "checks": checks,
        "messages": messages,
        "ks_alpha": cfg.ks_alpha,
        "small_sample_features": small,
    }


# ---------------------------------------------------------------------------- helpers
def _data_column_names(data: Any) -> list[str]:
    # pyarrow first: a Table's ``columns`` are its column arrays, not their names
    if hasattr(data, "column_names"):
        return [str(c) for c in data.column_names]
    if hasattr(data, "columns") and not isinstance(data, np.ndarray):
        cols = data.columns
        if callable(cols):  # pragma: no cover - defensive
            cols = cols()
        return [str(c) for c in cols]
    shape = getattr(data, "shape", None)
    if shape is not None and len(shape) == 2:
        return [f"f{i}" for i in range(int(shape[1]))]
    return []


def profile_for_booster(booster: Any, X: Any, predictions: Any = None, *,
                        categorical: Any = None, n_jobs: int | None = None) -> Profile:
    """The reference profile of a model's training data: features on bins that refine the
    Booster's own bin edges, plus the predictions (computed when not given) as
    ``__prediction__``. Training calls this to store ``booster.reference_profile``."""
    if predictions is None:
        predictions = booster.predict(X)
    names = list(booster.feature_names) if not hasattr(X, "columns") and not hasattr(
        X, "column_names") else None
    return Profile.from_data(X, edges_from=booster, categorical=categorical,
                             predictions=predictions, names=names, n_jobs=n_jobs)


def _row_slice(data: Any, a: int, b: int) -> Any:
    if hasattr(data, "iloc"):
        return data.iloc[a:b]
    if hasattr(data, "slice") and hasattr(data, "num_rows"):
        return data.slice(a, b - a)
    return np.asarray(data)[a:b]


def calibrate(reference_data: Any, *, n_chunks: int = 10, config: Any = None,
              reference: Profile | None = None, n_jobs: int | None = None) -> MonitorConfig:
    """Thresholds calibrated on the reference itself: for each feature and drift statistic,
    warn = mean + 3 sd of the statistic over ``n_chunks`` contiguous chunks of the reference
    (each compared with the whole), fail = warn * (default fail / default warn). Size the chunks
    like the batches you will monitor (n_chunks = reference rows / batch rows)."""
    if n_chunks < 2:
        raise ParameterError("calibrate needs n_chunks >= 2")
    base = as_config(config)
    ref = reference if reference is not None else Profile.from_data(reference_data, n_jobs=n_jobs)
    n = ref.num_rows
    if n < n_chunks:
        raise DataError(f"calibrate: {n} rows cannot make {n_chunks} chunks")
    values: dict[str, dict[str, list[float]]] = {}
    names = None if hasattr(reference_data, "columns") or hasattr(
        reference_data, "column_names") else ref.column_names
    for i in range(n_chunks):
        part = _row_slice(reference_data, n * i // n_chunks, n * (i + 1) // n_chunks)
        cp = Profile.from_data(part, edges_from=ref, names=names, n_jobs=n_jobs,
                               columns=ref.column_names)
        rep = compare(ref, cp, base)
        for fname, f in rep.features.items():
            for stat in ("psi", "wasserstein", "jensen_shannon"):
                v = f.get(stat)
                if isinstance(v, float) and math.isfinite(v):
                    values.setdefault(fname, {}).setdefault(stat, []).append(v)
    cfg = base
    for fname, by_stat in values.items():
        levels: dict[str, Level] = {}
        for stat, vals in by_stat.items():
            arr = np.asarray(vals)
            warn = float(arr.mean() + 3.0 * arr.std(ddof=1))
            d = base.level(fname, stat)
            ratio = d.fail / d.warn if d.warn > 0 else 2.5
            levels[stat] = Level(warn, warn * ratio)
        cfg = cfg.with_feature_levels(fname, levels)
    return cfg

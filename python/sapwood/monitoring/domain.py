"""Multivariate drift by a domain classifier: can a model tell the current rows from the
reference rows?

A sapwood model is trained to separate reference rows (label 0) from current rows (label 1),
with seeded stratified k-fold cross-validation; the area under the ROC curve of the
out-of-fold predictions measures the drift: 0.5 when the two samples come from one
distribution, towards 1 as they separate. Unlike per-feature tests it sees changes in how
features go together (a correlation that changes while every marginal stays put), and it
names the features that separate the two samples most: each feature's share of the mean
absolute SHAP contribution (exact TreeSHAP of the fold models on their held-out rows) and of
the split gain.

A sample is judged drifted when the out-of-fold AUC reaches a level *and* is significant
against 0.5 (one-sided Mann-Whitney normal approximation, ``alpha``), so small samples do not
flag on noise. Thresholds, from a TOML ``[domain]`` table or a mapping::

    [domain]
    auc = { warn = 0.55, fail = 0.65 }
    alpha = 0.01          # significance of AUC > 0.5
    folds = 5
    max_rows = 50000      # per side; larger inputs are subsampled with the seed

Inputs larger than ``max_rows`` on a side are subsampled (seeded, without replacement): the
AUC of a few ten thousand rows already separates a real shift from noise, and training time
then does not grow with the batch. This module trains models (with ``sapwood.train``), so it
imports the training package, lazily; training never imports it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics as _metrics
from .._compat import require
from .._fs import write_text
from ..errors import DataError, ParameterError, SchemaError
from .compare import json_clean

__all__ = ["domain_drift", "DomainDriftReport", "DomainConfig", "DEFAULT_PARAMS"]

# A small, regularised model: enough to find a shift or an interaction, too small to memorise
# rows (which would push a no-drift AUC below 0.5 and make it noisy).
DEFAULT_PARAMS: dict[str, Any] = {"objective": "binary", "n_estimators": 100,
                                  "learning_rate": 0.1, "num_leaves": 15,
                                  "min_child_samples": 50, "reg_lambda": 1.0}
_CONTRIB_ROWS = 5_000  # held-out rows per fold whose SHAP values are averaged


@dataclass
class DomainConfig:
    """Levels and sampling of :func:`domain_drift` (see the module docstring)."""

    auc_warn: float = 0.55
    auc_fail: float = 0.65
    alpha: float = 0.01
    folds: int = 5
    max_rows: int = 50_000

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DomainConfig:
        if not isinstance(d, Mapping):
            raise ParameterError("domain config must be a table")
        t = d.get("domain", d)
        if not isinstance(t, Mapping):
            raise ParameterError("domain config: [domain] must be a table")
        cfg = cls()
        for key, v in t.items():
            where = f"domain.{key}"
            if key == "auc":
                if not isinstance(v, Mapping) or set(v) != {"warn", "fail"}:
                    raise ParameterError(f"{where} must be {{warn = .., fail = ..}}")
                cfg.auc_warn = _number(v["warn"], f"{where}.warn", 0.5, 1.0)
                cfg.auc_fail = _number(v["fail"], f"{where}.fail", 0.5, 1.0)
                if cfg.auc_fail < cfg.auc_warn:
                    raise ParameterError(f"{where}: warn ({cfg.auc_warn:g}) must be <= fail "
                                         f"({cfg.auc_fail:g})")
            elif key == "alpha":
                cfg.alpha = _number(v, where, 0.0, 1.0)
            elif key in ("folds", "max_rows"):
                lo = 2 if key == "folds" else 100
                if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                    raise ParameterError(f"{where} must be an integer >= {lo}, got {v!r}")
                setattr(cfg, key, v)
            else:
                raise ParameterError(f"domain config: unknown key {where!r} (known: auc, alpha, "
                                     "folds, max_rows)")
        return cfg

    @classmethod
    def load(cls, config: Any) -> DomainConfig:
        if config is None:
            return cls()
        if isinstance(config, DomainConfig):
            return config
        if isinstance(config, Mapping):
            return cls.from_dict(config)
        if isinstance(config, (str, Path)):
            from .._toml import load_toml

            if not Path(config).is_file():
                raise ParameterError(f"domain config file {str(config)!r} does not exist")
            return cls.from_dict(load_toml(str(config))[0])
        raise ParameterError(f"config must be a DomainConfig, a TOML path or a mapping, got "
                             f"{type(config).__name__}")


def _number(v: Any, where: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        raise ParameterError(f"{where} must be a number in [{lo:g}, {hi:g}], got {v!r}")
    return float(v)


class DomainDriftReport:
    """The result of :func:`domain_drift`: ``auc`` (out of fold), ``fold_auc``, ``p_value``,
    ``status`` (ok / warn / fail), ``features`` (name, SHAP share, gain share, mean |SHAP|;
    most separating first) and what was sampled."""

    def __init__(self, auc: float, fold_auc: list[float], p_value: float, status: str,
                 features: list[dict[str, Any]], rows: dict[str, int], config: DomainConfig,
                 seconds: float) -> None:
        self.auc = auc
        self.fold_auc = fold_auc
        self.p_value = p_value
        self.status = status
        self.features = features
        self.rows = rows
        self.config = config
        self.seconds = seconds

    @property
    def drifted(self) -> bool:
        return self.status != "ok"

    @property
    def passed(self) -> bool:
        return self.status != "fail"

    def top_features(self, k: int = 5) -> list[str]:
        return [f["name"] for f in self.features[:k]]

    def to_dict(self) -> dict[str, Any]:
        c = self.config
        out: dict[str, Any] = json_clean({
            "method": "domain classifier (sapwood, out-of-fold ROC AUC of reference vs current)",
            "status": self.status, "drifted": self.drifted, "auc": self.auc,
            "fold_auc": self.fold_auc, "p_value": self.p_value,
            "levels": {"auc": {"warn": c.auc_warn, "fail": c.auc_fail}, "alpha": c.alpha},
            "folds": c.folds, "rows": self.rows, "seconds": self.seconds,
            "features": self.features})
        return out

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            write_text(path, text)
        return text

    def summary(self, top: int = 5) -> str:
        lines = [f"sapwood monitor domain: {self.status.upper()}: out-of-fold AUC "
                 f"{self.auc:.4f} (folds {', '.join(f'{a:.3f}' for a in self.fold_auc)}; "
                 f"p={self.p_value:.2g}; levels {self.config.auc_warn:g} / "
                 f"{self.config.auc_fail:g}) on {self.rows['reference']} reference and "
                 f"{self.rows['current']} current rows"]
        if self.drifted:
            lines.append("  separating features (share of mean |SHAP|, of gain):")
            for f in self.features[:top]:
                lines.append(f"    {f['name']}: {f['shap_share']:.3f}, {f['gain_share']:.3f}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------- inputs
def _table(data: Any, what: str) -> Any:
    """numpy 2-D arrays stay arrays; other tables become pandas DataFrames."""
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise DataError(f"{what} must be 2-D, got shape {data.shape}")
        return data
    pd = require("pandas", "sapwood monitor domain")
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        from ..frame.readers import read_pandas

        return read_pandas(data)
    if hasattr(data, "to_pandas"):
        return data.to_pandas()
    raise ParameterError(f"{what} must be a table (numpy, pandas, pyarrow, polars) or a data "
                         f"file path, got {type(data).__name__}")


def _sample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(rng.choice(n, cap, replace=False))


def _stack(ref: Any, cur: Any, features: Sequence[str] | None, ri: np.ndarray,
           ci: np.ndarray) -> tuple[Any, list[str]]:
    if isinstance(ref, np.ndarray) and isinstance(cur, np.ndarray):
        if ref.shape[1] != cur.shape[1]:
            raise SchemaError(f"reference has {ref.shape[1]} columns but current has "
                              f"{cur.shape[1]}")
        names = [f"f{i}" for i in range(ref.shape[1])] if features is None else list(features)
        if len(names) != ref.shape[1]:
            raise ParameterError(f"features has {len(names)} names for {ref.shape[1]} columns")
        X = np.vstack([np.asarray(ref[ri], dtype=np.float32),
                       np.asarray(cur[ci], dtype=np.float32)])
        return X, names
    pd = require("pandas", "sapwood monitor domain")
    rdf = ref if not isinstance(ref, np.ndarray) else pd.DataFrame(
        ref, columns=[f"f{i}" for i in range(ref.shape[1])])
    cdf = cur if not isinstance(cur, np.ndarray) else pd.DataFrame(
        cur, columns=[f"f{i}" for i in range(cur.shape[1])])
    names = [str(c) for c in rdf.columns] if features is None else [str(f) for f in features]
    for what, df in (("reference", rdf), ("current", cdf)):
        miss = [c for c in names if c not in df.columns]
        if miss:
            raise SchemaError(f"the {what} data have no column(s) {miss[:10]}")
    a, b = rdf[names].iloc[ri].reset_index(drop=True), cdf[names].iloc[ci].reset_index(drop=True)
    for c in names:  # one category set for both sides (else concat makes them object)
        if isinstance(a[c].dtype, pd.CategoricalDtype) or isinstance(b[c].dtype,
                                                                     pd.CategoricalDtype):
            both = pd.concat([a[c].astype("string"), b[c].astype("string")], ignore_index=True)
            cats = pd.Categorical(both)
            a[c] = pd.Categorical(a[c].astype("string"), categories=cats.categories)
            b[c] = pd.Categorical(b[c].astype("string"), categories=cats.categories)
    return pd.concat([a, b], ignore_index=True), names


def _rows_of(X: Any, idx: np.ndarray) -> Any:
    return X[idx] if isinstance(X, np.ndarray) else X.iloc[idx]


# ---------------------------------------------------------------------------- entry point
def domain_drift(reference: Any, current: Any, *, features: Sequence[str] | None = None,
                 config: Any = None, params: Mapping[str, Any] | None = None, seed: int = 0,
                 n_jobs: int | None = None) -> DomainDriftReport:
    """Train reference-vs-current classifiers with k-fold cross-validation and report the
    out-of-fold AUC, its significance, a status and the separating features (see the module
    docstring).

    reference, current: tables with the same columns (numpy 2-D arrays, pandas / polars
        DataFrames, pyarrow Tables or data file paths); ``features`` picks columns (default:
        every reference column; numpy columns are named f0, f1, ...).
    params: training parameters over :data:`DEFAULT_PARAMS`; seed seeds the sampling, the
        folds and the model.
    """
    from ..dataset import Dataset
    from ..train.crossval import make_folds
    from ..train.training import train

    t0 = time.perf_counter()
    cfg = DomainConfig.load(config)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    ref, cur = _table(reference, "reference"), _table(current, "current")
    n_ref, n_cur = len(ref), len(cur)
    if n_ref < cfg.folds or n_cur < cfg.folds:
        raise DataError(f"domain drift needs at least {cfg.folds} rows on each side (folds); "
                        f"got {n_ref} reference and {n_cur} current rows")
    rng = np.random.default_rng([seed, 23])
    ri, ci = _sample(n_ref, cfg.max_rows, rng), _sample(n_cur, cfg.max_rows, rng)
    X, names = _stack(ref, cur, features, ri, ci)
    d = np.r_[np.zeros(ri.size), np.ones(ci.size)]
    p = {**DEFAULT_PARAMS, **dict(params or {}), "random_state": seed}
    if n_jobs is not None:
        p["n_jobs"] = n_jobs
    p["objective"] = "binary"
    oof = np.empty(d.size)
    fold_auc: list[float] = []
    shap_sum = np.zeros(len(names))
    shap_rows = 0
    gain = np.zeros(len(names))
    for tr, va in make_folds(d.size, cfg.folds, label=d, stratified=True, seed=seed):
        ds = Dataset(_rows_of(X, tr), d[tr], feature_names=names)
        b = train(p, ds, reference_profile=False)
        xv = _rows_of(X, va)
        oof[va] = b.predict(xv, output="raw")
        fold_auc.append(float(_metrics.roc_auc(d[va], oof[va])))
        gain += b.feature_importance("gain")
        sub = va if va.size <= _CONTRIB_ROWS else np.sort(
            rng.choice(va, _CONTRIB_ROWS, replace=False))
        contrib = np.asarray(b.predict(_rows_of(X, sub), output="contrib"))
        shap_sum += np.abs(contrib[:, :-1]).sum(axis=0)
        shap_rows += sub.size
    auc = float(_metrics.roc_auc(d, oof))
    n0, n1 = float(ri.size), float(ci.size)
    se0 = math.sqrt((n0 + n1 + 1.0) / (12.0 * n0 * n1))  # AUC's sd when both samples are alike
    p_value = 0.5 * math.erfc((auc - 0.5) / se0 / math.sqrt(2.0))
    significant = p_value < cfg.alpha
    status = "ok"
    if significant and auc >= cfg.auc_fail:
        status = "fail"
    elif significant and auc >= cfg.auc_warn:
        status = "warn"
    mean_shap = shap_sum / max(shap_rows, 1)
    tot_s, tot_g = float(mean_shap.sum()), float(gain.sum())
    feats: list[dict[str, Any]] = [
        {"name": n, "mean_abs_shap": float(mean_shap[j]),
         "shap_share": float(mean_shap[j] / tot_s) if tot_s > 0 else 0.0,
         "gain_share": float(gain[j] / tot_g) if tot_g > 0 else 0.0}
        for j, n in enumerate(names)]
    feats.sort(key=lambda f: (-float(f["mean_abs_shap"]), -float(f["gain_share"]), f["name"]))
    rows = {"reference": int(ri.size), "current": int(ci.size), "reference_total": n_ref,
            "current_total": n_cur}
    return DomainDriftReport(auc, fold_auc, p_value, status, feats, rows, cfg,
                             time.perf_counter() - t0)

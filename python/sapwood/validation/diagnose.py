"""`sapwood diagnose`: find what is wrong with a model and its data, and say what to do.

Given a model, its training rows and test rows (both with the label), :func:`diagnose` runs
these checks and returns findings, each with an id, a severity (info / warn / fail), the
evidence and a recommended action:

- ``leakage``: a feature that alone predicts the label almost perfectly (a one-feature sapwood
  model trained on the training rows, scored on the test rows: AUC for binary labels, R^2 for
  regression, accuracy for multiclass);
- ``importance``: one feature holds most of the model's split gain;
- ``identifier``: a column unique per row (integers or strings) or monotone with row order;
- ``skew``: train and test rows told apart by a domain classifier
  (:func:`sapwood.monitoring.domain.domain_drift`); ``feature_drift``: features whose
  distribution moved between train and test (:func:`sapwood.monitoring.compare`);
- ``duplicates`` / ``near_duplicates``: test rows that repeat a training row, exactly (row
  hashes of the features) or after quantising numeric values to ``resolution`` standard
  deviations;
- ``imbalance``: the rarest class's share; ``label_noise``: training rows whose label the
  cross-validated model calls wrong with high confidence, more often than its own
  probabilities allow (the rows with the highest loss are listed); ``constant_label_slice``:
  a category whose label never varies though it should (enough rows to expect both classes);
- ``overfitting`` / ``underfitting``: the model's parameters retrained on the training rows
  with the test rows as the validation curve: the round where validation stops improving and
  how much it loses after it, or validation still improving at the last round;
- ``unused_features``, ``duplicate_feature`` (a column equal to another), ``missing``
  (mostly missing columns);
- ``weak_slice``: a category of the test rows whose metric is far below the overall one
  (significant at ``z`` standard errors), with its counts.

Severities and levels come from :data:`DEFAULTS`, overridden by a TOML ``[diagnose.<check>]``
table (``enabled = false`` turns a check off)::

    [diagnose.leakage]
    warn = 0.95
    fail = 0.99
    [diagnose.weak_slice]
    warn = 0.10          # metric drop below the overall value
    fail = 0.25
    min_rows = 100

Large inputs are subsampled with the seed (``max_rows``) for the checks that train models;
duplicates, identifiers and missing values are counted on every row.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .. import metrics as _metrics
from .._compat import require
from .._fs import write_text
from ..errors import DataError, ParameterError, SapwoodError, SchemaError

__all__ = ["diagnose", "DiagnoseReport", "DEFAULTS", "SEVERITIES"]

SEVERITIES = ("info", "warn", "fail")
_ORDER = {"info": 0, "warn": 1, "fail": 2}

# check -> its levels; "severity" is the severity of a finding that has no levels
DEFAULTS: dict[str, dict[str, Any]] = {
    "leakage": {"warn": 0.95, "fail": 0.99, "max_rows": 20_000},
    "importance": {"warn": 0.8, "fail": 1.01},
    "identifier": {"severity": "warn", "unique": 0.95, "monotone": 0.98},
    "skew": {"warn": 0.6, "fail": 0.7, "max_rows": 20_000},
    "feature_drift": {"severity": "warn"},
    "duplicates": {"warn": 0.01, "fail": 0.05},
    "near_duplicates": {"warn": 0.05, "fail": 0.2, "resolution": 0.001},
    "imbalance": {"info": 0.1, "warn": 0.01},
    "label_noise": {"severity": "warn", "confidence": 0.99, "folds": 3, "top": 20},
    "constant_label_slice": {"severity": "warn", "min_rows": 50},
    "overfitting": {"warn": 0.02, "fail": 0.1},
    "underfitting": {"severity": "info", "gain": 0.005},
    "unused_features": {"severity": "info"},
    "duplicate_feature": {"severity": "warn"},
    "missing": {"info": 0.5, "warn": 0.95},
    "weak_slice": {"warn": 0.1, "fail": 0.25, "min_rows": 100, "z": 3.0, "max_values": 50},
}
_ACTIONS = {
    "leakage": "check how the column is produced: if it is known only after the label (or is "
               "derived from it), drop it from the features",
    "importance": "check that feature for leakage; if it is legitimate, confirm the model "
                  "still works when it is missing or shifted",
    "identifier": "drop identifier-like columns from the features (they memorise rows and do "
                  "not generalise), or replace them with what they stand for",
    "skew": "train and test come from different distributions: split by time or group as in "
            "production, or reweight the training rows; check the named features' pipeline",
    "feature_drift": "compare the features' pipelines for train and test; if the shift is "
                     "real, retrain on recent data",
    "duplicates": "remove test rows that also occur in training (or split by entity) so the "
                  "test metric is not inflated",
    "near_duplicates": "split by entity or time so near-copies of training rows do not reach "
                       "the test set",
    "imbalance": "use class weights (class_weight='balanced' or scale_pos_weight) and judge the "
                 "model by AUC / PR AUC rather than accuracy",
    "label_noise": "review the listed rows' labels; relabel or drop the wrong ones",
    "constant_label_slice": "check whether the category decides the label by construction "
                            "(leakage) or the labels of that slice were filled in wrongly",
    "overfitting": "stop earlier (early stopping at the listed round) or regularise more "
                   "(fewer leaves, more min_child_samples, subsample)",
    "underfitting": "train more rounds (or raise the learning rate / num_leaves): validation "
                    "was still improving at the last round",
    "unused_features": "drop features the model never splits on (or check why they carry no "
                       "signal)",
    "duplicate_feature": "drop one of the duplicated columns",
    "missing": "check the column's pipeline; drop it or impute it if mostly missing by "
               "design",
    "weak_slice": "inspect this slice's rows and labels; collect more data for it, or train a "
                  "dedicated feature / model",
}


# ---------------------------------------------------------------------------- config
def _load_config(config: Any) -> dict[str, dict[str, Any]]:
    cfg = {k: dict(v) for k, v in DEFAULTS.items()}
    if config is None:
        return cfg
    if isinstance(config, (str, Path)):
        from .._toml import load_toml

        if not Path(config).is_file():
            raise ParameterError(f"diagnose config file {str(config)!r} does not exist")
        config = load_toml(str(config))[0]
    if not isinstance(config, Mapping):
        raise ParameterError(f"config must be a TOML path or a mapping, got "
                             f"{type(config).__name__}")
    table = config.get("diagnose", config)
    if not isinstance(table, Mapping):
        raise ParameterError("diagnose config: [diagnose] must be a table")
    for check, vals in table.items():
        if check not in DEFAULTS:
            raise ParameterError(f"diagnose config: unknown check {check!r}; known: "
                                 f"{sorted(DEFAULTS)}")
        if not isinstance(vals, Mapping):
            raise ParameterError(f"diagnose config: [diagnose.{check}] must be a table")
        for key, v in vals.items():
            where = f"diagnose.{check}.{key}"
            if key == "enabled":
                if not isinstance(v, bool):
                    raise ParameterError(f"{where} must be true or false, got {v!r}")
            elif key == "severity":
                if v not in SEVERITIES:
                    raise ParameterError(f"{where} must be one of {SEVERITIES}, got {v!r}")
            elif key not in DEFAULTS[check]:
                raise ParameterError(f"diagnose config: unknown key {where!r}; known: "
                                     f"{sorted([*DEFAULTS[check], 'enabled'])}")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise ParameterError(f"{where} must be a number, got {v!r}")
            cfg[check][key] = v
    return cfg


# ---------------------------------------------------------------------------- report
class DiagnoseReport:
    """The findings of :func:`diagnose` (worst first), what was checked and how long it took.
    ``passed`` is False when a finding is at fail."""

    def __init__(self, findings: list[dict[str, Any]], summary: dict[str, Any],
                 checks: dict[str, str], seconds: dict[str, float]) -> None:
        self.findings = sorted(findings, key=lambda f: (-_ORDER[f["severity"]], f["check"],
                                                        f["id"]))
        self.info = summary
        self.checks = checks
        self.seconds = seconds

    @property
    def status(self) -> str:
        worst = max((_ORDER[f["severity"]] for f in self.findings), default=0)
        return {0: "ok", 1: "warn", 2: "fail"}[worst]

    @property
    def passed(self) -> bool:
        return self.status != "fail"

    def of(self, check: str, severity: str | None = None) -> list[dict[str, Any]]:
        """The findings of one check (at ``severity`` or worse when given)."""
        lo = _ORDER[severity] if severity else 0
        return [f for f in self.findings if f["check"] == check and _ORDER[f["severity"]] >= lo]

    def to_dict(self) -> dict[str, Any]:
        from ..monitoring.compare import json_clean

        out: dict[str, Any] = json_clean({
            "status": self.status, "passed": self.passed, "summary": self.info,
            "counts": {s: sum(f["severity"] == s for f in self.findings) for s in SEVERITIES},
            "checks": self.checks, "seconds": self.seconds, "findings": self.findings})
        return out

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False, default=str)
        if path is not None:
            write_text(path, text)
        return text

    def summary(self) -> str:
        c = self.to_dict()["counts"]
        lines = [f"sapwood diagnose: {self.status.upper()}: {c['fail']} fail, {c['warn']} warn, "
                 f"{c['info']} info ({self.info.get('objective')}; "
                 f"{self.info.get('train_rows')} train / {self.info.get('test_rows')} test rows)"]
        for f in self.findings:
            lines.append(f"  {f['severity']:4s} {f['id']}: {f['title']}")
            lines.append(f"       action: {f['action']}")
        skipped = [k for k, v in self.checks.items() if v != "ran"]
        if skipped:
            lines.append("  not run: " + "; ".join(f"{k} ({self.checks[k]})" for k in skipped))
        return "\n".join(lines)

    def to_html(self) -> str:
        color = {"info": "#1565c0", "warn": "#ef6c00", "fail": "#c62828", "ok": "#2e7d32"}
        rows = []
        for f in self.findings:
            ev = html.escape(json.dumps(f["evidence"], indent=1, default=str)[:4000])
            rows.append(f"<tr><td style='color:{color[f['severity']]};font-weight:bold'>"
                        f"{f['severity']}</td><td><code>{html.escape(f['id'])}</code></td>"
                        f"<td>{html.escape(f['title'])}<details><summary>evidence</summary>"
                        f"<pre>{ev}</pre></details></td><td>{html.escape(f['action'])}</td>"
                        "</tr>")
        checks = "".join(f"<li>{html.escape(k)}: {html.escape(v)}</li>"
                         for k, v in self.checks.items())
        info = "".join(f"<li>{html.escape(str(k))}: {html.escape(str(v))}</li>"
                       for k, v in self.info.items())
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>sapwood diagnose</title>"
            "<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
            "table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.3em .6em;"
            "vertical-align:top;font-size:92%}pre{font-size:85%;max-width:60em;"
            "white-space:pre-wrap}</style></head><body>"
            f"<h1 style='color:{color[self.status]}'>sapwood diagnose: "
            f"{self.status.upper()}</h1><ul>{info}</ul>"
            "<table><tr><th>severity</th><th>finding</th><th>what and evidence</th>"
            "<th>recommended action</th></tr>" + "".join(rows) + "</table>"
            f"<h2>Checks</h2><ul>{checks}</ul></body></html>")


# ---------------------------------------------------------------------------- helpers
def _frame(data: Any, what: str) -> Any:
    pd = require("pandas", "sapwood diagnose")
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, (str, Path)):
        from ..frame.readers import read_pandas

        return read_pandas(data)
    if hasattr(data, "to_pandas"):
        return data.to_pandas()
    raise ParameterError(f"{what} must be a table (pandas, pyarrow, polars) or a data file path, "
                         f"got {type(data).__name__}")


def _task(objective: str) -> str:
    from .. import objectives

    link = objectives.get(objective).link
    return {"sigmoid": "binary", "softmax": "multiclass"}.get(link, "regression")


def _level(value: float, levels: Mapping[str, Any], higher_is_worse: bool = True) -> str | None:
    """The severity ``value`` reaches among the levels fail / warn / info (None: none)."""
    for sev in ("fail", "warn", "info"):
        lv = levels.get(sev)
        if lv is None:
            continue
        if (value >= lv) if higher_is_worse else (value <= lv):
            return sev
    return None


def _score(task: str, y: np.ndarray, pred: np.ndarray) -> float:
    """AUC (binary), R^2 (regression) or accuracy (multiclass) of predictions; NaN if
    undefined."""
    try:
        if task == "binary":
            return float(_metrics.roc_auc(y, pred))
        if task == "multiclass":
            return float(np.mean(np.argmax(pred, axis=1) == y.astype(np.int64)))
        return float(_metrics.r2(y, pred))
    except (DataError, ValueError, ZeroDivisionError):
        return math.nan


def _is_categorical(s: Any) -> bool:
    pd = require("pandas", "sapwood diagnose")
    return bool(isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object
                or pd.api.types.is_string_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype))


def _sample(n: int, cap: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= cap else np.sort(rng.choice(n, int(cap), replace=False))


def _finding(check: str, key: str, severity: str, title: str,
             evidence: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{check}:{key}" if key else check, "check": check, "severity": severity,
            "title": title, "evidence": evidence, "action": _ACTIONS[check]}


def _train_params(model: Any, task: str, n_jobs: int | None) -> tuple[dict[str, Any], str]:
    """The model's own training parameters when it has them (sapwood-trained), else the
    defaults with its objective and number of rounds."""
    from .._params import resolve_params

    p = dict(getattr(model, "params", None) or {})
    note = "the model's parameters"
    try:
        resolve_params(p)
        if not p:
            raise ParameterError("no parameters")
    except SapwoodError:
        p = {"objective": model.objective, "n_estimators": max(model.num_rounds, 10)}
        if task == "multiclass":
            p["num_class"] = model.num_class
        note = "default parameters (the model file has no sapwood training parameters)"
    if n_jobs is not None:
        p["n_jobs"] = n_jobs
    return p, note


# ---------------------------------------------------------------------------- checks
class _Run:
    """The state the checks share: frames, labels, samples, the model and its predictions."""

    def __init__(self, model: Any, train: Any, test: Any, label: str, cfg: dict[str, Any],
                 seed: int, n_jobs: int | None, max_rows: int) -> None:
        pd = require("pandas", "sapwood diagnose")
        self.pd = pd
        self.model = model
        self.cfg = cfg
        self.seed = seed
        self.n_jobs = n_jobs
        self.features: list[str] = list(model.feature_names)
        for what, df in (("train", train), ("test", test)):
            miss = [c for c in [*self.features, label] if c not in df.columns]
            if miss:
                raise SchemaError(f"the {what} data have no column(s) {miss[:10]} (the model's "
                                  f"features and the label {label!r})")
            if len(df) < 10:
                raise DataError(f"the {what} data have {len(df)} rows; diagnose needs >= 10")
        self.train = train.reset_index(drop=True)
        self.test = test.reset_index(drop=True)
        self.task = _task(model.objective)
        self.y_train = self._label(self.train, label, "train")
        self.y_test = self._label(self.test, label, "test")
        self.rng = np.random.default_rng([seed, 29])
        self.tr_idx = _sample(len(self.train), max_rows, self.rng)
        self.te_idx = _sample(len(self.test), max_rows, self.rng)
        self.pred_test = np.asarray(model.predict(self.test[self.features], n_jobs=n_jobs))
        self.test_score = _score(self.task, self.y_test, self.pred_test)
        self.single_feature: dict[str, float] = {}

    def _label(self, df: Any, label: str, what: str) -> np.ndarray:
        y: np.ndarray = self.pd.to_numeric(df[label], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan)
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise DataError(f"the {what} label {label!r} is missing or not a number in row "
                            f"{bad[0]}")
        from .. import objectives

        try:
            objectives.get(self.model.objective).check_labels(y, max(self.model.num_class, 1))
        except DataError as e:
            raise DataError(f"the {what} labels: {e}") from None
        return y

    def dataset(self, frame: Any, y: np.ndarray, cols: list[str]) -> Any:
        from ..dataset import Dataset

        return Dataset(frame[cols], y, feature_names=cols)

    def fit(self, params: dict[str, Any], cols: list[str], idx: np.ndarray,
            valid: tuple[Any, np.ndarray] | None = None) -> Any:
        from ..train.training import train

        ds = self.dataset(self.train.iloc[idx], self.y_train[idx], cols)
        vs = [] if valid is None else [ds, self.dataset(valid[0], valid[1], cols)]
        return train(params, ds, valid_sets=vs, valid_names=None if valid is None
                     else ["train", "valid"], reference_profile=False)


def _check_leakage(r: _Run) -> list[dict[str, Any]]:
    c = r.cfg["leakage"]
    rng = np.random.default_rng([r.seed, 31])
    tr = r.tr_idx if r.tr_idx.size <= c["max_rows"] else np.sort(
        rng.choice(r.tr_idx, int(c["max_rows"]), replace=False))
    te = r.te_idx if r.te_idx.size <= c["max_rows"] else np.sort(
        rng.choice(r.te_idx, int(c["max_rows"]), replace=False))
    params: dict[str, Any] = {"objective": r.model.objective, "n_estimators": 30,
                              "learning_rate": 0.3, "num_leaves": 8, "min_child_samples": 20,
                              "random_state": r.seed}
    if r.task == "multiclass":
        params["num_class"] = r.model.num_class
    if r.n_jobs is not None:
        params["n_jobs"] = r.n_jobs
    scores = {}
    for f in r.features:
        try:
            b = r.fit(params, [f], tr)
            pred = np.asarray(b.predict(r.test.iloc[te][[f]], n_jobs=r.n_jobs))
            scores[f] = _score(r.task, r.y_test[te], pred)
        except SapwoodError:
            scores[f] = math.nan  # e.g. a constant column: nothing to learn
    name = {"binary": "AUC", "regression": "R^2", "multiclass": "accuracy"}[r.task]
    out = []
    for f, s in scores.items():
        sev = _level(s, c) if math.isfinite(s) else None
        if sev is not None:
            out.append(_finding("leakage", f, sev,
                                f"{f!r} alone predicts the label with test {name} {s:.4f} (the "
                                f"whole model: {r.test_score:.4f})",
                                {"feature": f, "metric": name, "alone": s,
                                 "model": r.test_score, "train_rows": int(tr.size)}))
    r.single_feature = {f: s for f, s in scores.items() if math.isfinite(s)}
    return out


def _check_importance(r: _Run) -> list[dict[str, Any]]:
    gain = np.asarray(r.model.feature_importance("gain"), dtype=np.float64)
    split = np.asarray(r.model.feature_importance("split"), dtype=np.float64)
    out = []
    total = float(gain.sum())
    if total > 0 and len(r.features) > 1:
        j = int(np.argmax(gain))
        share = float(gain[j] / total)
        second = float(np.sort(gain)[-2] / total)
        sev = _level(share, r.cfg["importance"])
        if sev is not None:
            out.append(_finding("importance", r.features[j], sev,
                                f"{r.features[j]!r} holds {share:.1%} of the split gain (next: "
                                f"{second:.1%})", {"feature": r.features[j], "gain_share": share,
                                                   "next_share": second}))
    unused = [f for f, s in zip(r.features, split, strict=True) if s == 0]
    if unused:
        out.append(_finding("unused_features", "", r.cfg["unused_features"]["severity"],
                            f"{len(unused)} feature(s) never split on: {', '.join(unused[:10])}"
                            + (" ..." if len(unused) > 10 else ""), {"features": unused}))
    return out


def _check_columns(r: _Run) -> list[dict[str, Any]]:
    """Identifiers, mostly missing columns and duplicated columns, on every training row."""
    out = []
    ci, cm = r.cfg["identifier"], r.cfg["missing"]
    n = len(r.train)
    keys: dict[Any, str] = {}
    order = np.arange(n, dtype=np.float64)
    for f in r.features:
        s = r.train[f]
        miss = float(s.isna().mean())
        sev = _level(miss, cm)
        if sev is not None:
            out.append(_finding("missing", f, sev, f"{f!r} is missing in {miss:.1%} of the "
                                f"training rows", {"feature": f, "missing_share": miss}))
        nun = int(s.nunique(dropna=True))
        present = int(s.notna().sum())
        if _is_categorical(s):
            integral = True
            vals = None
        else:
            vals = r.pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64,
                                                                na_value=np.nan)
            fin = vals[np.isfinite(vals)]
            integral = bool(fin.size) and bool(np.all(fin == np.round(fin)))
        if present >= 10 and integral and nun >= ci["unique"] * present:
            out.append(_finding("identifier", f, ci["severity"],
                                f"{f!r} is unique per row ({nun} distinct values in {present} "
                                "rows): an identifier", {"feature": f, "distinct": nun,
                                                         "rows": present}))
        elif vals is not None and present >= 10 and nun >= 0.5 * present:
            ok = np.isfinite(vals)
            # Spearman's rho with the row order: the correlation of the values' ranks with
            # the rows' (ties broken by order: enough for a column this distinct)
            ranks = np.argsort(np.argsort(vals[ok], kind="stable"), kind="stable")
            rho = float(np.corrcoef(order[ok], ranks)[0, 1]) if ok.sum() > 2 else math.nan
            if math.isfinite(rho) and abs(rho) >= ci["monotone"]:
                out.append(_finding("identifier", f, ci["severity"],
                                    f"{f!r} rises with row order (Spearman {rho:+.3f}): an "
                                    "identifier, counter or timestamp",
                                    {"feature": f, "spearman_with_row": rho, "distinct": nun}))
        # duplicated columns: equal values row for row (hash of the column's values)
        h = int(r.pd.util.hash_pandas_object(s.astype("string") if _is_categorical(s) else s,
                                             index=False).sum())
        if h in keys:
            other = keys[h]
            same = bool((r.train[other].astype("string").fillna("<NA>")
                         == s.astype("string").fillna("<NA>")).all())
            if same:
                out.append(_finding("duplicate_feature", f, r.cfg["duplicate_feature"]["severity"],
                                    f"{f!r} equals {other!r} in every training row",
                                    {"feature": f, "same_as": other}))
        else:
            keys[h] = f
    return out


def _row_hashes(r: _Run, df: Any, quantise: bool) -> np.ndarray:
    pd = r.pd
    cols = {}
    res = float(r.cfg["near_duplicates"]["resolution"])
    for f in r.features:
        s = df[f]
        if quantise and not _is_categorical(s):
            v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            sd = float(np.nanstd(pd.to_numeric(r.train[f], errors="coerce").to_numpy(
                dtype=np.float64, na_value=np.nan)))
            step = sd * res if sd > 0 else 1.0
            cols[f] = np.where(np.isfinite(v), np.floor(v / step), np.nan)
        else:
            cols[f] = s.astype("string") if _is_categorical(s) else s
    h: np.ndarray = pd.util.hash_pandas_object(pd.DataFrame(cols), index=False).to_numpy(
        dtype=np.uint64)
    return h


def _check_duplicates(r: _Run) -> list[dict[str, Any]]:
    out = []
    exact_share = 0.0
    for check, quant in (("duplicates", False), ("near_duplicates", True)):
        if not r.cfg[check].get("enabled", True):
            continue
        htr, hte = _row_hashes(r, r.train, quant), _row_hashes(r, r.test, quant)
        hit = np.isin(hte, htr)
        share = float(hit.mean())
        within = float(1.0 - np.unique(htr).size / htr.size)
        if check == "near_duplicates":
            share_extra = share - exact_share
            sev = _level(share_extra, r.cfg[check])
            what = (f"{share_extra:.1%} more test rows match a training row once numeric values "
                    f"are rounded to {r.cfg[check]['resolution']:g} sd")
            val = share_extra
        else:
            exact_share = share
            sev = _level(share, r.cfg[check])
            what = f"{share:.1%} of the test rows ({int(hit.sum())}) repeat a training row"
            val = share
        if sev is not None:
            out.append(_finding(check, "", sev, what,
                                {"share": val, "test_rows_matching": int(hit.sum()),
                                 "first_test_rows": np.flatnonzero(hit)[:20].tolist(),
                                 "within_train_duplicate_share": within}))
    return out


def _check_skew(r: _Run) -> list[dict[str, Any]]:
    from ..monitoring.compare import compare
    from ..monitoring.domain import domain_drift
    from ..monitoring.profile import Profile

    c = r.cfg["skew"]
    out = []
    rep = domain_drift(r.train[r.features], r.test[r.features], seed=r.seed, n_jobs=r.n_jobs,
                       config={"auc": {"warn": float(c["warn"]), "fail": float(c["fail"])},
                               "max_rows": int(c["max_rows"]), "folds": 3})
    if rep.status != "ok":
        out.append(_finding("skew", "", rep.status,
                            f"a classifier tells test rows from training rows (out-of-fold AUC "
                            f"{rep.auc:.3f}); most separating: "
                            + ", ".join(rep.top_features(3)),
                            {"auc": rep.auc, "p_value": rep.p_value,
                             "features": rep.features[:5]}))
    ref = Profile.from_data(r.train[r.features], seed=r.seed, n_jobs=r.n_jobs)
    mon = compare(ref, r.test[r.features], n_jobs=r.n_jobs)
    drifted = {n: f for n, f in mon.features.items()
               if n in r.features and f.get("drift_status") == "fail"}
    for name, f in drifted.items():
        out.append(_finding("feature_drift", name, r.cfg["feature_drift"]["severity"],
                            f"{name!r} drifted between train and test (PSI "
                            f"{f.get('psi', float('nan')):.3f})",
                            {k: f.get(k) for k in ("psi", "ks_statistic", "ks_pvalue",
                                                   "wasserstein", "jensen_shannon",
                                                   "drift_status") if k in f}))
    return out


def _check_labels(r: _Run) -> list[dict[str, Any]]:
    out = []
    y = r.y_train
    if r.task in ("binary", "multiclass"):
        vals, counts = np.unique(y, return_counts=True)
        share = counts / counts.sum()
        j = int(np.argmin(share))
        sev = _level(float(share[j]), r.cfg["imbalance"], higher_is_worse=False)
        if sev is not None:
            out.append(_finding("imbalance", "", sev,
                                f"class {vals[j]:g} is {share[j]:.2%} of the training rows",
                                {"classes": {f"{v:g}": int(k) for v, k in zip(vals, counts,
                                                                              strict=True)}}))
    # constant labels in categorical slices
    cc = r.cfg["constant_label_slice"]
    for f in r.features:
        s = r.train[f]
        if not _is_categorical(s) or s.nunique() > 1000:
            continue
        df = r.pd.DataFrame({"k": s.astype("string").fillna("<missing>"), "y": y})
        g = df.groupby("k", sort=True)["y"].agg(["size", "mean", "std"])
        for key, row in g.iterrows():
            n = int(row["size"])
            if n < cc["min_rows"] or float(row["std"]) > 0:
                continue
            if r.task == "binary":
                rate = float(y.mean())
                # enough rows to expect >= 10 of the other class at the overall rate
                other = rate if float(row["mean"]) == 0.0 else 1.0 - rate
                if n * other < 10:
                    continue
            out.append(_finding("constant_label_slice", f"{f}={key}", cc["severity"],
                                f"the label is always {float(row['mean']):g} where {f} = "
                                f"{key} ({n} training rows)",
                                {"feature": f, "value": str(key), "rows": n,
                                 "label": float(row["mean"])}))
    return out


def _check_noise(r: _Run, params: dict[str, Any]) -> list[dict[str, Any]]:
    from ..train.crossval import make_folds

    c = r.cfg["label_noise"]
    idx = r.tr_idx
    y = r.y_train[idx]
    p = dict(params)
    p["n_estimators"] = int(min(int(p.get("n_estimators", 100)), 300))
    k = r.model.num_class if r.task == "multiclass" else 1
    oof = np.zeros((idx.size, k)) if k > 1 else np.zeros(idx.size)
    folds = make_folds(idx.size, int(c["folds"]), label=y,
                       stratified=r.task != "regression", seed=r.seed)
    for tr, va in folds:
        b = r.fit(p, r.features, idx[tr])
        oof[va] = np.asarray(b.predict(r.train.iloc[idx[va]][r.features], n_jobs=r.n_jobs))
    if r.task == "binary":
        q = np.clip(oof, 1e-15, 1 - 1e-15)
        p_label = np.where(y > 0.5, q, 1.0 - q)
        loss = -np.log(p_label)
        conf = float(c["confidence"])
        observed = int(np.sum(p_label < 1.0 - conf))
        # what the model's own probabilities allow: rows it is that sure about, times the
        # chance it is wrong there
        sure = np.maximum(q, 1.0 - q) > conf
        expected = float(np.sum(np.minimum(q, 1.0 - q)[sure]))
    elif r.task == "multiclass":
        q = np.clip(oof, 1e-15, 1.0)
        p_label = q[np.arange(idx.size), y.astype(np.int64)]
        loss = -np.log(p_label)
        conf = float(c["confidence"])
        observed = int(np.sum(p_label < 1.0 - conf))
        top = q.max(axis=1)
        expected = float(np.sum((1.0 - top)[top > conf]))
    else:
        resid = y - oof
        mad = float(np.median(np.abs(resid - np.median(resid)))) * 1.4826 or 1.0
        loss = (resid / mad) ** 2
        observed = int(np.sum(np.abs(resid) > 6 * mad))
        expected = 0.0
    order = np.argsort(-loss, kind="stable")[:int(c["top"])]
    top_rows = [{"row": int(idx[i]), "label": float(y[i]), "loss": float(loss[i]),
                 "prediction": oof[i].tolist() if k > 1 else float(oof[i])} for i in order]
    evidence = {"confidently_wrong": observed, "expected_if_calibrated": expected,
                "folds": int(c["folds"]), "rows": int(idx.size), "highest_loss_rows": top_rows}
    excess = observed > 3.0 * expected + 10 and observed >= 0.005 * idx.size
    if r.task != "regression" and excess:
        sev = c["severity"]
        title = (f"{observed} training rows have a label the cross-validated model calls wrong "
                 f"with > {c['confidence']:.0%} confidence (its probabilities allow about "
                 f"{expected:.0f}): label-noise suspects")
    else:
        sev = "info"
        title = (f"the {len(top_rows)} training rows with the highest cross-validated loss "
                 "(label-noise suspects to review)")
    return [_finding("label_noise", "", sev, title, evidence)]


def _check_fit(r: _Run, params: dict[str, Any], note: str) -> list[dict[str, Any]]:
    from ..metrics import HIGHER_IS_BETTER

    b = r.fit(params, r.features, r.tr_idx, valid=(r.test.iloc[r.te_idx], r.y_test[r.te_idx]))
    hist = b.evals_result
    metric = next(iter(hist["valid"]))
    va = np.asarray(hist["valid"][metric], dtype=np.float64)
    tr = np.asarray(hist["train"][metric], dtype=np.float64)
    if va.size < 2:
        return []
    hib = metric in HIGHER_IS_BETTER
    best = int(np.argmax(va) if hib else np.argmin(va))
    last = va.size - 1
    scale = max(abs(float(va[best])), 1e-12)
    loss_after = float((va[best] - va[last]) if hib else (va[last] - va[best])) / scale
    gap = float((tr[last] - va[last]) if hib else (va[last] - tr[last]))
    evidence = {"metric": metric, "rounds": int(va.size), "best_round": best + 1,
                "valid_best": float(va[best]), "valid_last": float(va[last]),
                "train_last": float(tr[last]), "relative_loss_after_best": loss_after,
                "train_valid_gap": gap, "params": note,
                "curve_valid": va[:: max(1, va.size // 50)].tolist(),
                "curve_train": tr[:: max(1, tr.size // 50)].tolist()}
    out = []
    sev = _level(loss_after, r.cfg["overfitting"])
    if sev is not None:
        out.append(_finding("overfitting", "", sev,
                            f"validation {metric} is best at round {best + 1} of {va.size} and "
                            f"{loss_after:.1%} worse by the last round (train {tr[last]:.4g}, "
                            f"valid {va[last]:.4g})", evidence))
    tail = max(1, va.size // 10)
    recent = float((va[last] - va[last - tail]) if hib else (va[last - tail] - va[last])) / scale
    if best >= last - 1 and recent >= float(r.cfg["underfitting"]["gain"]):
        out.append(_finding("underfitting", "", r.cfg["underfitting"]["severity"],
                            f"validation {metric} still improved by {recent:.2%} over the last "
                            f"{tail} rounds", {**evidence, "recent_gain": recent}))
    return out


def _slice_columns(r: _Run) -> list[str]:
    mx = int(r.cfg["weak_slice"]["max_values"])
    out = []
    for f in r.features:
        s = r.test[f]
        if _is_categorical(s) or (s.nunique() <= min(mx, 20)
                                  and r.pd.api.types.is_integer_dtype(s.dtype)):
            if s.nunique() <= mx:
                out.append(f)
    return out


def _auc_se(auc: float, n1: int, n0: int) -> float:
    """Hanley & McNeil's standard error of an AUC."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    v = (auc * (1 - auc) + (n1 - 1) * (q1 - auc * auc) + (n0 - 1) * (q2 - auc * auc)) / (n1 * n0)
    return math.sqrt(max(v, 1e-12))


def _check_slices(r: _Run) -> list[dict[str, Any]]:
    c = r.cfg["weak_slice"]
    out: list[dict[str, Any]] = []
    y, pred, overall = r.y_test, r.pred_test, r.test_score
    if not math.isfinite(overall):
        return out
    for f in _slice_columns(r):
        keys = r.test[f].astype("string").fillna("<missing>").to_numpy()
        for key in np.unique(keys):
            m = keys == key
            n = int(m.sum())
            if n < c["min_rows"]:
                continue
            if r.task == "binary":
                n1 = int(np.sum(y[m] > 0.5))
                n0 = n - n1
                if min(n1, n0) < 10:
                    continue
                val = float(_metrics.roc_auc(y[m], pred[m]))
                drop = overall - val
                se = _auc_se(val, n1, n0)
                counts = {"rows": n, "positives": n1, "negatives": n0}
                name = "AUC"
            elif r.task == "multiclass":
                val = float(np.mean(np.argmax(pred[m], axis=1) == y[m].astype(np.int64)))
                drop = overall - val
                se = math.sqrt(max(val * (1 - val), 1e-12) / n)
                counts = {"rows": n}
                name = "accuracy"
            else:
                rmse_all = float(np.sqrt(np.mean((y - pred) ** 2)))
                rmse = float(np.sqrt(np.mean((y[m] - pred[m]) ** 2)))
                val = rmse
                # as a drop in R^2 terms: extra squared error over the label variance
                drop = (rmse ** 2 - rmse_all ** 2) / max(float(np.var(y)), 1e-12)
                se = math.sqrt(2.0 / n) * rmse ** 2 / max(float(np.var(y)), 1e-12)
                counts = {"rows": n}
                name = "RMSE"
            z = drop / se if se > 0 else 0.0
            sev = _level(drop, c) if z >= c["z"] else None
            if sev is not None:
                out.append(_finding("weak_slice", f"{f}={key}", sev,
                                    f"{name} {val:.4f} where {f} = {key} vs {overall:.4f} "
                                    f"overall ({n} test rows)",
                                    {"feature": f, "value": str(key), "metric": name,
                                     "slice": val, "overall": overall, "drop": drop, "z": z,
                                     **counts}))
    return out


# ---------------------------------------------------------------------------- entry point
def diagnose(model: Any, train: Any, test: Any, *, label: str = "label", config: Any = None,
             seed: int = 0, n_jobs: int | None = None, max_rows: int = 100_000
             ) -> DiagnoseReport:
    """Run every check on ``model`` (a Booster) with its training and test rows (tables or data
    files holding the model's features and ``label``) and return the findings (see the module
    docstring). ``max_rows`` caps the rows of each side used by the checks that train models
    (seeded sample); ``n_jobs`` the threads of training and scoring."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ParameterError(f"seed must be an integer >= 0, got {seed!r}")
    if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 100:
        raise ParameterError(f"max_rows must be an integer >= 100, got {max_rows!r}")
    cfg = _load_config(config)
    t0 = time.perf_counter()
    r = _Run(model, _frame(train, "train"), _frame(test, "test"), label, cfg, seed, n_jobs,
             max_rows)
    params, note = _train_params(model, r.task, n_jobs)
    params["random_state"] = seed
    steps: list[tuple[str, tuple[str, ...], Any]] = [
        ("leakage", ("leakage",), lambda: _check_leakage(r)),
        ("importance", ("importance", "unused_features"), lambda: _check_importance(r)),
        ("columns", ("identifier", "missing", "duplicate_feature"), lambda: _check_columns(r)),
        ("duplicates", ("duplicates", "near_duplicates"), lambda: _check_duplicates(r)),
        ("skew", ("skew", "feature_drift"), lambda: _check_skew(r)),
        ("labels", ("imbalance", "constant_label_slice"), lambda: _check_labels(r)),
        ("label_noise", ("label_noise",), lambda: _check_noise(r, params)),
        ("fit", ("overfitting", "underfitting"), lambda: _check_fit(r, params, note)),
        ("weak_slice", ("weak_slice",), lambda: _check_slices(r)),
    ]
    findings: list[dict[str, Any]] = []
    checks: dict[str, str] = {}
    seconds: dict[str, float] = {}
    for step, names, fn in steps:
        enabled = [n for n in names if cfg[n].get("enabled", True)]
        if not enabled:
            for n in names:
                checks[n] = "disabled"
            continue
        t = time.perf_counter()
        try:
            got = fn()
        except SapwoodError as e:  # one check that cannot run does not hide the others
            for n in enabled:
                checks[n] = f"could not run: {e}"
            continue
        finally:
            seconds[step] = time.perf_counter() - t
        findings.extend(f for f in got if f["check"] in enabled)
        for n in names:
            checks[n] = "ran" if n in enabled else "disabled"
    seconds["total"] = time.perf_counter() - t0
    summary = {"objective": model.objective, "task": r.task, "features": len(r.features),
               "train_rows": len(r.train), "test_rows": len(r.test),
               "test_metric": {"binary": "auc", "regression": "r2",
                               "multiclass": "accuracy"}[r.task],
               "test_score": r.test_score, "params": note, "seed": seed,
               "single_feature_scores": r.single_feature}
    return DiagnoseReport(findings, summary, checks, seconds)

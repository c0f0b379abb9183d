"""``sapwood train CONFIG.toml``: a declarative training run.

    [data]
    path = "train.parquet"        # .csv, .tsv, .parquet or .feather
    label = "label"
    features = ["a", "b"]         # optional: default every column but label/weight/drop
    drop = ["id"]                 # optional
    weight = "w"                  # optional
    qid = "query"                 # optional: query ids of ranking data (contiguous rows)
    [params]                      # any sapwood.train parameter
    objective = "binary"
    n_estimators = 500
    [validation]                  # optional: hold out a split for early stopping
    fraction = 0.2                # random rows (seeded by params.random_state) ...
    time_column = "t"             # ... or the last rows in time order
                                  # (with data.qid: whole queries, by their latest time)
    early_stopping_rounds = 30
    [cv]                          # optional: cross-validate first, report mean/std
    folds = 5
    [output]
    path = "model.sapwood"
    tags = { team = "risk" }
    created_at = "2026-01-01T00:00:00Z"   # optional

The same config and data give the same model file: created_at defaults to
SOURCE_DATE_EPOCH when set, else to the newest modification time of the config and data.
"""

from __future__ import annotations

import datetime as _dt
import os
from typing import Any

import numpy as np

from .._compat import require_for_file
from .._fs import check_writable, write_bytes
from .._toml import ConfigError, line_of, load_toml
from ..errors import DataError
from ..frame.columns import float64_column

__all__ = ["run_train", "train_from_config"]

# Bounds of the counts a config sets (each drives a loop).
MAX_ROUNDS = 1_000_000
MAX_FOLDS = 1_000

_SECTIONS = {"data": {"path", "label", "features", "drop", "weight", "qid"},
             "params": None, "validation": {"fraction", "time_column", "early_stopping_rounds"},
             "cv": {"folds", "stratified", "group_column", "time_column",
                    "early_stopping_rounds"},
             "output": {"path", "tags", "created_at"}}


def train_from_config(path: str, progress: bool = False) -> dict[str, Any]:
    from ..dataset import Dataset
    from ..frame.readers import read_pandas
    from .callbacks import EarlyStopping, ProgressBar, TrainingCallback
    from .crossval import cv
    from .training import train

    doc, text = load_toml(path)

    def fail(key: str, section: str | None, msg: str) -> ConfigError:
        line = line_of(text, key, section)
        return ConfigError(f"{path}: line {line or '?'}: key "
                           f"'{section + '.' if section else ''}{key}': {msg}")

    for sec, v in doc.items():
        if sec not in _SECTIONS:
            raise fail(sec, None, f"unknown section; known: {', '.join(_SECTIONS)}")
        if not isinstance(v, dict):
            raise fail(sec, None, "must be a table")
        allowed = _SECTIONS[sec]
        if allowed is not None:
            for k in v:
                if k not in allowed:
                    raise fail(k, sec, f"unknown key; allowed: {', '.join(sorted(allowed))}")
    data = doc.get("data", {})
    out = doc.get("output", {})
    for sec, key in (("data", "path"), ("data", "label"), ("output", "path")):
        if not isinstance(doc.get(sec, {}).get(key), str):
            raise fail(key, sec, "required (a string)")
    for key in ("features", "drop"):
        v = data.get(key)
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise fail(key, "data", "must be a list of column names")
    for key in ("weight", "qid"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise fail(key, "data", "must be a column name")
    counts = _checked_counts(doc, fail)
    base = os.path.dirname(os.path.abspath(path))
    data_path = os.path.join(base, data["path"])
    out_path = os.path.join(base, out["path"])
    check_writable(out_path, "output.path")  # before the work, not after it
    require_for_file(data_path, "sapwood train to read data.path", "cli")
    df = read_pandas(data_path)
    cols = [str(c) for c in df.columns]
    label, weight, qid_col = data["label"], data.get("weight"), data.get("qid")
    for key, col in (("label", label), ("weight", weight), ("qid", qid_col)):
        if col is not None and col not in cols:
            raise fail(key, "data", f"column {col!r} is not in {data['path']} "
                                    f"(columns: {cols[:20]})")
    drop = set(data.get("drop", [])) | {label} | ({weight} if weight else set()) \
        | ({qid_col} if qid_col else set())
    features = data.get("features") or [c for c in cols if c not in drop]
    missing = [f for f in features if f not in cols]
    if missing:
        raise fail("features", "data", f"columns not in the data: {missing[:10]}")
    params = dict(doc.get("params", {}))
    seed = counts["random_state"]
    y = float64_column(df[label], label, "label")
    w = None if weight is None else float64_column(df[weight], weight, "weight")
    X = df[features]
    qid = None if qid_col is None else df[qid_col].to_numpy()
    result: dict[str, Any] = {}
    if "cv" in doc:
        c = doc["cv"]
        ds = Dataset(X, y, w, qid=qid)
        res = cv(params, ds, counts["folds"], stratified=c.get("stratified"),
                 groups=None if "group_column" not in c else df[c["group_column"]].to_numpy(),
                 time_column=None if "time_column" not in c else
                 df[c["time_column"]].to_numpy(dtype=np.float64),
                 early_stopping_rounds=counts["cv_early_stopping_rounds"])
        result["cv"] = {"best_iteration": res.best_iteration, "best_score": res.best_score,
                        "std": {m: h["std"][res.best_iteration - 1]
                                for m, h in res.history.items()}}
    callbacks: list[TrainingCallback] = [ProgressBar()] if progress else []
    val = doc.get("validation")
    if val:
        n = len(df)
        frac = val.get("fraction", 0.2)
        if isinstance(frac, bool) or not isinstance(frac, (int, float)) or not 0 < frac < 1:
            raise fail("fraction", "validation", f"must be a number in (0, 1), got {frac!r}")
        if qid is not None:
            tr, va = _query_split(qid, frac, seed, None if "time_column" not in val else
                                  df[val["time_column"]].to_numpy(dtype=np.float64))
        else:
            if "time_column" in val:
                order = np.argsort(df[val["time_column"]].to_numpy(dtype=np.float64),
                                   kind="stable")
            else:
                order = np.random.default_rng(seed).permutation(n)
            cut = n - max(1, int(round(n * frac)))
            tr, va = np.sort(order[:cut]), np.sort(order[cut:])
        train_set = Dataset(X.iloc[tr], y[tr], None if w is None else w[tr],
                            qid=None if qid is None else qid[tr])
        valid_set = Dataset(X.iloc[va], y[va], None if w is None else w[va],
                            qid=None if qid is None else qid[va])
        if "early_stopping_rounds" in val:
            callbacks.append(EarlyStopping(counts["early_stopping_rounds"]))
        booster = train(params, train_set, valid_sets=[valid_set], valid_names=["valid"],
                        callbacks=callbacks)
    else:
        booster = train(params, Dataset(X, y, w, qid=qid), callbacks=callbacks)
    created = out.get("created_at")
    if created is None:
        sde = os.environ.get("SOURCE_DATE_EPOCH")
        ts = int(sde) if sde and sde.isdigit() else int(max(os.path.getmtime(path),
                                                            os.path.getmtime(data_path)))
        created = _dt.datetime.fromtimestamp(ts, tz=_dt.timezone.utc).isoformat().replace(
            "+00:00", "Z")
    booster.provenance["created_at"] = str(created)
    booster.provenance["config"] = os.path.basename(path)
    tags = out.get("tags", {})
    if not isinstance(tags, dict):
        raise fail("tags", "output", "must be a table")
    booster.tags = dict(tags)
    if "cv" in result:
        booster.extra["cv"] = result["cv"]
    write_bytes(out_path, booster.to_bytes())  # atomic: the whole file or none
    final = {ds: {m: v[-1] for m, v in ms.items() if v}
             for ds, ms in booster.evals_result.items()}
    result.update({"model": out_path, "rounds": booster.num_rounds,
                   "best_iteration": booster.best_iteration, "best_score": booster.best_score,
                   "final": final})
    return result


def _query_split(qid: np.ndarray, frac: float, seed: int,
                 time: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Training and validation rows of ranking data: whole queries, a random fraction of them
    (or the latest by their latest time). Rows stay in their order."""
    from .._groups import bounds_from_qid

    bounds = bounds_from_qid(qid, qid.shape[0], "data.qid")  # contiguity, naming the row
    nq = bounds.size - 1
    if nq < 2:
        raise DataError("a validation split of ranking data needs at least two queries")
    if time is None:
        order = np.random.default_rng(seed).permutation(nq)
    else:
        order = np.argsort(np.maximum.reduceat(time, bounds[:-1]), kind="stable")
    cut = nq - max(1, int(round(nq * frac)))
    query = np.repeat(np.arange(nq), np.diff(bounds))
    valid = np.zeros(nq, dtype=bool)
    valid[order[cut:]] = True
    rows = np.arange(qid.shape[0])
    return rows[~valid[query]], rows[valid[query]]


def _checked_counts(doc: dict[str, Any], fail: Any) -> dict[str, Any]:
    """Every count the config sets, checked and bounded (a typo such as
    ``n_estimators = 1000000000000`` is refused, naming the key, instead of running for
    ever)."""
    def count(section: str, key: str, default: Any, lo: int, hi: int) -> Any:
        v = doc.get(section, {}).get(key, default)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
            raise fail(key, section, f"must be an integer in [{lo}, {hi}], got {v!r}")
        return v

    out = {"random_state": count("params", "random_state", 0, 0, 2**63 - 1)}
    for key in ("n_estimators", "num_iterations", "num_boost_round", "num_trees"):
        count("params", key, None, 1, MAX_ROUNDS)
    out["folds"] = count("cv", "folds", 5, 2, MAX_FOLDS)
    out["cv_early_stopping_rounds"] = count("cv", "early_stopping_rounds", None, 1, MAX_ROUNDS)
    out["early_stopping_rounds"] = count("validation", "early_stopping_rounds", None, 1,
                                         MAX_ROUNDS)
    return out


def _metric_lines(res: dict[str, Any]) -> list[str]:
    lines = []
    best = res.get("best_score") or {}
    for ds, ms in (best.items() if best else res.get("final", {}).items()):
        if ms:
            vals = ", ".join(f"{m}={v:.6g}" for m, v in ms.items())
            at = (f" at best iteration {res['best_iteration']}" if best and
                  res.get("best_iteration") else " after the last round")
            lines.append(f"{ds}{at}: {vals}")
    if "cv" in res:
        cvr = res["cv"]
        parts = [f"{m}={v:.6g}±{cvr['std'][m]:.3g}" for m, v in cvr["best_score"].items()]
        lines.append(f"cv: best iteration {cvr['best_iteration']}: {', '.join(parts)}")
    return lines


def run_train(path: str, progress: bool = True) -> int:
    """``sapwood train``: train, write the model file and print what it stores (rounds and
    the evaluation metrics). Raises a SapwoodError or OSError when it cannot run."""
    res = train_from_config(path, progress=progress)
    print(f"wrote {res['model']} ({res['rounds']} rounds"
          + (f", best iteration {res['best_iteration']}" if res["best_iteration"] else "")
          + ")")
    lines = _metric_lines(res)
    for line in lines:
        print(line)
    if not lines:
        print("no metrics: add a [validation] or [cv] section to evaluate the model")
    return 0

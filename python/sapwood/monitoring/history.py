"""Monitoring over time: stored batch profiles merged into windows, each compared with the
reference and with the window before it.

``history(store, window="day")`` reads the batches of a :class:`~.store.ProfileStore`, merges
the profiles of each day (or ISO week, Monday to Sunday, UTC) with :meth:`Profile.merge`
(exact: never recomputed from raw data), and runs :func:`~.compare.compare` per window against

- the reference: the model's reference profile when given, else the first window, and
- the previous window,

giving per feature (and for the predictions) PSI, Wasserstein / Jensen-Shannon, null rate,
out-of-range and unseen shares, and per window the row count. Every check of ``compare`` is at
``ok``, ``warn`` or ``fail`` by the TOML thresholds (``config.py``); an *alert* is a feature's
check (or a dataset check) that left ``ok``, reported with the first window where it reached
``warn`` and the first where it reached ``fail``. PSI against the previous window is judged by
the same PSI levels (``psi_vs_previous``).
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._fs import write_text
from ..errors import DataError, ParameterError
from .compare import (
    STATUS_ORDER,
    as_config,
    compare,
    json_clean,
    reference_profile_of,
    worst_status,
)
from .config import MonitorConfig
from .profile import Profile
from .store import ProfileStore, StoredProfile, to_utc

__all__ = ["history", "HistoryReport", "Window", "merge_windows", "window_start", "WINDOWS"]

WINDOWS = ("day", "week")
# per-window series kept for every feature (those that apply to its kind)
SERIES = ("psi", "psi_vs_previous", "wasserstein", "jensen_shannon", "null_rate",
          "null_rate_increase", "out_of_range_share", "unseen_share", "inf_share_increase")


def window_start(t: _dt.datetime, window: str) -> _dt.datetime:
    """The start (UTC midnight) of the day, or of the ISO week (Monday), holding ``t``."""
    d = to_utc(t).replace(hour=0, minute=0, second=0, microsecond=0)
    if window == "week":
        d -= _dt.timedelta(days=d.weekday())
    elif window != "day":
        raise ParameterError(f"window must be one of {WINDOWS}, got {window!r}")
    return d


@dataclass
class Window:
    """One time window: the merged profile of the batches that started in it."""

    start: _dt.datetime
    end: _dt.datetime  # exclusive
    profile: Profile
    batches: int
    models: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.start.date().isoformat()

    @property
    def rows(self) -> int:
        return self.profile.num_rows


def merge_windows(records: Sequence[StoredProfile], window: str = "day") -> list[Window]:
    """Group stored batches by the window their start falls in and merge each group's profiles
    (all must share columns and bin edges: profile batches on the reference's edges)."""
    step = _dt.timedelta(days=7 if window == "week" else 1)
    groups: dict[_dt.datetime, list[StoredProfile]] = {}
    for r in records:
        groups.setdefault(window_start(r.window_start, window), []).append(r)
    out: list[Window] = []
    for start in sorted(groups):
        recs = groups[start]
        profiles = [r.profile for r in recs]
        try:
            merged = profiles[0].merge(*profiles[1:])
        except DataError as e:
            raise DataError(f"window {start.date().isoformat()}: its stored profiles cannot be "
                            f"merged ({e}); store batches profiled on one set of bin edges "
                            "(the model's reference profile)") from None
        out.append(Window(start, start + step, merged, len(recs),
                          sorted({r.model for r in recs if r.model}),
                          sorted({r.source for r in recs if r.source})))
    return out


def _subset(p: Profile, names: list[str]) -> Profile:
    return Profile({n: p.columns[n] for n in names}, p.num_rows)


class HistoryReport:
    """The result of :func:`history`. ``features[name]["series"][stat]`` is a list with one
    value per window (None where it does not apply); ``alerts`` lists every check that left
    ``ok`` with the first window at warn and at fail; ``passed`` is False when any window
    reached ``fail``."""

    def __init__(self, windows: list[Window], window: str, reference_kind: str,
                 reference_rows: int, features: dict[str, dict[str, Any]],
                 dataset: dict[str, Any], alerts: list[dict[str, Any]],
                 config: MonitorConfig, missing: list[str]) -> None:
        self.windows = windows
        self.window = window
        self.reference_kind = reference_kind
        self.reference_rows = reference_rows
        self.features = features
        self.dataset = dataset
        self.alerts = alerts
        self.config = config
        self.missing = missing

    @property
    def status(self) -> str:
        return worst_status(*(a["status"] for a in self.alerts))

    @property
    def passed(self) -> bool:
        return self.status != "fail"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = json_clean({
            "passed": self.passed,
            "status": self.status,
            "window": self.window,
            "reference": {"kind": self.reference_kind, "rows": self.reference_rows,
                          "columns_missing_from_store": self.missing},
            "windows": [{"start": w.start.isoformat(), "end": w.end.isoformat(),
                         "label": w.label, "rows": w.rows, "batches": w.batches,
                         "models": w.models, "sources": w.sources[:20]}
                        for w in self.windows],
            "dataset": self.dataset,
            "features": self.features,
            "alerts": self.alerts,
            "thresholds": {k: {"warn": v.warn, "fail": v.fail}
                           for k, v in self.config.levels.items()},
        })
        return out

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 2) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            write_text(path, text)
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        from .history_html import render

        text = render(self)
        if path is not None:
            write_text(path, text)
        return text

    def summary(self) -> str:
        n = len(self.windows)
        span = f"{self.windows[0].label} .. {self.windows[-1].label}" if n else "no windows"
        lines = [f"sapwood monitor history: {'PASSED' if self.passed else 'FAILED'} "
                 f"(status {self.status}); {n} {self.window} window(s) {span}; reference: "
                 f"{self.reference_kind}; {len(self.alerts)} alert(s)"]
        for a in self.alerts[:30]:
            where = f"{a['feature']}: " if a["feature"] else "dataset: "
            fired = f"warn from {a['first_warn']}" if a["first_warn"] else ""
            if a["first_fail"]:
                fired += (", " if fired else "") + f"fail from {a['first_fail']}"
            lines.append(f"  {a['status']:4s} {where}{a['check']} ({fired})")
        if len(self.alerts) > 30:
            lines.append(f"  ... {len(self.alerts) - 30} more (see --json)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<HistoryReport windows={len(self.windows)} alerts={len(self.alerts)}>"


def history(source: ProfileStore | str | Sequence[StoredProfile], *, reference: Any = None,
            window: str = "day", config: Any = None, model: Any = None, since: Any = None,
            until: Any = None) -> HistoryReport:
    """Drift and data quality over time from a monitoring store (see the module docstring).

    source: a :class:`ProfileStore`, its path / URL, or stored records.
    reference: a Profile, its JSON path, or a Booster carrying its reference profile (default:
        the first window).
    model / since / until: which stored batches (see :meth:`ProfileStore.read`).
    """
    if window not in WINDOWS:
        raise ParameterError(f"window must be one of {WINDOWS}, got {window!r}")
    cfg = as_config(config)
    if isinstance(source, (str, Path, ProfileStore)):
        store = source if isinstance(source, ProfileStore) else ProfileStore(source)
        records = store.read(model=model, since=since, until=until)
    else:
        records = list(source)
    windows = merge_windows(records, window)
    if not windows:
        raise DataError("no stored profiles match (check the store, --model and --since)")
    ref_full, kind = ((reference_profile_of(reference)[0], "given")
                      if reference is not None else (windows[0].profile, "first window"))
    cols = [n for n in ref_full.columns if n in windows[0].profile.columns]
    missing = [n for n in ref_full.columns if n not in windows[0].profile.columns]
    for w in windows[1:]:
        absent = [n for n in cols if n not in w.profile.columns]
        if absent:
            raise DataError(f"window {w.label}: stored profiles lack column(s) {absent[:10]}")
    if not cols:
        raise DataError("the reference and the stored profiles share no column")
    ref = _subset(ref_full, cols)
    n = len(windows)
    features: dict[str, dict[str, Any]] = {c: {"series": {s: [None] * n for s in SERIES},
                                              "status": ["ok"] * n, "checks": {}}
                                           for c in cols}
    ds_checks: dict[str, list[str]] = {}
    drift_share: list[float] = []
    prev: Profile | None = None
    for i, w in enumerate(windows):
        cur = _subset(w.profile, cols)
        rep = compare(ref, cur, cfg)
        for c, f in rep.features.items():
            out = features[c]
            out.setdefault("kind", f.get("kind"))
            out.setdefault("is_prediction", bool(f.get("is_prediction")))
            out["status"][i] = f["status"]
            for s in SERIES:
                v = f.get(s)
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    out["series"][s][i] = float(v)
            if "null_rate_current" in f:
                out["series"]["null_rate"][i] = float(f["null_rate_current"])
            for chk, st_ in f.get("checks", {}).items():
                out["checks"].setdefault(chk, ["ok"] * n)[i] = st_
        for chk, st_ in rep.dataset["checks"].items():
            ds_checks.setdefault(chk, ["ok"] * n)[i] = st_
        drift_share.append(float(rep.dataset["drift_share"]))
        if prev is not None:
            prep = compare(prev, cur, cfg)
            for c, f in prep.features.items():
                v = f.get("psi")
                if isinstance(v, float):
                    features[c]["series"]["psi_vs_previous"][i] = v
                    lvl = cfg.level(c, "psi").status(v)
                    features[c]["checks"].setdefault("psi_vs_previous", ["ok"] * n)[i] = lvl
        prev = cur
    labels = [w.label for w in windows]
    alerts: list[dict[str, Any]] = []
    for c, f in features.items():
        f["status_overall"] = worst_status(*f["status"])
        for chk, sts in f["checks"].items():
            a = _alert(c, chk, sts, labels, f["series"].get(chk))
            if a is not None:
                alerts.append(a)
    for chk, sts in ds_checks.items():
        a = _alert("", chk, sts, labels, None)
        if a is not None:
            alerts.append(a)
    alerts.sort(key=lambda a: (-STATUS_ORDER[a["status"]], a["first_warn"] or "", a["feature"],
                               a["check"]))
    dataset = {"rows": [w.rows for w in windows], "batches": [w.batches for w in windows],
               "drift_share": drift_share, "checks": ds_checks,
               "labels": labels}
    return HistoryReport(windows, window, kind, ref.num_rows, features, dataset, alerts, cfg,
                         missing)


def _alert(feature: str, check: str, statuses: list[str], labels: list[str],
           values: list[float | None] | None) -> dict[str, Any] | None:
    first_warn = next((i for i, s in enumerate(statuses) if s != "ok"), None)
    if first_warn is None:
        return None
    first_fail = next((i for i, s in enumerate(statuses) if s == "fail"), None)
    worst = "fail" if first_fail is not None else "warn"
    out: dict[str, Any] = {
        "feature": feature, "check": check, "status": worst,
        "first_warn": labels[first_warn], "first_fail": None if first_fail is None
        else labels[first_fail],
        "windows_at_warn_or_worse": sum(s != "ok" for s in statuses),
        "latest": statuses[-1],
    }
    if values is not None:
        v = values[first_fail if first_fail is not None else first_warn]
        out["value_when_fired"] = v if v is None or math.isfinite(v) else None
    return out

"""Monitoring thresholds: defaults, per-feature overrides, TOML files, calibration results.

A TOML config looks like::

    [thresholds]                 # defaults for every feature (each a warn and a fail level)
    psi = { warn = 0.1, fail = 0.25 }
    wasserstein = { warn = 0.1, fail = 0.25 }

    [dataset]
    drift_share_fail = 0.5       # fail when this share of the features drifted
    ks_alpha = 0.05              # gate on KS p-values (Bonferroni over the features); off by default
    small_sample_rows = 1000     # below this many values on either side, tests gate drift (0: off)
    small_sample_alpha = 0.05    # their level (Bonferroni over the features tested)
    expected_rows = 100000       # check the batch size (ratio to expected, warn / fail)
    row_count_ratio = { warn = 2.0, fail = 10.0 }

    [features.age]
    critical = true              # the dataset fails when this feature drifts (warn or worse)
    psi = { warn = 0.2, fail = 0.4 }

    [features.id]
    ignore = true
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import ParameterError

__all__ = ["Level", "FeatureConfig", "MonitorConfig", "DEFAULT_LEVELS", "DRIFT_STATS",
           "QUALITY_STATS"]


@dataclass(frozen=True)
class Level:
    """A statistic is at ``warn`` when >= warn and at ``fail`` when >= fail."""

    warn: float
    fail: float

    def status(self, value: float) -> str:
        if value is None or math.isnan(value):
            return "ok"
        if value >= self.fail:
            return "fail"
        if value >= self.warn:
            return "warn"
        return "ok"


DRIFT_STATS = ("psi", "wasserstein", "jensen_shannon")
QUALITY_STATS = ("unseen_share", "null_rate_increase", "out_of_range_share", "inf_share_increase")
DEFAULT_LEVELS: dict[str, Level] = {
    "psi": Level(0.10, 0.25),
    "wasserstein": Level(0.10, 0.25),  # 1-Wasserstein / reference standard deviation
    "jensen_shannon": Level(0.10, 0.20),
    "unseen_share": Level(0.01, 0.05),
    "null_rate_increase": Level(0.01, 0.05),  # absolute
    "out_of_range_share": Level(0.01, 0.05),
    "inf_share_increase": Level(1e-12, 0.01),  # any +-inf appearing warns
}


@dataclass
class FeatureConfig:
    levels: dict[str, Level] = field(default_factory=dict)
    critical: bool = False
    ignore: bool = False


@dataclass
class MonitorConfig:
    """Thresholds of :func:`sapwood.monitoring.compare` (defaults as in the issue)."""

    levels: dict[str, Level] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    features: dict[str, FeatureConfig] = field(default_factory=dict)
    ks_alpha: float | None = None
    # Small samples: PSI, Wasserstein and Jensen-Shannon distances (and the share outside a
    # small reference's range) are noisy there (PSI on 10 bins averages about
    # 9 * (1/n + 1/m) on unchanged data: 0.24 for 54 vs 124 rows), so a feature with fewer
    # than this many values on either side has them only warn, and its drift is judged by a
    # test instead: KS (numeric) or chi-square (categorical), Bonferroni-corrected.
    small_sample_rows: int = 1000
    small_sample_alpha: float = 0.05
    drift_share_fail: float = 0.5
    expected_rows: int | None = None
    row_count_ratio: Level = field(default_factory=lambda: Level(2.0, 10.0))

    def level(self, feature: str, stat: str) -> Level:
        fc = self.features.get(feature)
        if fc is not None and stat in fc.levels:
            return fc.levels[stat]
        return self.levels[stat]

    def feature(self, name: str) -> FeatureConfig:
        return self.features.get(name) or FeatureConfig()

    def with_feature_levels(self, name: str, levels: Mapping[str, Level]) -> MonitorConfig:
        feats = dict(self.features)
        fc = feats.get(name) or FeatureConfig()
        feats[name] = replace(fc, levels={**fc.levels, **levels})
        return replace(self, features=feats)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MonitorConfig:
        if not isinstance(d, Mapping):
            raise ParameterError("monitor config must be a table/mapping")
        unknown = set(d) - {"thresholds", "dataset", "features"}
        if unknown:
            raise ParameterError(f"monitor config: unknown section(s) {sorted(unknown)}; "
                                 "expected thresholds, dataset, features")
        cfg = cls()
        cfg.levels = {**DEFAULT_LEVELS, **_levels(d.get("thresholds", {}), "thresholds")}
        ds = d.get("dataset", {})
        if not isinstance(ds, Mapping):
            raise ParameterError("monitor config: [dataset] must be a table")
        for key, val in ds.items():
            where = f"dataset.{key}"
            if key == "drift_share_fail":
                cfg.drift_share_fail = _number(val, where, 0.0, 1.0)
            elif key == "ks_alpha":
                cfg.ks_alpha = _number(val, where, 0.0, 1.0)
            elif key == "small_sample_rows":
                cfg.small_sample_rows = count_value(val, where, 0)
            elif key == "small_sample_alpha":
                cfg.small_sample_alpha = _number(val, where, 0.0, 1.0)
            elif key == "expected_rows":
                cfg.expected_rows = count_value(val, where, 1)
            elif key == "row_count_ratio":
                lv = parse_level(val, where)
                if lv.warn < 1 or lv.fail < 1:
                    raise ParameterError(f"monitor config: {where} levels must be >= 1")
                cfg.row_count_ratio = lv
            else:
                raise ParameterError(f"monitor config: unknown key {where!r}")
        feats = d.get("features", {})
        if not isinstance(feats, Mapping):
            raise ParameterError("monitor config: [features] must be a table")
        for name, fd in feats.items():
            where = f"features.{name}"
            if not isinstance(fd, Mapping):
                raise ParameterError(f"monitor config: [{where}] must be a table")
            fc = FeatureConfig()
            rest: dict[str, Any] = {}
            for key, val in fd.items():
                if key in ("critical", "ignore"):
                    if not isinstance(val, bool):
                        raise ParameterError(f"monitor config: {where}.{key} must be true/false")
                    setattr(fc, key, val)
                else:
                    rest[key] = val
            fc.levels = _levels(rest, where)
            cfg.features[str(name)] = fc
        return cfg

    @classmethod
    def from_toml(cls, path_or_text: str | Path) -> MonitorConfig:
        """Load from a TOML file path (or TOML text)."""
        try:
            import tomllib
        except ImportError:  # pragma: no cover - Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        text: str
        p = Path(path_or_text) if not isinstance(path_or_text, str) or "\n" not in path_or_text \
            else None
        if p is not None and p.exists():
            text = p.read_text(encoding="utf-8")
        elif isinstance(path_or_text, str) and ("=" in path_or_text or "[" in path_or_text):
            text = path_or_text
        else:
            raise ParameterError(f"monitor config file {str(path_or_text)!r} does not exist")
        try:
            d = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ParameterError(f"monitor config is not valid TOML: {e}") from None
        return cls.from_dict(d)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "thresholds": {k: {"warn": v.warn, "fail": v.fail} for k, v in self.levels.items()},
            "dataset": {"drift_share_fail": self.drift_share_fail,
                        "small_sample_rows": self.small_sample_rows,
                        "small_sample_alpha": self.small_sample_alpha,
                        "row_count_ratio": {"warn": self.row_count_ratio.warn,
                                            "fail": self.row_count_ratio.fail}},
            "features": {},
        }
        if self.ks_alpha is not None:
            out["dataset"]["ks_alpha"] = self.ks_alpha
        if self.expected_rows is not None:
            out["dataset"]["expected_rows"] = self.expected_rows
        for name, fc in self.features.items():
            fd: dict[str, Any] = {k: {"warn": v.warn, "fail": v.fail} for k, v in fc.levels.items()}
            if fc.critical:
                fd["critical"] = True
            if fc.ignore:
                fd["ignore"] = True
            out["features"][name] = fd
        return out


# Counts read from a config are bounded (rows: any real batch is far below 2**53), so that a
# typo is refused naming the key instead of overflowing later.
MAX_COUNT = 2**53


def count_value(v: Any, where: str, lo: int) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= MAX_COUNT:
        raise ParameterError(f"monitor config: {where} must be an integer in [{lo}, 2**53], "
                             f"got {v!r}")
    return v


def _number(v: Any, where: str, lo: float, hi: float) -> float:
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not lo <= v <= hi \
            or v != v:
        raise ParameterError(f"monitor config: {where} must be a number in [{lo}, {hi}], got {v!r}")
    return float(v)


def parse_level(v: Any, where: str) -> Level:
    if isinstance(v, Mapping):
        if set(v) != {"warn", "fail"}:
            raise ParameterError(f"monitor config: {where} needs exactly 'warn' and 'fail'")
        warn, fail = v["warn"], v["fail"]
    elif isinstance(v, (list, tuple)) and len(v) == 2:
        warn, fail = v
    else:
        raise ParameterError(f"monitor config: {where} must be {{warn = .., fail = ..}}")
    w = _number(warn, f"{where}.warn", 0.0, math.inf)
    f = _number(fail, f"{where}.fail", 0.0, math.inf)
    if w > f:
        raise ParameterError(f"monitor config: {where}: warn ({w}) must not exceed fail ({f})")
    return Level(w, f)


def _levels(d: Any, where: str) -> dict[str, Level]:
    if not isinstance(d, Mapping):
        raise ParameterError(f"monitor config: [{where}] must be a table")
    out: dict[str, Level] = {}
    for key, val in d.items():
        if key not in DEFAULT_LEVELS:
            raise ParameterError(f"monitor config: unknown statistic {where}.{key}; known: "
                                 f"{sorted(DEFAULT_LEVELS)}")
        out[key] = parse_level(val, f"{where}.{key}")
    return out

"""Acceptance criteria (TOML): parsing and checking, with the line and key of any fault."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

from .._toml import ConfigError, line_of, load_toml
from ..metrics import METRICS

__all__ = ["Threshold", "SliceCriteria", "Criteria", "parse_criteria", "load_criteria",
           "ranking_metric", "known_metric", "higher_is_better"]

# Query metrics: "ndcg", "ndcg@k", "map", "map@k" (k >= 1), computed within the queries named by
# the criteria's qid column.
_RANKING = re.compile(r"^(ndcg|map)(?:@([1-9][0-9]{0,5}))?$")


def ranking_metric(name: str) -> tuple[str, int | None] | None:
    """("ndcg" or "map", k or None) for a query metric's name, else None."""
    m = _RANKING.match(name)
    if m is None:
        return None
    return m.group(1), None if m.group(2) is None else int(m.group(2))


def known_metric(name: str) -> bool:
    return name in METRICS or ranking_metric(name) is not None


def higher_is_better(name: str) -> bool:
    return True if ranking_metric(name) is not None else bool(METRICS[name][1])

_OPS = (">=", "<=", "==", ">", "<")
_THRESH = re.compile(r"^\s*(>=|<=|==|>|<)\s*([-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?)\s*$")


@dataclass
class Threshold:
    metric: str
    op: str
    value: float

    def passes(self, observed: float) -> bool:
        if observed != observed:  # NaN never passes
            return False
        return {">=": observed >= self.value, "<=": observed <= self.value,
                ">": observed > self.value, "<": observed < self.value,
                "==": observed == self.value}[self.op]

    def margin(self, observed: float) -> float:
        """How far the observed value is on the passing side (negative: by how much it fails)."""
        return observed - self.value if self.op in (">=", ">") else self.value - observed

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass
class SliceCriteria:
    column: str
    thresholds: list[Threshold]
    min_rows: int = 1


@dataclass
class Criteria:
    label: str
    weight: str | None = None
    qid: str | None = None  # query-id column (rows of a query contiguous): ndcg@k, map@k
    thresholds: list[Threshold] = field(default_factory=list)
    max_drop: dict[str, float] = field(default_factory=dict)
    bootstrap: int = 200
    confidence: float = 0.95
    seed: int = 0
    slices: list[SliceCriteria] = field(default_factory=list)
    p99_single_row_us: float | None = None
    min_batch_rows_per_s: float | None = None
    max_file_bytes: int | None = None
    schema_compatible: bool = True
    threshold: float = 0.5  # decision threshold of accuracy/precision/recall/f1


class _Ctx:
    def __init__(self, path: str, text: str) -> None:
        self.path, self.text = path, text

    def fail(self, key: str, section: str | None, msg: str) -> ConfigError:
        line = line_of(self.text, key, section)
        where = f"line {line}" if line else "line ?"
        full = f"{section}.{key}" if section else key
        return ConfigError(f"{self.path}: {where}: key '{full}': {msg}")


def _threshold(ctx: _Ctx, section: str, metric: str, spec: Any) -> Threshold:
    if not known_metric(metric):
        raise ctx.fail(metric, section, f"unknown metric; known: {', '.join(sorted(METRICS))}, "
                                        "ndcg@k, map@k")
    if not isinstance(spec, str):
        raise ctx.fail(metric, section, f"must be a string like \">= 0.85\", got {spec!r}")
    m = _THRESH.match(spec)
    if not m:
        raise ctx.fail(metric, section, f"cannot read {spec!r}; write an operator "
                                        f"({', '.join(_OPS)}) and a number, e.g. \">= 0.85\"")
    return Threshold(metric, m.group(1), float(m.group(2)))


# Bounds of the counts a criteria file sets: each drives a loop or an allocation, so a typo
# such as ``bootstrap = 1000000000000`` is refused (naming the key) instead of running forever.
MAX_BOOTSTRAP = 100_000
MAX_SEED = 2**63 - 1
MAX_COUNT = 2**53  # rows, bytes: any real file or data set is far below this


def _number(ctx: _Ctx, section: str | None, key: str, v: Any, *, positive: bool = True,
            integer: bool = False, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not
                                                                  isinstance(v, int)):
        raise ctx.fail(key, section, f"must be {'an integer' if integer else 'a number'}, "
                                     f"got {v!r}")
    if isinstance(v, float) and not math.isfinite(v):
        raise ctx.fail(key, section, f"must be finite, got {v!r}")
    if positive and v <= 0:
        raise ctx.fail(key, section, f"must be > 0, got {v!r}")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        rule = (f"in [{lo:g}, {hi:g}]" if lo is not None and hi is not None
                else f">= {lo:g}" if lo is not None else f"<= {hi:g}")
        raise ctx.fail(key, section, f"must be {rule}, got {v!r}")
    return float(v)


def _known(ctx: _Ctx, d: dict[str, Any], section: str | None, allowed: set[str]) -> None:
    for k in d:
        if k not in allowed:
            raise ctx.fail(k, section, f"unknown key; allowed here: {', '.join(sorted(allowed))}")


def _table(ctx: _Ctx, v: Any, key: str, section: str | None) -> dict[str, Any]:
    if not isinstance(v, dict):
        raise ctx.fail(key, section, f"must be a table, got {type(v).__name__}")
    return v


def parse_criteria(doc: dict[str, Any], text: str = "", path: str = "<criteria>") -> Criteria:
    ctx = _Ctx(path, text)
    _known(ctx, doc, None, {"label", "weight", "qid", "threshold", "metrics", "baseline",
                            "slices", "latency", "model", "schema"})
    label = doc.get("label")
    if not isinstance(label, str) or not label:
        raise ctx.fail("label", None, "required: the name of the label column in --data")
    c = Criteria(label=label)
    if "weight" in doc:
        if not isinstance(doc["weight"], str):
            raise ctx.fail("weight", None, "must be a column name")
        c.weight = doc["weight"]
    if "qid" in doc:
        if not isinstance(doc["qid"], str) or not doc["qid"]:
            raise ctx.fail("qid", None, "must be a column name (the query id of each row)")
        c.qid = doc["qid"]
    if "threshold" in doc:
        c.threshold = _number(ctx, None, "threshold", doc["threshold"], positive=False)
    for name, spec in _table(ctx, doc.get("metrics", {}), "metrics", "metrics").items():
        c.thresholds.append(_threshold(ctx, "metrics", name, spec))
    if "baseline" in doc:
        b = _table(ctx, doc["baseline"], "baseline", "baseline")
        _known(ctx, b, "baseline", {"max_drop", "bootstrap", "confidence", "seed"})
        for name, v in _table(ctx, b.get("max_drop", {}), "max_drop", "baseline").items():
            if not known_metric(name):
                raise ctx.fail(name, "baseline", "unknown metric")
            c.max_drop[name] = _number(ctx, "baseline", name, v, positive=False)
            if c.max_drop[name] < 0:
                raise ctx.fail(name, "baseline", "max_drop must be >= 0")
        if "bootstrap" in b:
            c.bootstrap = int(_number(ctx, "baseline", "bootstrap", b["bootstrap"],
                                      integer=True, hi=MAX_BOOTSTRAP))
        if "confidence" in b:
            c.confidence = _number(ctx, "baseline", "confidence", b["confidence"])
            if not 0 < c.confidence < 1:
                raise ctx.fail("confidence", "baseline", "must be in (0, 1)")
        if "seed" in b:
            c.seed = int(_number(ctx, "baseline", "seed", b["seed"], positive=False,
                                 integer=True, lo=0, hi=MAX_SEED))
    slices = doc.get("slices", [])
    if not isinstance(slices, list):
        raise ctx.fail("slices", None, "must be an array of tables ([[slices]])")
    for s in slices:
        s = _table(ctx, s, "slices", "slices")
        _known(ctx, s, "slices", {"column", "metrics", "min_rows"})
        col = s.get("column")
        if not isinstance(col, str):
            raise ctx.fail("column", "slices", "required: the segment column")
        th = [_threshold(ctx, "slices", k, v)
              for k, v in _table(ctx, s.get("metrics", {}), "metrics", "slices").items()]
        mr = int(_number(ctx, "slices", "min_rows", s.get("min_rows", 1), integer=True,
                         hi=MAX_COUNT))
        c.slices.append(SliceCriteria(col, th, mr))
    if "latency" in doc:
        lat = _table(ctx, doc["latency"], "latency", "latency")
        _known(ctx, lat, "latency", {"p99_single_row_us", "min_batch_rows_per_s"})
        if "p99_single_row_us" in lat:
            c.p99_single_row_us = _number(ctx, "latency", "p99_single_row_us",
                                          lat["p99_single_row_us"])
        if "min_batch_rows_per_s" in lat:
            c.min_batch_rows_per_s = _number(ctx, "latency", "min_batch_rows_per_s",
                                             lat["min_batch_rows_per_s"])
    if "model" in doc:
        md = _table(ctx, doc["model"], "model", "model")
        _known(ctx, md, "model", {"max_file_bytes"})
        if "max_file_bytes" in md:
            c.max_file_bytes = int(_number(ctx, "model", "max_file_bytes", md["max_file_bytes"],
                                           integer=True, hi=MAX_COUNT))
    if "schema" in doc:
        sc = _table(ctx, doc["schema"], "schema", "schema")
        _known(ctx, sc, "schema", {"compatible_with_baseline"})
        v = sc.get("compatible_with_baseline", True)
        if not isinstance(v, bool):
            raise ctx.fail("compatible_with_baseline", "schema", "must be true or false")
        c.schema_compatible = v
    return c


def load_criteria(path: str) -> Criteria:
    doc, text = load_toml(path)
    return parse_criteria(doc, text, path)

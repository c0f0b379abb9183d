"""Evaluation metrics (weighted), used by train() and the estimators."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import ParameterError

__all__ = ["rmse", "mae", "logloss", "auc", "error", "multi_logloss", "multi_error", "get_metric",
           "HIGHER_IS_BETTER", "default_metric"]

_EPS = 1e-15


def _w(weight: np.ndarray | None, n: int) -> np.ndarray:
    return np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)


def rmse(y: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    w = _w(weight, len(y))
    return float(np.sqrt(np.sum(w * (y - pred.ravel()) ** 2) / np.sum(w)))


def mae(y: np.ndarray, pred: np.ndarray, weight: np.ndarray | None = None) -> float:
    w = _w(weight, len(y))
    return float(np.sum(w * np.abs(y - pred.ravel())) / np.sum(w))


def logloss(y: np.ndarray, prob: np.ndarray, weight: np.ndarray | None = None) -> float:
    w = _w(weight, len(y))
    p = np.clip(prob.ravel(), _EPS, 1 - _EPS)
    return float(-np.sum(w * (y * np.log(p) + (1 - y) * np.log1p(-p))) / np.sum(w))


def error(y: np.ndarray, prob: np.ndarray, weight: np.ndarray | None = None) -> float:
    w = _w(weight, len(y))
    return float(np.sum(w * ((prob.ravel() > 0.5) != (y > 0.5))) / np.sum(w))


def auc(y: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None) -> float:
    """Area under the ROC curve, with ties counted as half (the Mann-Whitney statistic)."""
    w = _w(weight, len(y))
    s = score.ravel()
    order = np.argsort(s, kind="mergesort")
    s, yy, ww = s[order], y[order], w[order]
    pos = ww * (yy > 0.5)
    neg = ww * (yy <= 0.5)
    tot_pos, tot_neg = pos.sum(), neg.sum()
    if tot_pos == 0 or tot_neg == 0:
        return float("nan")
    # group ties
    boundaries = np.flatnonzero(np.diff(s)) + 1
    starts = np.concatenate(([0], boundaries))
    gpos = np.add.reduceat(pos, starts)
    gneg = np.add.reduceat(neg, starts)
    neg_below = np.cumsum(gneg) - gneg
    return float(np.sum(gpos * (neg_below + 0.5 * gneg)) / (tot_pos * tot_neg))


def multi_logloss(y: np.ndarray, prob: np.ndarray, weight: np.ndarray | None = None) -> float:
    w = _w(weight, len(y))
    p = np.clip(prob[np.arange(len(y)), y.astype(np.int64)], _EPS, 1.0)
    return float(-np.sum(w * np.log(p)) / np.sum(w))


def multi_error(y: np.ndarray, prob: np.ndarray, weight: np.ndarray | None = None) -> float:
    w = _w(weight, len(y))
    return float(np.sum(w * (np.argmax(prob, axis=1) != y.astype(np.int64))) / np.sum(w))


Metric = Callable[[np.ndarray, np.ndarray, "np.ndarray | None"], float]

_METRICS: dict[str, Metric] = {
    "rmse": rmse,
    "l2_root": rmse,
    "mae": mae,
    "l1": mae,
    "logloss": logloss,
    "binary_logloss": logloss,
    "auc": auc,
    "error": error,
    "binary_error": error,
    "multi_logloss": multi_logloss,
    "mlogloss": multi_logloss,
    "multi_error": multi_error,
}
_CANONICAL = {"l2_root": "rmse", "l1": "mae", "binary_logloss": "logloss",
              "binary_error": "error", "mlogloss": "multi_logloss"}
_FOR = {
    "rmse": {"regression"},
    "mae": {"regression"},
    "logloss": {"binary"},
    "auc": {"binary"},
    "error": {"binary"},
    "multi_logloss": {"multiclass"},
    "multi_error": {"multiclass"},
}
HIGHER_IS_BETTER = {"auc"}


def default_metric(objective: str) -> str:
    return {"regression": "rmse", "binary": "logloss", "multiclass": "multi_logloss"}[objective]


def get_metric(name: str, objective: str) -> tuple[str, Metric]:
    """The canonical name and function of a metric, checked against the objective."""
    if name not in _METRICS:
        raise ParameterError(f"unknown metric {name!r}; known: {', '.join(sorted(_FOR))}")
    canon = _CANONICAL.get(name, name)
    if objective not in _FOR[canon]:
        raise ParameterError(f"metric {name!r} does not apply to the {objective!r} objective")
    return canon, _METRICS[name]

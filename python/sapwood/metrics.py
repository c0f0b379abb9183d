"""Evaluation metrics, each with sample weights.

Public, scikit-learn-style functions ``f(y_true, y_pred, sample_weight=None)``: roc_auc, pr_auc
(average precision), log_loss (binary or multiclass probabilities), brier, accuracy, precision,
recall, f1 (binary at a threshold), f1_macro, f1_micro, rmse, mae, huber, pinball (quantile
loss), r2, mape, and for counts and
amounts (predictions > 0) poisson_deviance, poisson_nloglik, gamma_deviance, tweedie_nloglik.
ROC AUC and average precision are computed in the C++ core in O(n log n).

Ranking (query groups: ``group=`` sizes or ``qid=`` per-row ids): ndcg (``k``: NDCG@k) and
map_at_k (MAP@k), the mean over queries weighted by each query's mean row weight, and
query_ndcg / query_map_at_k per query (C++, parallel over queries). Survival: cindex, Harrell's
concordance index of right-censored data (labels: survival time, negative = censored; scores:
risk, e.g. a cox model's hazard ratio), in O(n log n). train() evaluates them as ``ndcg``,
``ndcg@k``, ``map@k`` and ``cindex``.

The short names train() evaluates (rmse, mae, huber, pinball, logloss, auc, error, multi_logloss, multi_error,
poisson_deviance, poisson_nloglik, gamma_deviance, tweedie_nloglik), get_metric,
default_metric and HIGHER_IS_BETTER stay as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from . import objectives as _objectives
from .errors import DataError, ParameterError

__all__ = ["rmse", "mae", "logloss", "auc", "error", "multi_logloss", "multi_error", "get_metric",
           "HIGHER_IS_BETTER", "default_metric",
           "roc_auc", "pr_auc", "log_loss", "multiclass_log_loss", "brier", "accuracy",
           "precision", "recall", "f1", "f1_macro", "f1_micro", "r2", "mape", "METRICS",
           "poisson_deviance", "poisson_nloglik", "gamma_deviance", "tweedie_nloglik", "huber",
           "pinball", "pinball_per_level", "interval_coverage", "ndcg", "map_at_k", "query_ndcg",
           "query_map_at_k", "cindex",
           "needs_groups"]

_EPS = 1e-15
ArrayLike = npt.ArrayLike


def _vec(v: ArrayLike, what: str, n: int | None = None) -> np.ndarray:
    a = np.asarray(v, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise DataError(f"{what} must be 1-D, got shape {a.shape}")
    if n is not None and a.shape[0] != n:
        raise DataError(f"{what} has {a.shape[0]} rows, expected {n}")
    return a


def _w(weight: ArrayLike | None, n: int) -> np.ndarray:
    if weight is None:
        return np.ones(n)
    w = _vec(weight, "sample_weight", n)
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if bad.size:
        raise DataError(f"sample_weight must be finite and >= 0; row {bad[0]} has {w[bad[0]]}")
    return w


def _wmean(values: np.ndarray, w: np.ndarray) -> float:
    total = float(np.sum(w))
    if total <= 0:
        raise DataError("the sample weights sum to zero")
    return float(np.sum(w * values) / total)


def rmse(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Root mean squared error."""
    yy = _vec(y, "y_true")
    p = _vec(pred, "y_pred", yy.shape[0])
    return float(np.sqrt(_wmean((yy - p) ** 2, _w(weight, yy.shape[0]))))


def mae(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Mean absolute error."""
    yy = _vec(y, "y_true")
    p = _vec(pred, "y_pred", yy.shape[0])
    return _wmean(np.abs(yy - p), _w(weight, yy.shape[0]))


def huber(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None,
          delta: float = 1.0) -> float:
    """Mean Huber loss: d^2 / 2 where |d| <= delta, delta (|d| - delta / 2) beyond (d = y - p;
    LightGBM's "huber" metric)."""
    if not 0 < float(delta) < float("inf"):
        raise ParameterError(f"huber delta must be > 0 and finite, got {delta!r}")
    yy = _vec(y, "y_true")
    d = np.abs(yy - _vec(pred, "y_pred", yy.shape[0]))
    loss = np.where(d <= delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    return _wmean(loss, _w(weight, yy.shape[0]))


def pinball(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None,
            alpha: float | Sequence[float] = 0.5) -> float:
    """Mean pinball (quantile) loss at level alpha: alpha (y - p) where y >= p, (1 - alpha)
    (p - y) below (as sklearn's mean_pinball_loss; alpha = 0.5 is half the mean absolute
    error). A list of K levels (a multi-quantile model) takes pred of shape (n, K), column k
    at level k, and gives the mean of the K losses (:func:`pinball_per_level` gives each)."""
    if isinstance(alpha, (Sequence, np.ndarray)):
        return float(np.mean(pinball_per_level(y, pred, weight, alpha)))
    a = float(alpha)
    if not 0 < a < 1:
        raise ParameterError(f"pinball alpha must be in (0, 1), got {alpha!r}")
    yy = _vec(y, "y_true")
    d = yy - _vec(pred, "y_pred", yy.shape[0])
    loss = np.where(d >= 0, a * d, (a - 1.0) * d)
    return _wmean(loss, _w(weight, yy.shape[0]))


def pinball_per_level(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None,
                      alpha: Sequence[float]) -> list[float]:
    """The mean pinball loss of each column k of pred (n, K) at level alpha[k]."""
    levels = [float(a) for a in alpha]
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == 1 and len(levels) == 1:
        p = p.reshape(-1, 1)
    if p.ndim != 2 or p.shape[1] != len(levels):
        raise DataError(f"y_pred must have shape (n, {len(levels)}) (one column per quantile "
                        f"level), got {p.shape}")
    return [pinball(y, p[:, k], weight, a) for k, a in enumerate(levels)]


def interval_coverage(y: ArrayLike, lower: ArrayLike, upper: ArrayLike,
                      weight: ArrayLike | None = None) -> float:
    """The (weighted) share of labels inside [lower, upper]: a prediction interval's coverage
    (the outer levels of a multi-quantile model, 0.05 and 0.95, should cover about 0.90)."""
    yy = _vec(y, "y_true")
    lo, hi = _vec(lower, "lower", yy.shape[0]), _vec(upper, "upper", yy.shape[0])
    return _wmean(((yy >= lo) & (yy <= hi)).astype(np.float64), _w(weight, yy.shape[0]))


def r2(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Coefficient of determination (1 - weighted SSE / weighted total sum of squares)."""
    yy = _vec(y, "y_true")
    p = _vec(pred, "y_pred", yy.shape[0])
    w = _w(weight, yy.shape[0])
    mean = _wmean(yy, w)
    sse = float(np.sum(w * (yy - p) ** 2))
    sst = float(np.sum(w * (yy - mean) ** 2))
    if sst == 0:
        return 1.0 if sse == 0 else 0.0
    return 1.0 - sse / sst


def mape(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Mean absolute percentage error, as a fraction (|y - p| / max(|y|, machine epsilon))."""
    yy = _vec(y, "y_true")
    p = _vec(pred, "y_pred", yy.shape[0])
    denom = np.maximum(np.abs(yy), np.finfo(np.float64).eps)
    return _wmean(np.abs(yy - p) / denom, _w(weight, yy.shape[0]))


def _log_link(y: ArrayLike, pred: ArrayLike, what: str, *,
              label_positive: bool) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of a log-link loss: labels >= 0 (> 0 when label_positive),
    predictions >= 0 (a prediction that underflowed to 0 counts as the smallest double)."""
    yy = _vec(y, "y_true")
    p = _vec(pred, "y_pred", yy.shape[0])
    bad = np.flatnonzero(~(yy > 0) if label_positive else ~(yy >= 0))
    if bad.size:
        raise DataError(f"{what} needs labels {'> 0' if label_positive else '>= 0'}; row "
                        f"{bad[0]} has {yy[bad[0]]}")
    bad = np.flatnonzero(~(p >= 0))
    if bad.size:
        raise DataError(f"{what} needs predictions > 0; row {bad[0]} has {p[bad[0]]}")
    return yy, np.maximum(p, np.finfo(np.float64).tiny)


def poisson_deviance(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Mean Poisson deviance, 2 (y log(y / p) - y + p) (as sklearn's mean_poisson_deviance)."""
    yy, p = _log_link(y, pred, "poisson_deviance", label_positive=False)
    ylogy = np.where(yy > 0, yy * np.log(np.where(yy > 0, yy, 1.0) / p), 0.0)
    return _wmean(2.0 * (ylogy - yy + p), _w(weight, yy.shape[0]))


def poisson_nloglik(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Mean Poisson negative log-likelihood without the log(y!) term, p - y log(p) (LightGBM's
    "poisson" metric)."""
    yy, p = _log_link(y, pred, "poisson_nloglik", label_positive=False)
    return _wmean(p - yy * np.log(p), _w(weight, yy.shape[0]))


def gamma_deviance(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Mean gamma deviance, 2 (log(p / y) + y / p - 1) (as sklearn's mean_gamma_deviance)."""
    yy, p = _log_link(y, pred, "gamma_deviance", label_positive=True)
    return _wmean(2.0 * (np.log(p / yy) + yy / p - 1.0), _w(weight, yy.shape[0]))


def tweedie_nloglik(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None,
                    power: float = 1.5) -> float:
    """Mean Tweedie negative log-likelihood at variance power ``power`` in (1, 2), up to terms
    of y alone: -y p^(1-power) / (1-power) + p^(2-power) / (2-power) (LightGBM's "tweedie")."""
    if not 1.0 < float(power) < 2.0:
        raise ParameterError(f"tweedie power must be in (1, 2), got {power!r}")
    yy, p = _log_link(y, pred, "tweedie_nloglik", label_positive=False)
    a, b = 1.0 - power, 2.0 - power
    lp = np.log(p)
    return _wmean(-yy * np.exp(a * lp) / a + np.exp(b * lp) / b, _w(weight, yy.shape[0]))


def _ranking(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None) -> tuple[float, float]:
    from . import _core

    s = np.ascontiguousarray(_vec(score, "y_score"))
    yy = np.ascontiguousarray(_vec(y, "y_true", s.shape[0]))
    w = None if weight is None else np.ascontiguousarray(_w(weight, s.shape[0]))
    roc, ap = _core.ranking_metrics(yy, s, w)
    return float(roc), float(ap)


def roc_auc(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Area under the ROC curve (ties count one half); NaN when a class is absent.

    Labels > 0.5 are positives. Computed in C++ in O(n log n).
    """
    return _ranking(y, score, weight)[0]


def pr_auc(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Area under the precision-recall curve as average precision (step-wise, no
    interpolation: sum over thresholds of recall gained times precision)."""
    return _ranking(y, score, weight)[1]


auc = roc_auc


def _query_inputs(y: ArrayLike, score: ArrayLike, group: ArrayLike | None,
                  qid: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from ._groups import query_bounds

    s = np.ascontiguousarray(_vec(score, "y_score"))
    yy = np.ascontiguousarray(_vec(y, "y_true", s.shape[0]))
    bounds = query_bounds(group, qid, s.shape[0])
    if bounds is None:
        raise DataError("ranking metrics need the query groups: group= (sizes) or qid= "
                        "(one query id per row)")
    return yy, s, bounds


def _k(k: int | None) -> int:
    if k is None:
        return 0
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer or None (every position), got {k!r}")
    return int(k)


def _gains(label_gain: ArrayLike | None) -> list[float]:
    if label_gain is None:
        return [2.0 ** i - 1.0 for i in range(32)]
    g = np.asarray(label_gain, dtype=np.float64).reshape(-1)
    if g.size == 0 or not np.all(np.isfinite(g) & (g >= 0)):
        raise ParameterError("label_gain must be a non-empty list of finite gains >= 0")
    return [float(v) for v in g]


def query_ndcg(y: ArrayLike, score: ArrayLike, *, group: ArrayLike | None = None,
               qid: ArrayLike | None = None, k: int | None = None,
               label_gain: ArrayLike | None = None, n_jobs: int = 1) -> np.ndarray:
    """NDCG@k of each query (k None: every position). Gains ``label_gain[label]`` (default
    2^label - 1, labels integers in [0, 32)), discount 1 / log2(rank + 2); documents with tied
    scores share their ranks' discounts (as scikit-learn's ndcg_score), so the value does not
    depend on row order; a query whose labels are all 0 scores 1 (as LightGBM and XGBoost)."""
    from . import _core

    yy, s, bounds = _query_inputs(y, score, group, qid)
    out: np.ndarray = _core.query_metric("ndcg", yy, s, bounds, _k(k), _gains(label_gain), n_jobs)
    return out


def query_map_at_k(y: ArrayLike, score: ArrayLike, *, group: ArrayLike | None = None,
                   qid: ArrayLike | None = None, k: int | None = None,
                   n_jobs: int = 1) -> np.ndarray:
    """Average precision at k of each query (LightGBM's map@k): relevant = label > 0; the sum
    of the precision at each relevant document's rank within the first k, divided by
    min(k, relevant documents); 1 for a query without relevant documents. Tied scores rank
    the relevant documents last."""
    from . import _core

    yy, s, bounds = _query_inputs(y, score, group, qid)
    out: np.ndarray = _core.query_metric("map", yy, s, bounds, _k(k), [], n_jobs)
    return out


def _query_mean(values: np.ndarray, y: ArrayLike, weight: ArrayLike | None,
                group: ArrayLike | None, qid: ArrayLike | None) -> float:
    """Mean over queries, each weighted by the mean of its rows' weights."""
    if weight is None:
        return float(values.mean())
    from ._groups import query_bounds

    yy = _vec(y, "y_true")
    w = _w(weight, yy.shape[0])
    bounds = query_bounds(group, qid, yy.shape[0])
    assert bounds is not None
    qw = np.add.reduceat(w, bounds[:-1]) / np.diff(bounds)
    return _wmean(values, qw)


def ndcg(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None, *,
         group: ArrayLike | None = None, qid: ArrayLike | None = None, k: int | None = None,
         label_gain: ArrayLike | None = None, n_jobs: int = 1) -> float:
    """Mean NDCG@k over queries (see :func:`query_ndcg`); with sample weights each query
    weighs the mean of its rows' weights."""
    per = query_ndcg(y, score, group=group, qid=qid, k=k, label_gain=label_gain, n_jobs=n_jobs)
    return _query_mean(per, y, weight, group, qid)


def map_at_k(y: ArrayLike, score: ArrayLike, weight: ArrayLike | None = None, *,
             group: ArrayLike | None = None, qid: ArrayLike | None = None,
             k: int | None = None, n_jobs: int = 1) -> float:
    """Mean average precision at k over queries (see :func:`query_map_at_k`)."""
    per = query_map_at_k(y, score, group=group, qid=qid, k=k, n_jobs=n_jobs)
    return _query_mean(per, y, weight, group, qid)


def cindex(y: ArrayLike, risk: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Harrell's concordance index of right-censored survival data, in O(n log n).

    y: the survival time, negative for a censored row (XGBoost's survival:cox labels); risk:
    higher means an earlier event (a cox model's hazard ratio or raw margin). Pairs (i, j)
    with i an event and j known to outlive it (a later time, or censored at the same time) are
    comparable; concordant when risk_i > risk_j, one half when tied; pairs weigh w_i * w_j.
    NaN when no pair is comparable."""
    from . import _core

    r = np.ascontiguousarray(_vec(risk, "risk"))
    yy = np.ascontiguousarray(_vec(y, "y_true", r.shape[0]))
    w = None if weight is None else np.ascontiguousarray(_w(weight, r.shape[0]))
    return float(_core.concordance_index(yy, r, w))


def logloss(y: ArrayLike, prob: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Binary log loss of the positive-class probability (clipped to [1e-15, 1 - 1e-15])."""
    yy = _vec(y, "y_true")
    p = np.clip(_vec(prob, "y_prob", yy.shape[0]), _EPS, 1 - _EPS)
    return _wmean(-(yy * np.log(p) + (1 - yy) * np.log1p(-p)), _w(weight, yy.shape[0]))


def error(y: ArrayLike, prob: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Binary error rate at threshold 0.5."""
    yy = _vec(y, "y_true")
    p = _vec(prob, "y_prob", yy.shape[0])
    return _wmean(((p > 0.5) != (yy > 0.5)).astype(np.float64), _w(weight, yy.shape[0]))


def _classes(y: ArrayLike, prob: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    yy = _vec(y, "y_true")
    p = np.asarray(prob, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] != yy.shape[0]:
        raise DataError(f"class probabilities must be (n_rows, n_classes) = ({yy.shape[0]}, k), "
                        f"got shape {p.shape}")
    k = p.shape[1]
    bad = np.flatnonzero((yy < 0) | (yy >= k) | (yy != np.floor(yy)))
    if bad.size:
        raise DataError(f"labels must be class indices in [0, {k}); row {bad[0]} has {yy[bad[0]]}")
    return yy.astype(np.int64), p


def multi_logloss(y: ArrayLike, prob: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Multiclass log loss: labels are class indices, prob is (n_rows, n_classes)."""
    yi, p = _classes(y, prob)
    pt = np.clip(p[np.arange(yi.shape[0]), yi], _EPS, 1.0)
    return _wmean(-np.log(pt), _w(weight, yi.shape[0]))


multiclass_log_loss = multi_logloss


def multi_error(y: ArrayLike, prob: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Multiclass error rate of the arg-max class."""
    yi, p = _classes(y, prob)
    return _wmean((np.argmax(p, axis=1) != yi).astype(np.float64), _w(weight, yi.shape[0]))


def log_loss(y: ArrayLike, prob: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Log loss: binary (1-D positive-class probabilities) or multiclass ((n, k) probabilities
    with class-index labels)."""
    if np.ndim(prob) == 2 and np.shape(prob)[1] > 1:
        return multi_logloss(y, prob, weight)
    return logloss(y, prob, weight)


def brier(y: ArrayLike, prob: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Brier score: mean squared difference of the positive-class probability and the label."""
    yy = _vec(y, "y_true")
    p = _vec(prob, "y_prob", yy.shape[0])
    return _wmean((p - (yy > 0.5)) ** 2, _w(weight, yy.shape[0]))


def _labels(y: ArrayLike, pred: ArrayLike, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """True and predicted labels: (n, k) probabilities -> arg-max; 1-D scores -> > threshold."""
    p = np.asarray(pred, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] > 1:
        yi, pp = _classes(y, p)
        return yi, np.argmax(pp, axis=1)
    yy = _vec(y, "y_true")
    pv = _vec(p, "y_pred", yy.shape[0])
    return (yy > 0.5).astype(np.int64), (pv > threshold).astype(np.int64)


def accuracy(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None,
             threshold: float = 0.5) -> float:
    """Share of rows classified right: 1-D scores at ``threshold`` or (n, k) probabilities."""
    yt, yp = _labels(y, pred, threshold)
    return _wmean((yt == yp).astype(np.float64), _w(weight, yt.shape[0]))


def _binary_counts(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None,
                   threshold: float) -> tuple[float, float, float]:
    yy = _vec(y, "y_true")
    p = _vec(pred, "y_pred", yy.shape[0])
    w = _w(weight, yy.shape[0])
    t, q = yy > 0.5, p > threshold
    return float(np.sum(w[t & q])), float(np.sum(w[~t & q])), float(np.sum(w[t & ~q]))


def precision(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None,
              threshold: float = 0.5) -> float:
    """Binary precision of ``pred > threshold`` (0 when nothing is predicted positive)."""
    tp, fp, _ = _binary_counts(y, pred, weight, threshold)
    return tp / (tp + fp) if tp + fp > 0 else 0.0


def recall(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None,
           threshold: float = 0.5) -> float:
    """Binary recall of ``pred > threshold`` (0 when there are no positives)."""
    tp, _, fn = _binary_counts(y, pred, weight, threshold)
    return tp / (tp + fn) if tp + fn > 0 else 0.0


def f1(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None,
       threshold: float = 0.5) -> float:
    """Binary F1 of ``pred > threshold``."""
    tp, fp, fn = _binary_counts(y, pred, weight, threshold)
    return 2 * tp / (2 * tp + fp + fn) if tp > 0 else 0.0


def _class_counts(y: ArrayLike, pred: ArrayLike,
                  weight: ArrayLike | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    p = np.asarray(pred)
    if p.ndim == 2 and p.shape[1] > 1:
        yt, yp = _labels(y, p, 0.5)
    else:  # predicted class labels
        yt = _vec(y, "y_true").astype(np.int64)
        yp = _vec(p, "y_pred", yt.shape[0]).astype(np.int64)
    w = _w(weight, yt.shape[0])
    classes = np.union1d(yt, yp)
    ti = np.searchsorted(classes, yt)
    pi = np.searchsorted(classes, yp)
    k = classes.shape[0]
    tp = np.bincount(ti[ti == pi], weights=w[ti == pi], minlength=k)
    pred_tot = np.bincount(pi, weights=w, minlength=k)
    true_tot = np.bincount(ti, weights=w, minlength=k)
    return tp, pred_tot - tp, true_tot - tp


def f1_macro(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """Unweighted mean over classes of per-class F1 (pred: class labels or (n, k) probabilities);
    classes present in neither truth nor prediction are not counted."""
    tp, fp, fn = _class_counts(y, pred, weight)
    denom = 2 * tp + fp + fn
    per = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(per.mean()) if per.size else 0.0


def f1_micro(y: ArrayLike, pred: ArrayLike, weight: ArrayLike | None = None) -> float:
    """F1 of the pooled counts over classes (equals accuracy for single-label problems)."""
    tp, fp, fn = _class_counts(y, pred, weight)
    denom = 2 * tp.sum() + fp.sum() + fn.sum()
    return float(2 * tp.sum() / denom) if denom > 0 else 0.0


Metric = Callable[..., float]

# Every public metric by name (used by the validation criteria): (function, higher is better,
# what it reads: "score" = ranking score, "prob" = probability, "value" = regression value).
METRICS: dict[str, tuple[Metric, bool, str]] = {
    "auc": (roc_auc, True, "score"),
    "roc_auc": (roc_auc, True, "score"),
    "pr_auc": (pr_auc, True, "score"),
    "average_precision": (pr_auc, True, "score"),
    "log_loss": (log_loss, False, "prob"),
    "logloss": (log_loss, False, "prob"),
    "brier": (brier, False, "prob"),
    "accuracy": (accuracy, True, "prob"),
    "error": (error, False, "prob"),
    "precision": (precision, True, "prob"),
    "recall": (recall, True, "prob"),
    "f1": (f1, True, "prob"),
    "f1_macro": (f1_macro, True, "prob"),
    "f1_micro": (f1_micro, True, "prob"),
    "multi_logloss": (multi_logloss, False, "prob"),
    "multi_error": (multi_error, False, "prob"),
    "rmse": (rmse, False, "value"),
    "mae": (mae, False, "value"),
    "huber": (huber, False, "value"),
    "pinball": (pinball, False, "value"),
    "r2": (r2, True, "value"),
    "mape": (mape, False, "value"),
    "poisson_deviance": (poisson_deviance, False, "value"),
    "poisson_nloglik": (poisson_nloglik, False, "value"),
    "gamma_deviance": (gamma_deviance, False, "value"),
    "tweedie_nloglik": (tweedie_nloglik, False, "value"),
    "cindex": (cindex, True, "score"),
    "concordance": (cindex, True, "score"),
}

_METRICS: dict[str, Metric] = {
    "rmse": rmse,
    "l2_root": rmse,
    "mae": mae,
    "l1": mae,
    "huber": huber,
    "pinball": pinball,
    "quantile": pinball,
    "logloss": logloss,
    "binary_logloss": logloss,
    "auc": auc,
    "error": error,
    "binary_error": error,
    "multi_logloss": multi_logloss,
    "mlogloss": multi_logloss,
    "multi_error": multi_error,
    "poisson_deviance": poisson_deviance,
    "poisson_nloglik": poisson_nloglik,
    "poisson": poisson_nloglik,
    "poisson-nloglik": poisson_nloglik,
    "gamma_deviance": gamma_deviance,
    "gamma-deviance": gamma_deviance,
    "tweedie_nloglik": tweedie_nloglik,
    "tweedie": tweedie_nloglik,
    "ndcg": ndcg,
    "map": map_at_k,
    "cindex": cindex,
    "concordance": cindex,
    "c_index": cindex,
}
_CANONICAL = {"l2_root": "rmse", "l1": "mae", "quantile": "pinball", "binary_logloss": "logloss",
              "binary_error": "error", "mlogloss": "multi_logloss", "poisson": "poisson_nloglik",
              "poisson-nloglik": "poisson_nloglik", "gamma-deviance": "gamma_deviance",
              "tweedie": "tweedie_nloglik", "concordance": "cindex", "c_index": "cindex"}
# objectives whose value is exp(raw margin), from the registry
LOG_LINK = {o.name for o in _objectives.REGISTRY if o.link == "exp"}
_BY_LINK = {link: {o.name for o in _objectives.REGISTRY if o.link == link}
            for link in ("identity", "sigmoid", "softmax", "exp")}
# which objectives each metric applies to: by link, except the loss-specific deviances
_FOR = {
    "rmse": _BY_LINK["identity"] | LOG_LINK,
    "mae": _BY_LINK["identity"] | LOG_LINK,
    "huber": _BY_LINK["identity"],
    "pinball": _BY_LINK["identity"],
    "poisson_deviance": {"poisson", "tweedie"},
    "poisson_nloglik": {"poisson", "tweedie"},
    "gamma_deviance": {"gamma"},
    "tweedie_nloglik": {"tweedie"},
    "logloss": _BY_LINK["sigmoid"],
    "auc": _BY_LINK["sigmoid"],
    "error": _BY_LINK["sigmoid"],
    "multi_logloss": _BY_LINK["softmax"],
    "multi_error": _BY_LINK["softmax"],
    # query metrics: any one-output objective's scores order a query (cox's too, but its
    # labels are times)
    "ndcg": {o.name for o in _objectives.REGISTRY if not o.multi_output and o.name != "cox"},
    "map": {o.name for o in _objectives.REGISTRY if not o.multi_output and o.name != "cox"},
    "cindex": {"cox"},
}
# metrics evaluated per query: train() hands them the data's query groups
_QUERY_METRICS = ("ndcg", "map")


class _NameSet(frozenset[str]):
    """Metric names; ``ndcg@10`` belongs where ``ndcg`` does."""

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and "@" in name:
            name = name.split("@", 1)[0]
        return super().__contains__(name)


HIGHER_IS_BETTER: frozenset[str] = _NameSet(
    {name for name, (_, hib, _) in METRICS.items() if hib} | {"ndcg", "map", "cindex"})


def needs_groups(name: str) -> bool:
    """Whether the metric (a canonical name from get_metric) is computed per query."""
    return name.split("@", 1)[0] in _QUERY_METRICS


def _at_k(name: str) -> tuple[str, int | None]:
    """'ndcg@10' -> ('ndcg', 10); 'ndcg' -> ('ndcg', None)."""
    if "@" not in name:
        return name, None
    base, _, k = name.partition("@")
    if base not in _QUERY_METRICS or not k.isdigit() or int(k) < 1:
        raise ParameterError(f"unknown metric {name!r}; a cut-off applies to ndcg and map "
                             "(e.g. 'ndcg@10', 'map@5')")
    return base, int(k)


def default_metric(objective: str) -> str:
    """The metric ``train`` evaluates for an objective when none is given (the registry's)."""
    return _objectives.get(objective).default_metric


def get_metric(name: str, objective: str) -> tuple[str, Metric]:
    """The canonical name and function of a metric, checked against the objective."""
    base, k = _at_k(name)
    if base not in _METRICS:
        raise ParameterError(f"unknown metric {name!r}; known: {', '.join(sorted(_FOR))}")
    canon = _CANONICAL.get(base, base)
    if objective not in _FOR[canon]:
        raise ParameterError(f"metric {name!r} does not apply to the {objective!r} objective")
    if k is not None:
        import functools

        return f"{canon}@{k}", functools.partial(_METRICS[base], k=k)
    return canon, _METRICS[base]

"""Drift statistics computed from profiles (bin counts), with their references documented.

Numeric columns (reference and current counted over the same fine bins):

- ``psi``: population stability index over the reference deciles: the fine bins are grouped
  at the first bin end where the reference cumulative share reaches 10%, 20%, ... 90%
  (groups are exact unions of fine bins, so it equals a PSI computed on the raw values with
  cut points :func:`decile_cuts` and the float32 rule ``v <= cut``). Shares are floored at
  ``EPS`` = 1e-4 before the logarithm. Against cuts at the exact raw-data deciles the
  difference is the binning error: each cut moves by at most one fine bin (~1/1000 of the
  mass).
- ``wasserstein``: the 1-Wasserstein distance between the two binned distributions, each
  taken as uniform within a bin (bounds clipped to the joint range). Its difference from the
  distance between the raw samples is at most :func:`wasserstein_error_bound`
  = sum over bins of width * (p_ref + p_cur). Within the reference range the fine bins keep it
  near 1%; current values beyond the reference range are spread uniformly up to the current
  min / max, so a heavy tail outside the range can make it larger (that batch is then flagged
  by ``out_of_range_share`` anyway).
- ``ks``: the two-sample Kolmogorov-Smirnov statistic evaluated at every bin end (exactly the
  raw-data statistic whenever the fine bins separate the distinct values, e.g. for discrete
  data; otherwise within one bin's mass of it) and its asymptotic p-value
  ``kolmogorov_sf(sqrt(n*m/(n+m)) * D)`` (scipy.stats.kstwobign.sf).

Categorical columns: ``psi`` and the Jensen-Shannon distance (natural log, as
scipy.spatial.distance.jensenshannon) over the reference categories plus one "unseen" bucket.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .profile import CategoricalColumnProfile, NumericColumnProfile

__all__ = [
    "EPS",
    "psi",
    "decile_groups",
    "decile_cuts",
    "wasserstein_binned",
    "numeric_drift",
    "NumericDrift",
    "numeric_drift_many",
    "wasserstein_error_bound",
    "ks_binned",
    "kolmogorov_sf",
    "ks_pvalue",
    "jensen_shannon",
    "categorical_vectors",
]

EPS = 1e-4


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = EPS) -> float:
    """sum((q - p) * ln(q / p)) over shares floored at eps; nan when either side is empty."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    nr, nc = r.sum(), c.sum()
    if nr <= 0 or nc <= 0:
        return math.nan
    p = np.maximum(r / nr, eps)
    q = np.maximum(c / nc, eps)
    return float(np.sum((q - p) * np.log(q / p)))


def decile_groups(ref_counts: np.ndarray, n_groups: int = 10) -> np.ndarray:
    """Index of the last fine bin of each group (increasing, the last is the last bin)."""
    counts = np.asarray(ref_counts, dtype=np.int64)
    k = counts.size
    cum = np.cumsum(counts)
    total = int(cum[-1]) if k else 0
    if total <= 0:
        return np.asarray([k - 1], dtype=np.int64)
    # first bin where the cumulative count reaches g/n of the total (exact integers)
    js = np.searchsorted(cum * n_groups, np.arange(1, n_groups, dtype=np.int64) * total,
                         side="left")
    js = js[js < k - 1]
    if js.size > 1:
        js = js[np.concatenate(([True], js[1:] != js[:-1]))]  # sorted: drop repeats
    return np.append(js, k - 1).astype(np.int64)


def decile_cuts(edges: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The cut values of the groups: value v is in group g when cut[g-1] < float32(v) <= cut[g]."""
    cuts: np.ndarray = np.asarray(edges, dtype=np.float32)[ends[:-1]]
    return cuts


def grouped(counts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    cum = np.cumsum(np.asarray(counts, dtype=np.int64))
    g = cum[ends]
    out: np.ndarray = np.diff(np.concatenate([[0], g]))
    return out


def _bounds(ref: NumericColumnProfile, cur: NumericColumnProfile) -> tuple[np.ndarray, np.ndarray]:
    mins = [v for v in (ref.min, cur.min) if not math.isnan(v)]
    maxs = [v for v in (ref.max, cur.max) if not math.isnan(v)]
    lo_all, hi_all = min(mins), max(maxs)
    e = ref.edges.astype(np.float64)
    lo = np.clip(np.concatenate([[lo_all], e]), lo_all, hi_all)
    hi = np.clip(np.concatenate([e, [hi_all]]), lo_all, hi_all)
    return lo, hi


def _shares(ref: NumericColumnProfile, cur: NumericColumnProfile) -> tuple[np.ndarray, np.ndarray]:
    p = ref.counts / max(ref.finite_count, 1)
    q = cur.counts / max(cur.finite_count, 1)
    return p, q


def wasserstein_binned(ref: NumericColumnProfile, cur: NumericColumnProfile) -> float:
    """W1 between the binned distributions (uniform within each bin); nan if a side is empty."""
    if ref.finite_count == 0 or cur.finite_count == 0:
        return math.nan
    lo, hi = _bounds(ref, cur)
    w = np.maximum(hi - lo, 0.0)
    p, q = _shares(ref, cur)
    d1 = np.cumsum(p - q)
    d0 = d1 - (p - q)
    same = d0 * d1 >= 0
    denom = np.where(same, 1.0, np.abs(d1 - d0))
    area = np.where(same, 0.5 * (np.abs(d0) + np.abs(d1)), 0.5 * (d0 * d0 + d1 * d1) / denom)
    return float(np.sum(area * w))


def _grouped_psi(cum_ref: list[int], cum_cur: list[int], n_ref: int, n_cur: int) -> float:
    """PSI over <= 10 groups given each side's cumulative count at every group end: plain
    floats (a few groups; numpy calls would cost more than the arithmetic)."""
    psi_v = 0.0
    prev_r = prev_c = 0
    for a, b in zip(cum_ref, cum_cur, strict=True):
        pg = max((a - prev_r) / n_ref, EPS)
        qg = max((b - prev_c) / n_cur, EPS)
        psi_v += (qg - pg) * math.log(qg / pg)
        prev_r, prev_c = a, b
    return psi_v


def numeric_drift(ref: NumericColumnProfile, cur: NumericColumnProfile,
                  ends: np.ndarray) -> tuple[float, float, float]:
    """(psi over the groups ``ends``, wasserstein_binned, ks_binned) in one go: the same
    formulas as :func:`psi`, :func:`wasserstein_binned` and :func:`ks_binned` with the shares
    and cumulative sums shared (the per-batch path of ``compare``: few numpy calls)."""
    rc, cc = ref.counts, cur.counts
    nr, nc = ref.finite_count, cur.finite_count
    if nr == 0 or nc == 0:
        return math.nan, math.nan, math.nan
    psi_v = _grouped_psi(np.cumsum(rc)[ends].tolist(), np.cumsum(cc)[ends].tolist(), nr, nc)
    p = rc / nr
    pq = p - cc / nc
    d1 = np.cumsum(pq)
    ks = float(np.max(np.abs(d1)))
    lo_all = min(ref.min, cur.min)
    hi_all = max(ref.max, cur.max)
    ext = np.empty(rc.size + 1)
    ext[0] = lo_all
    ext[1:-1] = ref.edges
    ext[-1] = hi_all
    np.clip(ext, lo_all, hi_all, out=ext)
    w = ext[1:] - ext[:-1]
    d0 = d1 - pq
    # |D| integrated over a bin where D moves linearly from d0 to d1: (|d0| + |d1|) / 2 when
    # they share a sign, else (d0^2 + d1^2) / (2 (|d0| + |d1|)) = that less |d0 d1| / (|d0|+|d1|)
    a0, a1 = np.abs(d0), np.abs(d1)
    s = a0 + a1
    cross = np.maximum(-(d0 * d1), 0.0)
    area = 0.5 * s - cross / np.where(s > 0, s, 1.0)
    return psi_v, float(np.dot(area, w)), ks


class NumericDrift(NamedTuple):
    """One column pair's drift figures, as ``numeric_drift_many`` gives them."""

    edges_equal: bool  # the current profile was built on the reference's edges
    ends: np.ndarray  # decile_groups(ref.counts)
    psi: float
    wasserstein_raw: float
    ks: float
    out_of_range_share: float  # current values in bins outside the reference's non-empty ones


def numeric_drift_many(pairs: list[tuple[NumericColumnProfile, NumericColumnProfile]]
                       ) -> list[NumericDrift]:
    """:func:`decile_groups`, :func:`numeric_drift` and the out-of-range share for many
    (reference, current) column pairs, with the columns of one bin count stacked into 2-D
    arrays: a compare of many columns then makes a few numpy calls in all instead of a few
    dozen per column (those per-column calls were most of the Python time of a compare).
    Same formulas as the one-column functions; a pair whose edges differ gets only
    ``edges_equal=False`` (the caller refuses it)."""
    out: list[NumericDrift | None] = [None] * len(pairs)
    by_size: dict[int, list[int]] = {}
    nan = math.nan
    unequal = NumericDrift(False, np.zeros(0, np.int64), nan, nan, nan, nan)
    for i, (r, c) in enumerate(pairs):
        if c.edges.shape != r.edges.shape or c.counts.size != r.counts.size:
            out[i] = unequal
        else:
            by_size.setdefault(r.counts.size, []).append(i)
    for size, idx in by_size.items():
        R = np.stack([pairs[i][0].counts for i in idx]).astype(np.int64, copy=False)
        C = np.stack([pairs[i][1].counts for i in idx]).astype(np.int64, copy=False)
        er = np.stack([pairs[i][0].edges for i in idx]).reshape(len(idx), size - 1)
        ec = np.stack([pairs[i][1].edges for i in idx]).reshape(len(idx), size - 1)
        same = (er == ec).all(axis=1)
        cum_r = np.cumsum(R, axis=1)
        cum_c = np.cumsum(C, axis=1)
        nr = cum_r[:, -1]
        nc = cum_c[:, -1]
        # first / last non-empty reference bin (argmax of a row with no True gives 0)
        nz = R != 0
        first = np.argmax(nz, axis=1)
        last = size - 1 - np.argmax(nz[:, ::-1], axis=1)
        inside = cum_c[np.arange(len(idx)), last] - np.where(
            first > 0, cum_c[np.arange(len(idx)), np.maximum(first - 1, 0)], 0)
        # the Wasserstein and KS terms over every row at once (rows with an empty side are
        # computed on a count of 1 and replaced below)
        nr_f = np.maximum(nr, 1).astype(np.float64)[:, None]
        nc_f = np.maximum(nc, 1).astype(np.float64)[:, None]
        pq = R / nr_f - C / nc_f
        d1 = np.cumsum(pq, axis=1)
        ks = np.max(np.abs(d1), axis=1)
        lo_all = np.array([min(pairs[i][0].min, pairs[i][1].min) for i in idx])
        hi_all = np.array([max(pairs[i][0].max, pairs[i][1].max) for i in idx])
        ext = np.empty((len(idx), size + 1))
        ext[:, 0] = lo_all
        ext[:, 1:-1] = er
        ext[:, -1] = hi_all
        np.clip(ext, lo_all[:, None], hi_all[:, None], out=ext)
        w = ext[:, 1:] - ext[:, :-1]
        d0 = d1 - pq
        a0, a1 = np.abs(d0), np.abs(d1)
        s = a0 + a1
        cross = np.maximum(-(d0 * d1), 0.0)
        area = 0.5 * s - cross / np.where(s > 0, s, 1.0)
        w_raw = np.einsum("ij,ij->i", area, w)
        cum10 = cum_r * 10
        thresholds = np.arange(1, 10, dtype=np.int64)
        nr_l, nc_l = nr.tolist(), nc.tolist()
        for j, i in enumerate(idx):
            if not same[j]:
                out[i] = unequal
                continue
            total, n_cur = nr_l[j], nc_l[j]
            # decile_groups: the first bin where the cumulative count reaches g/10 of the total
            if total <= 0:
                ends = [size - 1]
            else:
                js = np.searchsorted(cum10[j], thresholds * total, side="left").tolist()
                ends = sorted({v for v in js if v < size - 1})
                ends.append(size - 1)
            outside = (n_cur - int(inside[j])) / n_cur if total and n_cur else nan
            if total == 0 or n_cur == 0:
                out[i] = NumericDrift(True, np.asarray(ends, np.int64), nan, nan, nan, outside)
                continue
            psi_v = _grouped_psi(cum_r[j, ends].tolist(), cum_c[j, ends].tolist(), total, n_cur)
            out[i] = NumericDrift(True, np.asarray(ends, np.int64), psi_v, float(w_raw[j]),
                                  float(ks[j]), outside)
    return [o for o in out if o is not None]


def wasserstein_error_bound(ref: NumericColumnProfile, cur: NumericColumnProfile) -> float:
    """Bound on |wasserstein_binned - W1(raw samples)|: sum of width * (p_ref + p_cur)."""
    if ref.finite_count == 0 or cur.finite_count == 0:
        return math.nan
    lo, hi = _bounds(ref, cur)
    p, q = _shares(ref, cur)
    return float(np.sum(np.maximum(hi - lo, 0.0) * (p + q)))


def ks_binned(ref: NumericColumnProfile, cur: NumericColumnProfile) -> float:
    """max over bin ends of |F_ref - F_cur| (finite values); nan if a side is empty."""
    if ref.finite_count == 0 or cur.finite_count == 0:
        return math.nan
    p, q = _shares(ref, cur)
    return float(np.max(np.abs(np.cumsum(p) - np.cumsum(q))))


def kolmogorov_sf(x: float) -> float:
    """P(K > x) for the Kolmogorov distribution (scipy.stats.kstwobign.sf)."""
    if math.isnan(x):
        return math.nan
    if x <= 0:
        return 1.0
    if x < 1.0:
        # Jacobi theta form: cdf = sqrt(2 pi)/x * sum_k exp(-(2k-1)^2 pi^2 / (8 x^2))
        t = -(math.pi**2) / (8.0 * x * x)
        s = 0.0
        for k in range(1, 50):
            term = math.exp((2 * k - 1) ** 2 * t)
            s += term
            if term < 1e-300 or term < s * 1e-17:
                break
        return 1.0 - math.sqrt(2.0 * math.pi) / x * s
    s = 0.0
    for k in range(1, 100):
        term = math.exp(-2.0 * k * k * x * x)
        s += term if k % 2 == 1 else -term
        if term < 1e-300 or term < abs(s) * 1e-17:
            break
    return max(0.0, min(1.0, 2.0 * s))


def ks_pvalue(d: float, n: int, m: int) -> float:
    """Asymptotic two-sample p-value of statistic d for sample sizes n and m."""
    if n <= 0 or m <= 0 or math.isnan(d):
        return math.nan
    en = n * m / (n + m)
    return kolmogorov_sf(math.sqrt(en) * d)


def categorical_vectors(ref: CategoricalColumnProfile,
                        cur: CategoricalColumnProfile) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts over (reference categories..., unseen) for both sides, and the current unseen count."""
    ref_index = {c: i for i, c in enumerate(ref.categories)}
    r = np.concatenate([ref.counts.astype(np.int64), [ref.unseen_count]])
    c = np.zeros(len(ref.categories) + 1, dtype=np.int64)
    unseen = cur.unseen_count
    for cat, n in zip(cur.categories, cur.counts.tolist(), strict=False):
        i = ref_index.get(cat)
        if i is None:
            unseen += int(n)
        else:
            c[i] += int(n)
    c[-1] = unseen
    return r, c, unseen


def jensen_shannon(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Jensen-Shannon distance (natural log), as scipy.spatial.distance.jensenshannon."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    if r.sum() <= 0 or c.sum() <= 0:
        return math.nan
    p = r / r.sum()
    q = c / c.sum()
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        mask = a > 0
        return float(np.sum(a[mask] * np.log(a[mask] / m[mask])))

    js = 0.5 * kl(p) + 0.5 * kl(q)
    return math.sqrt(max(js, 0.0))


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square variable with ``dof`` degrees of freedom
    (scipy.stats.chi2.sf): the regularised upper incomplete gamma Q(dof / 2, x / 2)."""
    if math.isnan(x) or dof <= 0:
        return math.nan
    if x <= 0:
        return 1.0
    a, z = dof / 2.0, x / 2.0
    log_front = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:
        # series for the lower function P(a, z) = front * sum z^k / (a (a+1) ... (a+k))
        term = total = 1.0 / a
        ap = a
        for _ in range(10000):
            ap += 1.0
            term *= z / ap
            total += term
            if abs(term) < abs(total) * 1e-16:
                break
        return max(0.0, min(1.0, 1.0 - math.exp(log_front) * total))
    # continued fraction for Q(a, z) (modified Lentz)
    tiny = 1e-300
    b = z + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return max(0.0, min(1.0, math.exp(log_front) * h))


def chi2_homogeneity(ref_counts: np.ndarray, cur_counts: np.ndarray) -> tuple[float, float]:
    """Pearson's chi-square test that two count vectors come from one distribution (the 2 x K
    contingency table of scipy.stats.chi2_contingency without continuity correction, over
    the categories seen on either side): (statistic, p-value)."""
    r = np.asarray(ref_counts, dtype=np.float64)
    c = np.asarray(cur_counts, dtype=np.float64)
    keep = (r + c) > 0
    r, c = r[keep], c[keep]
    nr, nc = r.sum(), c.sum()
    if nr <= 0 or nc <= 0 or r.size < 2:
        return math.nan, math.nan
    tot = r + c
    er, ec = tot * nr / (nr + nc), tot * nc / (nr + nc)
    stat = float(np.sum((r - er) ** 2 / er) + np.sum((c - ec) ** 2 / ec))
    return stat, chi2_sf(stat, int(r.size) - 1)

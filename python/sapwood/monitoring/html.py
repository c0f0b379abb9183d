"""Self-contained HTML report: a statistics table and one inline-SVG histogram per feature
(reference vs current), drifted features first. No scripts, no external resources."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from . import stats as st
from .profile import CategoricalColumnProfile, NumericColumnProfile

if TYPE_CHECKING:
    from .compare import MonitorReport

__all__ = ["render"]

_W, _H = 360, 140
_COLORS = {"ok": "#2e7d32", "warn": "#ef6c00", "fail": "#c62828"}


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        return f"{v:.4g}"
    return html.escape(str(v))


def _bars(labels: list[str], ref: np.ndarray, cur: np.ndarray, title: str) -> str:
    """Two interleaved bar series (shares) as an SVG."""
    k = len(ref)
    rs = ref / ref.sum() if ref.sum() > 0 else ref.astype(float)
    cs = cur / cur.sum() if cur.sum() > 0 else cur.astype(float)
    top = max(float(rs.max(initial=0)), float(cs.max(initial=0)), 1e-12)
    bw = (_W - 20) / max(k, 1)
    parts = [f'<svg class="hist" xmlns="http://www.w3.org/2000/svg" width="{_W}" '
             f'height="{_H}" viewBox="0 0 {_W} {_H}" role="img" aria-label="{html.escape(title)}">',
             f"<title>{html.escape(title)}</title>"]
    for i in range(k):
        x = 10 + i * bw
        for j, (s, color) in enumerate(((rs[i], "#1565c0"), (cs[i], "#f9a825"))):
            h = (_H - 30) * float(s) / top
            parts.append(f'<rect x="{x + j * bw / 2:.2f}" y="{_H - 20 - h:.2f}" '
                         f'width="{max(bw / 2 - 0.5, 0.5):.2f}" height="{h:.2f}" fill="{color}">'
                         f"<title>{html.escape(labels[i])}: "
                         f"{'reference' if j == 0 else 'current'} {float(s):.4f}</title></rect>")
    parts.append(f'<line x1="10" y1="{_H - 20}" x2="{_W - 10}" y2="{_H - 20}" stroke="#555"/>')
    if labels:
        parts.append(f'<text x="10" y="{_H - 6}" font-size="10">{html.escape(labels[0])}</text>')
        parts.append(f'<text x="{_W - 10}" y="{_H - 6}" font-size="10" text-anchor="end">'
                     f"{html.escape(labels[-1])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _numeric_plot(name: str, ref: NumericColumnProfile, cur: NumericColumnProfile) -> str:
    # ~30 equal-width display bins over the reference p0.1..p99.9, plus the two tails
    if ref.finite_count == 0:
        return _bars(["(no values)"], np.zeros(1), np.zeros(1), name)
    lo, hi = (float(v) for v in ref.quantile([0.001, 0.999]))
    if not hi > lo:
        lo, hi = ref.min - 0.5, ref.max + 0.5
    n_disp = 30
    blo, bhi = ref.bin_bounds()
    mid = 0.5 * (np.nan_to_num(blo, nan=lo) + np.nan_to_num(bhi, nan=hi))
    idx = np.clip(np.floor((mid - lo) / (hi - lo) * n_disp).astype(np.int64) + 1, 0, n_disp + 1)
    r = np.bincount(idx, weights=ref.counts, minlength=n_disp + 2)
    c = np.bincount(idx, weights=cur.counts if cur.edges.size == ref.edges.size else
                    np.zeros_like(ref.counts), minlength=n_disp + 2)
    labels = [f"< {lo:.3g}"] + [f"{lo + (hi - lo) * i / n_disp:.3g}" for i in range(n_disp)] + \
        [f"> {hi:.3g}"]
    return _bars(labels, r, c, name)


def _categorical_plot(name: str, ref: CategoricalColumnProfile,
                      cur: CategoricalColumnProfile) -> str:
    r, c, _ = st.categorical_vectors(ref, cur)
    labels = list(ref.categories) + ["(unseen)"]
    if len(labels) > 40:  # keep the 39 most frequent reference categories
        order = np.argsort(-r[:-1], kind="stable")[:39]
        rest = np.setdiff1d(np.arange(len(labels) - 1), order)
        labels = [labels[i] for i in order] + ["(other)", "(unseen)"]
        r = np.concatenate([r[order], [r[rest].sum()], r[-1:]])
        c = np.concatenate([c[order], [c[rest].sum()], c[-1:]])
    return _bars(labels, r, c, name)


_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}
th{background:#f3f3f3}.ok{color:#2e7d32}.warn{color:#ef6c00;font-weight:600}
.fail{color:#c62828;font-weight:700}.feature{display:inline-block;margin:8px;padding:6px;
border:1px solid #ddd;border-radius:4px;vertical-align:top}.legend span{margin-right:1em}
"""


def render(report: MonitorReport) -> str:
    ds = report.dataset
    order = report._ordered()
    status = "PASSED" if report.passed else "FAILED"
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<title>sapwood monitoring report</title>", f"<style>{_CSS}</style></head><body>",
           f"<h1>sapwood monitoring report: <span class='{'ok' if report.passed else 'fail'}'>"
           f"{status}</span></h1>",
           f"<p>Rows: reference {ds['rows_reference']}, current {ds['rows_current']}. "
           f"Drifted features: {ds['n_drifted']} of {ds['n_features']} "
           f"(share {ds['drift_share']:.3f}).</p>"]
    if ds.get("messages"):
        out.append("<ul>" + "".join(f"<li>{html.escape(m)}</li>" for m in ds["messages"]) +
                   "</ul>")
    cols = ["status", "kind", "psi", "wasserstein", "jensen_shannon", "ks_statistic", "ks_pvalue",
            "null_rate_increase", "out_of_range_share", "unseen_share", "inf_share_increase"]
    out.append("<h2>Statistics</h2><table id='stats'><tr><th>feature</th>" +
               "".join(f"<th>{c}</th>" for c in cols) + "<th>notes</th></tr>")
    for n in order:
        f = report.features[n]
        cells = []
        for c in cols:
            v = f.get(c, "")
            cls = f" class='{v}'" if c == "status" else ""
            cells.append(f"<td{cls}>{_fmt(v)}</td>")
        out.append(f"<tr><td>{html.escape(n)}</td>{''.join(cells)}"
                   f"<td>{html.escape('; '.join(f.get('messages', [])))}</td></tr>")
    out.append("</table>")
    out.append("<h2>Distributions</h2><p class='legend'><span style='color:#1565c0'>&#9632; "
               "reference</span><span style='color:#f9a825'>&#9632; current</span></p>")
    for n in order:
        f = report.features[n]
        rc = report.reference.columns.get(n)
        cc = report.current.columns.get(n)
        if isinstance(rc, NumericColumnProfile) and isinstance(cc, NumericColumnProfile):
            svg = _numeric_plot(n, rc, cc)
        elif isinstance(rc, CategoricalColumnProfile) and isinstance(cc, CategoricalColumnProfile):
            svg = _categorical_plot(n, rc, cc)
        else:
            svg = _bars(["(not comparable)"], np.zeros(1), np.zeros(1), n)
        out.append(f"<div class='feature' data-feature='{html.escape(n)}'>"
                   f"<div><b>{html.escape(n)}</b> <span class='{f['status']}'>{f['status']}"
                   f"</span></div>{svg}</div>")
    out.append("</body></html>")
    return "\n".join(out)

"""A self-contained HTML report (inline SVG plots, no scripts, no external files)."""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np

from ..model.booster import Booster

__all__ = ["render_html"]

_W, _H, _PAD = 320, 240, 36


def _svg_lines(title: str, xlabel: str, ylabel: str,
               series: list[tuple[str, np.ndarray, np.ndarray, str]],
               diagonal: bool = False) -> str:
    def sx(v: float) -> float:
        return _PAD + v * (_W - _PAD - 10)

    def sy(v: float) -> float:
        return _H - _PAD - v * (_H - _PAD - 20)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<text x="{_W / 2}" y="14" text-anchor="middle" font-size="13">'
             f'{html.escape(title)}</text>',
             f'<rect x="{_PAD}" y="20" width="{_W - _PAD - 10}" height="{_H - _PAD - 20}" '
             'fill="none" stroke="#999"/>',
             f'<text x="{_W / 2}" y="{_H - 6}" text-anchor="middle" font-size="11">'
             f'{html.escape(xlabel)}</text>',
             f'<text x="10" y="{_H / 2}" font-size="11" transform="rotate(-90 10 {_H / 2})" '
             f'text-anchor="middle">{html.escape(ylabel)}</text>']
    for t in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{sx(t)}" y="{_H - _PAD + 12}" font-size="9" '
                     f'text-anchor="middle">{t:g}</text>')
        parts.append(f'<text x="{_PAD - 4}" y="{sy(t) + 3}" font-size="9" '
                     f'text-anchor="end">{t:g}</text>')
    if diagonal:
        parts.append(f'<line x1="{sx(0)}" y1="{sy(0)}" x2="{sx(1)}" y2="{sy(1)}" '
                     'stroke="#ccc" stroke-dasharray="4"/>')
    for i, (name, xs, ys, color) in enumerate(series):
        if xs.size > 400:  # keep the file small
            keep = np.unique(np.linspace(0, xs.size - 1, 400).astype(int))
            xs, ys = xs[keep], ys[keep]
        pts = " ".join(f"{sx(float(a)):.1f},{sy(float(b)):.1f}"
                       for a, b in zip(xs, ys, strict=True) if np.isfinite(a) and np.isfinite(b))
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.5" '
                     f'points="{pts}"/>')
        parts.append(f'<text x="{_W - 14}" y="{_H - _PAD - 8 - 12 * i}" font-size="10" '
                     f'text-anchor="end" fill="{color}">{html.escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _curves(y: np.ndarray, s: np.ndarray, w: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """ROC (fpr, tpr) and PR (recall, precision) points at every distinct threshold."""
    ww = np.ones_like(s) if w is None else w
    order = np.argsort(-s, kind="mergesort")
    s, yy, ww = s[order], (y[order] > 0.5), ww[order]
    tp = np.cumsum(ww * yy)
    fp = np.cumsum(ww * ~yy)
    last = np.r_[np.flatnonzero(np.diff(s)), s.size - 1]
    tp, fp = tp[last], fp[last]
    P, N = max(tp[-1], 1e-300), max(fp[-1], 1e-300)
    fpr, tpr = np.r_[0, fp / N], np.r_[0, tp / P]
    recall = tp / P
    precision = tp / np.maximum(tp + fp, 1e-300)
    return fpr, tpr, recall, precision


def _calibration(y: np.ndarray, p: np.ndarray, bins: int = 10) -> tuple[np.ndarray, np.ndarray]:
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    xs, ys = [], []
    for b in range(bins):
        m = idx == b
        if m.any():
            xs.append(p[m].mean())
            ys.append((y[m] > 0.5).mean())
    return np.asarray(xs), np.asarray(ys)


def _importance_svg(b: Booster, top: int = 15) -> str:
    imp = b.feature_importance("gain", iteration_range=(0, b.num_rounds))
    total = imp.sum() or 1.0
    order = np.argsort(-imp, kind="stable")[:top]
    h = 18 * len(order) + 30
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="520" height="{h}" role="img" '
             'aria-label="feature importance">',
             '<text x="260" y="14" text-anchor="middle" font-size="13">'
             'Feature importance (gain share)</text>']
    for i, j in enumerate(order):
        share = float(imp[j] / total)
        y = 26 + 18 * i
        parts.append(f'<text x="150" y="{y + 11}" font-size="11" text-anchor="end">'
                     f'{html.escape(b.feature_names[j][:24])}</text>')
        parts.append(f'<rect x="156" y="{y}" width="{300 * share:.1f}" height="13" '
                     'fill="#4878a8"/>')
        parts.append(f'<text x="{160 + 300 * share:.1f}" y="{y + 11}" font-size="10">'
                     f'{100 * share:.1f}%</text>')
    parts.append("</svg>")
    return "".join(parts)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return html.escape(str(v))


def render_html(report: dict[str, Any], booster: Booster, y: np.ndarray, pred: np.ndarray,
                w: np.ndarray | None, baseline_pred: np.ndarray | None = None) -> str:
    verdict = "ACCEPTED" if report["accepted"] else "REJECTED"
    color = "#1a7f37" if report["accepted"] else "#cf222e"
    rows = []
    for c in report["checks"]:
        mark = "pass" if c["passed"] else "FAIL"
        obs = c.get("observed", c.get("challenger", ""))
        margin = c.get("margin", "")
        extra = ""
        if c["kind"] == "baseline":
            lo, hi = c["difference_ci"]
            extra = (f"champion {_fmt(c['champion'])}, difference {_fmt(c['difference'])} "
                     f"({100 * c['confidence']:.0f}% CI {_fmt(lo)} .. {_fmt(hi)})")
        if c["kind"] == "schema":
            extra = "; ".join(c["issues"])
        rows.append(f'<tr class="{mark}"><td>{mark}</td><td>{html.escape(c["criterion"])}</td>'
                    f"<td>{_fmt(obs)}</td><td>{_fmt(margin)}</td><td>{html.escape(extra)}</td>"
                    "</tr>")
    plots = []
    if booster.objective == "binary":
        fpr, tpr, rec, prec = _curves(y, pred, w)
        series_roc = [("model", fpr, tpr, "#4878a8")]
        series_pr = [("model", rec, prec, "#4878a8")]
        if baseline_pred is not None:
            bf, bt, br, bp = _curves(y, baseline_pred, w)
            series_roc.append(("baseline", bf, bt, "#d08030"))
            series_pr.append(("baseline", br, bp, "#d08030"))
        plots.append(_svg_lines("ROC curve", "false positive rate", "true positive rate",
                                series_roc, diagonal=True))
        plots.append(_svg_lines("Precision-recall", "recall", "precision", series_pr))
        cx, cy = _calibration(y, pred)
        plots.append(_svg_lines("Calibration", "mean predicted probability",
                                "observed frequency", [("model", cx, cy, "#4878a8")],
                                diagonal=True))
    slice_rows = []
    for s in report["slices"]:
        ms = ", ".join(f"{k}={_fmt(v)}" for k, v in s["metrics"].items())
        slice_rows.append(f"<tr><td>{html.escape(s['column'])}</td>"
                          f"<td>{html.escape(s['value'])}</td><td>{s['rows']}</td>"
                          f"<td>{ms or html.escape(s.get('skipped', ''))}</td></tr>")
    public = {k: v for k, v in report.items() if not k.startswith("_")}
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>sapwood validation: {verdict}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
h1 {{ color: {color}; }} table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ddd; padding: 4px 8px; font-size: 13px; text-align: left; }}
tr.FAIL td {{ background: #ffebe9; }} tr.pass td:first-child {{ color: #1a7f37; }}
.plots svg {{ margin-right: 1em; }} pre {{ background: #f6f8fa; padding: 1em; overflow: auto; }}
</style></head><body>
<h1>{verdict}</h1>
<p>{report['rows']:,} rows; model {html.escape(booster.objective)} with {booster.num_rounds}
rounds and {booster.num_features} features; {len(report['failed'])} of
{len(report['checks'])} criteria failed.</p>
<h2>Criteria</h2>
<table><tr><th></th><th>criterion</th><th>observed</th><th>margin</th><th>detail</th></tr>
{''.join(rows)}</table>
<div class="plots">{''.join(plots)}</div>
<h2>Feature importance</h2>{_importance_svg(booster)}
<h2>Slices</h2>
<table><tr><th>column</th><th>value</th><th>rows</th><th>metrics</th></tr>
{''.join(slice_rows)}</table>
<h2>Report (JSON)</h2><pre>{html.escape(json.dumps(public, indent=2, default=str))}</pre>
</body></html>
"""

"""Self-contained HTML for a :class:`~.history.HistoryReport`: a volume chart, the alerts
table, and small multiples (one card per feature, inline-SVG line charts over the windows with
the warn / fail bands of the thresholds shaded). No scripts, no external resources, no URLs:
the file opens offline and in mail attachments as it is."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from .compare import STATUS_ORDER
from .config import Level

if TYPE_CHECKING:
    from .history import HistoryReport

__all__ = ["render", "line_chart", "esc", "fmt", "STATUS_COLORS"]

_W, _H = 320, 110
_PAD_L, _PAD_R, _PAD_T, _PAD_B = 34, 8, 8, 18
STATUS_COLORS = {"ok": "#2e7d32", "warn": "#ef6c00", "fail": "#c62828"}
_BAND = {"warn": "#fff3e0", "fail": "#ffebee"}


def esc(v: Any) -> str:
    """HTML-escaped text of any value."""
    return html.escape(str(v))


def fmt(v: Any) -> str:
    """A number for a report cell: 4 significant digits, "-" for missing or non-finite."""
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if not math.isfinite(v) else f"{v:.4g}"
    return esc(v)


def _finite(values: list[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]


def line_chart(series: list[tuple[str, list[Any], str, bool]], labels: list[str], title: str,
               band: Level | None = None, marker: int | None = None,
               width: int = _W, height: int = _H) -> str:
    """An inline SVG line chart: ``series`` = (name, one value per window or None, colour,
    dashed); ``band`` shades [warn, fail) and [fail, top); ``marker`` draws a vertical line at
    a window (where an alert first fired)."""
    n = len(labels)
    vals = [v for _, s, _, _ in series for v in _finite(s)]
    top = max(vals, default=0.0)
    if band is not None and math.isfinite(band.fail):
        top = max(top, band.fail * 1.25)
    top = top if top > 0 else 1.0
    pw, ph = width - _PAD_L - _PAD_R, height - _PAD_T - _PAD_B

    def x(i: int) -> float:
        return _PAD_L + (pw * i / (n - 1) if n > 1 else pw / 2)

    def y(v: float) -> float:
        return _PAD_T + ph * (1.0 - min(max(v / top, 0.0), 1.0))

    out = [f'<svg class="chart" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)}">',
           f"<title>{esc(title)}</title>"]
    if band is not None:
        for lo, hi, kind in ((band.warn, band.fail, "warn"), (band.fail, top, "fail")):
            if lo < top and hi > lo:
                out.append(f'<rect x="{_PAD_L}" y="{y(min(hi, top)):.1f}" width="{pw}" '
                           f'height="{y(lo) - y(min(hi, top)):.1f}" fill="{_BAND[kind]}"/>')
    out.append(f'<line x1="{_PAD_L}" y1="{_PAD_T + ph}" x2="{_PAD_L + pw}" y2="{_PAD_T + ph}" '
               'stroke="#999"/>')
    out.append(f'<text x="{_PAD_L - 3}" y="{_PAD_T + 8}" font-size="9" text-anchor="end">'
               f"{top:.3g}</text>")
    out.append(f'<text x="{_PAD_L - 3}" y="{_PAD_T + ph}" font-size="9" '
               'text-anchor="end">0</text>')
    if n:
        out.append(f'<text x="{_PAD_L}" y="{height - 4}" font-size="9">{esc(labels[0])}</text>')
        if n > 1:
            out.append(f'<text x="{_PAD_L + pw}" y="{height - 4}" font-size="9" '
                       f'text-anchor="end">{esc(labels[-1])}</text>')
    if marker is not None and 0 <= marker < n:
        out.append(f'<line x1="{x(marker):.1f}" y1="{_PAD_T}" x2="{x(marker):.1f}" '
                   f'y2="{_PAD_T + ph}" stroke="#c62828" stroke-dasharray="2,2">'
                   f"<title>first alert: {esc(labels[marker])}</title></line>")
    for name, values, color, dashed in series:
        d: list[str] = []
        pen = False
        for i, v in enumerate(values):
            if isinstance(v, (int, float)) and math.isfinite(v):
                d.append(f"{'L' if pen else 'M'}{x(i):.1f},{y(float(v)):.1f}")
                pen = True
            else:
                pen = False
        if not d:
            continue
        dash = ' stroke-dasharray="4,3"' if dashed else ""
        out.append(f'<path d="{" ".join(d)}" fill="none" stroke="{color}" stroke-width="1.4"'
                   f"{dash}><title>{esc(name)}</title></path>")
        if len(d) == 1:  # a single window: a dot, since a one-point path draws nothing
            px, py = d[0][1:].split(",")
            out.append(f'<circle cx="{px}" cy="{py}" r="2" fill="{color}"/>')
    out.append("</svg>")
    return "".join(out)


def _legend(items: list[tuple[str, str, bool]]) -> str:
    return " ".join(f'<span class="key" style="border-color:{c};'
                    f'{"border-style:dashed;" if dashed else ""}">{esc(n)}</span>'
                    for n, c, dashed in items)


def _first_index(report: HistoryReport, feature: str) -> int | None:
    labels = report.dataset["labels"]
    firsts = [a["first_fail"] or a["first_warn"] for a in report.alerts
              if a["feature"] == feature]
    idx = [labels.index(f) for f in firsts if f in labels]
    return min(idx) if idx else None


def _feature_card(report: HistoryReport, name: str, f: dict[str, Any]) -> str:
    labels = report.dataset["labels"]
    cfg = report.config
    s = f["series"]
    status = f["status_overall"]
    marker = _first_index(report, name)
    kind = f.get("kind") or "numeric"
    dist = "wasserstein" if kind == "numeric" else "jensen_shannon"
    drift = line_chart([("PSI vs reference", s["psi"], "#1565c0", False),
                        ("PSI vs previous window", s["psi_vs_previous"], "#6a1b9a", True)],
                       labels, f"{name}: PSI", cfg.level(name, "psi"), marker)
    shape = line_chart([(dist.replace("_", "-"), s[dist], "#00838f", False)], labels,
                       f"{name}: {dist}", cfg.level(name, dist), marker)
    share = "out_of_range_share" if kind == "numeric" else "unseen_share"
    quality = line_chart([(share.replace("_", " "), s[share], "#ad1457", False),
                          ("null rate increase", s["null_rate_increase"], "#5d4037", True)],
                         labels, f"{name}: data quality", cfg.level(name, share), marker)
    last = {k: (v[-1] if v else None) for k, v in s.items()}
    tag = " (predictions)" if f.get("is_prediction") else ""
    return (
        f'<div class="card {status}"><h3><span class="dot" style="background:'
        f'{STATUS_COLORS[status]}"></span>{esc(name)}{tag} <small>{esc(kind)}</small></h3>'
        f'<div>{drift}{_legend([("PSI vs reference", "#1565c0", False), ("vs previous", "#6a1b9a", True)])}</div>'  # noqa: E501
        f'<div>{shape}{_legend([(dist.replace("_", "-"), "#00838f", False)])}</div>'
        f'<div>{quality}{_legend([(share.replace("_", " "), "#ad1457", False), ("null rate increase", "#5d4037", True)])}</div>'  # noqa: E501
        f'<p class="last">latest: PSI {fmt(last["psi"])}, null rate {fmt(last["null_rate"])}'
        f", {share.replace('_', ' ')} {fmt(last[share])}</p></div>")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;margin-top:1.5em} h3{font-size:0.95em;margin:0 0 .3em}
table{border-collapse:collapse;font-size:0.85em} td,th{border:1px solid #ddd;padding:3px 7px}
th{background:#f5f5f5;text-align:left} .ok{color:#2e7d32} .warn{color:#ef6c00}
.fail{color:#c62828} .grid{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px;width:330px;color:#222}
.card.warn{border-color:#ef6c00} .card.fail{border-color:#c62828}
.dot{display:inline-block;width:9px;height:9px;border-radius:5px;margin-right:5px}
.key{font-size:0.75em;border-top:2px solid;padding-top:1px;margin-right:8px}
.last{font-size:0.75em;color:#555;margin:.3em 0 0} small{color:#777;font-weight:normal}
svg.chart{display:block}
"""


def render(report: HistoryReport) -> str:
    """The report as one HTML document (UTF-8 text, no external references)."""
    labels = report.dataset["labels"]
    n = len(labels)
    verdict = "PASSED" if report.passed else "FAILED"
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>sapwood monitoring history: {verdict}</title>",
             f"<style>{_CSS}</style></head><body>",
             f'<h1>sapwood monitoring history: <span class="{report.status}">{verdict}</span>'
             "</h1>",
             f"<p>{n} {esc(report.window)} window(s)"
             + (f", {esc(labels[0])} to {esc(labels[-1])}" if n else "")
             + f"; reference: {esc(report.reference_kind)} ({report.reference_rows} rows); "
             f"{len(report.alerts)} alert(s). Shaded bands: warn (orange) and fail (red) "
             "thresholds; a dashed red line marks the window where a feature's first alert "
             "fired.</p>"]
    if report.missing:
        parts.append(f"<p class=\"warn\">Reference columns absent from the stored profiles "
                     f"(not monitored): {esc(', '.join(report.missing[:30]))}</p>")
    parts.append("<h2>Volume</h2>")
    parts.append(line_chart([("rows", [float(r) for r in report.dataset["rows"]], "#37474f",
                              False)], labels, "rows per window", width=680, height=130))
    parts.append("<h2>Alerts</h2>")
    if report.alerts:
        parts.append("<table><tr><th>status</th><th>feature</th><th>check</th>"
                     "<th>first warn</th><th>first fail</th><th>windows flagged</th>"
                     "<th>latest</th></tr>")
        for a in report.alerts:
            parts.append(f'<tr><td class="{a["status"]}">{a["status"]}</td>'
                         f"<td>{esc(a['feature'] or '(dataset)')}</td><td>{esc(a['check'])}</td>"
                         f"<td>{fmt(a['first_warn'])}</td><td>{fmt(a['first_fail'])}</td>"
                         f"<td>{a['windows_at_warn_or_worse']} / {n}</td>"
                         f'<td class="{a["latest"]}">{a["latest"]}</td></tr>')
        parts.append("</table>")
    else:
        parts.append("<p>No check left ok in any window.</p>")
    parts.append("<h2>Features</h2><div class=\"grid\">")
    order = sorted(report.features, key=lambda c: (
        not report.features[c].get("is_prediction"),
        -STATUS_ORDER[report.features[c]["status_overall"]], c))
    for c in order:
        parts.append(_feature_card(report, c, report.features[c]))
    parts.append("</div></body></html>")
    return "\n".join(parts)

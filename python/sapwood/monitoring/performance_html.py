"""Self-contained HTML for a :class:`~.performance.PerformanceReport`: one line chart per
metric over the windows (the value, its bootstrap interval dashed, the model's validation
value as a flat dashed line), label coverage over time, and the window table with the checks,
target and prediction drift. No scripts, no external resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .history_html import STATUS_COLORS, esc, fmt, line_chart

if TYPE_CHECKING:
    from .performance import PerformanceReport

__all__ = ["render"]

def render(report: PerformanceReport) -> str:
    labels = [w["window"] for w in report.windows]
    charts = []
    for m in report.metrics:
        rows = [w["metrics"].get(m) or {} for w in report.windows]
        series: list[tuple[str, list[Any], str, bool]] = [
            (m, [r.get("value") for r in rows], "#1565c0", False),
            ("interval low", [(r.get("ci") or [None])[0] for r in rows], "#90caf9", True),
            ("interval high", [(r.get("ci") or [None, None])[1] for r in rows], "#90caf9",
             True)]
        if m in report.baseline:
            series.append(("validation (model file)", [report.baseline[m]] * len(rows),
                           "#6a1b9a", True))
        charts.append(f"<div class='card'><h3>{esc(m)}</h3>"
                      f"{line_chart(series, labels, m, width=420, height=150)}</div>")
    charts.append("<div class='card'><h3>label coverage</h3>" + line_chart(
        [("coverage", [w["coverage"] for w in report.windows], "#2e7d32", False)], labels,
        "label coverage", width=420, height=150) + "</div>")
    head = "".join(f"<th>{esc(m)}</th>" for m in report.metrics)
    body = []
    for w in report.windows:
        cells = []
        for m in report.metrics:
            r = w["metrics"].get(m) or {}
            ci = r.get("ci")
            cells.append(f"<td>{fmt(r.get('value'))}"
                         + (f" <small>[{ci[0]:.4g}, {ci[1]:.4g}]</small>" if ci else "")
                         + "</td>")
        pd_ = (w.get("prediction_drift") or {})
        td = (w.get("target_drift") or {})
        body.append(f"<tr><td>{esc(w['window'])}</td><td>{w['rows']}</td><td>{w['labelled']}</td>"
                    f"<td>{w['coverage']:.3f}</td>"
                    f"<td style='color:{STATUS_COLORS[w['status']]}'>{esc(w['status'])}</td>"
                    f"{''.join(cells)}<td>{fmt(pd_.get('psi'))}</td><td>{fmt(td.get('psi'))}"
                    f"</td><td>{esc('; '.join(w['messages']))}</td></tr>")
    base = ", ".join(f"{esc(k)} {fmt(v)}" for k, v in report.baseline.items()) or "none stored"
    notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>sapwood: model performance</title><style>"
        "body{font-family:sans-serif;margin:1.5em;color:#222}"
        ".card{display:inline-block;vertical-align:top;margin:.4em;padding:.4em;"
        "border:1px solid #ddd}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:.2em .5em;font-size:90%}</style></head><body>"
        f"<h1>Model performance: <span style='color:{STATUS_COLORS[report.status]}'>"
        f"{esc(report.status.upper())}</span></h1>"
        f"<p>Objective {esc(report.objective)}; validation metrics in the model file: {base}; "
        f"intervals: {report.confidence:.0%} bootstrap, {report.n_bootstrap} resamples.</p>"
        + "".join(charts)
        + "<table><tr><th>window</th><th>rows</th><th>labelled</th><th>coverage</th>"
          f"<th>status</th>{head}<th>prediction PSI</th><th>target PSI</th><th>messages</th>"
          "</tr>" + "".join(body) + "</table>"
        + (f"<ul>{notes}</ul>" if notes else "") + "</body></html>")

"""Self-contained HTML for an :class:`~.estimate.EstimateReport`: a banner saying the numbers
are estimates, the calibration check, one line chart per metric over the windows (estimate,
its simulation interval dashed, the realised metric where labels exist) and the window table.
No scripts, no external resources."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .history_html import STATUS_COLORS, esc, fmt, line_chart

if TYPE_CHECKING:
    from .estimate import EstimateReport

__all__ = ["render"]

def render(report: EstimateReport) -> str:
    labels = [w["window"] for w in report.windows]
    charts = []
    for m in report.metrics:
        rows = [w["metrics"][m] for w in report.windows]
        series: list[tuple[str, list[Any], str, bool]] = [
            (f"estimated {m}", [r["estimate"] for r in rows], "#1565c0", False),
            ("interval low", [(r["interval"] or [None])[0] for r in rows], "#90caf9", True),
            ("interval high", [(r["interval"] or [None, None])[1] for r in rows], "#90caf9",
             True)]
        if any(r.get("realised") is not None for r in rows):
            series.append((f"realised {m}", [r.get("realised") for r in rows], "#2e7d32", False))
        charts.append(f"<div class='card'><h3>{esc(m)} (estimated)</h3>"
                      f"{line_chart(series, labels, f'estimated {m}', width=420, height=150)}"
                      "</div>")
    c = report.calibration
    cal = (f"<p>Calibration <b>{esc(c.get('method'))}</b>, fitted on the labelled reference and "
           f"checked on {fmt(c.get('holdout_rows'))} held-out reference rows: expected "
           f"calibration error {fmt(c.get('ece_raw'))} raw, {fmt(c.get('ece_calibrated'))} "
           f"calibrated; Brier {fmt(c.get('brier_raw'))} raw, "
           f"{fmt(c.get('brier_calibrated'))} calibrated.</p>")
    head = "".join(f"<th>{esc(m)} (est.)</th><th>interval</th><th>realised</th>"
                   for m in report.metrics)
    body = []
    for w in report.windows:
        cells = []
        for m in report.metrics:
            r = w["metrics"][m]
            iv = r.get("interval")
            cells.append(f"<td>{fmt(r['estimate'])}</td>"
                         f"<td>{'-' if not iv else f'{iv[0]:.4g} – {iv[1]:.4g}'}</td>"
                         f"<td>{fmt(r.get('realised'))}</td>")
        body.append(f"<tr><td>{esc(w['window'])}</td><td>{w['rows']}</td>"
                    f"<td style='color:{STATUS_COLORS[w['status']]}'>{esc(w['status'])}</td>"
                    f"{''.join(cells)}<td>{esc('; '.join(w['messages']))}</td></tr>")
    notes = "".join(f"<li>{esc(n)}</li>" for n in report.notes)
    ref = report.reference.get("realised", {})
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<title>sapwood: estimated performance</title><style>"
        "body{font-family:sans-serif;margin:1.5em;color:#222}"
        ".banner{background:#fff3e0;border:1px solid #ef6c00;padding:.6em;margin-bottom:1em}"
        ".card{display:inline-block;vertical-align:top;margin:.4em;padding:.4em;"
        "border:1px solid #ddd}table{border-collapse:collapse}"
        "td,th{border:1px solid #ddd;padding:.2em .5em;font-size:90%}</style></head><body>"
        f"<h1>Estimated performance: {esc(report.status.upper())}</h1>"
        "<div class='banner'><b>ESTIMATE, not measured.</b> No labels of these windows were "
        "used: the metrics are expected values from calibrated probabilities (CBPE). They hold "
        "while P(label | features) is unchanged; concept drift is invisible to them. Confirm "
        "with <code>sapwood monitor performance</code> once labels arrive.</div>"
        f"{cal}<p>Reference (realised, with labels): "
        + ", ".join(f"{esc(m)} {fmt(ref.get(m))}" for m in report.metrics)
        + f"; decision threshold {report.threshold:g}; intervals: central "
          f"{report.confidence:.0%} of {report.n_simulations} simulated label draws.</p>"
        + "".join(charts)
        + f"<table><tr><th>window</th><th>rows</th><th>status</th>{head}<th>messages</th></tr>"
        + "".join(body) + "</table>"
        + (f"<ul>{notes}</ul>" if notes else "") + "</body></html>")

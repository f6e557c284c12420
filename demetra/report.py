"""The stakeholder report: one PDF for the dashboard's filters that a person can email.

Pages: a title page (period, filters, currency, when the data runs); the KPIs with their
change against the period before; the trend chart; the channel table; the latest forecasts
with their risk (and the chart of the riskiest); the open alerts; the latest recommendations
and who wrote them. Every page carries the filters in its header and "page n of m" in its
footer. A period without data says so on the first page.

Built with fpdf2: pure Python (nothing to install beyond requirements.txt), real text that can
be searched and copied, tables that break across pages, and the charts embedded as the same
PNGs the Charts page saves (``demetra.charts.png``). The text is set in DejaVu Sans, which
matplotlib ships, so every name and currency sign prints.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from demetra import format as fmt
from demetra import queries
from demetra.channels import channel_label
from demetra.errors import NotEnoughData

__all__ = ["build_report"]

Progress = Callable[[float, str], None]
_INK, _MUTED = (17, 24, 39), (107, 114, 128)
MAX_FORECASTS, MAX_ALERTS = 15, 25

def _show(values: dict[str, Any], key: str, how: str, currency: str) -> str:
    """``values[key]`` as the table shows it; a missing one says why (not tracked, or what
    its ratio lacks: "no conversions"), never a 0."""
    value = values.get(key)
    if fmt.is_missing(value):
        why = queries.why_missing(key, values) or "—"
        return "not tracked" if why.endswith("not tracked") else why
    return fmt.by_kind(how, currency)(value)


def _filters_line(f: queries.Filters, currency: str) -> str:
    channels = ", ".join(channel_label(c) for c in f.channels) if f.channels else "all channels"
    search = f" · campaigns matching “{f.search}”" if f.search else ""
    return f"{fmt.date_range(f.start, f.end)} · {channels}{search} · amounts in {currency}"


def _pdf_class():
    from fpdf import FPDF

    class Report(FPDF):
        line = ""

        def header(self) -> None:
            self.set_font("dejavu", "", 8)
            self.set_text_color(*_MUTED)
            self.cell(0, 5, f"Demetra report · {self.line}", align="L")
            self.ln(8)

        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("dejavu", "", 8)
            self.set_text_color(*_MUTED)
            self.cell(0, 5, f"{self.line}    Page {self.page_no()} of {{nb}}", align="R")

    return Report


def _fonts(pdf: Any) -> None:
    from demetra.charts.png import font_files

    for style, path in font_files().items():
        pdf.add_font("dejavu", style, path)


def _heading(pdf: Any, text: str) -> None:
    pdf.set_font("dejavu", "B", 14)
    pdf.set_text_color(*_INK)
    pdf.cell(0, 9, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _text(pdf: Any, text: str, size: float = 10, color: tuple[int, int, int] = _INK) -> None:
    pdf.set_font("dejavu", "", size)
    pdf.set_text_color(*color)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(1)


def _table(pdf: Any, head: Sequence[str], rows: Sequence[Sequence[str]],
           widths: Sequence[float] | None = None, size: float = 8.5) -> None:
    pdf.set_font("dejavu", "", size)
    pdf.set_text_color(*_INK)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=size * 0.55,
                   first_row_as_headings=True) as table:
        table.row(list(head))
        for r in rows:
            table.row([str(x) for x in r])
    pdf.ln(3)


def _image(pdf: Any, png: bytes) -> None:
    pdf.image(io.BytesIO(png), w=pdf.epw)
    pdf.ln(2)


# -- the sections ---------------------------------------------------------------------------

def _title_page(pdf: Any, engine: sa.Engine, f: queries.Filters, currency: str,
                has_data: bool) -> None:
    pdf.add_page()
    pdf.ln(30)
    pdf.set_font("dejavu", "B", 24)
    pdf.set_text_color(*_INK)
    pdf.cell(0, 14, "Advertising performance report", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("dejavu", "", 14)
    pdf.cell(0, 9, fmt.date_range(f.start, f.end) + f" ({fmt.days(f.days)})",
             new_x="LMARGIN", new_y="NEXT")
    pdf.ln(6)
    span = queries.date_span(engine)
    lines = [
        "Channels: " + (", ".join(channel_label(c) for c in f.channels) if f.channels
                        else "all channels"),
        "Campaigns: " + (f"those matching “{f.search}”" if f.search else "all"),
        f"Currency: {currency} (every amount in this report)",
        "Data in the database: " + (fmt.date_range(*span) if span else "none"),
        f"Generated: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC by Demetra",
    ]
    for line in lines:
        _text(pdf, line, 11)
    if not has_data:
        pdf.ln(6)
        _text(pdf, f"There is no campaign data from {f.start} to {f.end}"
                   + (f" on {', '.join(map(channel_label, f.channels))}" if f.channels else "")
                   + ": choose a period with data (the data runs "
                   + (fmt.date_range(*span) if span else "nowhere yet: import or seed some")
                   + "). The rest of the report is left out.", 12)


def _kpi_section(pdf: Any, engine: sa.Engine, f: queries.Filters, currency: str) -> None:
    pdf.add_page()
    _heading(pdf, "Key figures")
    prev = f.previous()
    _text(pdf, f"Against the {fmt.days(f.days)} before ({fmt.date_range(prev.start, prev.end)}).",
          9, _MUTED)
    now = queries.kpis_with_delta(engine, f)
    values = {k: d.value for k, d in now.items()}
    before = {k: d.previous for k, d in now.items()}
    rows = [[k.title, _show(values, k.key, k.kind, currency), _show(before, k.key, k.kind, currency),
             fmt.change(now[k.key].change) or "—"] for k in queries.KPI_FIGURES.values()]
    _table(pdf, ["Figure", "This period", "Period before", "Change"], rows, (40, 25, 25, 15),
           size=9.5)
    from demetra.charts.png import trend_png

    _image(pdf, trend_png(engine, f))


def _channel_section(pdf: Any, engine: sa.Engine, f: queries.Filters, currency: str) -> None:
    frame = queries.channel_breakdown(engine, f)
    _heading(pdf, "Channels")
    rows = [[channel_label(r["channel"]), fmt.money(r["cost"], currency), fmt.pct(r["share_of_cost"], 1),
             _show(r, "revenue", "money", currency), _show(r, "roi", "roi", currency),
             _show(r, "conversions", "count", currency), _show(r, "cpa", "cents", currency),
             fmt.pct(r["ctr"]), fmt.pct(r["conversion_rate"])]
            for r in queries.records(frame)]
    _table(pdf, ["Channel", "Spend", "Share", "Revenue", "ROI", "Results", "CPA", "CTR", "Conv. rate"],
           rows, (22, 18, 10, 18, 10, 13, 13, 10, 12))


def _forecast_section(pdf: Any, engine: sa.Engine, f: queries.Filters, currency: str) -> None:
    from demetra.ml.predict import latest_predictions

    pdf.add_page()
    _heading(pdf, "Forecasts and risk")
    preds = latest_predictions(engine)
    names = queries.campaign_names(engine, list(preds["campaign_id"])) if len(preds) else {}
    if f.channels and len(preds):
        preds = preds[[(names.get(c, ("", ""))[1] in f.channels) for c in preds["campaign_id"]]]
    if preds.empty:
        _text(pdf, "No forecasts yet: train the model and run predictions (Predictions page, "
                   "or python -m demetra train then predict).")
        return
    as_of = preds["as_of"].dropna().max()
    _text(pdf, f"The newest forecasts (as of {as_of}, over the next "
               f"{int(preds['horizon_days'].max())} days), the riskiest first; {len(preds)} in "
               "all.", 9, _MUTED)
    rows = []
    for r in queries.records(preds.head(MAX_FORECASTS)):
        name = names.get(r["campaign_id"], (r["campaign_id"], None))[0] or r["campaign_id"]
        if r["metric"] == "roi":
            point = (f"ROI {fmt.roi(r['predicted_roi'])} ({fmt.roi(r['predicted_roi_low'])}–"
                     f"{fmt.roi(r['predicted_roi_high'])})")
            risk = f"P(loss) {fmt.pct(r['prob_loss'], 0)}"
        else:
            what = "CPC" if r["metric"] == "cpc" else "CPA"
            point = (f"{what} {fmt.money(r['predicted_cpa'], currency, decimals=2)} "
                     f"({fmt.money(r['predicted_cpa_low'], currency, decimals=2)}–"
                     f"{fmt.money(r['predicted_cpa_high'], currency, decimals=2)})")
            risk = f"P(above target) {fmt.pct(r['prob_cpa_above'], 0)}"
        rows.append([name[:48], point, risk, r["risk_level"]])
    _table(pdf, ["Campaign", "Forecast (P10–P90)", "Risk", "Level"], rows, (45, 40, 22, 10))
    from demetra.charts.png import render

    try:
        _image(pdf, render(engine, "forecast", f).png)
    except NotEnoughData:
        pass


def _alert_section(pdf: Any, engine: sa.Engine, f: queries.Filters) -> None:
    from demetra.alerts.store import AlertFilter, list_alerts

    pdf.add_page()
    _heading(pdf, "Open alerts")
    alerts = list_alerts(engine, AlertFilter(channels=f.channels, status="open"), limit=10_000)
    if alerts.empty:
        _text(pdf, "No open alert.")
        return
    _text(pdf, f"{len(alerts):,} open, the most severe and newest first"
               + (f"; the first {MAX_ALERTS} are listed." if len(alerts) > MAX_ALERTS else "."),
          9, _MUTED)
    rows = [[str(r["date"] or ""), r["severity"], r["alert_type"].replace("_", " "),
             (r["message"] or "")[:160]] for r in queries.records(alerts.head(MAX_ALERTS))]
    _table(pdf, ["Day", "Severity", "Type", "What happened"], rows, (16, 13, 18, 80), size=8)


def _recommendation_section(pdf: Any, engine: sa.Engine) -> None:
    from demetra.facts import campaign_labels
    from demetra.llm import history, stored_context

    _heading(pdf, "Recommendations")
    latest = history(engine, limit=1)
    if latest.empty:
        _text(pdf, "No recommendation yet: write one on the Recommendations page or with "
                   "python -m demetra recommend.")
        return
    r = queries.records(latest)[0]
    who = (f"the LLM ({r['model']})" if r["source"] == "llm"
           else f"the rules engine ({r['fallback_reason'] or 'by choice'})")
    period = (fmt.date_range(r["period_start"], r["period_end"])
              if r["period_start"] and r["period_end"] else "")
    _text(pdf, f"Written {r['created_at']:%Y-%m-%d %H:%M} UTC by {who}"
               + (f", on {period}" if period else "") + ".", 9, _MUTED)
    if r["summary"]:
        _text(pdf, r["summary"], 10)
    context = stored_context(engine, int(r["id"])) or {}
    labels = campaign_labels(context.get("campaigns") or {})
    rows = []
    for rec in r["recommendations"] or []:
        target = rec.get("target", "")
        shown = labels.get(target) or channel_label(target)
        rows.append([f"{rec.get('action', '').upper()} {shown}"[:60], rec.get("rationale", ""),
                     rec.get("expected_impact", ""), rec.get("confidence", "")])
    if rows:
        _table(pdf, ["Action", "Why", "Expected impact", "Confidence"], rows, (30, 60, 28, 15),
               size=8)


def build_report(engine: sa.Engine, f: queries.Filters, *,
                 progress: Progress | None = None) -> bytes:
    """The PDF for the filters (bytes)."""
    report = progress or (lambda _x, _t: None)
    currency = queries.reporting_currency(engine)
    pdf = _pdf_class()(orientation="portrait", unit="mm", format="A4")
    _fonts(pdf)
    pdf.line = _filters_line(f, currency)
    pdf.set_title(f"Demetra report {f.start} to {f.end}")
    pdf.set_author("Demetra")
    pdf.set_auto_page_break(True, margin=16)
    has_data = bool(queries.kpis(engine, f)["cost"])
    report(0.05, "Title page")
    _title_page(pdf, engine, f, currency, has_data)
    if has_data:
        report(0.2, "Key figures and the trend")
        _kpi_section(pdf, engine, f, currency)
        report(0.45, "Channels")
        _channel_section(pdf, engine, f, currency)
        report(0.6, "Forecasts")
        _forecast_section(pdf, engine, f, currency)
        report(0.8, "Alerts and recommendations")
        _alert_section(pdf, engine, f)
        _recommendation_section(pdf, engine)
    report(1.0, "Done")
    return bytes(pdf.output())

"""Charts that last: seaborn/matplotlib figures rendered headless to PNG, to be saved in
``ml_dashboards`` (``demetra.charts.gallery``) and put in the stakeholder report.

``render(engine, kind, filters)`` draws one of ``CHART_TYPES`` for the dashboard's filters from
the same reads the pages use (``demetra.queries``, the forecasts, the alerts, the budget's
response curves), in the app's channel palette, with a title that states the period, the
channels and the currency. An account without revenue gets the CPA and results version of each
chart. A chart whose data is not there raises ``NotEnoughData`` saying what to do first: no
blank image is ever made.

Figures are built with matplotlib's object API (``Figure``, never pyplot), so rendering needs
no display, keeps no global state and can run in the app's threads.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

from demetra import format as fmt
from demetra import queries
from demetra.channels import channel_label, ordered
from demetra.charts.kinds import CHART_TYPES
from demetra.charts.theme import BREAK_EVEN_COLOR, channel_color
from demetra.errors import BadInput, NotEnoughData

__all__ = ["CHART_TYPES", "RenderedChart", "font_files", "render", "standard_set", "trend_png"]

# The CPA and results versions, for accounts that do not track revenue.
_RESULTS_TITLES = {"roi_analysis": "Cost per result by channel",
                   "spend_efficiency": "Spend and the results it brought"}
SIZE_PX = (1600, 900)
THUMB_PX = (320, 180)
_DPI = 160
MAX_CAMPAIGNS = 5000           # campaigns one spread reads; more are capped with a note
MAX_FORECASTS = 15             # forecasts one chart shows (the riskiest)
_INK, _MUTED, _GRID = "#111827", "#6B7280", "#E5E7EB"


@dataclass
class RenderedChart:
    kind: str
    title: str
    png: bytes
    thumbnail: bytes
    filters: dict[str, Any]
    period: tuple[dt.date, dt.date]
    notes: list[str] = field(default_factory=list)


def _filters_dict(f: queries.Filters) -> dict[str, Any]:
    return {"start": f.start.isoformat(), "end": f.end.isoformat(),
            "channels": list(f.channels), "search": f.search}


def _title(kind: str, f: queries.Filters, currency: str, results: bool) -> str:
    name = (_RESULTS_TITLES.get(kind) if results else None) or CHART_TYPES[kind]
    channels = ", ".join(channel_label(c) for c in f.channels) if f.channels else "all channels"
    search = f" · campaigns matching “{f.search}”" if f.search else ""
    return f"{name} · {fmt.date_range(f.start, f.end)} · {channels}{search} · {currency}"


def _figure(ncols: int = 1, *, widths: tuple[float, ...] | None = None) -> tuple[Figure, list]:
    fig = Figure(figsize=(SIZE_PX[0] / _DPI, SIZE_PX[1] / _DPI), dpi=_DPI)
    axes = fig.subplots(1, ncols, gridspec_kw={"width_ratios": widths} if widths else None)
    axes = list(np.atleast_1d(axes))
    for ax in axes:
        ax.set_facecolor("white")
        ax.grid(True, color=_GRID, linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(colors=_INK, labelsize=9)
    return fig, axes


def font_files() -> dict[str, str]:
    """The TTF files of DejaVu Sans, which matplotlib ships ("" regular, "B" bold): the report
    sets its text in the charts' face, with every name and currency sign in it."""
    import os

    import matplotlib

    ttf = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    return {"": os.path.join(ttf, "DejaVuSans.ttf"), "B": os.path.join(ttf, "DejaVuSans-Bold.ttf")}


def _date_axis(ax: Any) -> None:
    # Dates as "Jun", "15", "2026" instead of overlapping ISO stamps.
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))


def _png(fig: Figure, title: str, notes: list[str]) -> tuple[bytes, bytes]:
    fig.suptitle(title, x=0.01, ha="left", fontsize=12.5, fontweight="bold", color=_INK)
    if notes:
        fig.text(0.01, 0.01, " · ".join(notes), fontsize=8.5, color=_MUTED, ha="left")
    fig.tight_layout(rect=(0, 0.04 if notes else 0, 1, 0.95))
    full, thumb = io.BytesIO(), io.BytesIO()
    fig.savefig(full, format="png", dpi=_DPI, facecolor="white")
    fig.savefig(thumb, format="png", dpi=_DPI * THUMB_PX[0] / SIZE_PX[0], facecolor="white")
    return full.getvalue(), thumb.getvalue()


def _no_data(f: queries.Filters, what: str = "campaign data") -> NotEnoughData:
    on = f" on {', '.join(map(channel_label, f.channels))}" if f.channels else ""
    return NotEnoughData(f"no {what} from {f.start} to {f.end}{on}: choose another period or "
                         "channels, or import data on the Data page")


def _tracks_revenue(k: dict[str, Any]) -> bool:
    return k.get("revenue") is not None


def _legend(ax: Any, **kwargs: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(frameon=False, fontsize=8.5, **kwargs)


# -- the charts ---------------------------------------------------------------------------------

def _roi_analysis(engine: sa.Engine, f: queries.Filters, currency: str, results: bool,
                  notes: list[str]) -> Figure:
    import seaborn as sns

    trend = queries.trend(engine, f)
    metric, label = ("cpa", f"Cost per result ({currency})") if results else ("roi", "ROI")
    trend = trend[trend[metric].notna()]
    if trend.empty:
        raise _no_data(f, "results" if results else "revenue")
    fig, (left, right) = _figure(2, widths=(2.2, 1))
    channels = ordered(trend["channel"].unique())
    palette = {c: channel_color(c) for c in channels}
    sns.lineplot(trend, x="period", y=metric, hue="channel", hue_order=channels, palette=palette,
                 ax=left, linewidth=1.8)
    left.set_xlabel("")
    left.set_ylabel(label)
    _date_axis(left)
    if not results:
        left.axhline(1.0, color=BREAK_EVEN_COLOR, linestyle="--", linewidth=1)
    _relabel_legend(left, title="")
    rows, total = queries.campaign_rows(engine, f, sort="cost", limit=MAX_CAMPAIGNS)
    rows = rows[rows[metric].notna()]
    if total > MAX_CAMPAIGNS:
        notes.append(f"spread of the {MAX_CAMPAIGNS:,} biggest of {total:,} campaigns")
    sns.boxplot(rows, x=metric, y="channel", hue="channel", order=channels, palette=palette,
                ax=right, fliersize=2, linewidth=0.9, legend=False)
    right.set_yticks(range(len(channels)), [channel_label(c) for c in channels])
    right.set_ylabel("")
    right.set_xlabel(f"{label} of each campaign")
    if not results:
        right.axvline(1.0, color=BREAK_EVEN_COLOR, linestyle="--", linewidth=1)
    return fig


def _relabel_legend(ax: Any, **kwargs: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, [channel_label(x) for x in labels], frameon=False, fontsize=8.5,
                  **kwargs)


def _conversion_analysis(engine: sa.Engine, f: queries.Filters, currency: str, results: bool,
                         notes: list[str]) -> Figure:
    frame = queries.channel_breakdown(engine, f)
    frame = frame[frame["impressions"] > 0]
    if frame.empty:
        raise _no_data(f, "impressions")
    fig, (left, right) = _figure(2)
    channels = ordered(frame["channel"])
    frame = frame.set_index("channel").loc[channels]
    names = [channel_label(c) for c in channels]
    colors = [channel_color(c) for c in channels]
    left.barh(names, frame["ctr"] * 100, color=colors)
    left.set_xlabel("Click-through rate (clicks ÷ impressions), %")
    left.invert_yaxis()
    rate = frame["conversion_rate"].astype(float)
    word = "Result rate (results ÷ clicks)" if results else "Conversion rate (conversions ÷ clicks)"
    shown = rate.notna()
    right.barh([n for n, s in zip(names, shown, strict=True) if s], rate[shown] * 100,
               color=[c for c, s in zip(colors, shown, strict=True) if s])
    right.set_xlabel(f"{word}, %")
    right.invert_yaxis()
    if (~shown).any():
        notes.append("not tracked: " + ", ".join(n for n, s in zip(names, shown, strict=True)
                                                 if not s))
    for ax, values in ((left, frame["ctr"] * 100), (right, rate[shown] * 100)):
        for i, v in enumerate(values):
            ax.text(v, i, f" {v:.2f}%", va="center", fontsize=8.5, color=_INK)
    return fig


def _spend_efficiency(engine: sa.Engine, f: queries.Filters, currency: str, results: bool,
                      notes: list[str]) -> Figure:
    from demetra.budget.curves import fit_curve

    daily = queries.trend(engine, f, grain="day")
    outcome, label = ("conversions", "Results per day") if results else \
        ("revenue", f"Revenue per day ({currency})")
    daily = daily[daily[outcome].notna() & (daily["cost"] > 0)]
    if daily.empty:
        raise _no_data(f, "results" if results else "revenue")
    fig, (ax,) = _figure(1)
    unfitted = []
    for channel in ordered(daily["channel"].unique()):
        d = daily[daily["channel"] == channel]
        color = channel_color(channel)
        ax.scatter(d["cost"], d[outcome], s=12, alpha=0.45, color=color,
                   label=channel_label(channel))
        try:
            curve = fit_curve(channel, d["cost"].to_numpy(float), d[outcome].to_numpy(float),
                              draws=0, currency=currency,
                              outcome="results" if results else "revenue")
        except (NotEnoughData, BadInput, ValueError):
            unfitted.append(channel_label(channel))
            continue
        x = np.linspace(0, float(d["cost"].max()) * 1.15, 120)
        ax.plot(x, curve.value(x), color=color, linewidth=2)
    if not results:
        top = float(daily["cost"].max()) * 1.15
        ax.plot([0, top], [0, top], color=BREAK_EVEN_COLOR, linestyle="--", linewidth=1,
                label="break-even (revenue = spend)")
    if unfitted:
        notes.append("no response curve (too few or too even days): " + ", ".join(unfitted))
    notes.append("dots: a channel's days; lines: its fitted response curve")
    ax.set_xlabel(f"Spend per day ({currency})")
    ax.set_ylabel(label)
    _legend(ax, loc="upper left")
    return fig


def _forecast(engine: sa.Engine, f: queries.Filters, currency: str, results: bool,
              notes: list[str]) -> Figure:
    from demetra.ml.predict import latest_predictions

    preds = latest_predictions(engine)
    if preds.empty:
        raise NotEnoughData("no forecasts yet: train the model and run predictions first "
                            "(Predictions page, or python -m demetra train then predict)")
    names = queries.campaign_names(engine, list(preds["campaign_id"]))
    preds = preds.assign(channel=[names.get(c, ("", None))[1] or c.split("_")[0].lower()
                                  for c in preds["campaign_id"]],
                         name=[names.get(c, (c, None))[0] or c for c in preds["campaign_id"]])
    if f.channels:
        preds = preds[preds["channel"].isin(f.channels)]
    if preds.empty:
        raise NotEnoughData("no forecast of a campaign on "
                            + ", ".join(map(channel_label, f.channels)) + ": choose other channels")
    roi = preds[preds["metric"] == "roi"].head(MAX_FORECASTS)
    cost = preds[preds["metric"] != "roi"].head(MAX_FORECASTS)
    shown = [(roi, "predicted_roi", "Forecast ROI (P10–P90)")] if len(roi) else []
    if len(cost):
        shown.append((cost, "predicted_cpa", f"Forecast cost per result ({currency}, P10–P90)"))
    fig, axes = _figure(len(shown))
    for ax, (frame, col, label) in zip(axes, shown, strict=True):
        y = np.arange(len(frame))
        point = frame[col].to_numpy(float)
        low, high = frame[f"{col}_low"].to_numpy(float), frame[f"{col}_high"].to_numpy(float)
        colors = [channel_color(c) for c in frame["channel"]]
        ax.hlines(y, low, high, colors=colors, linewidth=4, alpha=0.45)
        ax.scatter(point, y, color=colors, s=28, zorder=3)
        labels = [f"{n[:38]} · {r}" for n, r in zip(frame["name"], frame["risk_level"],
                                                    strict=True)]
        ax.set_yticks(y, labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        if col == "predicted_roi":
            ax.axvline(1.0, color=BREAK_EVEN_COLOR, linestyle="--", linewidth=1)
        else:
            target = frame["cpa_target"].to_numpy(float)
            ax.scatter(target, y, marker="D", s=22, color=_MUTED, label="target", zorder=4)
            _legend(ax, loc="lower right")
    more = (preds["metric"] == "roi").sum() + (preds["metric"] != "roi").sum() \
        - len(roi) - len(cost)
    as_of = preds["as_of"].dropna()
    notes.append(f"forecasts as of {as_of.max()} for {int(preds['horizon_days'].max())} days"
                 if len(as_of) else "forecasts")
    if more > 0:
        notes.append(f"the {len(roi) + len(cost)} riskiest of {len(preds)} forecasts")
    return fig


def _alerts_timeline(engine: sa.Engine, f: queries.Filters, currency: str, results: bool,
                     notes: list[str]) -> Figure:
    import seaborn as sns

    from demetra.alerts.store import AlertFilter, list_alerts

    alerts = list_alerts(engine, AlertFilter(channels=f.channels, start=f.start, end=f.end),
                         limit=100_000)
    alerts = alerts[alerts["date"].notna() & (alerts["alert_type"] != "system")]
    if alerts.empty:
        raise _no_data(f, "alerts")
    counts = (alerts.assign(day=pd.to_datetime(alerts["date"]))
              .groupby(["day", "alert_type"]).size().rename("alerts").reset_index())
    fig, (ax,) = _figure(1)
    types = sorted(counts["alert_type"].unique())
    sns.scatterplot(counts, x="day", y="alert_type", size="alerts", hue="alert_type",
                    hue_order=types, sizes=(20, 260), ax=ax, legend=False,
                    palette="deep")
    ax.set_ylabel("")
    ax.set_xlabel("First day of the incident")
    _date_axis(ax)
    ax.set_xlim(pd.Timestamp(f.start) - pd.Timedelta(days=1), pd.Timestamp(f.end) + pd.Timedelta(days=1))
    ax.set_yticks(range(len(types)), [t.replace("_", " ") for t in types])
    notes.append(f"{len(alerts):,} alerts; a dot's size is the number that started that day")
    return fig


def trend_png(engine: sa.Engine, f: queries.Filters) -> bytes:
    """Spend and revenue (or results) per day or week of the filters, for the report."""
    k = queries.kpis(engine, f)
    if not k["cost"]:
        raise _no_data(f)
    results = not _tracks_revenue(k)
    currency = queries.reporting_currency(engine)
    trend = queries.trend(engine, f)
    by = trend.groupby("period")[["cost", "revenue", "conversions"]].sum(min_count=1)
    fig, (ax,) = _figure(1)
    ax.plot(by.index, by["cost"], color=_INK, linewidth=2, label=f"Spend ({currency})")
    ax.set_ylabel(f"Spend ({currency})")
    _date_axis(ax)
    other = ax.twinx()
    outcome, label = ("conversions", "Results") if results else ("revenue", f"Revenue ({currency})")
    other.plot(by.index, by[outcome], color="#34A853", linewidth=2, label=label)
    other.set_ylabel(label)
    other.spines["top"].set_visible(False)
    lines = ax.get_lines() + other.get_lines()
    ax.legend(lines, [x.get_label() for x in lines], frameon=False, fontsize=8.5, loc="upper left")
    grain = queries.resolve_grain(f)
    title = (f"Spend and {'results' if results else 'revenue'} per {grain} · "
             f"{fmt.date_range(f.start, f.end)} · {currency}")
    return _png(fig, title, [])[0]


_RENDERERS = {"roi_analysis": _roi_analysis, "conversion_analysis": _conversion_analysis,
              "spend_efficiency": _spend_efficiency, "forecast": _forecast,
              "alerts_timeline": _alerts_timeline}


def render(engine: sa.Engine, kind: str, f: queries.Filters) -> RenderedChart:
    """One chart of ``kind`` for the filters, as PNG bytes (``SIZE_PX``) and a thumbnail."""
    if kind not in CHART_TYPES:
        raise BadInput(f"unknown chart type {kind!r}: choose one of {', '.join(CHART_TYPES)}")
    k = queries.kpis(engine, f)
    if not k["cost"] and kind != "forecast" and kind != "alerts_timeline":
        raise _no_data(f)
    results = not _tracks_revenue(k)
    currency = queries.reporting_currency(engine)
    notes: list[str] = []
    fig = _RENDERERS[kind](engine, f, currency, results, notes)
    title = _title(kind, f, currency, results)
    png, thumb = _png(fig, title, notes)
    return RenderedChart(kind, title, png, thumb, _filters_dict(f), (f.start, f.end), notes)


def standard_set(engine: sa.Engine, f: queries.Filters, *,
                 progress: Callable[[float, str], None] | None = None,
                 ) -> tuple[list[RenderedChart], dict[str, str]]:
    """Every chart type that has data for the filters, and why each other one was skipped."""
    done, skipped = [], {}
    for i, kind in enumerate(CHART_TYPES):
        if progress:
            progress(i / len(CHART_TYPES), f"Charts: {CHART_TYPES[kind]}")
        try:
            done.append(render(engine, kind, f))
        except NotEnoughData as exc:
            skipped[kind] = str(exc)
    return done, skipped

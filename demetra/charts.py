"""Plotly figure builders for the pages: pure functions from small, already-aggregated frames
(the output of ``demetra.queries``) to figures. No Streamlit here, so they are testable alone.

Every chart colours a channel the same way (``CHANNEL_COLORS``) and formats money, rates and
ROI the way the KPI cards do: "$12,345", "3.21%", "2.41×".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from demetra.config import CHANNEL_LABELS, CHANNELS

CURRENCY = "$"

# Distinguishable at a glance and loosely after each platform's brand.
CHANNEL_COLORS: dict[str, str] = {
    "facebook": "#1877F2",
    "instagram": "#D62976",
    "google_ads": "#34A853",
    "tiktok": "#14B8A6",
    "youtube": "#EF4444",
    "linkedin": "#F59E0B",
}
_FALLBACK_COLORS = ("#6366F1", "#8B5CF6", "#64748B", "#0EA5E9", "#A3A3A3")
COST_COLOR = "#94A3B8"
REVENUE_COLOR = "#0F766E"
ROI_COLOR = "#F59E0B"
BREAK_EVEN_COLOR = "#DC2626"
FONT = "Source Sans Pro, Inter, system-ui, sans-serif"

# metric key -> (label, kind); kind decides stacking and number format.
TREND_METRICS: dict[str, tuple[str, str]] = {
    "cost": ("Spend", "money"),
    "revenue": ("Revenue", "money"),
    "roi": ("ROI", "roi"),
    "conversions": ("Conversions", "count"),
    "clicks": ("Clicks", "count"),
    "ctr": ("CTR", "rate"),
    "conversion_rate": ("Conversion rate", "rate"),
}
# ratio key -> (numerator, denominator): totals over channels are ratios of sums.
_RATIOS = {"roi": ("revenue", "cost"), "ctr": ("clicks", "impressions"),
           "conversion_rate": ("conversions", "clicks")}

_TICKFORMAT = {"money": f"{CURRENCY},.0f", "count": ",.0f", "rate": ".1%", "roi": ".1f"}
_HOVERFORMAT = {"money": f"{CURRENCY},.0f", "count": ",.0f", "rate": ".2%", "roi": ".2f"}


def channel_label(channel: str) -> str:
    return CHANNEL_LABELS.get(channel, str(channel).replace("_", " ").title())


def channel_color(channel: str) -> str:
    if channel in CHANNEL_COLORS:
        return CHANNEL_COLORS[channel]
    return _FALLBACK_COLORS[sum(map(ord, str(channel))) % len(_FALLBACK_COLORS)]


def _ordered_channels(channels: Sequence[str]) -> list[str]:
    present = set(channels)
    return [c for c in CHANNELS if c in present] + sorted(present - set(CHANNELS))


def _layout(fig: go.Figure, *, height: int = 380, legend: bool = True) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        font={"family": FONT, "size": 13, "color": "#1F2937"},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hovermode="x unified",
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                "title": None, "traceorder": "normal"},
        hoverlabel={"font": {"family": FONT}},
    )
    fig.update_xaxes(showgrid=False, linecolor="#E5E7EB", ticks="outside", tickcolor="#E5E7EB")
    fig.update_yaxes(gridcolor="#F1F5F9", zeroline=False, rangemode="tozero")
    return fig


def empty_figure(message: str = "No data for this selection", height: int = 320) -> go.Figure:
    """A blank figure that says why it is blank (instead of empty axes)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 15, "color": "#6B7280"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height=height, legend=False)


def _ratio_totals(df: pd.DataFrame, metric: str) -> pd.Series:
    num, den = _RATIOS[metric]
    sums = df.groupby("period", sort=True)[[num, den]].sum()
    return (sums[num] / sums[den].where(sums[den] != 0)).astype(float)


def trend_figure(df: pd.DataFrame, metric: str = "cost", *, grain: str = "day") -> go.Figure:
    """The metric over time by channel.

    Additive metrics (spend, revenue, conversions, clicks) are stacked, so the top edge is the
    total; ratios (ROI, CTR, conversion rate) are one line per channel plus the all-channel
    ratio of sums as a dashed line (ROI also gets a break-even line at 1.0×).
    """
    if metric not in TREND_METRICS:
        raise ValueError(f"unknown trend metric {metric!r}; choose one of {', '.join(TREND_METRICS)}")
    if df is None or df.empty:
        return empty_figure()
    label, kind = TREND_METRICS[metric]
    hover = _HOVERFORMAT[kind]
    suffix = "×" if kind == "roi" else ""
    periods = pd.Series(pd.to_datetime(df["period"])).sort_values().unique()
    few = len(periods) < 8  # an area with one or two points is invisible: use bars
    fig = go.Figure()
    for channel in _ordered_channels(df["channel"].unique()):
        part = df[df["channel"] == channel].sort_values("period")
        x = pd.to_datetime(part["period"])
        name, color = channel_label(channel), channel_color(channel)
        template = f"{name}: %{{y:{hover}}}{suffix}<extra></extra>"
        if kind in ("money", "count"):
            if few:
                fig.add_bar(x=x, y=part[metric], name=name, marker_color=color,
                            hovertemplate=template)
            else:
                fig.add_scatter(x=x, y=part[metric], name=name, mode="lines", stackgroup="one",
                                line={"width": 0.8, "color": color}, fillcolor=_rgba(color, 0.72),
                                hovertemplate=template)
        else:
            fig.add_scatter(x=x, y=part[metric], name=name, mode="lines+markers" if few else "lines",
                            line={"width": 2, "color": color}, connectgaps=False,
                            hovertemplate=template)
    if kind in ("roi", "rate"):
        total = _ratio_totals(df, metric)
        fig.add_scatter(x=pd.to_datetime(total.index), y=total.to_numpy(), name="All channels",
                        mode="lines+markers" if few else "lines",
                        line={"width": 3, "color": "#111827", "dash": "dash"},
                        hovertemplate=f"All channels: %{{y:{hover}}}{suffix}<extra></extra>")
    if few and kind in ("money", "count"):
        fig.update_layout(barmode="stack", bargap=0.35)
    _layout(fig)
    if metric == "roi":
        fig.add_hline(y=1.0, line={"color": BREAK_EVEN_COLOR, "width": 1, "dash": "dot"},
                      annotation_text="break-even 1.0×", annotation_position="bottom right",
                      annotation_bgcolor="rgba(255,255,255,0.85)",
                      annotation_font={"color": BREAK_EVEN_COLOR, "size": 11})
    fig.update_yaxes(title=None, tickformat=_TICKFORMAT[kind], ticksuffix=suffix)
    fig.update_xaxes(title=None, tickformat="%b %-d" if grain == "day" else "%b %-d, %Y",
                     hoverformat="%a %b %-d, %Y" if grain == "day" else "week of %b %-d, %Y")
    _day_ticks(fig, periods, 7 if grain == "week" else 1)
    return fig


def _day_ticks(fig: go.Figure, dates: Sequence, step_days: int = 1) -> None:
    """With only a few days on the axis plotly puts ticks between them (Jun 28, Jun 28, …):
    tick exactly once per day (or week) instead."""
    if 0 < len(dates) <= 14:
        fig.update_xaxes(tickmode="linear", tick0=pd.Timestamp(min(dates)),
                         dtick=step_days * 86_400_000)


def channel_mix_figure(df: pd.DataFrame) -> go.Figure:
    """Donut of each channel's share of spend; the hover adds spend, revenue and ROI."""
    if df is None or df.empty or float(df["cost"].sum()) <= 0:
        return empty_figure("No spend in this selection")
    df = df.sort_values("cost", ascending=False)
    labels = [channel_label(c) for c in df["channel"]]
    roi = ["—" if pd.isna(v) else f"{v:.2f}×" for v in df["roi"]]
    fig = go.Figure(go.Pie(
        labels=labels, values=df["cost"], hole=0.58, sort=False, direction="clockwise",
        marker={"colors": [channel_color(c) for c in df["channel"]],
                "line": {"color": "#FFFFFF", "width": 2}},
        texttemplate="%{percent:.0%}", textposition="inside", insidetextorientation="horizontal",
        customdata=list(zip(df["revenue"], roi, strict=True)),
        hovertemplate=(f"<b>%{{label}}</b><br>Spend: {CURRENCY}%{{value:,.0f}} (%{{percent}})"
                       f"<br>Revenue: {CURRENCY}%{{customdata[0]:,.0f}}"
                       "<br>ROI: %{customdata[1]}<extra></extra>"),
    ))
    total = float(df["cost"].sum())
    fig.add_annotation(text=f"<b>{_short_money(total)}</b><br><span style='font-size:12px;"
                            f"color:#6B7280'>total spend</span>",
                       showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 20})
    _layout(fig, height=340)
    fig.update_layout(hovermode="closest", margin={"l": 8, "r": 8, "t": 8, "b": 8},
                      legend={"orientation": "v", "yanchor": "middle", "y": 0.5,
                              "xanchor": "left", "x": 1.02})
    return fig


def channel_roi_figure(df: pd.DataFrame) -> go.Figure:
    """Horizontal bars of ROI per channel, best on top, with the break-even line at 1.0×."""
    if df is None or df.empty:
        return empty_figure()
    df = df.dropna(subset=["roi"]).sort_values("roi", ascending=True)
    if df.empty:
        return empty_figure("No spend in this selection")
    labels = [channel_label(c) for c in df["channel"]]
    fig = go.Figure(go.Bar(
        x=df["roi"], y=labels, orientation="h",
        marker={"color": [channel_color(c) for c in df["channel"]]},
        text=[f"{v:.2f}×" for v in df["roi"]], textposition="outside", cliponaxis=False,
        customdata=list(zip(df["cost"], df["revenue"], strict=True)),
        hovertemplate=("<b>%{y}</b><br>ROI: %{x:.2f}×<br>"
                       f"Spend: {CURRENCY}%{{customdata[0]:,.0f}}<br>"
                       f"Revenue: {CURRENCY}%{{customdata[1]:,.0f}}<extra></extra>"),
    ))
    _layout(fig, height=340, legend=False)
    fig.add_vline(x=1.0, line={"color": BREAK_EVEN_COLOR, "width": 1, "dash": "dot"},
                  annotation_text="break-even", annotation_position="top",
                  annotation_font={"color": BREAK_EVEN_COLOR, "size": 11})
    fig.update_layout(hovermode="closest", bargap=0.35, margin={"l": 8, "r": 40, "t": 28, "b": 8})
    fig.update_xaxes(title=None, ticksuffix="×", tickformat=".1f", showgrid=True,
                     gridcolor="#F1F5F9", rangemode="tozero",
                     range=[0, max(float(df["roi"].max()) * 1.18, 1.2)])
    fig.update_yaxes(title=None, showgrid=False)
    return fig


def campaign_history_figure(df: pd.DataFrame) -> go.Figure:
    """One campaign by day: spend and revenue bars, ROI line on a secondary axis."""
    if df is None or df.empty:
        return empty_figure("No days with data for this campaign in the selected range")
    x = pd.to_datetime(df["date"])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=x, y=df["cost"], name="Spend", marker_color=COST_COLOR,
                hovertemplate=f"Spend: {CURRENCY}%{{y:,.2f}}<extra></extra>", secondary_y=False)
    fig.add_bar(x=x, y=df["revenue"], name="Revenue", marker_color=REVENUE_COLOR,
                hovertemplate=f"Revenue: {CURRENCY}%{{y:,.2f}}<extra></extra>", secondary_y=False)
    fig.add_scatter(x=x, y=df["roi"], name="ROI", mode="lines+markers",
                    line={"color": ROI_COLOR, "width": 2.5}, marker={"size": 5},
                    connectgaps=False, hovertemplate="ROI: %{y:.2f}×<extra></extra>",
                    secondary_y=True)
    _layout(fig, height=400)
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.add_hline(y=1.0, line={"color": BREAK_EVEN_COLOR, "width": 1, "dash": "dot"},
                  secondary_y=True, annotation_text="ROI break-even",
                  annotation_position="top left", annotation_bgcolor="rgba(255,255,255,0.85)",
                  annotation_font={"color": BREAK_EVEN_COLOR, "size": 11})
    fig.update_yaxes(title_text="Spend & revenue", tickformat=f"{CURRENCY},.0f",
                     secondary_y=False)
    fig.update_yaxes(title_text="ROI", ticksuffix="×", tickformat=".1f", tickmode="auto",
                     nticks=6, showgrid=False, rangemode="tozero", secondary_y=True)
    fig.update_xaxes(title=None, tickformat="%b %-d", hoverformat="%a %b %-d, %Y")
    _day_ticks(fig, list(x))
    return fig


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _short_money(value: float) -> str:
    for size, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{CURRENCY}{value / size:,.1f}{unit}"
    return f"{CURRENCY}{value:,.0f}"


def mark_incident(fig: go.Figure, first: Any, last: Any) -> go.Figure:
    """Shade the incident's days on a daily chart."""
    start = pd.Timestamp(first) - pd.Timedelta(hours=12)
    end = pd.Timestamp(last) + pd.Timedelta(hours=12)
    fig.add_vrect(x0=start, x1=end, fillcolor="#DC2626", opacity=0.12, line_width=0,
                  annotation_text="incident", annotation_position="top left",
                  annotation_font={"color": "#B91C1C", "size": 11})
    return fig


# --------------------------------------------------------------------------------------------
# Predictions

RISK_COLORS = {"high": "#DC2626", "medium": "#F59E0B", "low": "#16A34A"}


def forecast_band(fig: go.Figure, start: Any, end: Any, low: float, mid: float,
                  high: float) -> go.Figure:
    """Draw a forecast of ROI over ``start``..``end`` on a campaign history chart: the P10–P90
    band and the point forecast, on the ROI (secondary) axis."""
    x0 = pd.Timestamp(start) - pd.Timedelta(hours=12)
    x1 = pd.Timestamp(end) + pd.Timedelta(hours=12)
    secondary = {"secondary_y": True} if any(
        getattr(t, "yaxis", None) == "y2" for t in fig.data) else {}
    fig.add_scatter(x=[x0, x1, x1, x0, x0], y=[low, low, high, high, low], fill="toself",
                    fillcolor=_rgba(ROI_COLOR, 0.18), line={"width": 0}, mode="lines",
                    name="Forecast P10–P90", hoverinfo="skip", **secondary)
    fig.add_scatter(x=[x0, x1], y=[mid, mid], mode="lines", name="Forecast ROI",
                    line={"color": ROI_COLOR, "width": 2, "dash": "dash"},
                    hovertemplate=f"Forecast ROI: {mid:.2f}× (P10–P90 {low:.2f}–{high:.2f}×)"
                                  "<extra></extra>", **secondary)
    return fig


def metric_bars_figure(values: dict[str, float], *, title: str, fmt: str = ".3f",
                       highlight: str | None = None, height: int = 320) -> go.Figure:
    """Horizontal bars of one number per label (forecasters' error, feature importance)."""
    items = [(k, v) for k, v in values.items() if v is not None]
    if not items:
        return empty_figure("Nothing to show", height=height)
    labels = [k for k, _ in items]
    fig = go.Figure(go.Bar(
        x=[v for _, v in items], y=labels, orientation="h",
        marker_color=[REVENUE_COLOR if k == highlight else COST_COLOR for k in labels],
        texttemplate=f"%{{x:{fmt}}}", textposition="outside", cliponaxis=False,
        hovertemplate=f"%{{y}}: %{{x:{fmt}}}<extra></extra>"))
    _layout(fig, height=height, legend=False)
    fig.update_layout(title={"text": title, "font": {"size": 14}})
    fig.update_yaxes(autorange="reversed", title=None)
    top = max(max(v for _, v in items), 0.0)
    # Room on the right for the value labels.
    fig.update_xaxes(title=None, range=[0, top * 1.18 if top > 0 else 1])
    return fig


def forecast_intervals_figure(df: pd.DataFrame) -> go.Figure:
    """Point forecast with its P10–P90 interval per campaign, coloured by risk level.

    ``df`` has ``label``, ``predicted_roi``, ``predicted_roi_low``, ``predicted_roi_high`` and
    ``risk_level``, in the order to show (top first)."""
    if df is None or df.empty:
        return empty_figure("No predictions for this selection")
    fig = go.Figure()
    for level, color in RISK_COLORS.items():
        part = df[df["risk_level"] == level]
        if part.empty:
            continue
        point = part["predicted_roi"].astype(float)
        fig.add_scatter(
            x=point, y=part["label"], mode="markers", name=f"{level.capitalize()} risk",
            marker={"color": color, "size": 9},
            error_x={"type": "data", "symmetric": False, "color": color, "thickness": 1.5,
                     "array": part["predicted_roi_high"].astype(float) - point,
                     "arrayminus": point - part["predicted_roi_low"].astype(float)},
            hovertemplate="%{y}: %{x:.2f}×<extra></extra>")
    _layout(fig, height=max(320, 28 * len(df) + 120))
    fig.add_vline(x=1.0, line={"color": BREAK_EVEN_COLOR, "width": 1, "dash": "dot"})
    fig.update_yaxes(autorange="reversed", title=None, categoryorder="array",
                     categoryarray=list(df["label"]))
    fig.update_xaxes(title="Forecast ROI (P10–P90)", ticksuffix="×")
    return fig

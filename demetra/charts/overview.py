"""The Overview page's figures: a metric over time by channel, the channel mix, ROI by
channel. Pure functions of the small frames ``demetra.queries`` returns."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from demetra.charts.theme import (
    break_even,
    channel_color,
    channel_label,
    day_ticks,
    empty_figure,
    layout,
    money_hover,
    ordered_channels,
    rgba,
)
from demetra.format import DASH, DEFAULT_CURRENCY, currency_prefix, money_short, roi

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
_RATIOS = {"roi": ("revenue", "revenue_cost"), "ctr": ("clicks", "impressions"),
           "conversion_rate": ("conversions", "result_clicks")}

_TICKFORMAT = {"money": ",.0f", "count": ",.0f", "rate": ".1%", "roi": ".1f"}
_HOVERFORMAT = {"money": ",.0f", "count": ",.0f", "rate": ".2%", "roi": ".2f"}


def _ratio_totals(df: pd.DataFrame, metric: str) -> pd.Series:
    num, den = _RATIOS[metric]
    sums = df.groupby("period", sort=True)[[num, den]].sum(min_count=1)
    return (sums[num] / sums[den].where(sums[den] != 0)).astype(float)


def trend_figure(df: pd.DataFrame, metric: str = "cost", *, grain: str = "day",
                 currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
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
    prefix = currency_prefix(currency) if kind == "money" else ""
    suffix = "×" if kind == "roi" else ""
    periods = pd.Series(pd.to_datetime(df["period"])).sort_values().unique()
    few = len(periods) < 8  # an area with one or two points is invisible: use bars
    fig = go.Figure()
    for channel in ordered_channels(df["channel"].unique()):
        part = df[df["channel"] == channel].sort_values("period")
        x = pd.to_datetime(part["period"])
        name, color = channel_label(channel), channel_color(channel)
        template = f"{name}: {prefix}%{{y:{hover}}}{suffix}<extra></extra>"
        if kind in ("money", "count"):
            if few:
                fig.add_bar(x=x, y=part[metric], name=name, marker_color=color,
                            hovertemplate=template)
            else:
                fig.add_scatter(x=x, y=part[metric], name=name, mode="lines", stackgroup="one",
                                line={"width": 0.8, "color": color}, fillcolor=rgba(color, 0.72),
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
    layout(fig)
    if metric == "roi":
        break_even(fig)
    fig.update_yaxes(title=None, tickformat=_TICKFORMAT[kind], tickprefix=prefix,
                     ticksuffix=suffix)
    fig.update_xaxes(title=None, tickformat="%b %-d" if grain == "day" else "%b %-d, %Y",
                     hoverformat="%a %b %-d, %Y" if grain == "day" else "week of %b %-d, %Y")
    day_ticks(fig, periods, 7 if grain == "week" else 1)
    return fig


def channel_mix_figure(df: pd.DataFrame, *, currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
    """Donut of each channel's share of spend; the hover adds spend, revenue and ROI."""
    if df is None or df.empty or float(df["cost"].sum()) <= 0:
        return empty_figure("No spend in this selection")
    df = df.sort_values("cost", ascending=False)
    labels = [channel_label(c) for c in df["channel"]]
    rois = [DASH if pd.isna(v) else roi(v) for v in df["roi"]]
    fig = go.Figure(go.Pie(
        labels=labels, values=df["cost"], hole=0.58, sort=False, direction="clockwise",
        marker={"colors": [channel_color(c) for c in df["channel"]],
                "line": {"color": "#FFFFFF", "width": 2}},
        texttemplate="%{percent:.0%}", textposition="inside", insidetextorientation="horizontal",
        customdata=list(zip(df["revenue"], rois, strict=True)),
        hovertemplate=(f"<b>%{{label}}</b><br>Spend: {money_hover('value', currency)} "
                       f"(%{{percent}})<br>Revenue: {money_hover('customdata[0]', currency)}"
                       "<br>ROI: %{customdata[1]}<extra></extra>"),
    ))
    total = float(df["cost"].sum())
    fig.add_annotation(text=f"<b>{money_short(total, currency)}</b><br><span style='font-size:12px;"
                            f"color:#6B7280'>total spend</span>",
                       showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 20})
    layout(fig, height=340)
    fig.update_layout(hovermode="closest", margin={"l": 8, "r": 8, "t": 8, "b": 8},
                      legend={"orientation": "v", "yanchor": "middle", "y": 0.5,
                              "xanchor": "left", "x": 1.02})
    return fig


def channel_roi_figure(df: pd.DataFrame, *, currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
    """Horizontal bars of ROI per channel, best on top, with the break-even line at 1.0×."""
    if df is None or df.empty:
        return empty_figure()
    df = df.dropna(subset=["roi"]).sort_values("roi", ascending=True)
    if df.empty:
        return empty_figure("Revenue is not tracked in this selection")
    labels = [channel_label(c) for c in df["channel"]]
    fig = go.Figure(go.Bar(
        x=df["roi"], y=labels, orientation="h",
        marker={"color": [channel_color(c) for c in df["channel"]]},
        text=[roi(v) for v in df["roi"]], textposition="outside", cliponaxis=False,
        customdata=list(zip(df["cost"], df["revenue"], strict=True)),
        hovertemplate=("<b>%{y}</b><br>ROI: %{x:.2f}×<br>"
                       f"Spend: {money_hover('customdata[0]', currency)}<br>"
                       f"Revenue: {money_hover('customdata[1]', currency)}<extra></extra>"),
    ))
    layout(fig, height=340, legend=False)
    break_even(fig, vertical=True, text="break-even", position="top")
    fig.update_layout(hovermode="closest", bargap=0.35, margin={"l": 8, "r": 40, "t": 28, "b": 8})
    fig.update_xaxes(title=None, ticksuffix="×", tickformat=".1f", showgrid=True,
                     gridcolor="#F1F5F9", rangemode="tozero",
                     range=[0, max(float(df["roi"].max()) * 1.18, 1.2)])
    fig.update_yaxes(title=None, showgrid=False)
    return fig


def channel_cpa_figure(df: pd.DataFrame, *, currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
    """Horizontal bars of cost per result per channel, cheapest on top, with the account's CPA
    (a ratio of sums) as a dashed line: for accounts that track results, not revenue."""
    if df is None or df.empty:
        return empty_figure()
    account = (float(df["result_cost"].sum()) / float(df["conversions"].sum())
               if df["conversions"].sum() > 0 else None)
    df = df.dropna(subset=["cpa"]).sort_values("cpa", ascending=False)
    if df.empty:
        return empty_figure("No results in this selection")
    labels = [channel_label(c) for c in df["channel"]]
    prefix = currency_prefix(currency)
    fig = go.Figure(go.Bar(
        x=df["cpa"], y=labels, orientation="h",
        marker={"color": [channel_color(c) for c in df["channel"]]},
        text=[f"{prefix}{v:,.2f}" for v in df["cpa"]], textposition="outside", cliponaxis=False,
        customdata=list(zip(df["cost"], df["conversions"], strict=True)),
        hovertemplate=("<b>%{y}</b><br>CPA: " + prefix + "%{x:,.2f}<br>"
                       f"Spend: {money_hover('customdata[0]', currency)}<br>"
                       "Results: %{customdata[1]:,.0f}<extra></extra>"),
    ))
    layout(fig, height=340, legend=False)
    if account is not None:
        fig.add_vline(x=account, line={"color": "#111827", "dash": "dash", "width": 1.5},
                      annotation={"text": f"account {prefix}{account:,.2f}", "yanchor": "bottom"},
                      annotation_position="top")
    fig.update_layout(hovermode="closest", bargap=0.35, margin={"l": 8, "r": 40, "t": 28, "b": 8})
    fig.update_xaxes(title=None, tickprefix=prefix, tickformat=",.2f", showgrid=True,
                     gridcolor="#F1F5F9", rangemode="tozero",
                     range=[0, float(df["cpa"].max()) * 1.25])
    fig.update_yaxes(title=None, showgrid=False)
    return fig

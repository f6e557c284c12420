"""The one look of every chart: the channel palette, fonts, layout, number formats and the
marks that recur (break-even, an empty figure that says why it is empty).

Plotly (the pages) reads it here; the persisted PNG charts take the same palette.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from demetra.channels import channel_label, ordered
from demetra.format import DEFAULT_CURRENCY, currency_prefix

__all__ = ["BREAK_EVEN_COLOR", "CHANNEL_COLORS", "COST_COLOR", "FONT", "REVENUE_COLOR",
           "ROI_COLOR", "break_even", "channel_color", "channel_label", "day_ticks",
           "empty_figure", "layout", "money_hover", "ordered_channels", "rgba"]

# Distinguishable at a glance and loosely after each platform's brand (Snapchat's own yellow,
# #FFFC00, cannot be read on white: a darker one stands for it).
CHANNEL_COLORS: dict[str, str] = {
    "facebook": "#1877F2",
    "instagram": "#D62976",
    "google_ads": "#34A853",
    "tiktok": "#14B8A6",
    "youtube": "#EF4444",
    "linkedin": "#F59E0B",
    "microsoft_ads": "#00A4EF",
    "pinterest": "#E60023",
    "snapchat": "#EAB308",
    "x": "#111827",
    "reddit": "#FF4500",
    "amazon": "#FF9900",
    "apple_search_ads": "#6B7280",
}
# Any other channel (an imported file's own) takes one of these, the same on every chart: chosen
# by a checksum of its id, never by its position in a legend.
_FALLBACK_COLORS = ("#6366F1", "#8B5CF6", "#64748B", "#0EA5E9", "#A3A3A3")
COST_COLOR = "#94A3B8"
REVENUE_COLOR = "#0F766E"
ROI_COLOR = "#F59E0B"
BREAK_EVEN_COLOR = "#DC2626"
TEXT_COLOR = "#1F2937"
MUTED_COLOR = "#6B7280"
GRID_COLOR = "#F1F5F9"
FONT = "Source Sans Pro, Inter, system-ui, sans-serif"

ordered_channels = ordered


def channel_color(channel: str) -> str:
    if channel in CHANNEL_COLORS:
        return CHANNEL_COLORS[channel]
    return _FALLBACK_COLORS[sum(map(ord, str(channel))) % len(_FALLBACK_COLORS)]


def rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def money_hover(field: str, currency: str | None = DEFAULT_CURRENCY, decimals: int = 0) -> str:
    """A plotly hover template fragment for an amount: "$%{y:,.0f}"."""
    return f"{currency_prefix(currency)}%{{{field}:,.{decimals}f}}"


def layout(fig: go.Figure, *, height: int = 380, legend: bool = True) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        font={"family": FONT, "size": 13, "color": TEXT_COLOR},
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        hovermode="x unified",
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0,
                "title": None, "traceorder": "normal"},
        hoverlabel={"font": {"family": FONT}},
    )
    fig.update_xaxes(showgrid=False, linecolor="#E5E7EB", ticks="outside", tickcolor="#E5E7EB")
    fig.update_yaxes(gridcolor=GRID_COLOR, zeroline=False, rangemode="tozero")
    return fig


def empty_figure(message: str = "No data for this selection", height: int = 320) -> go.Figure:
    """A blank figure that says why it is blank (instead of empty axes)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper",
                       font={"size": 15, "color": MUTED_COLOR})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return layout(fig, height=height, legend=False)


def break_even(fig: go.Figure, *, vertical: bool = False, text: str | None = "break-even 1.0×",
               position: str = "bottom right", **kwargs: object) -> go.Figure:
    """The dotted line at ROI 1.0× (horizontal on a time axis, vertical on a bar chart)."""
    line = {"color": BREAK_EVEN_COLOR, "width": 1, "dash": "dot"}
    note = {} if text is None else {
        "annotation_text": text, "annotation_position": position,
        "annotation_bgcolor": "rgba(255,255,255,0.85)",
        "annotation_font": {"color": BREAK_EVEN_COLOR, "size": 11}}
    if vertical:
        fig.add_vline(x=1.0, line=line, **note, **kwargs)
    else:
        fig.add_hline(y=1.0, line=line, **note, **kwargs)
    return fig


def day_ticks(fig: go.Figure, dates: Sequence, step_days: int = 1) -> None:
    """With only a few days on the axis plotly puts ticks between them (Jun 28, Jun 28, …):
    tick exactly once per day (or week) instead."""
    if 0 < len(dates) <= 14:
        fig.update_xaxes(tickmode="linear", tick0=pd.Timestamp(min(dates)),
                         dtick=step_days * 86_400_000)

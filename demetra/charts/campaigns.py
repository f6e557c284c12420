"""The Campaigns page's figure: one campaign by day."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from demetra.charts.theme import (
    COST_COLOR,
    REVENUE_COLOR,
    ROI_COLOR,
    break_even,
    day_ticks,
    empty_figure,
    layout,
    money_hover,
)
from demetra.format import DEFAULT_CURRENCY, currency_prefix


def campaign_history_figure(df: pd.DataFrame, *,
                            currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
    """One campaign by day: spend and revenue bars, ROI line on a secondary axis."""
    if df is None or df.empty:
        return empty_figure("No days with data for this campaign in the selected range")
    x = pd.to_datetime(df["date"])
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=x, y=df["cost"], name="Spend", marker_color=COST_COLOR,
                hovertemplate=f"Spend: {money_hover('y', currency, 2)}<extra></extra>",
                secondary_y=False)
    fig.add_bar(x=x, y=df["revenue"], name="Revenue", marker_color=REVENUE_COLOR,
                hovertemplate=f"Revenue: {money_hover('y', currency, 2)}<extra></extra>",
                secondary_y=False)
    fig.add_scatter(x=x, y=df["roi"], name="ROI", mode="lines+markers",
                    line={"color": ROI_COLOR, "width": 2.5}, marker={"size": 5},
                    connectgaps=False, hovertemplate="ROI: %{y:.2f}×<extra></extra>",
                    secondary_y=True)
    layout(fig, height=400)
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    break_even(fig, text="ROI break-even", position="top left", secondary_y=True)
    fig.update_yaxes(title_text="Spend & revenue", tickformat=",.0f",
                     tickprefix=currency_prefix(currency), secondary_y=False)
    fig.update_yaxes(title_text="ROI", ticksuffix="×", tickformat=".1f", tickmode="auto",
                     nticks=6, showgrid=False, rangemode="tozero", secondary_y=True)
    fig.update_xaxes(title=None, tickformat="%b %-d", hoverformat="%a %b %-d, %Y")
    day_ticks(fig, list(x))
    return fig

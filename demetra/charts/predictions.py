"""The Predictions page's figures: forecast bands, forecasters' errors, the riskiest
campaigns' intervals."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go

from demetra.charts.theme import (
    COST_COLOR,
    REVENUE_COLOR,
    ROI_COLOR,
    break_even,
    empty_figure,
    layout,
    rgba,
)

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
                    fillcolor=rgba(ROI_COLOR, 0.18), line={"width": 0}, mode="lines",
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
    layout(fig, height=height, legend=False)
    fig.update_layout(title={"text": title, "font": {"size": 14}})
    fig.update_yaxes(autorange="reversed", title=None)
    top = max(max(v for _, v in items), 0.0)
    # Room on the right for the value labels.
    fig.update_xaxes(title=None, range=[0, top * 1.18 if top > 0 else 1])
    return fig


def forecast_intervals_figure(df: pd.DataFrame, *, metric: str = "roi") -> go.Figure:
    """Point forecast with its P10–P90 interval per campaign, coloured by risk level.

    ``df`` has ``label``, ``risk_level`` and, for ``metric="roi"``, ``predicted_roi``,
    ``predicted_roi_low``, ``predicted_roi_high``; for ``metric="cpa"`` (campaigns without
    revenue: cost per result, no break-even line, the target as a diamond) or ``"cpc"``
    (neither revenue nor results tracked: cost per click, stored in the same columns)
    ``predicted_cpa``, ``predicted_cpa_low``, ``predicted_cpa_high`` and ``cpa_target``. In
    the order to show (top first)."""
    if df is None or df.empty:
        return empty_figure("No predictions for this selection")
    col = "predicted_roi" if metric == "roi" else "predicted_cpa"
    fig = go.Figure()
    for level, color in RISK_COLORS.items():
        part = df[df["risk_level"] == level]
        if part.empty:
            continue
        point = part[col].astype(float)
        fig.add_scatter(
            x=point, y=part["label"], mode="markers", name=f"{level.capitalize()} risk",
            marker={"color": color, "size": 9},
            error_x={"type": "data", "symmetric": False, "color": color, "thickness": 1.5,
                     "array": part[f"{col}_high"].astype(float) - point,
                     "arrayminus": point - part[f"{col}_low"].astype(float)},
            hovertemplate="%{y}: %{x:.2f}" + ("×" if metric == "roi" else "")
                          + "<extra></extra>")
    layout(fig, height=max(320, 28 * len(df) + 120))
    fig.update_yaxes(autorange="reversed", title=None, categoryorder="array",
                     categoryarray=list(df["label"]))
    if metric == "roi":
        break_even(fig, vertical=True, text=None)
        fig.update_xaxes(title="Forecast ROI (P10–P90)", ticksuffix="×")
    else:
        word = "CPC" if metric == "cpc" else "CPA"
        fig.add_scatter(x=df["cpa_target"].astype(float), y=df["label"], mode="markers",
                        name=f"Target {word}", marker={"symbol": "diamond-open", "size": 10,
                                                       "color": "#334155"},
                        hovertemplate="%{y}: target %{x:.2f}<extra></extra>")
        fig.update_xaxes(title="Forecast CPC (neither revenue nor results tracked), P10–P90"
                         if metric == "cpc" else "Forecast cost per result (P10–P90)")
    return fig

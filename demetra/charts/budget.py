"""The Budget page's figures: each channel's response curve with its band, the current and
recommended split, and the marginal ROI now and after. Pure functions of the curves and the
:class:`~demetra.budget.Allocation` that ``demetra.budget`` computes; amounts are written in
``currency`` (the data's)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from demetra.charts.theme import (
    COST_COLOR,
    REVENUE_COLOR,
    ROI_COLOR,
    TEXT_COLOR,
    break_even,
    channel_color,
    channel_label,
    empty_figure,
    layout,
    money_hover,
    rgba,
)
from demetra.format import DEFAULT_CURRENCY, currency_prefix, money, roi

if TYPE_CHECKING:  # only for the annotations: importing the charts must not load scipy
    from demetra.budget import Allocation, Curve

__all__ = ["curves_figure", "marginal_figure", "split_figure"]


def curves_figure(curves: Mapping[str, Curve], allocation: Allocation | None = None, *,
                  truth: Mapping[str, Curve] | None = None, level: float = 0.8,
                  currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
    """One panel per channel: the fitted curve with its band over 0 to well past the observed
    range (shaded), the current spend marked with its marginal ROI, the recommended spend,
    and, on a seeded world, the true curve dashed beside it."""
    names = list(curves)
    if not names:
        return empty_figure("No channel has a response curve")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[channel_label(c) for c in names],
                        horizontal_spacing=0.06, vertical_spacing=0.14)
    results = any(getattr(c, "outcome", "revenue") == "results" for c in curves.values())
    hover = (f"spend {money_hover('x', currency)} → %{{y:,.1f}} results" if results else
             f"spend {money_hover('x', currency)} → revenue {money_hover('y', currency)}")

    def margin(c: Curve, spend: float) -> str:
        # Results: what one more result costs there (1 ÷ the slope), not a return.
        if not results:
            return f"ROI {roi(c.marginal_roi(spend))}"
        slope = c.marginal_roi(spend)
        return f"CPA {money(1 / slope, currency, decimals=2)}" if slope > 0 else "CPA —"

    for i, ch in enumerate(names):
        c = curves[ch]
        at = {"row": i // cols + 1, "col": i % cols + 1}
        rec = allocation.allocation.get(ch) if allocation and allocation.feasible else None
        right = max(c.spend_max * 1.6, (rec or 0) * 1.15, c.current_spend * 1.6, 1.0)
        xs = np.linspace(0, right, 120)
        color = channel_color(ch)
        first = i == 0
        low, high = c.band(xs, level)
        fig.add_trace(go.Scatter(x=np.concatenate([xs, xs[::-1]]),
                                 y=np.concatenate([high, low[::-1]]), fill="toself",
                                 fillcolor=rgba(color, 0.18), line={"width": 0},
                                 hoverinfo="skip", name=f"{level:.0%} band", legendgroup="band",
                                 showlegend=first), **at)
        fig.add_trace(go.Scatter(x=xs, y=c.revenue(xs), line={"color": color, "width": 2.5},
                                 name="fitted", legendgroup="fit", showlegend=first,
                                 hovertemplate=f"{hover}<extra>fitted</extra>"), **at)
        if truth and ch in truth:
            fig.add_trace(go.Scatter(x=xs, y=truth[ch].revenue(xs),
                                     line={"color": TEXT_COLOR, "width": 1.5, "dash": "dash"},
                                     name="true curve", legendgroup="true", showlegend=first,
                                     hovertemplate=f"{hover}<extra>true</extra>"), **at)
        # The spend observed in the window, in the spend colour: outside it the curve extrapolates.
        fig.add_vrect(x0=c.spend_min, x1=c.spend_max, fillcolor=COST_COLOR, opacity=0.12,
                      line_width=0, **at)
        now = c.current_spend
        m_now = margin(c, now)
        fig.add_trace(go.Scatter(
            x=[now], y=[c.revenue(now)], mode="markers",
            marker={"color": TEXT_COLOR, "size": 10, "symbol": "circle"},
            name="current spend", legendgroup="now", showlegend=first,
            hovertemplate=(f"current {money(now, currency, decimals=0)}/day<br>marginal "
                           f"{m_now}<extra></extra>")), **at)
        fig.add_annotation(x=now, y=float(c.revenue(now)), text=f"m{m_now}", showarrow=True,
                           arrowhead=0, ax=0, ay=-28, font={"size": 11}, **at)
        if rec is not None:
            fig.add_trace(go.Scatter(
                x=[rec], y=[c.revenue(rec)], mode="markers",
                marker={"color": color, "size": 12, "symbol": "star",
                        "line": {"color": TEXT_COLOR, "width": 1}},
                name="recommended", legendgroup="rec", showlegend=first,
                hovertemplate=(f"recommended {money(rec, currency, decimals=0)}/day<br>marginal "
                               f"{margin(c, rec)}<extra></extra>")), **at)
    layout(fig, height=300 * rows + 60)
    fig.update_layout(hovermode="closest")   # a point per trace, not one x across the panels
    prefix = currency_prefix(currency)
    fig.update_xaxes(tickprefix=prefix, tickformat=",.0f")
    fig.update_yaxes(tickprefix="" if results else prefix, tickformat="~s")
    return fig


def _bars(a: Allocation, now: dict[str, float], after: dict[str, float], names: tuple[str, str],
          colors: tuple[str, str], hover: str, missing: float | None = 0.0) -> go.Figure:
    """Two bars per channel of ``a``: its value in ``now`` and in ``after`` (or ``missing``)."""
    if not a.current:
        return empty_figure("No channel to show", height=340)
    channels = list(a.current)
    labels = [channel_label(c) for c in channels]
    fig = go.Figure([
        go.Bar(x=labels, y=[values.get(c, missing) for c in channels], name=name,
               marker_color=color, hovertemplate=f"{hover}<extra>{name}</extra>")
        for values, name, color in zip((now, after), names, colors, strict=True)])
    layout(fig, height=340)
    fig.update_layout(barmode="group")
    return fig


def split_figure(a: Allocation, *, currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
    """Current vs recommended daily spend per channel."""
    fig = _bars(a, a.current, a.allocation, ("current", "recommended"),
                (COST_COLOR, REVENUE_COLOR), f"{money_hover('y', currency)}/day")
    fig.update_yaxes(tickprefix=currency_prefix(currency), tickformat=",.0f", title="daily spend")
    return fig


def marginal_figure(a: Allocation, *, currency: str | None = DEFAULT_CURRENCY) -> go.Figure:
    """Marginal ROI per channel now and at the recommended split, with break-even at 1: an
    optimal split leaves the channels no guardrail holds on one level."""
    fig = _bars(a, a.current_marginal_roi, a.marginal_roi, ("now", "after"),
                (COST_COLOR, ROI_COLOR), "%{y:.2f}", missing=None)
    if a.current:
        break_even(fig, text="break-even", position="top left")
    fig.update_yaxes(tickformat=".2f",
                     title=f"revenue per extra {money(1, currency, decimals=0)}")
    return fig

"""Budget: each channel's fitted response curve, the split of a daily budget that the curves
expect to earn the most within the guardrails, the reverse question, and — on the seeded demo
world — the proof against the true curves."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import budget
from demetra import format as fmt
from demetra.app import cache
from demetra.app.filters import active_filters, require_filters
from demetra.app.runtime import get_engine
from demetra.app.widgets import money_column, money_unit, page_header
from demetra.channels import channel_label
from demetra.charts import budget as figures
from demetra.queries import Filters


def _daily(label: str, currency: str, **kwargs: Any) -> Any:
    """An amount-per-day column: "Current $/day"."""
    return money_column(f"{label} {money_unit(currency)}/day", currency, cents=True, **kwargs)


def _guardrails(curves: Any, cap: float | None, currency: str) -> budget.Guardrails:
    with st.expander("Guardrails per channel", icon=":material/tune:"):
        st.caption("Daily minimum and maximum per channel (empty = none); a locked channel keeps "
                   "its current spend.")
        base = pd.DataFrame({"channel": list(curves),
                             "current": [round(c.current_spend, 2) for c in curves.values()],
                             "min": [None] * len(curves), "max": [None] * len(curves),
                             "locked": [False] * len(curves)})
        edited = st.data_editor(
            base, key="bud_rails", hide_index=True, width="stretch",
            disabled=["channel", "current"], column_config={
                "channel": st.column_config.TextColumn("Channel"),
                "current": _daily("Current", currency),
                "min": _daily("Min", currency, min_value=0.0),
                "max": _daily("Max", currency, min_value=0.0),
                "locked": st.column_config.CheckboxColumn("Locked"),
            })
    return budget.guardrails_from_rows(edited.to_dict("records"), cap)


_SETTLED = "Equal across the channels no guardrail holds: no money can move for more"


def _margin_columns(kind: str, currency: str, *, now_help: str | None = None,
                    after_help: str | None = _SETTLED) -> dict[str, Any]:
    """The marginal ROI (``kind`` "roi") or marginal CPA ("cpa") columns, now and after."""
    if kind == "roi":
        return {"marginal_roi_now": st.column_config.NumberColumn(
                    "Marginal ROI now", format="%.2f", help=now_help),
                "marginal_roi_after": st.column_config.NumberColumn(
                    "Marginal ROI after", format="%.2f", help=after_help)}
    return {"marginal_cpa_now": money_column("Marginal CPA now", currency, cents=True,
                                             help=now_help),
            "marginal_cpa_after": money_column("Marginal CPA after", currency, cents=True,
                                               help=after_help)}


def _split_dataframe(result: budget.Allocation, currency: str, *, key: str,
                     names: Callable[[str], str], name_column: Any,
                     margins: dict[str, Any]) -> None:
    """A split's table: each row's current, recommended and changed daily spend, and its
    margins; rows (channels or campaigns) named by ``names``."""
    table = budget.split_table(result)
    table["channel"] = table["channel"].map(names)
    table["change_pct"] = table["change_pct"] * 100
    st.dataframe(table, hide_index=True, width="stretch", key=key, column_config={
        "channel": name_column,
        "current": _daily("Current", currency),
        "recommended": _daily("Recommended", currency),
        "change": _daily("Change", currency),
        "change_pct": st.column_config.NumberColumn("Change", format="%+.0f%%"),
        **margins})


def _recommendation(result: budget.Allocation, currency: str) -> None:
    st.subheader("Recommended split", anchor=False)
    if not result.feasible:
        st.error(result.message, icon=":material/block:")
        return
    money = functools.partial(fmt.money, currency=currency)
    if result.note:
        st.info(result.note, icon=":material/info:")
    if result.outcome == "results":
        _results_split(result, currency)
        return
    rev_col, roi_col, band_col = st.columns(3)
    rev_col.metric("Expected revenue / day", money(result.expected_revenue),
                   delta=money(result.revenue_change) + " vs current split",
                   help="By the fitted curves; the current split earns "
                        f"{money(result.current_revenue)} a day by the same curves.")
    roi_delta = (None if result.expected_roi is None or result.current_roi is None
                 else f"{result.expected_roi - result.current_roi:+.2f} vs current")
    roi_col.metric("Expected ROI", fmt.roi(result.expected_roi), delta=roi_delta)
    band_col.metric("Revenue, 80 % band", f"{money(result.revenue_low)} – "
                    f"{money(result.revenue_high)}",
                    help="The central 80 % of the expected revenue over the curves' parameter "
                         "uncertainty (the fit's covariance).")
    _split_dataframe(result, currency, key="bud_split", names=channel_label,
                     name_column=st.column_config.TextColumn("Channel"),
                     margins=_margin_columns("roi", currency,
                                             now_help=f"Revenue one more {money(1)} a day "
                                                      "earns there"))
    split_col, mroi_col = st.columns(2)
    split_col.plotly_chart(figures.split_figure(result, currency=currency), width="stretch",
                           key="bud_split_chart")
    mroi_col.plotly_chart(figures.marginal_figure(result, currency=currency), width="stretch",
                          key="bud_mroi_chart")


def _results_split(result: budget.Allocation, currency: str) -> None:
    """The split for the most results: expected results and CPA, no revenue or ROI (the
    account does not track them)."""
    money = functools.partial(fmt.money, currency=currency, decimals=2)
    res_col, cpa_col, band_col = st.columns(3)
    res_col.metric("Expected results / day", f"{result.expected_results:,.1f}",
                   delta=f"{result.results_change:+,.1f} vs current split",
                   help="By the fitted curves of results on spend; the current split brings "
                        f"{result.current_results:,.1f} a day by the same curves.")
    cpa_delta = (None if result.expected_cpa is None or result.current_cpa is None
                 else f"{money(result.expected_cpa - result.current_cpa)} vs current")
    cpa_col.metric("Expected CPA", money(result.expected_cpa), delta=cpa_delta,
                   delta_color="inverse", help="Spend ÷ expected results")
    band_col.metric("Results, 80 % band", f"{result.results_low:,.1f} – "
                    f"{result.results_high:,.1f}",
                    help="The central 80 % of the expected results over the curves' parameter "
                         "uncertainty (the fit's covariance).")
    _split_dataframe(result, currency, key="bud_split", names=channel_label,
                     name_column=st.column_config.TextColumn("Channel"),
                     margins=_margin_columns("cpa", currency,
                                             now_help="What one more result costs there"))
    inner = result.campaigns
    if inner is not None and inner.feasible:
        st.markdown("**Inside the channel**: the same spend split among its campaigns")
        _split_dataframe(inner, currency, key="bud_split_campaigns",
                         names=lambda c: inner.labels.get(c, c),
                         name_column=st.column_config.TextColumn("Campaign", width="large"),
                         margins=_margin_columns("cpa", currency, after_help=None))
    st.plotly_chart(figures.split_figure(result, currency=currency), width="stretch",
                    key="bud_split_chart")


def _curves_and_proof(engine: sa.Engine, curves: Any, result: budget.Allocation,
                      rails: budget.Guardrails, currency: str) -> None:
    truth = cache.seed_truth(engine)
    st.subheader("Response curves", anchor=False)
    results = result.outcome == "results"
    st.caption(f"Expected daily {'results' if results else 'revenue'} vs daily spend per "
               "channel; the shaded strip is the spend observed in the window (outside it the "
               f"curve extrapolates), ● the current spend with its marginal "
               f"{'CPA' if results else 'ROI'}, ★ the recommended spend."
               + (" Dashed: the seeded world's true curve." if truth and not results else ""))
    proof = budget.proof(truth, curves, result, rails) if truth else None
    st.plotly_chart(figures.curves_figure(curves, result, truth=proof.truth if proof else None,
                                          currency=currency), width="stretch", key="bud_curves")
    if proof is None or proof.share_of_optimum is None:
        return
    with st.container(border=True):
        st.markdown("**Proof on the seeded world**: the recommended split, evaluated with the "
                    "world's true curves, against the best split of the same budget and "
                    "guardrails by those true curves.")
        a, b, c = st.columns(3)
        a.metric("Share of the true optimum", f"{proof.share_of_optimum:.1%}")
        b.metric("Current split's share", f"{proof.current_share:.1%}")
        c.metric("True revenue / day", fmt.money(proof.recommended_true_revenue, currency),
                 delta=fmt.money(proof.recommended_true_revenue - proof.current_true_revenue,
                                 currency) + " vs current split")


def _inside_channel(engine: sa.Engine, curves: Any, f: Filters, window: int,
                    currency: str) -> None:
    with st.expander("Campaigns inside a channel", icon=":material/campaign:"):
        pick = st.selectbox("Channel", list(curves), format_func=channel_label, key="bud_channel")
        inside = cache.campaign_curves(engine, pick, f.end, window)
        if not inside:
            st.caption("No campaign of this channel has enough days of varying spend for a curve.")
        else:
            st.caption("A curve per campaign whose own daily spend varied, biggest first (at most "
                       "30). A campaign's revenue also moves with its channel's other campaigns, "
                       "so these curves say where extra spend works best inside the channel; "
                       "the split across channels above comes from the channel curves.")
            camp = budget.campaign_split_table(inside)
            st.dataframe(camp.drop(columns="campaign_id"), hide_index=True, width="stretch",
                         key="bud_campaigns", column_config={
                             "campaign_name": st.column_config.TextColumn("Campaign",
                                                                          width="large"),
                             "days": st.column_config.NumberColumn("Days", format="%d"),
                             "current": _daily("Current", currency),
                             "roi_now": st.column_config.NumberColumn("ROI", format="%.2f×"),
                             "marginal_roi_now": st.column_config.NumberColumn(
                                 "Marginal ROI now", format="%.2f"),
                             "recommended": _daily("Same total, best split", currency),
                             "marginal_roi_after": st.column_config.NumberColumn(
                                 "Marginal ROI after", format="%.2f")})
        for cid, why in list(inside.skipped.items())[:10]:
            st.caption(f"{inside.labels.get(cid, cid)}: no curve, {why}.")


def _reverse_question(curves: Any, rails: budget.Guardrails, currency: str) -> None:
    st.subheader("What budget reaches a target?", anchor=False)
    kind_col, target_col, go_col = st.columns([1, 1, 1], vertical_alignment="bottom")
    results = getattr(curves, "outcome", "revenue") == "results"
    kinds = ["Results / day", "CPA"] if results else ["Revenue / day", "ROI"]
    kind = kind_col.segmented_control("Target", kinds, default=kinds[0], key="bud_target_kind")
    labels = {"ROI": "Target ROI", "CPA": f"Target CPA ({money_unit(currency)})",
              "Results / day": "Target results / day",
              "Revenue / day": f"Target revenue / day ({money_unit(currency)})"}
    examples = {"ROI": "e.g. 2.5", "CPA": "e.g. 12.50", "Results / day": "e.g. 40",
                "Revenue / day": "e.g. 50000"}
    target = target_col.number_input(
        labels.get(kind, kinds[0]), min_value=0.0, value=None,
        step=0.1 if kind == "ROI" else 1.0 if kind in ("CPA", "Results / day") else 100.0,
        key="bud_target", placeholder=examples.get(kind, ""))
    if not go_col.button("Find budget", key="bud_find", icon=":material/search:",
                         disabled=target is None):
        return
    keyword = {"ROI": "roi", "CPA": "cpa", "Results / day": "results"}.get(kind, "revenue")
    with st.spinner("Searching budgets…"):
        answer = budget.min_budget_for(curves, guardrails=rails, currency=currency,
                                       **{keyword: target})
    if not answer.feasible:
        st.error(answer.message, icon=":material/block:")
        return
    st.success(answer.message, icon=":material/check_circle:")
    st.dataframe(budget.split_table(answer)[["channel", "current", "recommended"]]
                 .assign(channel=lambda d: d["channel"].map(channel_label)),
                 hide_index=True, key="bud_answer", column_config={
                     "current": _daily("Current", currency),
                     "recommended": _daily("At that budget", currency)})


def render() -> None:
    engine = get_engine()
    page_header("Budget", active_filters())
    f = require_filters(engine)  # no data yet: the empty state, and the page stops here
    currency = cache.reporting_currency(engine)

    # --- Inputs ------------------------------------------------------------------------------
    window_col, total_col, cap_col = st.columns(3)
    window = int(window_col.number_input(
        "Window (days)", min_value=14, max_value=730, value=90, step=1, key="bud_window",
        help=f"Days of history the curves are fitted on, ending {fmt.date(f.end)} (the last "
             "day of the sidebar's period)."))
    curves = cache.budget_curves(engine, f.end, window)
    start = f.end - dt.timedelta(days=window - 1)
    st.caption(f":material/info: Curves from {fmt.date_range(start, f.end)}, every channel "
               "(the sidebar's channel filter does not apply: a budget is split over all of them).")
    for ch, why in curves.skipped.items():
        st.warning(f"**{channel_label(ch)}** has no curve and stays out of the split: {why}.",
                   icon=":material/warning:")
    if not curves:
        st.info("No channel has enough days with varying spend in this window to fit a response "
                "curve. Try a longer window.", icon=":material/savings:")
        return

    current_total = sum(c.current_spend for c in curves.values())
    total_in = total_col.number_input(
        f"Daily budget ({money_unit(currency)})", min_value=0.0, value=None, step=100.0,
        format="%.2f", key="bud_total",
        placeholder=f"current: {fmt.money(current_total, currency, decimals=2)}",
        help="The total daily spend to split. Empty: today's average daily spend over the window.")
    total = current_total if total_in is None else float(total_in)
    cap = cap_col.number_input(
        "Max change per channel (±%)", min_value=0.0, max_value=1000.0, value=None, step=5.0,
        key="bud_cap", placeholder="no cap",
        help="No channel moves by more than this share of its current spend.")
    rails = _guardrails(curves, cap, currency)
    result = budget.allocate(curves, total, rails, currency=currency)

    _recommendation(result, currency)
    _curves_and_proof(engine, curves, result, rails, currency)
    _inside_channel(engine, curves, f, window, currency)
    _reverse_question(curves, rails, currency)

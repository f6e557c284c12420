"""Overview: KPIs against the previous period, trend by channel, channel mix, best and worst
campaigns."""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from demetra import charts, queries
from demetra import format as fmt
from demetra.app import cache
from demetra.app.filters import active_filters, require_filters
from demetra.app.runtime import get_engine
from demetra.app.widgets import kpi_cards, page_header, table
from demetra.queries import Filters

CHART = {"width": "stretch", "config": {"displayModeBar": False}}
CHANNEL_COLUMNS = ["channel", "cost", "share_of_cost", "revenue", "roi", "conversions", "ctr",
                   "conversion_rate", "cpc", "cpa", "campaigns"]
RANKED_COLUMNS = ["campaign_name", "roi", "cost", "revenue", "channel"]
RANKED_BY_CPA = ["campaign_name", "cpa", "cost", "conversions", "channel"]


def ranking_note(engine: sa.Engine, f: Filters, currency: str) -> str:
    """Which campaigns the best/worst lists consider (the minimum-spend guard), in words."""
    k = cache.kpis(engine, f)
    share = queries.DEFAULT_MIN_SHARE
    if not k["campaigns"]:
        return "No campaigns ran in this period."
    floor = k["cost"] / k["campaigns"] * share
    return (f"Only campaigns that spent at least {fmt.money(floor, currency)} in the period "
            f"({share:.0%} of the average campaign's spend) are ranked, so a lucky sale on a "
            "tiny budget cannot top the list.")


def render() -> None:
    engine = get_engine()
    f = active_filters()
    prev = f.previous() if f else None
    page_header("Overview", f,
                subtitle=f"changes vs. {fmt.date_range(prev.start, prev.end)}" if prev else None)
    f = require_filters(engine)  # no data yet: the empty state, and the page stops here
    currency = cache.reporting_currency(engine)

    kpi_cards(engine, f)

    # --- Trend -------------------------------------------------------------------------------
    head, picker = st.columns([1, 2], vertical_alignment="bottom")
    head.subheader("Trend by channel", anchor=False)
    metric = picker.segmented_control(
        "Metric", list(charts.TREND_METRICS), key="ov_trend_metric", default="cost",
        required=True, format_func=lambda m: charts.TREND_METRICS[m][0],
        label_visibility="collapsed", width="stretch")
    grain = "week" if f.days > 120 else "day"
    st.plotly_chart(charts.trend_figure(cache.trend(engine, f), metric or "cost", grain=grain,
                                        currency=currency), key="ov_trend_chart", **CHART)

    # --- Channels ----------------------------------------------------------------------------
    st.subheader("Channels", anchor=False)
    channels = cache.channel_breakdown(engine, f)
    mix, roi = st.columns(2, border=True)
    with mix:
        st.markdown("**Share of spend**")
        st.plotly_chart(charts.channel_mix_figure(channels, currency=currency),
                        key="ov_mix_chart", **CHART)
    # An account that tracks no revenue is judged by what each result costs.
    by = "roi" if channels["revenue"].notna().any() else "cpa"
    with roi:
        if by == "roi":
            st.markdown("**ROI by channel**")
            st.plotly_chart(charts.channel_roi_figure(channels, currency=currency),
                            key="ov_roi_chart", **CHART)
            untracked = channels.loc[channels["revenue"].isna(), "channel"]
            if len(untracked):
                st.caption("Revenue not tracked, so not shown: "
                           + ", ".join(map(charts.channel_label, untracked)))
        else:
            st.markdown("**Cost per result by channel**")
            st.plotly_chart(charts.channel_cpa_figure(channels, currency=currency),
                            key="ov_cpa_chart", **CHART)
    columns = CHANNEL_COLUMNS if by == "roi" else [c for c in CHANNEL_COLUMNS
                                                   if c not in ("revenue", "roi")]
    table(channels, columns, currency=currency, key="ov_channel_table")

    # --- Best and worst campaigns ------------------------------------------------------------
    st.subheader(f"Best and worst campaigns by {'ROI' if by == 'roi' else 'CPA'}", anchor=False)
    st.caption(ranking_note(engine, f, currency))
    ranked = RANKED_COLUMNS if by == "roi" else RANKED_BY_CPA
    best, worst = st.columns(2)
    with best:
        st.markdown(":green[:material/trending_up:] **Top 5**")
        table(cache.top_campaigns(engine, f, by=by, n=5), ranked, currency=currency,
              key="ov_best")
    with worst:
        st.markdown(":red[:material/trending_down:] **Bottom 5**")
        table(cache.top_campaigns(engine, f, by=by, n=5, worst=True), ranked,
              currency=currency, key="ov_worst")

"""Overview: KPIs against the previous period, trend by channel, channel mix, best and worst
campaigns."""

import streamlit as st

from demetra import charts, ui

engine = ui.get_engine()
f = ui.active_filters()
prev = f.previous() if f else None
ui.page_header("Overview", f,
               subtitle=f"changes vs. {ui.fmt_date_range(prev.start, prev.end)}" if prev else None)
f = ui.require_filters(engine)  # no data yet: the empty state, and the page stops here

ui.kpi_cards(engine, f)

# --- Trend -----------------------------------------------------------------------------------
head, picker = st.columns([1, 2], vertical_alignment="bottom")
head.subheader("Trend by channel", anchor=False)
metric = picker.segmented_control(
    "Metric", list(charts.TREND_METRICS), key="ov_trend_metric", default="cost", required=True,
    format_func=lambda m: charts.TREND_METRICS[m][0], label_visibility="collapsed",
    width="stretch")
trend = ui.trend(engine, f)
grain = "week" if f.days > 120 else "day"
st.plotly_chart(charts.trend_figure(trend, metric or "cost", grain=grain), width="stretch",
                config={"displayModeBar": False}, key="ov_trend_chart")

# --- Channels --------------------------------------------------------------------------------
st.subheader("Channels", anchor=False)
channels = ui.channel_breakdown(engine, f)
mix, roi = st.columns(2, border=True)
with mix:
    st.markdown("**Share of spend**")
    st.plotly_chart(charts.channel_mix_figure(channels), width="stretch",
                    config={"displayModeBar": False}, key="ov_mix_chart")
with roi:
    st.markdown("**ROI by channel**")
    st.plotly_chart(charts.channel_roi_figure(channels), width="stretch",
                    config={"displayModeBar": False}, key="ov_roi_chart")
ui.table(channels, ["channel", "cost", "share_of_cost", "revenue", "roi", "conversions", "ctr",
                    "conversion_rate", "cpc", "cpa", "campaigns"], key="ov_channel_table")

# --- Best and worst campaigns ------------------------------------------------------------------
st.subheader("Best and worst campaigns by ROI", anchor=False)
st.caption(ui.ranking_note(engine, f))
columns = ["campaign_name", "roi", "cost", "revenue", "channel"]
best, worst = st.columns(2)
with best:
    st.markdown(":green[:material/trending_up:] **Top 5**")
    ui.table(ui.top_campaigns(engine, f, by="roi", n=5), columns, key="ov_best")
with worst:
    st.markdown(":red[:material/trending_down:] **Bottom 5**")
    ui.table(ui.top_campaigns(engine, f, by="roi", n=5, worst=True), columns, key="ov_worst")

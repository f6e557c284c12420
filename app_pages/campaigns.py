"""Campaigns: a searchable, sortable, paged table; one campaign's daily history."""

import math

import streamlit as st

from demetra import charts, ui

engine = ui.get_engine()
ui.page_header("Campaigns", ui.active_filters())
f = ui.require_filters(engine)  # no data yet: the empty state, and the page stops here

# --- Controls --------------------------------------------------------------------------------
ui.restore("cmp_search_box", "cmp_search", "")
ui.restore("cmp_sort_box", "cmp_sort", "cost")
ui.restore("cmp_order_box", "cmp_order", "Highest first")
ui.restore("cmp_size_box", "cmp_size", ui.PAGE_SIZES[0])
search_col, sort_col, order_col, size_col = st.columns([3, 1.4, 1.4, 1], vertical_alignment="bottom")
search = search_col.text_input(
    "Search", key="cmp_search_box", placeholder="Campaign name or ID, e.g. summer or FACEBOOK_",
    icon=":material/search:", on_change=ui.remember("cmp_search_box", "cmp_search"))
sort = sort_col.selectbox("Sort by", list(ui.SORTS), key="cmp_sort_box", format_func=ui.SORTS.get,
                          on_change=ui.remember("cmp_sort_box", "cmp_sort"))
order = order_col.selectbox("Order", ["Highest first", "Lowest first"], key="cmp_order_box",
                            on_change=ui.remember("cmp_order_box", "cmp_order"))
size = size_col.selectbox("Rows", ui.PAGE_SIZES, key="cmp_size_box",
                          on_change=ui.remember("cmp_size_box", "cmp_size"))

fs = ui.with_search(f, search)
descending = (order == "Highest first") != (sort == "campaign_name")  # names read A→Z "first"
page = st.session_state.setdefault("cmp_page", 1)
table, total = ui.campaign_table(engine, fs, sort=sort, descending=descending, page=page,
                                 page_size=size)
pages = max(1, math.ceil(total / size))
if page > pages:  # the filter shrank under the current page
    ui.set_page(pages)
    st.rerun()

# --- Table -----------------------------------------------------------------------------------
if total == 0:
    st.info("No campaign matches this search in the selected period and channels. "
            "Try a shorter search or a wider period.", icon=":material/search_off:")
else:
    ui.table(table, ["campaign_name", "channel", "cost", "revenue", "roi", "conversions", "cpa",
                     "ctr", "conversion_rate", "cpc", "days", "campaign_id"],
             height=min(38 + 35 * len(table), 38 + 35 * 25), key="cmp_table", wide_names=True)
    prev_col, info_col, next_col = st.columns([1, 4, 1], vertical_alignment="center")
    prev_col.button("Previous", icon=":material/chevron_left:", key="cmp_prev", width="stretch",
                    disabled=page <= 1, on_click=ui.set_page, args=(page - 1,))
    first_row = (page - 1) * size + 1
    info_col.markdown(
        f"Page **{page}** of **{pages}** · {total:,} campaign{'s' if total != 1 else ''} · "
        f"showing {first_row:,}–{first_row + len(table) - 1:,}", text_alignment="center")
    next_col.button("Next", icon=":material/chevron_right:", icon_position="right", key="cmp_next",
                    width="stretch", disabled=page >= pages, on_click=ui.set_page,
                    args=(page + 1,))

    # --- One campaign ----------------------------------------------------------------------
    st.subheader("Campaign history", anchor=False)
    choices = dict(ui.campaign_choices(engine, fs))
    ui.restore("cmp_pick_box", "cmp_pick", next(iter(choices)))
    if st.session_state["cmp_pick_box"] not in choices:
        st.session_state["cmp_pick_box"] = next(iter(choices))
    picked = st.selectbox(
        "Campaign", list(choices), key="cmp_pick_box", format_func=choices.get,
        help="Campaigns in the filter, biggest spend first",
        on_change=ui.remember("cmp_pick_box", "cmp_pick", reset_page=False))
    history = ui.campaign_history(engine, picked, f.start, f.end)
    ui.campaign_kpis(history)
    st.plotly_chart(charts.campaign_history_figure(history), width="stretch",
                    config={"displayModeBar": False}, key="cmp_history_chart")

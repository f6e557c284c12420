"""Campaigns: a searchable, sortable, paged table; one campaign's daily history.

Page widget keys are dropped when the user navigates away, so the values that should survive
(search, sort, order, page size, the picked campaign) are mirrored to plain keys
(``remember``) and put back before the widgets are drawn (``restore``). The campaign shown is
also in the URL (``?campaign=ID``), so a link opens on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from demetra import charts
from demetra import format as fmt
from demetra.app import cache
from demetra.app.filters import active_filters, require_filters, with_search
from demetra.app.runtime import get_engine
from demetra.app.widgets import metric_cards, page_header, plain, rows_height, table

SORTS: dict[str, str] = {
    "cost": "Spend", "revenue": "Revenue", "roi": "ROI", "conversions": "Conversions",
    "cpa": "CPA", "cpc": "CPC", "ctr": "CTR", "conversion_rate": "Conversion rate",
    "clicks": "Clicks", "campaign_name": "Name",
}
PAGE_SIZES = (25, 50, 100)
KEY_PAGE = "cmp_page"
KEY_LINK = "campaign"  # the query parameter of the campaign shown
TABLE_COLUMNS = ["campaign_name", "channel", "cost", "revenue", "roi", "conversions", "cpa",
                 "ctr", "conversion_rate", "cpc", "days", "campaign_id"]


def remember(widget_key: str, store_key: str, *, reset_page: bool = True) -> Callable[[], None]:
    """An on_change callback that mirrors a page widget into a key that survives navigation."""

    def callback() -> None:
        st.session_state[store_key] = st.session_state[widget_key]
        if reset_page:
            st.session_state[KEY_PAGE] = 1

    return callback


def restore(widget_key: str, store_key: str, default: Any) -> None:
    """Put the remembered value back into a page widget's key before it is drawn."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = st.session_state.get(store_key, default)


def set_page(page: int) -> None:
    st.session_state[KEY_PAGE] = max(1, int(page))


def campaign_kpis(history: pd.DataFrame, currency: str) -> None:
    """KPI cards for one campaign's days in the range (ratios of the summed days)."""
    total = history.sum(numeric_only=True, min_count=1)
    cost, clicks, impressions = float(total["cost"]), int(total["clicks"]), int(
        total["impressions"])
    revenue, conversions = total["revenue"], total["conversions"]  # NaN: not tracked

    def ratio(num: float, den: float) -> float | None:
        return None if pd.isna(num) or not den else float(num) / float(den)

    tracked = pd.notna(revenue)
    metric_cards((
        ("Spend", fmt.money(cost, currency)),
        ("Revenue", fmt.money(revenue, currency) if tracked else fmt.NOT_TRACKED),
        ("ROI", fmt.roi(ratio(revenue, total["revenue_cost"])) if tracked else fmt.NOT_TRACKED),
        # Without revenue, conversions are the account's results (leads, sign-ups…).
        ("Conversions" if tracked else "Results",
         fmt.count(conversions) if pd.notna(conversions) else fmt.NOT_TRACKED),
        ("CPA", fmt.money(ratio(total["result_cost"], conversions), currency, decimals=2)),
        ("CPC", fmt.money(ratio(cost, clicks), currency, decimals=2)),
        ("CTR", fmt.pct(ratio(clicks, impressions))),
        ("Conversion rate" if tracked else "Result rate",
         fmt.pct(ratio(conversions, total["result_clicks"]))),
    ))


def render() -> None:
    engine = get_engine()
    page_header("Campaigns", active_filters())
    f = require_filters(engine)  # no data yet: the empty state, and the page stops here
    currency = cache.reporting_currency(engine)

    # --- Controls ----------------------------------------------------------------------------
    restore("cmp_search_box", "cmp_search", "")
    restore("cmp_sort_box", "cmp_sort", "cost")
    restore("cmp_order_box", "cmp_order", "Highest first")
    restore("cmp_size_box", "cmp_size", PAGE_SIZES[0])
    search_col, sort_col, order_col, size_col = st.columns([3, 1.4, 1.4, 1],
                                                           vertical_alignment="bottom")
    search = search_col.text_input(
        "Search", key="cmp_search_box",
        placeholder="Campaign name or ID, e.g. summer or FACEBOOK_", icon=":material/search:",
        on_change=remember("cmp_search_box", "cmp_search"))
    sort = sort_col.selectbox("Sort by", list(SORTS), key="cmp_sort_box", format_func=SORTS.get,
                              on_change=remember("cmp_sort_box", "cmp_sort"))
    order = order_col.selectbox("Order", ["Highest first", "Lowest first"], key="cmp_order_box",
                                on_change=remember("cmp_order_box", "cmp_order"))
    size = size_col.selectbox("Rows", PAGE_SIZES, key="cmp_size_box",
                              on_change=remember("cmp_size_box", "cmp_size"))

    fs = with_search(f, search)
    descending = (order == "Highest first") != (sort == "campaign_name")  # names read A→Z first
    page = st.session_state.setdefault(KEY_PAGE, 1)
    rows, total = cache.campaign_table(engine, fs, sort=sort, descending=descending, page=page,
                                       page_size=size)
    pages = max(1, math.ceil(total / size))
    if page > pages:  # the filter shrank under the current page
        set_page(pages)
        st.rerun()

    # --- Table -------------------------------------------------------------------------------
    if total == 0:
        st.info("No campaign matches this search in the selected period and channels. "
                "Try a shorter search or a wider period.", icon=":material/search_off:")
        return
    # Where some campaign came in another currency, say which and at what rate.
    converted = rows["source_currency"].notna() & (rows["source_currency"] != currency)
    columns = TABLE_COLUMNS + (["source"] if converted.any() else [])
    table(rows, columns, currency=currency, height=rows_height(len(rows), 25),
          key="cmp_table", wide_names=True)
    prev_col, info_col, next_col = st.columns([1, 4, 1], vertical_alignment="center")
    prev_col.button("Previous", icon=":material/chevron_left:", key="cmp_prev", width="stretch",
                    disabled=page <= 1, on_click=set_page, args=(page - 1,))
    first_row = (page - 1) * size + 1
    info_col.markdown(
        f"Page **{page}** of **{pages}** · {total:,} campaign{'s' if total != 1 else ''} · "
        f"showing {first_row:,}–{first_row + len(rows) - 1:,}", text_alignment="center")
    next_col.button("Next", icon=":material/chevron_right:", icon_position="right",
                    key="cmp_next", width="stretch", disabled=page >= pages, on_click=set_page,
                    args=(page + 1,))

    # --- One campaign ------------------------------------------------------------------------
    st.subheader("Campaign history", anchor=False)
    choices = dict(cache.campaign_choices(engine, fs))
    # A shared link names its campaign (?campaign=ID); every run writes the one shown back.
    linked = st.query_params.get(KEY_LINK)
    restore("cmp_pick_box", "cmp_pick", linked if linked in choices else next(iter(choices)))
    if st.session_state["cmp_pick_box"] not in choices:
        st.session_state["cmp_pick_box"] = next(iter(choices))
    if linked and linked not in choices:
        st.caption(f":material/link_off: The link's campaign “{plain(linked)}” has no data in "
                   "this period and channels (or does not exist): showing another.")
    picked = st.selectbox(
        "Campaign", list(choices), key="cmp_pick_box", format_func=choices.get,
        help="Campaigns in the filter, biggest spend first",
        on_change=remember("cmp_pick_box", "cmp_pick", reset_page=False))
    if linked != picked:
        st.query_params[KEY_LINK] = picked
    history = cache.campaign_history(engine, picked, f.start, f.end)
    campaign_kpis(history, currency)
    st.plotly_chart(charts.campaign_history_figure(history, currency=currency), width="stretch",
                    config={"displayModeBar": False}, key="cmp_history_chart")

"""The Charts page: the stakeholder report (PDF) of the sidebar's filters; render a chart of
the chosen type for them and save it to ``ml_dashboards``; the gallery of saved charts, newest
first, with thumbnails; open one full size, download it, delete it."""

from __future__ import annotations

import sqlalchemy as sa
import streamlit as st

from demetra import format as fmt
from demetra.app import cache
from demetra.app.filters import require_filters
from demetra.app.runtime import get_engine, progress, rerun_with
from demetra.app.widgets import page_header, plain
from demetra.charts import gallery
from demetra.charts.png import CHART_TYPES
from demetra.charts.png import render as render_chart
from demetra.errors import NotEnoughData

KEY_TYPE, KEY_OPEN, KEY_REPORT = "chr_type", "chr_open", "chr_report_pdf"
KEY_LINK = "chart"  # the query parameter of the chart type
PER_ROW = 3


def _generate(engine: sa.Engine, f) -> None:
    # A shared link names its chart type (?chart=roi_analysis); every run writes it back.
    linked = st.query_params.get(KEY_LINK)
    if linked in CHART_TYPES and KEY_TYPE not in st.session_state:
        st.session_state[KEY_TYPE] = linked
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    kind = left.selectbox("Chart", list(CHART_TYPES), format_func=CHART_TYPES.get, key=KEY_TYPE)
    if linked and linked not in CHART_TYPES:
        left.caption(f":material/link_off: The link's chart type “{plain(linked)}” is not one "
                     "of these: showing the first.")
    if linked != kind:
        st.query_params[KEY_LINK] = kind
    if right.button("Generate", type="primary", icon=":material/add_chart:", key="chr_generate",
                    width="stretch"):
        with st.spinner(f"Rendering “{CHART_TYPES[kind]}”…"):
            try:
                chart = render_chart(engine, kind, f)
            except NotEnoughData as exc:
                st.warning(str(exc), icon=":material/info:")
                return
            chart_id = gallery.save_chart(engine, chart)
        st.session_state[KEY_OPEN] = chart_id
        rerun_with(f"Saved “{chart.title}” (chart {chart_id}).", clear=False)


def _opened(engine: sa.Engine, stamp: tuple[int, int]) -> None:
    chart_id = st.session_state.get(KEY_OPEN)
    if chart_id is None:
        return
    image = cache.chart_image(engine, chart_id, stamp)
    if image is None:
        st.session_state.pop(KEY_OPEN, None)
        return
    with st.container(border=True):
        st.image(image, width="stretch")
        a, b, c = st.columns(3)
        a.download_button("Download PNG", image, file_name=f"demetra-chart-{chart_id}.png",
                          mime="image/png", icon=":material/download:", key="chr_download")
        if b.button("Delete", icon=":material/delete:", key="chr_delete"):
            gallery.delete_chart(engine, chart_id)
            st.session_state.pop(KEY_OPEN, None)
            rerun_with(f"Deleted chart {chart_id}.", clear=False)
        if c.button("Close", icon=":material/close:", key="chr_close"):
            st.session_state.pop(KEY_OPEN, None)
            st.rerun()


def _gallery(engine: sa.Engine, stamp: tuple[int, int]) -> None:
    saved = cache.saved_charts(engine, stamp)
    st.subheader(f"Saved charts ({stamp[0]:,})", anchor=False)
    if saved.empty:
        st.caption("No chart saved yet: choose a type and press Generate.")
        return
    for start in range(0, len(saved), PER_ROW):
        cols = st.columns(PER_ROW)
        for col, (_, row) in zip(cols, saved.iloc[start:start + PER_ROW].iterrows(), strict=False):
            with col.container(border=True):
                if row["thumbnail"]:
                    st.image(row["thumbnail"], width="stretch")
                params = row["parameters"] or {}
                channels = ", ".join(params.get("channels") or []) or "all channels"
                span = (fmt.date_range(row["period_start"], row["period_end"])
                        if row["period_start"] and row["period_end"] else "—")
                st.caption(f"**{CHART_TYPES.get(row['dashboard_type'], row['dashboard_type'])}**"
                           f" · {span}"
                           f" · {channels} · saved {row['created_at']:%Y-%m-%d %H:%M} UTC")
                if st.button("Open", key=f"chr_open_{row['id']}", icon=":material/open_in_full:"):
                    st.session_state[KEY_OPEN] = int(row["id"])
                    st.rerun()


def _report(engine: sa.Engine, f) -> None:
    from demetra.report import build_report

    with st.container(border=True):
        st.markdown("**Stakeholder report** · a PDF of these filters to email: the KPIs and "
                    "their changes, the trend, the channels, the forecasts, the open alerts and "
                    "the latest recommendations")
        if st.button("Build the report", icon=":material/picture_as_pdf:", key="chr_report"):
            with progress("Building the report", "Title page") as (status, report):
                st.session_state[KEY_REPORT] = (f, build_report(engine, f, progress=report))
                status.update(label="Report ready", state="complete", expanded=False)
        built = st.session_state.get(KEY_REPORT)
        if built and built[0] == f:
            st.download_button("Download the PDF", built[1], mime="application/pdf",
                               file_name=f"demetra-report-{f.start}-{f.end}.pdf",
                               icon=":material/download:", key="chr_report_download")


def render() -> None:
    engine = get_engine()
    f = require_filters(engine)
    page_header("Charts", f, subtitle="saved as PNG, for reports and later")
    _report(engine, f)
    _generate(engine, f)
    stamp = gallery.stamp(engine)
    _opened(engine, stamp)
    _gallery(engine, stamp)

"""Data: which database is in use and what it holds, CSV download of the filtered rows,
loading the demo world."""

import streamlit as st

from demetra import ui

engine = ui.get_engine()
f = ui.active_filters()
ui.page_header("Data", f)

st.subheader("Database", anchor=False)
summary = ui.database_overview(engine)

st.subheader("Download", anchor=False)
if f is None:
    st.info("Nothing to download yet: the database holds no campaign rows.",
            icon=":material/info:")
else:
    st.markdown(f"The campaign rows in the current filter ({ui.describe_filters(f)}), one row per "
                "campaign per day, as CSV.")
    st.download_button("Download CSV", data=ui.csv_export(engine, f),
                       file_name=ui.csv_file_name(f), mime="text/csv", on_click="ignore",
                       icon=":material/download:", key="data_download")

st.subheader("Demo data", anchor=False)
with st.container(border=True):
    st.markdown("The demo world: campaigns on six channels with realistic seasonality, "
                "diminishing returns and injected incidents (its ground truth is stored with it).")
    ui.demo_loader(engine, summary["rows"])

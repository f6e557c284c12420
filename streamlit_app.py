"""Demetra's entry script: the frame around every page.

Page config, the sectioned navigation from the page registry (``demetra.app.pages``), the
shared sidebar filters (their keys live here, so they hold across pages), then the selected
page. No queries here.
"""

import streamlit as st

from demetra.app import filters, pages, runtime, widgets

st.set_page_config(page_title="Demetra", page_icon=":material/insights:", layout="wide",
                   initial_sidebar_state="expanded")

widgets.logo()
engine = runtime.get_engine()   # on a bad or unreachable database: an error, and the page stops
pg = st.navigation(pages.navigation(engine))

with runtime.database_errors(engine):
    filters.sidebar_filters(engine)
    runtime.flash()
    pg.run()

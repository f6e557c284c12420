"""Demetra's entry script: the frame around every page.

Page config, the sectioned navigation over ``app_pages/``, the shared sidebar filters (their
keys live here, so they hold across pages), then the selected page. No queries here.
"""

import streamlit as st

from demetra import ui

st.set_page_config(page_title="Demetra", page_icon=":material/insights:", layout="wide",
                   initial_sidebar_state="expanded")

ui.logo()
engine = ui.get_engine()   # on a bad or unreachable database: an error, and the page stops

pg = st.navigation({
    "Analytics": [
        st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:",
                default=True),
        st.Page("app_pages/campaigns.py", title="Campaigns", icon=":material/campaign:",
                url_path="campaigns"),
        st.Page("app_pages/predictions.py", title="Predictions",
                icon=":material/online_prediction:", url_path="predictions"),
        st.Page("app_pages/budget.py", title="Budget", icon=":material/savings:",
                url_path="budget"),
        st.Page("app_pages/recommendations.py", title="Recommendations",
                icon=":material/lightbulb:", url_path="recommendations"),
    ],
    "Monitor": [
        st.Page("app_pages/alerts.py", title=ui.alerts_page_title(engine),
                icon=":material/notifications:", url_path="alerts"),
    ],
    "Manage": [
        st.Page("app_pages/data.py", title="Data", icon=":material/database:", url_path="data"),
    ],
})

with ui.database_errors(engine):
    ui.sidebar_filters(engine)
    ui.flash()
    pg.run()

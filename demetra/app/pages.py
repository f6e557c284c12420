"""The page registry: every page once, in navigation order.

``streamlit_app.py`` builds ``st.navigation`` from it, the app tests switch to every page in it,
and the docs test checks that each title has its row in the README.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class Page:
    path: str          # the script st.navigation runs, relative to the entry script
    title: str
    icon: str
    url_path: str | None  # None: the default page, at the root URL
    section: str
    default: bool = False
    #: A count shown beside the title in the navigation ("Alerts (3)"), 0 for none.
    count: Callable[[sa.Engine], int] | None = None


def _unread_alerts(engine: sa.Engine) -> int:
    from demetra import alerts

    return alerts.unread_count(engine)


OVERVIEW = Page("app_pages/overview.py", "Overview", ":material/dashboard:", None, "Analytics",
                default=True)
CAMPAIGNS = Page("app_pages/campaigns.py", "Campaigns", ":material/campaign:", "campaigns",
                 "Analytics")
PREDICTIONS = Page("app_pages/predictions.py", "Predictions", ":material/online_prediction:",
                   "predictions", "Analytics")
BUDGET = Page("app_pages/budget.py", "Budget", ":material/savings:", "budget", "Analytics")
RECOMMENDATIONS = Page("app_pages/recommendations.py", "Recommendations", ":material/lightbulb:",
                       "recommendations", "Analytics")
ALERTS = Page("app_pages/alerts.py", "Alerts", ":material/notifications:", "alerts", "Monitor",
              count=_unread_alerts)
CHARTS = Page("app_pages/charts.py", "Charts", ":material/insert_chart:", "charts", "Share")
DATA = Page("app_pages/data.py", "Data", ":material/database:", "data", "Manage")

PAGES: tuple[Page, ...] = (OVERVIEW, CAMPAIGNS, PREDICTIONS, BUDGET, RECOMMENDATIONS, ALERTS,
                           CHARTS, DATA)


def nav_title(page: Page, engine: sa.Engine) -> str:
    """The title in the navigation, with the page's count while it is not 0: "Alerts (3)"."""
    if page.count is None:
        return page.title
    from demetra.app.runtime import database_errors

    with database_errors(engine):
        n = page.count(engine)
    return f"{page.title} ({n:,})" if n else page.title


def navigation(engine: sa.Engine) -> dict[str, list]:
    """``st.navigation``'s argument: the pages by section, in registry order."""
    import streamlit as st

    sections: dict[str, list] = {}
    for page in PAGES:
        options = {"url_path": page.url_path} if page.url_path else {}
        sections.setdefault(page.section, []).append(
            st.Page(page.path, title=nav_title(page, engine), icon=page.icon,
                    default=page.default, **options))
    return sections

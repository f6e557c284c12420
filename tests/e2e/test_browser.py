"""The app in a real headless Chromium, as a user drives it: open Overview, pick a channel in
the sidebar's multiselect, and see the spend the database says."""

from __future__ import annotations

import datetime as dt
import os
import re
import time

import pytest
import sqlalchemy as sa

from tests.app.helpers import money

# One worker runs them all, so the seeded database, the server and Chromium start once.
pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

READY = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def spend(url: str, start: dt.date, end: dt.date, channel: str | None = None) -> float:
    """SUM(cost) over the filter, straight from the table."""
    where = "date BETWEEN :s AND :e" + (" AND channel = :ch" if channel else "")
    stmt = sa.text(f"SELECT SUM(cost) FROM campaigns WHERE {where}").bindparams(
        sa.bindparam("s", type_=sa.Date), sa.bindparam("e", type_=sa.Date))
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return float(conn.execute(stmt, {"s": start, "e": end, "ch": channel}).scalar_one())
    finally:
        engine.dispose()


def full_page_screenshot(page, path: str) -> None:
    """Streamlit scrolls inside its main element, not the document: grow the viewport until the
    whole page fits, then take the shot."""
    page.wait_for_function(
        "document.querySelectorAll('[data-testid=\"stPlotlyChart\"] .main-svg').length >= 3")
    width, last = page.viewport_size["width"], 0
    for _ in range(10):
        height = page.evaluate(
            "document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        if height == last:
            break
        last = height
        page.set_viewport_size({"width": width, "height": max(900, height)})
        time.sleep(0.8)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    page.screenshot(path=path, full_page=True)


def test_channel_filter_in_the_sidebar_drives_the_spend_kpi(server, browser, seeded_sqlite_url,
                                                            seed_end) -> None:
    from playwright.sync_api import expect

    start = seed_end - dt.timedelta(days=29)  # default preset: the data's last 30 days
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(server)
        page.wait_for_selector(READY, timeout=60_000)
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
        spend_card = page.get_by_test_id("stMetric").filter(has_text="Spend").first
        expect(spend_card.get_by_test_id("stMetricValue")).to_have_text(
            money(spend(seeded_sqlite_url, start, seed_end)), timeout=30_000)

        if path := os.environ.get("DEMETRA_SCREENSHOT"):
            full_page_screenshot(page, path)
            page.set_viewport_size({"width": 1440, "height": 900})

        # Pick "Google Ads" in the sidebar's channel multiselect, as a user would.
        sidebar = page.get_by_test_id("stSidebar")
        sidebar.get_by_test_id("stMultiSelect").click()
        page.get_by_role("option", name="Google Ads").click()
        page.keyboard.press("Escape")
        expect(sidebar.get_by_test_id("stMultiSelect")).to_contain_text("Google Ads")
        expect(spend_card.get_by_test_id("stMetricValue")).to_have_text(
            money(spend(seeded_sqlite_url, start, seed_end, "google_ads")), timeout=30_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()


def test_budget_and_recommendations_in_the_browser(server, browser) -> None:
    """The Budget page shows a split; Recommendations' Generate (no LLM endpoint here) writes a
    set from the rules engine and shows it as cards, saying why no LLM wrote it."""
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(f"{server}/budget")
        page.wait_for_selector(READY, timeout=60_000)
        expect(page.get_by_role("heading", name="Recommended split")).to_be_visible(timeout=30_000)
        expect(page.get_by_test_id("stMetric").filter(has_text="Expected revenue / day")
               ).to_have_count(1)

        page.goto(f"{server}/recommendations")
        page.wait_for_selector(READY, timeout=60_000)
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("Written by the rules engine: no LLM endpoint is configured")
               ).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Why:").first).to_be_visible()
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()


# What a page shows while it has nothing yet; a fresh demo must show none of them.
NOTHING_YET = ("No predictions yet", "No model trained yet", "Train the model first",
               "No alerts.", "No alerts match these filters", "No recommendations yet",
               "No forecasts match these filters", "Nothing to download yet")


def test_a_fresh_demo_opens_every_page_full(server, browser) -> None:
    from playwright.sync_api import expect

    from demetra.app.pages import PAGES
    from demetra.app.widgets import EMPTY_STATE_KEY

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        for entry in PAGES:
            page.goto(f"{server}/{entry.url_path or ''}")
            page.wait_for_selector(READY, timeout=60_000)
            expect(page.get_by_test_id("stHeading").filter(has_text=entry.title).first
                   ).to_be_visible(timeout=30_000)
            expect(page.locator(f".st-key-{EMPTY_STATE_KEY}")).to_have_count(0)
            for text in NOTHING_YET:
                expect(page.get_by_text(text), f"{entry.title}: {text}").to_have_count(0)
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)
        # What the demo wrote, seen where a user looks for it.
        page.goto(f"{server}/predictions")
        page.wait_for_selector(READY, timeout=60_000)
        expect(page.get_by_text(re.compile(r"^The \d+ riskiest ROI forecasts"))).to_be_visible(
            timeout=30_000)
        page.goto(f"{server}/recommendations")
        page.wait_for_selector(READY, timeout=60_000)
        # (Another test may have generated a newer set: any set from the rules engine will do.)
        expect(page.get_by_text("Written by the rules engine:")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Why:").first).to_be_visible()
    finally:
        page.close()


def test_a_deep_link_opens_the_filtered_view(server, browser, seeded_sqlite_url,
                                             seed_end) -> None:
    from playwright.sync_api import expect

    start = seed_end - dt.timedelta(days=6)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        page.goto(f"{server}/?channels=facebook&period=Last+7+days")
        page.wait_for_selector(READY, timeout=60_000)
        sidebar = page.get_by_test_id("stSidebar")
        # The sidebar's filters render after the page's first element: on a loaded machine
        # that takes longer than expect's default 5 s.
        expect(sidebar.get_by_test_id("stMultiSelect")).to_contain_text("Facebook",
                                                                         timeout=30_000)
        expect(sidebar.get_by_role("combobox", name="Period")).to_have_value("Last 7 days")
        spend_card = page.get_by_test_id("stMetric").filter(has_text="Spend").first
        expect(spend_card.get_by_test_id("stMetricValue")).to_have_text(
            money(spend(seeded_sqlite_url, start, seed_end, "facebook")), timeout=30_000)
        expect(page.get_by_text("Ignored from the link")).to_have_count(0)

        # Streamlit clears the query on navigation; the filters put it back.
        sidebar.get_by_test_id("stSidebarNav").get_by_role("link", name="Campaigns").click()
        expect(page.get_by_test_id("stHeading").filter(has_text="Campaigns").first
               ).to_be_visible(timeout=30_000)
        page.wait_for_url("**/campaigns?*channels=facebook*", timeout=30_000)
        assert "period=Last+7+days" in page.url

        # A bad link: the default view, and a note naming what was ignored.
        page.goto(f"{server}/?channels=myspace&period=Last+century")
        page.wait_for_selector(READY, timeout=60_000)
        expect(page.get_by_text("Ignored from the link")).to_contain_text("myspace",
                                                                          timeout=30_000)
        expect(spend_card.get_by_test_id("stMetricValue")).to_have_text(
            money(spend(seeded_sqlite_url, seed_end - dt.timedelta(days=29), seed_end)),
            timeout=30_000)
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        page.close()

"""The app in a real headless Chromium, as a user drives it: open Overview, pick a channel in
the sidebar's multiselect, and see the spend the database says."""

from __future__ import annotations

import datetime as dt
import os
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

"""A lead-generation account (results, no revenue) on the pages: revenue and ROI say "Not
tracked" instead of $0.00 and 0.00×, results and their cost lead, and channels and campaigns are
ranked by cost per result (AppTest, SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from demetra import ingest
from demetra.app import pages
from demetra.format import NOT_TRACKED
from tests.app.helpers import open_page, start


def leads_file(days: int = 40) -> bytes:
    end = dt.date.today()
    rows = [{"date": (end - dt.timedelta(days=d)).isoformat(), "campaign": name,
             "spend": spend, "clicks": 100 + d, "impressions": 5000, "leads": leads}
            for d in range(days)
            for name, spend, leads in (("Quote form", 80.0, 8), ("Retargeting", 40.0, 1))]
    return pd.DataFrame(rows).to_csv(index=False).encode()


def import_leads(engine: sa.Engine) -> None:
    ingest.import_file(engine, leads_file(), name="leads.csv", platform="generic",
                       channel="facebook",
                       mapping={"date": "date", "campaign_name": "campaign", "cost": "spend",
                                "clicks": "clicks", "impressions": "impressions",
                                "conversions": "leads"})


def test_the_overview_leads_with_results_and_says_revenue_is_not_tracked(
        engine: sa.Engine, db_url: str) -> None:
    import_leads(engine)
    at = start(db_url)
    assert not at.exception and not at.error
    shown = {m.label: m.value for m in at.metric}
    assert [m.label for m in at.metric][:4] == ["Spend", "Results", "CPA", "Result rate"]
    assert shown["Revenue"] == NOT_TRACKED and shown["ROI"] == NOT_TRACKED
    assert not any("0.00×" in str(m.value) for m in at.metric)
    assert any("Best and worst campaigns by CPA" in s.value for s in at.subheader)
    best = at.dataframe[1].value  # channels first, then the best campaigns
    assert "cpa" in best.columns and "roi" not in best.columns
    assert best.iloc[0]["campaign_name"] == "Quote form"  # $10 a lead beats $40


def test_the_campaigns_page_shows_results_not_a_zero_return(engine: sa.Engine,
                                                           db_url: str) -> None:
    import_leads(engine)
    at = open_page(db_url, pages.CAMPAIGNS.path)
    assert not at.exception and not at.error
    shown = {m.label: m.value for m in at.metric}
    assert shown["Revenue"] == NOT_TRACKED and shown["ROI"] == NOT_TRACKED
    assert "Results" in shown and shown["CPA"].startswith("$")


def test_the_budget_page_splits_for_results(engine: sa.Engine, db_url: str) -> None:
    from tests.budget.leadgen import import_account

    import_account(engine, {"facebook": (False, True), "linkedin": (False, True),
                            "tiktok": (False, True)})
    at = open_page(db_url, pages.BUDGET.path)
    assert not at.exception and not at.error
    shown = {m.label: m.value for m in at.metric}
    assert "Expected results / day" in shown and shown["Expected CPA"].startswith("$")
    assert not any("revenue" in label.lower() or "ROI" in label for label in shown)
    columns = set().union(*(set(d.value.columns) for d in at.dataframe))
    assert "marginal_cpa_now" in columns and "marginal_roi_now" not in columns

"""The Budget page through the entry script (AppTest), on SQLite and PostgreSQL: the empty
state, the allocation on the seeded world with its proof, a changed total, infeasible
guardrails said plainly, and the reverse question."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from demetra import budget
from demetra.app import pages
from demetra.seed import load_truth
from tests.app import helpers
from tests.app.helpers import last_day, metric

PAGE = pages.BUDGET.path


def open_page(url: str) -> AppTest:
    return helpers.open_page(url, PAGE, timeout=120)


def split(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "marginal_roi_after" in d.value.columns)


def spend_by_channel(engine: sa.Engine, start: dt.date, end: dt.date) -> dict[str, float]:
    stmt = sa.text("SELECT channel, SUM(cost) FROM campaigns WHERE date BETWEEN :s AND :e "
                   "GROUP BY channel").bindparams(sa.bindparam("s", type_=sa.Date),
                                                  sa.bindparam("e", type_=sa.Date))
    with engine.connect() as conn:
        return {ch: float(v) for ch, v in conn.execute(stmt, {"s": start, "e": end})}


def test_empty_database_shows_the_empty_state(engine: sa.Engine, db_url: str) -> None:
    at = open_page(db_url)
    assert not at.exception and not at.error
    assert any("No campaign data yet" in s.value for s in at.subheader)
    assert not at.metric and not at.get("plotly_chart")


def test_seeded_world_shows_the_allocation_and_its_proof(seeded_engine: sa.Engine,
                                                          db_url: str) -> None:
    at = open_page(db_url)
    assert not at.exception and not at.error
    table = split(at)
    end = last_day(seeded_engine)
    spend = spend_by_channel(seeded_engine, end - dt.timedelta(days=89), end)
    assert len(table) == len(spend) == 6
    # the current column is the window's spend per day; the split spends the same total
    assert sorted(table["current"].round(2)) == sorted(round(v / 90, 2) for v in spend.values())
    assert table["recommended"].sum() == pytest.approx(sum(spend.values()) / 90, abs=0.05)
    assert (table["recommended"] - table["current"]).abs().sum() > 0.05 * table["current"].sum()
    labels = {m.label for m in at.metric}
    assert {"Expected revenue / day", "Expected ROI", "Revenue, 80 % band",
            "Share of the true optimum"} <= labels
    # the proof shown is the one the module computes independently of the page
    curves = budget.fit_curves(seeded_engine, end=end, window_days=90)
    result = budget.allocate(curves, sum(c.current_spend for c in curves.values()))
    proof = budget.proof(load_truth(seeded_engine), curves, result)
    assert metric(at, "Share of the true optimum") == f"{proof.share_of_optimum:.1%}"
    assert proof.share_of_optimum >= 0.95
    assert len(at.get("plotly_chart")) == 3
    # inside a channel: the campaign curves of the chosen channel
    camp = next(d.value for d in at.dataframe if "marginal_roi_now" in d.value.columns
                and "campaign_name" in d.value.columns)
    inside = budget.fit_campaign_curves(seeded_engine, "facebook", end=end, window_days=90)
    assert at.selectbox(key="bud_channel").value == "facebook"
    assert sorted(camp["campaign_name"]) == sorted(inside.labels[c] for c in inside)
    at.selectbox(key="bud_channel").select("linkedin").run()
    camp = next(d.value for d in at.dataframe if "campaign_name" in d.value.columns)
    with seeded_engine.connect() as conn:
        linkedin = {r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT campaign_name FROM campaigns WHERE channel = 'linkedin'"))}
    assert set(camp["campaign_name"]) <= linkedin and len(camp) >= 1


def test_changing_the_total_changes_the_recommendation(seeded_engine: sa.Engine,
                                                       db_url: str) -> None:
    at = open_page(db_url)
    before = split(at)
    at.number_input(key="bud_total").set_value(30_000.0).run()
    assert not at.exception and not at.error
    after = split(at)
    assert after["recommended"].sum() == pytest.approx(30_000, abs=0.05)
    assert (after["recommended"] >= before["recommended"] - 1).all()   # more for everyone here
    assert list(after["current"]) == list(before["current"])


def test_infeasible_guardrails_are_said_plainly(seeded_engine: sa.Engine, db_url: str) -> None:
    at = open_page(db_url)
    at.number_input(key="bud_total").set_value(40_000.0)
    at.number_input(key="bud_cap").set_value(10.0).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "change cap allow at most" in errors[0] and "40,000" in errors[0]
    assert not any(m.label == "Expected revenue / day" for m in at.metric)


def test_reverse_question_finds_the_budget_for_a_revenue_target(seeded_engine: sa.Engine,
                                                                db_url: str) -> None:
    at = open_page(db_url)
    end = last_day(seeded_engine)
    curves = budget.fit_curves(seeded_engine, end=end, window_days=90)
    now = sum(c.current_spend for c in curves.values())
    target = budget.allocate(curves, 1.3 * now).expected_revenue
    at.number_input(key="bud_target").set_value(target).run()
    at.button(key="bud_find").click().run()
    assert not at.exception and not at.error
    message = at.success[0].value
    assert "Smallest daily budget" in message
    found = float(message.split("$")[-1].rstrip(".").replace(",", ""))
    assert abs(found / (1.3 * now) - 1) < 0.01
    # an impossible target is refused with a reason
    truth = budget.true_curves(load_truth(seeded_engine))
    beyond = 10 * sum(t.params["vmax"] for t in truth.values())
    at.number_input(key="bud_target").set_value(beyond).run()
    at.button(key="bud_find").click().run()
    assert any("No daily budget" in e.value for e in at.error)
    # the ROI question: the largest budget that keeps the best split's ROI at the target
    roi = budget.allocate(curves, 1.2 * now).expected_roi
    at.button_group(key="bud_target_kind").set_value("ROI").run()
    at.number_input(key="bud_target").set_value(round(roi, 3)).run()
    at.button(key="bud_find").click().run()
    assert not at.exception and not at.error
    message = at.success[0].value
    assert message.startswith("Largest daily budget whose best split keeps ROI")
    largest = float(message.split("$")[1].split(";")[0].split(" ")[0].replace(",", ""))
    assert abs(largest / (1.2 * now) - 1) < 0.01

"""Alerts judged against the campaign's own swings (issue 14): order values weigh as much as
they are steady, a spend spike is judged net of the raises its peers shared, the second
day of a raise its results kept up with is the new budget, a spike days after a budget
cut is told against the cut budget (its line and its level), and one on a budget stepped up
weeks ago against the campaign's day-to-day changes.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see conftest).
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from demetra.alerts import detect
from tests.alerts.helpers import FAR_PAST, WIGGLE, alerts, campaign, day, insert


def graded(engine: sa.Engine, **where) -> list[dict]:
    return [a for a in alerts(engine, **where) if a["severity"] != "low"]


def _few_orders(cid: str, channel: str, days: int, value_spread: float, seed: int,
                collapse: range) -> list[dict]:
    """Two orders a day of about $60 on $100 of spend, each day's value off by a lognormal
    ``value_spread``; on the days of ``collapse`` the orders keep coming at a fifth of it."""
    rng = np.random.default_rng(seed)
    rows = campaign(cid, channel, days, level={"cost": 100.0, "clicks": 100,
                                               "impressions": 5_000, "conversions": 2.0,
                                               "revenue": 120.0})
    for i, row in enumerate(rows):
        row["revenue"] = round(120.0 * float(rng.lognormal(0.0, value_spread))
                               * (0.2 if i in collapse else 1.0), 2)
    return rows


def test_a_value_collapse_of_few_orders_is_proved_where_their_values_are_steady(
        engine: sa.Engine) -> None:
    # Eight orders at a fifth of their value over four days: 8 Poisson counts could not tell
    # it, order values that swing 10 % a day can; ones that swing 80 % cannot.
    collapse = range(40, 44)
    insert(engine, _few_orders("FACEBOOK_steady001", "facebook", 45, 0.1, 1, collapse),
           _few_orders("TIKTOK_baskets01", "tiktok", 45, 0.8, 2, collapse))
    detect(engine, since=FAR_PAST)
    steady = graded(engine, alert_type="roi_drop", campaign_id="FACEBOOK_steady001")
    assert [a["date"] for a in steady] == [day(40)]
    assert graded(engine, alert_type="roi_drop", campaign_id="TIKTOK_baskets01") == []


def test_a_spike_weeks_after_a_shared_promotion_is_still_graded(engine: sa.Engine) -> None:
    # Every campaign of the account doubled its budget for eight days (a promotion), which
    # widens each one's spread of spend; two weeks later one spends 3x with nothing to show.
    promo = {i: {"cost": 2000.0, "clicks": 2000, "impressions": 100_000,
                 "conversions": 100.0, "revenue": 5000.0} for i in range(30, 38)}
    runaway = {"cost": 3100.0, "clicks": 3100, "impressions": 155_000,
               "conversions": 50.0, "revenue": 2500.0}
    ids = [f"FACEBOOK_promo{i:04d}" for i in range(4)]
    insert(engine, *(campaign(cid, "facebook", 56, bad=promo) for cid in ids[1:]),
           campaign(ids[0], "facebook", 56, bad={**promo, 55: runaway}))
    detect(engine, since=FAR_PAST)
    spikes = graded(engine, alert_type="cost_spike", campaign_id=ids[0])
    assert [a["date"] for a in spikes] == [day(55)]
    for cid in ids[1:]:
        assert graded(engine, alert_type="cost_spike", campaign_id=cid) == [], cid


def test_the_second_day_of_a_raise_the_results_kept_up_with_is_no_graded_spike(
        engine: sa.Engine) -> None:
    # Day 40 doubles the budget and the conversions follow; day 41 spends 3x the median of
    # two weeks (1.5x yesterday) and brings a bit more than a usual day: the new budget spent.
    step = {40: {"cost": 2000.0, "clicks": 2000, "impressions": 100_000,
                 "conversions": 100.0, "revenue": 5000.0},
            41: {"cost": 3000.0, "clicks": 3000, "impressions": 150_000,
                 "conversions": 60.0, "revenue": 3000.0}}
    # The same day 41 without the raise before it is a runaway.
    insert(engine, campaign("FACEBOOK_raised01", "facebook", 42, bad=step),
           campaign("TIKTOK_suddenly1", "tiktok", 42, bad={41: step[41]}))
    detect(engine, since=FAR_PAST)
    assert graded(engine, alert_type="cost_spike", campaign_id="FACEBOOK_raised01") == []
    assert [a["date"] for a in graded(engine, alert_type="cost_spike",
                                      campaign_id="TIKTOK_suddenly1")] == [day(41)]



def test_a_raise_too_few_orders_could_show_is_no_budget_for_the_next_day(
        engine: sa.Engine) -> None:
    # A $250-a-day campaign of about 2 orders a day: day 40 spends twice that and brings 4
    # orders (odds under 2:1 that they followed the spend), day 41 spends 4.4x its usual with
    # 3 orders. Day 40 does not make $500 the budget: day 41 is a runaway, graded.
    small = {"cost": 250.0, "clicks": 250, "impressions": 12_500, "conversions": 2.2,
             "revenue": 132.0}
    bad = {40: {"cost": 500.0, "clicks": 500, "impressions": 25_000, "conversions": 4.0,
                "revenue": 240.0},
           41: {"cost": 1100.0, "clicks": 1100, "impressions": 55_000, "conversions": 3.0,
                "revenue": 180.0}}
    insert(engine, campaign("YOUTUBE_ramp0001", "youtube", 42, level=small, bad=bad))
    detect(engine, since=FAR_PAST)
    spikes = alerts(engine, alert_type="cost_spike", campaign_id="YOUTUBE_ramp0001")
    assert [(a["date"], a["severity"] != "low") for a in spikes] == [(day(41), True)]


def test_a_spike_days_after_a_budget_cut_is_told_against_the_cut_budget(
        engine: sa.Engine) -> None:
    # The budget fell from $1,000 to $600 four days ago; day 40 spends $1,800 with the
    # conversions of a $600 day: 1.8x the two weeks' median (which the cut has not reached
    # yet), 3x the budget set since, a lead. The same day without the cut is 1.8x its usual
    # level, no spike at all.
    cut = {i: {"cost": 600.0, "clicks": 600, "impressions": 30_000, "conversions": 30.0,
               "revenue": 1500.0} for i in range(36, 40)}
    runaway = {"cost": 1800.0, "clicks": 1800, "impressions": 90_000, "conversions": 30.0,
               "revenue": 1500.0}
    insert(engine, campaign("FACEBOOK_cutbudg1", "facebook", 41, bad={**cut, 40: runaway}),
           campaign("TIKTOK_steadybud", "tiktok", 41, bad={40: runaway}))
    detect(engine, since=FAR_PAST)
    spikes = alerts(engine, alert_type="cost_spike", campaign_id="FACEBOOK_cutbudg1")
    assert [(a["date"], a["severity"]) for a in spikes] == [(day(40), "low")]
    assert alerts(engine, alert_type="cost_spike", campaign_id="TIKTOK_steadybud") == []


def test_a_spike_after_a_cut_is_judged_against_the_cut_budgets_level(engine: sa.Engine) -> None:
    # Spend that swings by a fifth a day about $1,000, cut to $350 four days ago; day 44
    # spends $1,100 with the conversions of a $350 day. Against the two weeks' median (still
    # the old budget) that is one swing; against the budget set since, three times it: a lead.
    rng = np.random.default_rng(5)
    rows = campaign("FACEBOOK_cutswing", "facebook", 45)
    for i, row in enumerate(rows):
        level = 350.0 if 40 <= i < 44 else 1000.0
        cost = 1100.0 if i == 44 else round(level * float(rng.lognormal(0.0, 0.2)), 2)
        row.update(cost=cost, clicks=round(cost), impressions=round(50 * cost),
                   conversions=17.0 if i == 44 else round(cost / 20.0),
                   revenue=850.0 if i == 44 else round(cost * 2.5, 2))
    insert(engine, rows)
    detect(engine, since=FAR_PAST)
    spikes = alerts(engine, alert_type="cost_spike", campaign_id="FACEBOOK_cutswing")
    assert [(a["date"], a["severity"]) for a in spikes] == [(day(44), "low")]


def test_a_spike_on_a_budget_stepped_up_two_weeks_ago_is_graded(engine: sa.Engine) -> None:
    # The budget doubled on day 42 and the conversions followed; day 56 spends 3.1x the new
    # budget with the conversions of a usual day. The four weeks before hold both budgets, a
    # spread of 0.5 in logs that would hide a 3x day; their day-to-day changes hold one step.
    stepped = {i: {"cost": 2000.0 * (1 + WIGGLE[i % len(WIGGLE)] / 2), "clicks": 2000,
                   "impressions": 100_000, "conversions": 100.0, "revenue": 5000.0}
               for i in range(42, 56)}
    runaway = {"cost": 6200.0, "clicks": 6200, "impressions": 310_000, "conversions": 100.0,
               "revenue": 5000.0}
    insert(engine, campaign("FACEBOOK_stepped1", "facebook", 57, bad={**stepped, 56: runaway}),
           campaign("TIKTOK_stepsonly", "tiktok", 56, bad=stepped))
    detect(engine, since=FAR_PAST)
    spikes = graded(engine, alert_type="cost_spike", campaign_id="FACEBOOK_stepped1")
    assert [a["date"] for a in spikes] == [day(56)]
    # The step itself (2x, under the line) is no spike.
    assert alerts(engine, alert_type="cost_spike", campaign_id="TIKTOK_stepsonly") == []

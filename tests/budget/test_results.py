"""The allocator on accounts that do not track revenue: results curves, a split for the most
results with CPA and marginal CPA, channels that track neither left out with the reason, the
single-channel account split among its campaigns — and the seeded world still split on revenue.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sqlalchemy as sa

from demetra import budget
from demetra.budget.allocator import Guardrails, allocate, min_budget_for
from demetra.budget.curves import NOT_TRACKED, Curve
from demetra.errors import BadInput
from tests.budget.known_curves import LOG, assert_split, by_hand, log_revenue
from tests.budget.leadgen import LEADS, MIXED, import_account, keys_in, true_curves

REVENUE_WORDS = ("revenue", "roi")


def results_curves(current: dict[str, float] | None = None) -> dict[str, Curve]:
    """The hand-solved log curves of ``known_curves``, read as results a day."""
    current = current or {c: 1000.0 for c in LOG}
    return {c: Curve(channel=c, kind="log", params={"a": a / 100, "b": b},
                     current_spend=current[c], days=90, spend_min=0.5 * current[c],
                     spend_max=1.5 * current[c], outcome="results")
            for c, (a, b) in LOG.items()}


def no_revenue(out: dict) -> None:
    found = {k for k in keys_in(out) if any(w in k.lower() for w in REVENUE_WORDS)}
    assert not found, found


# ---- results curves with a hand-solved optimum ---------------------------------------------

@pytest.mark.parametrize("total", [1500.0, 3000.0, 7000.0])
def test_results_split_matches_the_hand_solution_with_cpa(total: float) -> None:
    res = allocate(results_curves(), total)
    assert res.feasible and res.outcome == "results"
    assert_split(res.allocation, by_hand(total), total)
    expected = log_revenue(by_hand(total)) / 100
    assert res.expected_results == pytest.approx(expected, rel=1e-6)
    assert res.expected_cpa == pytest.approx(total / expected, rel=1e-6)
    assert res.current_cpa == pytest.approx(3000.0 / res.current_results)
    # the optimum's equal margin: one more result costs 1/λ everywhere
    lam = sum(a for a, _ in LOG.values()) / 100 / (total + sum(b for _, b in LOG.values()))
    for c, m in res.marginal_cpa.items():
        assert m == pytest.approx(1 / lam, rel=0.01), c
    # nothing of revenue: not a zero, not a number
    assert math.isnan(res.expected_revenue) and res.expected_roi is None
    assert res.marginal_roi == {} and res.current_roi is None
    assert "results/day" in res.message and "CPA $" in res.message
    out = res.to_json()
    json.dumps(out, allow_nan=False)
    assert out["outcome"] == "results" and out["expected_cpa"] == pytest.approx(
        res.expected_cpa, abs=0.01)
    no_revenue(out)


def test_guardrails_hold_on_a_results_split() -> None:
    res = allocate(results_curves(), 3000.0, Guardrails(max_change_pct=20,
                                                        locked=frozenset({"social"})))
    assert res.feasible
    assert res.allocation["social"] == 1000.0
    assert res.allocation["search"] == pytest.approx(1200) and res.allocation["video"] == \
        pytest.approx(800)
    table = budget.split_table(res)
    assert {"marginal_cpa_now", "marginal_cpa_after"} <= set(table.columns)
    assert not any("roi" in c for c in table.columns)


def test_the_reverse_question_on_results_takes_results_and_cpa_targets() -> None:
    curves = results_curves()
    total = 4200.0
    target = log_revenue(by_hand(total)) / 100
    res = min_budget_for(curves, results=target)
    assert res.feasible and res.total == pytest.approx(total, rel=1e-3), res.message
    assert "results/day" in res.message
    cpa = total / target
    res = min_budget_for(curves, cpa=cpa)
    assert res.feasible and res.total == pytest.approx(total, rel=1e-3), res.message
    assert res.expected_cpa == pytest.approx(cpa, rel=1e-3) and "CPA" in res.message
    wrong = min_budget_for(curves, roi=2.0)
    assert not wrong.feasible and "results or a CPA" in wrong.message


def test_curves_of_revenue_and_results_are_never_added_up() -> None:
    curves = results_curves()
    curves["search"] = Curve(channel="search", kind="log", params={"a": 3000.0, "b": 400.0},
                             current_spend=1000.0, days=90, spend_min=500, spend_max=1500)
    with pytest.raises(BadInput, match="mix revenue and results"):
        allocate(curves, 3000.0)


def test_days_that_did_not_track_the_outcome_are_left_out_not_zeros() -> None:
    rng = np.random.default_rng(4)
    spend = rng.uniform(500, 1500, 60)
    results = 200 / (1 + 800 / spend)
    holes = results.copy()
    holes[::3] = np.nan          # a third of the days tracked nothing
    full = budget.fit_curve("c", spend, results, outcome="results", draws=0)
    gappy = budget.fit_curve("c", spend, holes, outcome="results", draws=0)
    assert gappy.days == 40 and gappy.outcome == "results"
    grid = np.linspace(600, 1400, 9)
    np.testing.assert_allclose(gappy.value(grid), full.value(grid), rtol=0.02)
    with pytest.raises(ValueError, match="no results"):
        budget.fit_curve("c", spend, np.zeros(60), outcome="results")


# ---- a lead-generation account, imported -----------------------------------------------------

def test_a_lead_gen_account_is_split_for_the_most_results(engine: sa.Engine) -> None:
    import_account(engine, LEADS)
    curves = budget.fit_curves(engine)
    assert curves.outcome == "results" and set(curves) == set(LEADS) and not curves.skipped
    assert all(c.outcome == "results" for c in curves.values())
    assert "Revenue is not tracked in the window" in curves.note
    res = budget.recommend(engine)
    assert res.feasible and res.outcome == "results"
    assert res.expected_cpa == pytest.approx(res.total / res.expected_results)
    assert res.results_low <= res.expected_results <= res.results_high
    # Judged by the true results curves: at least 95 % of the true optimum, better than now.
    true = true_curves(res.current)
    best = allocate(true, res.total)
    share = budget.evaluate_split(true, res.allocation) / best.expected_results
    now = budget.evaluate_split(true, res.current) / best.expected_results
    assert share >= 0.95 and share > now + 0.01, (share, now)
    # The seeded truth is of revenue: there is no proof of a results split.
    assert budget.proof({"channels": {}, "days": 0}, curves, res) is None
    out = res.to_json()
    json.dumps(out, allow_nan=False)
    assert out["outcome"] == "results" and out["expected_results"] > 0
    assert set(out["marginal_cpa"]) == set(LEADS)
    no_revenue(out)


def test_a_capped_results_split_keeps_every_channel_within_its_cap(engine: sa.Engine) -> None:
    import_account(engine, LEADS)
    res = budget.recommend(engine, guardrails=Guardrails(max_change_pct=20))
    assert res.feasible
    for c, v in res.allocation.items():
        assert 0.8 * res.current[c] - 1e-6 <= v <= 1.2 * res.current[c] + 1e-6


def test_a_mixed_account_splits_results_and_leaves_out_what_tracks_neither(
        engine: sa.Engine) -> None:
    import_account(engine, MIXED)
    curves = budget.fit_curves(engine)
    assert curves.outcome == "results"
    assert set(curves) == {"facebook", "linkedin"}
    assert curves.skipped == {"tiktok": NOT_TRACKED}
    assert "not by LinkedIn, TikTok" in curves.note and "TikTok" in curves.note
    res = budget.recommend(engine)
    assert res.outcome == "results" and set(res.allocation) == {"facebook", "linkedin"}
    # TikTok keeps its spend, outside the total
    assert res.total == pytest.approx(sum(c.current_spend for c in curves.values()))
    assert res.to_json()["skipped"] == {"tiktok": "revenue and results not tracked"}
    no_revenue(res.to_json())


def test_revenue_is_the_outcome_where_results_are_tracked_nowhere(engine: sa.Engine) -> None:
    import_account(engine, {"facebook": (True, False), "linkedin": (True, False),
                            "tiktok": (False, False)})
    curves = budget.fit_curves(engine)
    assert curves.outcome == "revenue" and set(curves) == {"facebook", "linkedin"}
    assert curves.skipped == {"tiktok": NOT_TRACKED}
    res = budget.recommend(engine)
    assert res.outcome == "revenue" and res.expected_revenue > 0
    assert "expected_revenue" in res.to_json() and "expected_results" not in res.to_json()
    # Asked for results on it, every channel says why it cannot be split on them.
    forced = budget.fit_curves(engine, outcome="results")
    assert not forced and forced.skipped["facebook"].startswith("results not tracked (it "
                                                                "tracks revenue")


def test_an_account_that_tracks_nothing_is_not_split_and_says_why(engine: sa.Engine) -> None:
    import_account(engine, {"facebook": (False, False)})
    res = budget.recommend(engine)
    assert not res.feasible and res.outcome is None
    assert "no channel tracks revenue or results" in res.message
    out = res.to_json()
    assert out["outcome"] is None and out["skipped"] == {"facebook": NOT_TRACKED}
    no_revenue(out)


def test_one_channel_is_said_to_have_no_split_and_its_campaigns_are_split(
        engine: sa.Engine) -> None:
    import_account(engine, {"facebook": (False, True)}, campaigns=3,
                   idle={"facebook": "Brand awareness"})
    res = budget.recommend(engine)
    assert res.feasible and res.outcome == "results"
    assert res.allocation == {"facebook": pytest.approx(res.current["facebook"])}
    assert "Only Facebook has a response curve, so there is no split to choose" in res.note
    inside = res.campaigns
    assert inside is not None and inside.feasible and inside.outcome == "results"
    assert len(inside.allocation) == 3
    assert sum(inside.allocation.values()) == pytest.approx(inside.total)
    assert set(inside.labels.values()) >= {"facebook leads 1", "Brand awareness"}
    # the campaign that never brought a result has no curve, and says so
    idle = next(c for c, n in inside.labels.items() if n == "Brand awareness")
    assert "no results" in inside.skipped[idle]
    out = res.to_json()
    assert out["campaigns"]["outcome"] == "results" and out["campaigns"]["names"]
    no_revenue(out)
    table = budget.campaign_split_table(budget.fit_campaign_curves(engine, "facebook"))
    assert {"cpa_now", "marginal_cpa_now", "marginal_cpa_after"} <= set(table.columns)
    assert table["marginal_cpa_now"].is_monotonic_increasing   # cheapest next result first


# ---- the seeded world: revenue, as before --------------------------------------------------

def test_the_seeded_world_is_still_split_on_revenue(seeded_engine: sa.Engine) -> None:
    curves = budget.fit_curves(seeded_engine)
    assert curves.outcome == "revenue" and curves.note == "" and not curves.skipped
    res = budget.recommend(seeded_engine)
    assert res.outcome == "revenue" and res.campaigns is None and res.note == ""
    out = res.to_json()
    assert out["outcome"] == "revenue"
    assert {"expected_revenue", "expected_roi", "marginal_roi"} <= set(out)
    assert not any("results" in k or "cpa" in k for k in out)


def test_revenue_stored_as_zeros_everywhere_is_split_on_results(engine: sa.Engine) -> None:
    """Zeros stored before "not tracked" existed (or an account that never sold anything)
    cannot carry a revenue curve: the split is made on the results instead of refused."""
    import datetime as dt

    import pandas as pd

    from demetra.db.bulk import insert_campaign_rows

    rng = np.random.default_rng(5)
    rows = []
    for channel, (vmax, k) in {"facebook": (300.0, 900.0), "linkedin": (120.0, 500.0)}.items():
        for i, spend in enumerate(800 * rng.lognormal(0, 0.25, 90)):
            rows.append({"campaign_id": f"{channel.upper()}_1", "campaign_name": "old",
                         "channel": channel, "date": dt.date(2026, 1, 1) + dt.timedelta(days=i),
                         "cost": float(spend), "clicks": 100, "impressions": 1000,
                         "engagement": 0, "conversions": float(vmax / (1 + k / spend)),
                         "revenue": 0.0})
    with engine.begin() as conn:
        insert_campaign_rows(conn, pd.DataFrame(rows))
    res = budget.recommend(engine)
    assert res.feasible and res.outcome == "results" and set(res.allocation) == {"facebook",
                                                                                 "linkedin"}
    assert "$0.00" not in res.message and "revenue" not in res.message

"""The recommendation's share of the true optimum, judged by a seeded world's true curves."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from demetra import budget
from demetra.budget.allocator import allocate
from demetra.seed import load_truth
from demetra.seed_world import generate_world

# ---- quality against the truth ----------------------------------------------------------

def test_recommendation_earns_95_percent_of_the_true_optimum_on_a_seeded_database(
        seeded_engine) -> None:
    res = budget.recommend(seeded_engine)
    assert res.feasible
    assert res.revenue_low <= res.expected_revenue <= res.revenue_high
    proof = budget.proof(load_truth(seeded_engine), budget.fit_curves(seeded_engine), res)
    assert proof is not None
    assert proof.share_of_optimum >= 0.95
    assert proof.share_of_optimum > proof.current_share   # and beats doing nothing


@pytest.mark.parametrize("multiple", [0.7, 1.0, 1.5])
def test_recommendation_quality_on_another_world_and_totals(multiple: float) -> None:
    world = generate_world(campaigns=60, days=120, seed=3, end_date=dt.date(2026, 3, 31))
    days = world.rows.groupby(["channel", "date"])[["cost", "revenue"]].sum().reset_index()
    n_days = days["date"].nunique()
    curves = {ch: budget.fit_curve(ch, g["cost"], g["revenue"], current_spend=g["cost"].sum() / n_days)
              for ch, g in days.groupby("channel")}
    truth = {c: dataclasses.replace(t, current_spend=curves[c].current_spend)
             for c, t in budget.true_curves(world.truth).items()}
    total = multiple * sum(c.current_spend for c in curves.values())
    res = allocate(curves, total)
    best = allocate(truth, total)
    share = budget.evaluate_split(truth, res.allocation) / best.expected_revenue
    assert share >= 0.95, share

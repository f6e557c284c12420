"""The allocator against answers worked out by hand, every guardrail, the failure modes users
report of other allocators, the reverse question, and the recommendation's documented shape."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sqlalchemy as sa

from demetra import budget
from demetra.budget.allocator import Guardrails, allocate, min_budget_for
from demetra.budget.curves import Curve
from tests.budget.known_curves import (
    CURRENT,
    LOG,
    assert_split,
    by_hand,
    log_curves,
    log_revenue,
)

# ---- the allocator on curves with a known answer ----------------------------------------

@pytest.mark.parametrize("total", [1500.0, 3000.0, 7000.0])
def test_optimum_of_log_curves_matches_the_hand_solution(total: float) -> None:
    res = allocate(log_curves(), total)
    assert res.feasible, res.message
    assert_split(res.allocation, by_hand(total), total)
    assert sum(res.allocation.values()) == pytest.approx(total, rel=1e-9)
    assert res.expected_revenue == pytest.approx(log_revenue(by_hand(total)), rel=1e-6)
    assert res.expected_roi == pytest.approx(res.expected_revenue / total)
    # equal marginal ROI at the optimum, and it is the λ of the hand solution
    lam = sum(a for a, _ in LOG.values()) / (total + sum(b for _, b in LOG.values()))
    for c, m in res.marginal_roi.items():
        assert m == pytest.approx(lam, rel=0.01), c


def test_current_figures_are_the_curves_at_the_current_split() -> None:
    res = allocate(log_curves(), 3000.0)
    assert res.current == CURRENT
    assert res.current_revenue == pytest.approx(log_revenue(CURRENT))
    assert res.current_roi == pytest.approx(log_revenue(CURRENT) / 3000.0)


def test_a_channel_whose_curve_is_flat_gets_nothing() -> None:
    curves = log_curves()
    curves["dud"] = Curve(channel="dud", kind="log", params={"a": 1e-6, "b": 1000.0},
                          current_spend=500.0, days=90, spend_min=400, spend_max=600)
    res = allocate(curves, 3500.0)
    assert res.allocation["dud"] == pytest.approx(0.0, abs=1.0)
    assert_split({c: v for c, v in res.allocation.items() if c != "dud"}, by_hand(3500.0), 3500)


def test_s_shaped_channel_is_not_stuck_at_zero() -> None:
    """A Hill curve with shape 3 has zero slope at zero spend: a gradient method started at the
    current split (nothing on it) never moves. The best split, found by brute force here,
    puts most of the budget on it."""
    s_curve = Curve(channel="s", kind="hill",
                    params={"vmax": 20000.0, "half_saturation": 1500.0, "shape": 3.0},
                    current_spend=0.0, days=90, spend_min=0, spend_max=0)
    concave = Curve(channel="c", kind="log", params={"a": 1500.0, "b": 500.0},
                    current_spend=2500.0, days=90, spend_min=2000, spend_max=3000)
    curves = {"s": s_curve, "c": concave}
    total = 2500.0
    grid = np.linspace(0, total, 250_001)
    brute = s_curve.revenue(grid) + concave.revenue(total - grid)
    best = grid[np.argmax(brute)]
    res = allocate(curves, total)
    assert res.allocation["s"] == pytest.approx(best, abs=0.5)
    assert res.expected_revenue == pytest.approx(brute.max(), rel=1e-7)
    assert res.allocation["s"] > 1000


# ---- guardrails ---------------------------------------------------------------------------

def test_minimum_is_honoured_and_the_rest_is_optimal() -> None:
    total = 3000.0
    free = by_hand(total)
    floor = free["video"] + 400
    res = allocate(log_curves(), total, Guardrails(min_spend={"video": floor}))
    assert res.allocation["video"] == pytest.approx(floor, abs=1e-6)
    assert_split({c: res.allocation[c] for c in ("search", "social")},
                 by_hand(total - floor, ["search", "social"]), total)


def test_maximum_is_honoured_and_the_rest_is_optimal() -> None:
    total = 3000.0
    cap = by_hand(total)["search"] - 500
    res = allocate(log_curves(), total, Guardrails(max_spend={"search": cap}))
    assert res.allocation["search"] == pytest.approx(cap, abs=1e-6)
    assert_split({c: res.allocation[c] for c in ("social", "video")},
                 by_hand(total - cap, ["social", "video"]), total)


def test_locked_channel_keeps_its_current_spend() -> None:
    total = 3000.0
    res = allocate(log_curves(), total, Guardrails(locked=frozenset({"social"})))
    assert res.allocation["social"] == CURRENT["social"]
    assert_split({c: res.allocation[c] for c in ("search", "video")},
                 by_hand(total - CURRENT["social"], ["search", "video"]), total)
    assert "social" in res.message


def test_change_cap_keeps_every_channel_within_its_percentage() -> None:
    res = allocate(log_curves(), 3000.0, Guardrails(max_change_pct=20))
    assert res.feasible
    for c, v in res.allocation.items():
        assert 800 - 1e-6 <= v <= 1200 + 1e-6, (c, v)
    # unconstrained, search wants far more than +20 % and video far less than -20 %
    assert res.allocation["search"] == pytest.approx(1200)
    assert res.allocation["video"] == pytest.approx(800)
    assert sum(res.allocation.values()) == pytest.approx(3000)


@pytest.mark.parametrize(("total", "rails", "words"), [
    (3000.0, Guardrails(min_spend={"search": 2000, "social": 1500}), ["minimums", "3,500"]),
    (3000.0, Guardrails(max_spend={"search": 500, "social": 500, "video": 500}),
     ["maximums", "1,500"]),
    (3000.0, Guardrails(locked=frozenset({"search", "social"}), max_spend={"video": 300}),
     ["locked", "2,300"]),
    (3000.0, Guardrails(max_change_pct=10), ["change cap", "3,300"]),   # fine: 3000 within
    (5000.0, Guardrails(max_change_pct=10), ["change cap", "3,300"]),
    (3000.0, Guardrails(min_spend={"video": 900}, max_spend={"video": 100}),
     ["video", "minimum", "maximum"]),
    (3000.0, Guardrails(locked=frozenset({"social"}), min_spend={"social": 2000}),
     ["social", "locked"]),
    (3000.0, Guardrails(max_spend={"tv": 10}), ["unknown", "tv"]),
    (-5.0, None, ["non-negative"]),
])
def test_impossible_guardrails_are_reported_not_hidden(total, rails, words) -> None:
    res = allocate(log_curves(), total, rails)
    if total == 3000.0 and rails == Guardrails(max_change_pct=10):
        assert res.feasible        # the control case: the cap allows 2,700–3,300
        return
    assert not res.feasible
    assert res.allocation == {} and math.isnan(res.expected_revenue)
    for w in words:
        assert w in res.message, (w, res.message)
    out = res.to_json()
    assert out["feasible"] is False and out["expected_revenue"] is None
    json.dumps(out, allow_nan=False)


def test_no_curves_is_infeasible_with_a_reason() -> None:
    res = allocate({}, 1000.0)
    assert not res.feasible and "no channel" in res.message


# ---- failure modes users report of Robyn, Meridian and LightweightMMM ---------------------

def test_does_not_return_the_current_split_when_it_is_not_optimal() -> None:
    current = {"search": 400.0, "social": 1600.0, "video": 1000.0}
    res = allocate(log_curves(current), 3000.0)
    moved = sum(abs(res.allocation[c] - current[c]) for c in current)
    assert moved > 0.2 * 3000
    assert res.expected_revenue > res.current_revenue * 1.05
    assert_split(res.allocation, by_hand(3000.0), 3000)


def test_does_keep_the_current_split_when_it_is_optimal() -> None:
    optimal = by_hand(3000.0)
    res = allocate(log_curves(optimal), 3000.0)
    assert_split(res.allocation, optimal, 3000, tol=0.001)
    assert res.expected_revenue == pytest.approx(res.current_revenue, rel=1e-6)


def test_does_not_split_evenly() -> None:
    res = allocate(log_curves(), 3000.0)
    shares = np.array(list(res.allocation.values())) / 3000
    assert shares.max() - shares.min() > 0.3
    assert res.expected_revenue > log_revenue({c: 1000.0 for c in LOG}) * 1.02


@pytest.mark.parametrize("curve_kind", ["log", "hill"])
def test_a_bigger_budget_is_spent_and_never_earns_less(curve_kind: str) -> None:
    curves = log_curves() if curve_kind == "log" else {
        c: Curve(channel=c, kind="hill", params={"vmax": v, "half_saturation": k, "shape": n},
                 current_spend=1000.0, days=90, spend_min=800, spend_max=1200)
        for c, (v, k, n) in {"a": (9000.0, 1500.0, 1.3), "b": (5000.0, 700.0, 0.9),
                             "c": (12000.0, 4000.0, 2.0)}.items()}
    previous = None
    for total in (1000.0, 2000.0, 3000.0, 4500.0, 6000.0, 9000.0):
        res = allocate(curves, total)
        assert sum(res.allocation.values()) == pytest.approx(total, rel=1e-9)
        if previous is not None:
            assert res.expected_revenue > previous.expected_revenue
            if curve_kind == "log":    # concave curves: no channel loses budget as it grows
                for c in curves:
                    assert res.allocation[c] >= previous.allocation[c] - 1e-6 * total
        previous = res


def test_never_breaks_its_own_bounds() -> None:
    rng = np.random.default_rng(7)
    curves = log_curves()
    checked = 0
    for _ in range(60):
        mins = {c: float(rng.uniform(0, 900)) for c in LOG if rng.random() < 0.5}
        maxs = {c: float(rng.uniform(900, 2500)) for c in LOG if rng.random() < 0.5}
        cap = float(rng.uniform(5, 150)) if rng.random() < 0.4 else None
        locked = frozenset(c for c in LOG if rng.random() < 0.15)
        total = float(rng.uniform(500, 6000))
        rails = Guardrails(min_spend=mins, max_spend=maxs, locked=locked, max_change_pct=cap)
        res = allocate(curves, total, rails)
        if not res.feasible:
            continue
        checked += 1
        assert sum(res.allocation.values()) == pytest.approx(total, rel=1e-9)
        for c, v in res.allocation.items():
            lo = CURRENT[c] if c in locked else max(mins.get(c, 0.0),
                                                    CURRENT[c] * (1 - cap / 100) if cap else 0)
            hi = CURRENT[c] if c in locked else min(maxs.get(c, math.inf),
                                                    CURRENT[c] * (1 + cap / 100) if cap else math.inf)
            assert lo - 1e-6 <= v <= hi + 1e-6, (c, v, lo, hi, rails, total)
        # optimality within the bounds: channels strictly inside share one marginal ROI
        inside = [res.marginal_roi[c] for c, (lo, hi) in res.bounds.items()
                  if lo + 1 < res.allocation[c] < hi - 1]
        if len(inside) > 1:
            assert max(inside) / min(inside) < 1.01, (inside, rails, total)
    assert checked >= 20


# ---- the reverse question ---------------------------------------------------------------

def test_smallest_budget_for_a_revenue_target_on_known_curves() -> None:
    total = 4200.0
    target = log_revenue(by_hand(total))
    res = min_budget_for(log_curves(), revenue=target)
    assert res.feasible, res.message
    assert res.total == pytest.approx(total, rel=1e-3)
    assert res.expected_revenue >= target * (1 - 1e-9)
    assert "4,2" in res.message


def test_largest_budget_keeping_an_roi_target_on_known_curves() -> None:
    total = 4200.0
    roi = log_revenue(by_hand(total)) / total
    res = min_budget_for(log_curves(), roi=roi)
    assert res.feasible, res.message
    assert res.total == pytest.approx(total, rel=1e-3)
    assert res.expected_roi == pytest.approx(roi, rel=1e-3)


def test_unreachable_targets_say_so() -> None:
    capped = Guardrails(max_spend={c: 1000.0 for c in LOG})
    reachable = log_revenue(CURRENT)
    res = min_budget_for(log_curves(), revenue=reachable * 1.5, guardrails=capped)
    assert not res.feasible and "No daily budget" in res.message and "3,000" in res.message
    assert not min_budget_for(log_curves(), roi=50.0).feasible
    with pytest.raises(ValueError, match="exactly one"):
        min_budget_for(log_curves(), revenue=1.0, roi=1.0)


# ---- recommend: fit, then allocate ---------------------------------------------------------

def test_recommend_on_an_empty_database_says_there_is_nothing(engine) -> None:
    res = budget.recommend(engine)
    assert not res.feasible and res.allocation == {} and "no spend" in res.message


def test_to_json_is_the_documented_shape(seeded_engine) -> None:
    res = budget.recommend(seeded_engine, total=10_000.0)
    out = res.to_json()
    json.dumps(out, allow_nan=False)
    assert {"allocation", "current", "expected_revenue", "expected_roi"} <= set(out)
    assert sum(out["allocation"].values()) == pytest.approx(10_000.0, abs=0.05)
    assert out["expected_roi"] == pytest.approx(out["expected_revenue"] / 10_000.0, rel=1e-3)
    with seeded_engine.connect() as conn:
        cost = dict(conn.execute(sa.text(
            "SELECT channel, SUM(cost) FROM campaigns GROUP BY channel")).all())
    for ch, v in out["current"].items():
        assert v == pytest.approx(cost[ch] / 90, abs=0.01)

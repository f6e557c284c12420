"""Curve fitting: against a seeded world's truth, from the rollup's window, the channels (and
campaigns) that cannot carry a curve and why, and the band's coverage."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from demetra import budget
from demetra.db.bulk import insert_campaign_rows
from demetra.seed import load_truth

# ---- fitting from the database ------------------------------------------------------------

def test_fitted_curves_are_close_to_the_true_ones_over_the_observed_range(seeded_engine) -> None:
    curves = budget.fit_curves(seeded_engine)
    truth = load_truth(seeded_engine)
    assert truth is not None
    assert set(curves) == set(truth["channels"]) and curves.skipped == {}
    assert curves.end == dt.date(2026, 6, 30) and curves.days == 90
    true = budget.true_curves(truth)
    for ch, curve in curves.items():
        grid = np.linspace(curve.spend_min, curve.spend_max, 50)
        err = np.abs(curve.revenue(grid) / true[ch].revenue(grid) - 1)
        # within 5 % on average and at the current spend, 15 % at the edges of the range
        assert err.max() < 0.15 and err.mean() < 0.05, (ch, err.max(), err.mean())
        at_now = curve.revenue(curve.current_spend) / true[ch].revenue(curve.current_spend)
        assert at_now == pytest.approx(1, abs=0.05), ch
        low, high = curve.band(grid)
        assert (low <= curve.revenue(grid) + 1e-6).all() and (high >= curve.revenue(grid) - 1e-6).all()
        assert (high > low).all()


def _rows(channel: str, costs: list[float], revenues: list[float]) -> list[dict]:
    start = dt.date(2026, 1, 1)
    return [{"campaign_id": f"{channel.upper()}_1", "campaign_name": "t", "channel": channel,
             "date": start + dt.timedelta(days=i), "cost": c, "clicks": 10, "impressions": 100,
             "engagement": 0, "conversions": 1.0, "revenue": r}
            for i, (c, r) in enumerate(zip(costs, revenues, strict=True))]


def test_channels_without_spend_variation_or_days_are_skipped_with_a_reason(engine) -> None:
    rng = np.random.default_rng(1)
    moving = rng.uniform(500, 1500, 60)
    rows = (_rows("facebook", list(moving), list(3 * moving ** 0.8))
            + _rows("youtube", [800.0] * 60, list(rng.uniform(1000, 3000, 60)))
            + _rows("linkedin", list(moving[:5]), list(moving[:5])))
    with engine.begin() as conn:
        insert_campaign_rows(conn, pd.DataFrame(rows))
    curves = budget.fit_curves(engine)
    assert set(curves) == {"facebook"}
    assert "hardly varied" in curves.skipped["youtube"] and "800" in curves.skipped["youtube"]
    assert "5 days" in curves.skipped["linkedin"]
    res = budget.recommend(engine)
    assert res.feasible and set(res.allocation) == {"facebook"}
    assert set(res.skipped) == {"youtube", "linkedin"}
    assert res.to_json()["skipped"]["youtube"] == curves.skipped["youtube"]


def test_fitting_reads_the_rollup_window(engine) -> None:
    rng = np.random.default_rng(2)
    spend = rng.uniform(500, 1500, 120)
    with engine.begin() as conn:
        insert_campaign_rows(conn, pd.DataFrame(_rows("facebook", list(spend), list(2 * spend))))
    curves = budget.fit_curves(engine, window_days=30, end=dt.date(2026, 3, 31))
    c = curves["facebook"]
    assert curves.start == dt.date(2026, 3, 2) and curves.days == 30 and c.days == 30
    window = spend[60:90]      # 2026-03-02 .. 2026-03-31
    assert c.current_spend == pytest.approx(window.mean())
    assert (c.spend_min, c.spend_max) == (pytest.approx(window.min()), pytest.approx(window.max()))
    with pytest.raises(ValueError, match="window"):
        budget.fit_curves(engine, window_days=0)


# ---- per-campaign curves -------------------------------------------------------------------

def test_campaign_curves_where_their_own_spend_varied(engine) -> None:
    rng = np.random.default_rng(3)
    moving = rng.uniform(200, 600, 40)
    rows = (_rows("facebook", list(moving), list(4 * moving ** 0.7))
            + [{**r, "campaign_id": "FACEBOOK_flat", "campaign_name": "Flat one"}
               for r in _rows("facebook", [900.0] * 40, list(rng.uniform(900, 1800, 40)))]
            + [{**r, "campaign_id": "FACEBOOK_new", "campaign_name": "New one"}
               for r in _rows("facebook", list(moving[:6]), list(moving[:6]))]
            + _rows("tiktok", list(moving), list(moving)))
    with engine.begin() as conn:
        insert_campaign_rows(conn, pd.DataFrame(rows))
    curves = budget.fit_campaign_curves(engine, "facebook")
    assert set(curves) == {"FACEBOOK_1"}                      # tiktok's campaign is not asked
    assert "hardly varied" in curves.skipped["FACEBOOK_flat"]
    assert "6 days" in curves.skipped["FACEBOOK_new"]
    assert curves.labels == {"FACEBOOK_1": "t", "FACEBOOK_flat": "Flat one",
                             "FACEBOOK_new": "New one"}
    c = curves["FACEBOOK_1"]
    assert c.days == 40 and c.current_spend == pytest.approx(moving.mean())
    grid = np.linspace(c.spend_min, c.spend_max, 20)
    np.testing.assert_allclose(c.revenue(grid), 4 * grid ** 0.7, rtol=0.05)
    table = budget.campaign_split_table(curves)
    assert list(table["campaign_id"]) == ["FACEBOOK_1"]
    assert table["recommended"].iloc[0] == pytest.approx(moving.mean())   # alone: all of it
    assert table["roi_now"].iloc[0] == pytest.approx(c.revenue(c.current_spend) / c.current_spend)
    biggest = budget.fit_campaign_curves(engine, "facebook", limit=1)   # by spend: the flat one
    assert not biggest and set(biggest.skipped) == {"FACEBOOK_flat"}


# ---- the band -------------------------------------------------------------------------------

def test_the_band_covers_the_true_curve_without_being_vacuous() -> None:
    """Forty noisy 90-day samples of a known Hill curve: the fitted 80 % band holds the true
    expected revenue over the observed range at least 70 % of the time, and is narrow."""
    rng = np.random.default_rng(0)
    grid = np.array([800.0, 1000.0, 1200.0])
    true = 9000.0 / (1 + (1000.0 / grid) ** 1.3)
    hits, widths = [], []
    for i in range(40):
        spend = 1000 * rng.lognormal(0, 0.15, 90)
        expected = 9000.0 / (1 + (1000.0 / spend) ** 1.3)
        curve = budget.fit_curve("c", spend, expected * rng.lognormal(-0.0032, 0.08, 90), seed=i)
        low, high = curve.band(grid)
        hits.append(((low <= true) & (true <= high)).mean())
        widths.append(((high - low) / true).mean())
    assert np.mean(hits) >= 0.7, np.mean(hits)
    assert np.mean(widths) < 0.2, np.mean(widths)

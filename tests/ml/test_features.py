"""Features read nothing after the forecast date; training labels end before each origin."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.ml import (
    build_features,
)
from demetra.ml.backtest import origins, training_days
from demetra.ml.features import (
    LOOKBACK_DAYS,
    Panel,
    features_at,
    load_panel,
    results_reference,
    roi_reference,
)
from demetra.seed import seed_database
from tests.ml.world import END


def test_features_at_t_ignore_everything_after_t(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=25, days=LOOKBACK_DAYS + 30, seed=5, end_date=END)
    t = END - dt.timedelta(days=12)
    before = build_features(engine, t)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE campaigns SET cost = cost * 3 + 1, revenue = revenue * 0.1, "
                             "clicks = clicks + 7, conversions = 0 WHERE date > :t"), {"t": t})
    after = build_features(engine, t)
    assert len(before) >= 20
    pd.testing.assert_frame_equal(before, after)

    # The training path holds later days in the same grid: they must not reach day t either.
    panel = load_panel(engine, END - dt.timedelta(days=LOOKBACK_DAYS + 29), END)
    ti = panel.day_index(t)
    grid = {m: v.copy() for m, v in panel.grid.items()}
    for m in grid:
        grid[m][:, ti + 1:] = grid[m][:, ti + 1:] * 5 + 3
    perturbed = Panel(panel.campaign_ids, panel.channels, panel.start, panel.days, grid)
    pd.testing.assert_frame_equal(features_at(panel, ti), features_at(perturbed, ti))
    # ... and the features at t are the ones a forecast made on day t sees (which reads only
    # spend and revenue before the last 28 days).
    pd.testing.assert_frame_equal(features_at(panel, ti).loc[before.index], before)


def test_training_labels_end_before_each_origin() -> None:
    grid = {m: np.ones((30, 200)) for m in ("cost", "revenue", "clicks", "impressions", "conversions")}
    panel = Panel(np.array([f"c{i}" for i in range(30)], dtype=object),
                  np.array(["facebook"] * 30, dtype=object), END, 200, grid)
    starts = origins(199, 7, 4)
    assert starts == [192, 185, 178, 171]
    for o in starts:
        days = training_days(panel, o, 7)
        assert days and max(days) + 7 <= o


def test_the_results_reference_finds_each_campaigns_yield_on_its_channels_curve() -> None:
    """A lead-generation channel whose results follow a curve of its total spend, shared by
    spend × quality: the reference reads each campaign's yield at the coming spend from the
    days up to t only (its channel's diminishing returns included), for what no revenue is
    tracked."""
    days, t = 240, 220
    quality = np.array([0.5, 1.0, 1.5, 2.0])
    d = np.arange(days)
    # Budgets that double over the months and swing by weekday: the curve's slope shows.
    spend = (np.array([300.0, 500.0, 200.0, 400.0])[:, None]
             * (1 + 0.3 * np.sin(2 * np.pi * d / 7)) * np.linspace(1.0, 2.0, days))
    total = spend.sum(axis=0)
    curve = 40.0 * (total / 1000.0) ** 0.6           # results a day of the channel
    results = curve * spend * quality[:, None] / (spend * quality[:, None]).sum(axis=0)
    grid = {"cost": spend, "revenue": np.zeros_like(spend), "clicks": spend / 2,
            "impressions": spend * 50, "conversions": results, "revenue_cost": np.zeros_like(spend),
            "result_cost": spend}
    ids = np.array([f"c{i}" for i in range(4)], dtype=object)
    panel = Panel(ids, np.array(["facebook"] * 4, dtype=object), END, days, grid)
    ref = results_reference(panel, t)
    # What the coming week yields per $ at the last week's spend (the reference's guess of it).
    week = slice(t - 6, t + 1)
    s7 = total[week].mean()
    share = quality * spend[:, week].mean(axis=1) / (quality * spend[:, week].mean(axis=1)).sum()
    truth = 40.0 * (s7 / 1000.0) ** 0.6 * share / spend[:, week].mean(axis=1)
    np.testing.assert_allclose(ref, truth, rtol=0.03)   # without the slope: 8 % off
    later = {m: v.copy() for m, v in grid.items()}
    for v in later.values():
        v[:, t + 1:] = v[:, t + 1:] * 5 + 3
    perturbed = Panel(ids, panel.channels, END, days, later)
    np.testing.assert_array_equal(results_reference(perturbed, t), ref)


def test_in_a_mixed_channel_each_reference_reads_the_campaigns_that_track_its_outcome() -> None:
    """Two campaigns track revenue (ROI 2 and 3), two only results (0.02 and 0.03 a $) in one
    channel: neither reference is diluted by the other pair's spend, and a channel that never
    tracked results has no results reference (not a constant)."""
    days, t = 240, 220
    spend = (np.array([300.0, 500.0, 200.0, 400.0])[:, None]
             * (1 + 0.3 * np.sin(2 * np.pi * np.arange(days) / 7)))
    revenue_rows, result_rows = np.array([1.0, 1, 0, 0])[:, None], np.array([0.0, 0, 1, 1])[:, None]
    grid = {"cost": spend, "revenue": spend * np.array([2.0, 3.0, 0, 0])[:, None],
            "clicks": spend / 2, "impressions": spend * 50,
            "conversions": spend * np.array([0, 0, 0.02, 0.03])[:, None],
            "revenue_cost": spend * revenue_rows, "result_cost": spend * result_rows}
    ids = np.array(["a", "b", "c", "d"], dtype=object)
    channels = np.array(["facebook"] * 4, dtype=object)
    panel = Panel(ids, channels, END, days, grid)
    np.testing.assert_allclose(roi_reference(panel, t)["roi_ref"][:2], [2.0, 3.0], rtol=0.01)
    np.testing.assert_allclose(results_reference(panel, t)[2:], [0.02, 0.03], rtol=0.01)
    untracked = {**grid, "conversions": np.zeros_like(spend), "result_cost": np.zeros_like(spend)}
    assert np.isnan(results_reference(Panel(ids, channels, END, days, untracked), t)).all()

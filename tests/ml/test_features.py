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
from demetra.ml.features import LOOKBACK_DAYS, Panel, features_at, load_panel
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

"""A mixed account: enough revenue campaigns for the pooled tree model, beside campaigns that
track results only (CPA) and campaigns that track neither revenue nor results (CPC). Every
active campaign gets exactly one forecast, of the metric it tracks, by the right forecaster."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.config import Settings
from demetra.db.bulk import insert_campaign_rows
from demetra.db.models import Prediction
from demetra.ml import predict, train
from demetra.ml.features import MIN_CAMPAIGNS
from demetra.ml.small import METHODS
from demetra.seed_world import generate_world
from tests.ml.world import END

SMALL_METHODS = {*METHODS, "combined"}


def _account() -> pd.DataFrame:
    """24 revenue campaigns, 4 with results and no revenue, 3 with clicks only; the campaign
    IDs are suffixed by kind so that the three seeded worlds cannot share one."""
    parts = []
    for kind, world in (("rev", generate_world(24, 120, seed=3, end_date=END)),
                        ("res", generate_world(4, 120, seed=4, end_date=END, outcome="results")),
                        ("clk", generate_world(3, 120, seed=5, end_date=END, outcome="results"))):
        rows = world.rows.copy()
        rows["campaign_id"] = rows["campaign_id"] + f"_{kind}"
        if kind == "clk":   # a traffic campaign: the platform reports no results at all
            rows["conversions"] = np.nan
        parts.append(rows)
    return pd.concat(parts, ignore_index=True)


def test_a_mixed_account_gets_one_forecast_per_campaign_of_the_metric_it_tracks(
        engine: sa.Engine, tmp_path: Path) -> None:
    frame = _account()
    with engine.begin() as conn:
        insert_campaign_rows(conn, frame)
    # What each campaign tracks, from the rows themselves (not from the forecaster's rules).
    kind = frame.groupby("campaign_id").agg(revenue=("revenue", lambda v: v.notna().any()),
                                            results=("conversions", lambda v: v.notna().any()))
    expected = {cid: "roi" if r.revenue else "cpa" if r.results else "cpc"
                for cid, r in kind.iterrows()}
    last = frame["date"].max()
    active = set(frame.loc[(frame["date"] > last - dt.timedelta(days=7)) & (frame["cost"] > 0),
                           "campaign_id"])
    assert sum(expected[c] == "roi" for c in active) >= MIN_CAMPAIGNS
    assert {expected[c] for c in active} == {"roi", "cpa", "cpc"}

    settings = Settings(model_dir=str(tmp_path))
    trained = train(engine, settings)
    assert trained.method == "tree"
    # The backtest scores each metric on its own campaigns.
    assert {"model", "cpa", "cpc"} <= set(trained.metrics)
    assert "CPA backtest" in trained.summary() and "CPC backtest" in trained.summary()

    done = predict(engine, settings)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Prediction.__table__)).all()
    ids = [r.campaign_id for r in rows]
    assert len(ids) == len(set(ids)) == len(active) and set(ids) == active
    for r in rows:
        assert r.metric == expected[r.campaign_id], r.campaign_id
        if r.metric == "roi":
            assert r.method == "adaptive" and r.predicted_roi is not None
            assert r.predicted_cpa is None and r.prob_cpa_above is None
        else:
            assert r.method in SMALL_METHODS and r.predicted_cpa is not None
            assert r.predicted_roi is None and r.prob_loss is None
            assert r.predicted_cpa_low <= r.predicted_cpa <= r.predicted_cpa_high
    counts = {m: sum(expected[c] == m for c in active) for m in ("roi", "cpa", "cpc")}
    assert done.metrics == counts and done.written == len(active)
    assert done.methods["adaptive"] == counts["roi"]
    assert set(done.methods) - {"adaptive"} <= SMALL_METHODS
    assert f"{counts['cpa']} CPA" in done.summary() and f"{counts['cpc']} CPC" in done.summary()

"""Accounts as they really are: no minimum number of campaigns, campaigns without revenue
forecast on CPA, campaigns tracking neither revenue nor results on CPC (cost per click), those
without even a click listed with the reason, never an ROI of 0."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra.config import Settings
from demetra.db.bulk import insert_campaign_rows
from demetra.db.models import Prediction
from demetra.ingest import import_file
from demetra.ml import latest_predictions, predict, train
from demetra.ml.features import MIN_CAMPAIGN_DAYS
from demetra.ml.risk import risk_level
from demetra.ml.settings import ModelSettings, save_model_settings
from demetra.ml.small import METHODS
from demetra.seed import seed_database
from tests.ml.world import END

EXPORTS = Path(__file__).parents[2].parent / "shared" / "real-exports"


def _rows(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(Prediction.__table__)).all()


def _spending(engine: sa.Engine) -> dict[str, int]:
    """Campaigns that spent in the last 7 days of data -> their days with spend."""
    with engine.connect() as conn:
        last = conn.execute(sa.text("SELECT MAX(date) FROM campaigns")).scalar_one()
        last = dt.date.fromisoformat(str(last)[:10])
        recent = {r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT campaign_id FROM campaigns WHERE date > :d AND cost > 0"),
            {"d": last - dt.timedelta(days=7)})}
        days = dict(conn.execute(sa.text(
            "SELECT campaign_id, COUNT(*) FROM campaigns WHERE cost > 0 GROUP BY campaign_id")).all())
    return {c: int(days[c]) for c in recent}


def _check_forecast(r) -> None:
    assert r.method and r.method_reason
    if r.metric == "roi":
        values = (r.predicted_roi_low, r.predicted_roi, r.predicted_roi_high)
        assert all(math.isfinite(v) for v in values) and values == tuple(sorted(values))
        assert 0 <= r.prob_loss <= 1 and r.predicted_cpa is None
    else:
        assert r.metric in ("cpa", "cpc") and r.predicted_roi is None and r.prob_loss is None
        values = (r.predicted_cpa_low, r.predicted_cpa, r.predicted_cpa_high)
        assert all(math.isfinite(v) and v > 0 for v in values)
        assert values == tuple(sorted(values))
        assert 0 <= r.prob_cpa_above <= 1 and r.cpa_target > 0
    assert r.risk_level in ("low", "medium", "high")


@pytest.mark.parametrize("name", ["07b_credibility_daily.csv",
                                  "08_meta_api_movexercise8_daily_ad_level.csv"])
def test_real_exports_forecast_every_active_campaign_above_the_minimum(
        engine: sa.Engine, tmp_path: Path, name: str) -> None:
    path = EXPORTS / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared real exports are not on this machine)")
    import_file(engine, path, platform="generic", channel="facebook")
    settings = Settings(model_dir=str(tmp_path))
    trained = train(engine, settings)
    assert trained.method == "small"
    done = predict(engine, settings)
    spending = _spending(engine)
    rows = {r.campaign_id: r for r in _rows(engine)}
    assert set(rows) == set(spending)        # nobody dropped silently
    for cid, days in spending.items():
        r = rows[cid]
        assert r.predicted_roi is None and r.prob_loss is None   # never an ROI for no revenue
        if r.metric == "none":
            assert r.method_reason and r.risk_level == "none"
        else:
            assert days >= MIN_CAMPAIGN_DAYS
            _check_forecast(r)
    if name.startswith("07b"):
        # Spend and clicks only: every active campaign gets a CPC forecast.
        assert spending and done.written == len(spending) and not done.not_forecast
        assert done.metrics == {"cpc": len(spending)}
        assert f"{len(spending)} CPC" in done.summary()
        assert "CPC backtest" in trained.summary()
    else:
        assert done.written >= 1 and done.metrics == {"cpa": done.written}
        assert all(r.metric == "cpa" for r in rows.values() if spending[r.campaign_id]
                   >= MIN_CAMPAIGN_DAYS)
    assert "Not forecast" in done.summary() or not done.not_forecast
    listed = latest_predictions(engine, not_forecast=True)
    assert set(listed["campaign_id"]) == {c for c, r in rows.items() if r.metric == "none"}


def test_a_three_campaign_account_gets_a_forecast_for_every_campaign(
        engine: sa.Engine, tmp_path: Path) -> None:
    seed_database(engine, campaigns=3, days=120, seed=5, end_date=END, small=True, pauses=False)
    settings = Settings(model_dir=str(tmp_path))
    trained = train(engine, settings)
    assert trained.method == "small" and "needs 20" in trained.method_reason
    assert trained.metrics["model"]["n"] > 0
    done = predict(engine, settings)
    rows = _rows(engine)
    assert len(rows) == done.written == len(_spending(engine)) == 3
    for r in rows:
        assert r.metric == "roi"
        _check_forecast(r)
    assert set(done.methods) <= {*METHODS, "combined"}


def test_one_campaign_with_four_weeks_gets_a_finite_interval(engine: sa.Engine,
                                                               tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    days = [END - dt.timedelta(days=27 - i) for i in range(28)]
    cost = rng.uniform(80, 120, 28).round(2)
    conversions = rng.poisson(6, 28).astype(float)
    frame = pd.DataFrame({
        "campaign_id": "FACEBOOK_only", "campaign_name": "The only one", "channel": "facebook",
        "date": days, "cost": cost, "clicks": rng.poisson(300, 28),
        "impressions": rng.poisson(20_000, 28), "engagement": rng.poisson(50, 28),
        "conversions": conversions, "revenue": (conversions * rng.uniform(25, 40, 28)).round(2)})
    with engine.begin() as conn:
        insert_campaign_rows(conn, frame)
    settings = Settings(model_dir=str(tmp_path))
    train(engine, settings)
    done = predict(engine, settings)
    assert done.written == 1
    (r,) = _rows(engine)
    _check_forecast(r)
    assert r.predicted_roi_high > r.predicted_roi_low
    assert 0.5 < r.predicted_roi < 3.0


def test_a_lead_generation_account_is_forecast_on_cpa(engine: sa.Engine, tmp_path: Path) -> None:
    seed_database(engine, campaigns=5, days=120, seed=2, end_date=END, small=True,
                  outcome="results")
    settings = Settings(model_dir=str(tmp_path))
    trained = train(engine, settings)
    assert "cpa" in trained.metrics and "model" not in trained.metrics
    assert "CPA backtest" in trained.summary() and "ROI backtest" not in trained.summary()
    done = predict(engine, settings)
    rows = _rows(engine)
    assert rows and done.written == len([r for r in rows if r.metric != "none"])
    served = [r for r in rows if r.metric != "none"]
    assert served
    for r in served:
        assert r.metric == "cpa"
        _check_forecast(r)
    # A target per channel moves P(CPA > target): a very high target makes it unlikely.
    channel = pd.read_sql(sa.text("SELECT DISTINCT channel FROM campaigns"), engine)["channel"]
    save_model_settings(engine, ModelSettings(cpa_target_by_channel={c: 1e6 for c in channel}))
    predict(engine, settings)
    for r in _rows(engine):
        if r.metric == "cpa":
            assert r.cpa_target == 1e6 and r.prob_cpa_above < 0.05 and r.risk_level == "low"


def _clicks_only(end: dt.date, days: int, seed: int) -> pd.DataFrame:
    """Three campaigns reporting spend and clicks only (revenue and results not tracked: NULL),
    and one that spends without a single click."""
    rng = np.random.default_rng(seed)
    rows = []
    for k, (cpc, daily) in enumerate(((0.4, 60.0), (1.1, 35.0), (2.5, 120.0), (None, 20.0))):
        for i in range(days):
            cost = round(float(daily * rng.uniform(0.7, 1.3)), 2)
            clicks = 0 if cpc is None else int(rng.poisson(cost / cpc))
            rows.append({"campaign_id": f"FACEBOOK_click{k}", "campaign_name": f"Traffic {k}",
                         "channel": "facebook", "date": end - dt.timedelta(days=days - 1 - i),
                         "cost": cost, "clicks": clicks, "impressions": 40 * clicks + 100,
                         "engagement": clicks // 10, "conversions": np.nan, "revenue": np.nan})
    return pd.DataFrame(rows)


def test_campaigns_tracking_only_clicks_are_forecast_on_cpc(engine: sa.Engine,
                                                             tmp_path: Path) -> None:
    frame = _clicks_only(END, 120, seed=11)
    with engine.begin() as conn:
        insert_campaign_rows(conn, frame)
    settings = Settings(model_dir=str(tmp_path))
    trained = train(engine, settings)
    assert trained.method == "small" and "cpc" in trained.metrics
    assert "model" not in trained.metrics and "cpa" not in trained.metrics
    assert "CPC backtest" in trained.summary()
    done = predict(engine, settings)
    rows = {r.campaign_id: r for r in _rows(engine)}
    assert set(rows) == set(frame["campaign_id"])
    # The campaign without a click has nothing at all to forecast: listed, with the reason.
    silent = rows.pop("FACEBOOK_click3")
    assert silent.metric == "none" and silent.risk_level == "none"
    assert "no clicks" in silent.method_reason and silent.predicted_cpa is None
    assert done.written == 3 and done.metrics == {"cpc": 3} and "3 CPC" in done.summary()
    last28 = frame[frame["date"] > END - dt.timedelta(days=28)]
    own = last28.groupby("campaign_id")["cost"].sum() / last28.groupby("campaign_id")["clicks"].sum()
    for cid, r in rows.items():
        _check_forecast(r)
        assert r.metric == "cpc" and r.method in (*METHODS, "combined")
        # Without a target of its own, a CPC is judged against its trailing 28 days.
        assert r.cpa_target == pytest.approx(own[cid], rel=1e-9)
        assert r.risk_level == risk_level(r.prob_cpa_above)
        # A cost per click near the campaign's own, not a cost per result or an ROI.
        assert 0.5 * own[cid] < r.predicted_cpa < 2 * own[cid]
    listed = latest_predictions(engine, not_forecast=True)
    assert list(listed["campaign_id"]) == ["FACEBOOK_click3"]


def test_the_backtest_says_how_clearly_the_forecasts_beat_the_baseline() -> None:
    from demetra.ml.small import _origin_t

    rng = np.random.default_rng(0)
    origins = np.repeat(np.arange(6), 3)
    real = rng.uniform(1.0, 3.0, len(origins))
    frame = pd.DataFrame({"origin": origins, "real": real, "spend": 100.0,
                          "baseline": real * rng.uniform(0.7, 1.3, len(origins))})
    better = frame.assign(predicted_roi=real * rng.uniform(0.95, 1.05, len(origins)))
    assert _origin_t(better, "predicted_roi") > 3
    worse = frame.assign(predicted_roi=real * 2)
    assert _origin_t(worse, "predicted_roi") < -3
    same = frame.assign(predicted_roi=frame["baseline"])
    assert _origin_t(same, "predicted_roi") == 0.0
    assert _origin_t(better[better["origin"] == 0], "predicted_roi") == 0.0  # one origin

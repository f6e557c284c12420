"""The Predictions page through the entry script (AppTest), on SQLite and PostgreSQL: the train
prompt without a model, training with its backtest table, the forecasts (auto-run) and their
risk filter, the model settings' validation, and the empty state."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from demetra.app import pages
from demetra.app.views.predictions import METHOD_WORDS, training_lock
from demetra.ml import load_model_settings
from tests.app import helpers
from tests.app.helpers import last_day

PAGE = pages.PREDICTIONS.path


def open_page(url: str, tmp_path: Path) -> AppTest:
    return helpers.open_page(url, PAGE, timeout=120, MODEL_DIR=str(tmp_path / "models"))


def frame_with(at: AppTest, column: str) -> pd.DataFrame | None:
    return next((d.value for d in at.dataframe if column in d.value.columns), None)


def spending_campaigns(engine: sa.Engine) -> int:
    since = last_day(engine) - dt.timedelta(days=7)
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT COUNT(DISTINCT campaign_id) FROM campaigns WHERE date > :s AND cost > 0")
            .bindparams(sa.bindparam("s", type_=sa.Date)), {"s": since}).scalar_one()


def test_train_then_forecasts_and_risk_filter(seeded_engine: sa.Engine, db_url: str,
                                              tmp_path: Path) -> None:
    at = open_page(db_url, tmp_path)
    assert not at.exception and not at.error
    assert any("Train the model first" in i.value for i in at.info)
    assert frame_with(at, "Forecaster") is None

    at.button(key="prd_train").click().run()
    assert not at.exception and not at.error
    backtest = frame_with(at, "Forecaster")
    assert backtest is not None and len(backtest) == 4
    assert {"Spend-weighted MAE", "MAE", "P10–P90 coverage", "Brier", "High-risk precision",
            "High-risk recall"} <= set(backtest.columns)
    with seeded_engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT COUNT(*) FROM model_runs WHERE status = 'ok'")).scalar_one() == 1
    assert len(at.get("plotly_chart")) >= 3  # the blend's weights, error by forecaster, importance

    forecasts = frame_with(at, "P(loss)")
    assert forecasts is not None
    assert len(forecasts) == spending_campaigns(seeded_engine) > 0
    # The risk is a one-label list (a coloured label in the table).
    assert {len(v) for v in forecasts["Risk"]} == {1}
    forecasts["Risk"] = [list(v)[0] for v in forecasts["Risk"]]
    assert set(forecasts["Risk"]) <= {"High", "Medium", "Low"}
    assert forecasts["P(loss)"].between(0, 1).all()
    # Each forecast says what served it, with the weights and by how much the served blend
    # beat the trailing 28 days in the account's backtest.
    assert set(forecasts["Method"]) == {METHOD_WORDS["adaptive"]}
    why = forecasts["Why"].iloc[0]
    assert "the account's regression on its recent history" in why
    assert "against the trailing 28 days'" in why and "×)" in why

    at.multiselect(key="prd_risk").set_value(["high"]).run()
    assert not at.exception
    high = frame_with(at, "P(loss)")
    n_high = int((forecasts["Risk"] == "High").sum())
    assert (0 if high is None else len(high)) == n_high < len(forecasts)
    if high is not None:
        assert {list(v)[0] for v in high["Risk"]} == {"High"}

    # Forecasts older than the data (here: none at all) are made again on the next load.
    at.multiselect(key="prd_risk").set_value([]).run()
    with seeded_engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM predictions"))
    at.run()
    assert not at.exception
    assert len(frame_with(at, "P(loss)")) == len(forecasts)
    at.button(key="prd_predict").click().run()
    assert not at.exception and not at.error
    assert len(frame_with(at, "P(loss)")) == len(forecasts)

    # The sidebar channel filter narrows the forecasts too.
    at.multiselect(key="flt_channels").select("google_ads").run()
    google = frame_with(at, "P(loss)")
    assert google is not None and set(google["Channel"]) == {"Google Ads"}


def test_invalid_settings_are_refused_with_the_range(seeded_engine: sa.Engine, db_url: str,
                                                     tmp_path: Path) -> None:
    at = open_page(db_url, tmp_path)
    at.number_input(key="prd_set_horizon_days").set_value(40)
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception
    assert any("between 1 and 28" in e.value for e in at.error)
    assert load_model_settings(seeded_engine).horizon_days == 7

    at.number_input(key="prd_set_horizon_days").set_value(14)
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception and not at.error
    assert load_model_settings(seeded_engine).horizon_days == 14


def test_a_second_training_is_refused_while_one_runs(seeded_engine: sa.Engine, db_url: str,
                                                      tmp_path: Path) -> None:
    at = open_page(db_url, tmp_path)
    lock = training_lock()  # the process-wide lock the page shares with every session
    assert lock.acquire(blocking=False)
    try:
        at.run()
        assert not at.exception
        assert at.button(key="prd_train").disabled
        assert any("Training is already running" in i.value for i in at.info)
    finally:
        lock.release()
    with seeded_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM model_runs")).scalar_one() == 0


def test_the_page_renders_on_an_empty_database(engine: sa.Engine, db_url: str,
                                               tmp_path: Path) -> None:
    at = open_page(db_url, tmp_path)
    assert not at.exception and not at.error
    assert any("No campaign data yet" in s.value for s in at.subheader)


def test_a_lead_generation_account_shows_cpa_forecasts_and_their_method(
        engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    from demetra.seed import seed_database

    seed_database(engine, campaigns=4, days=120, seed=2, end_date=dt.date(2026, 6, 30),
                  small=True, outcome="results")
    at = open_page(db_url, tmp_path)
    at.button(key="prd_train").click().run()
    assert not at.exception and not at.error
    assert any("Per-campaign forecasts" in m.value for m in at.markdown)
    cpa_backtest = frame_with(at, "Forecaster")
    assert cpa_backtest is not None
    assert set(cpa_backtest["Forecaster"]) == {"Demetra model", "Trailing 28-day CPA"}
    forecasts = frame_with(at, "Forecast CPA")
    assert forecasts is not None and len(forecasts) > 0
    # No revenue: no ROI and no probability of a loss anywhere, a CPA and its risk instead.
    assert forecasts["Forecast ROI"].isna().all() and forecasts["P(loss)"].isna().all()
    assert forecasts["Forecast CPA"].gt(0).all()
    assert forecasts["P(CPA > target)"].between(0, 1).all()
    assert set(forecasts["Method"]) <= set(METHOD_WORDS.values()) - {"Pooled model"}
    assert forecasts["Why"].str.len().gt(0).all()
    assert not any("ROI **" in m.value for m in at.markdown)
    assert any("forecast CPA" in m.value for m in at.markdown)


def test_an_account_tracking_only_clicks_shows_cpc_forecasts_never_cpa_or_roi(
        engine: sa.Engine, db_url: str, tmp_path: Path) -> None:
    import numpy as np

    from demetra.db.bulk import insert_campaign_rows

    end = dt.date(2026, 6, 30)
    days = [end - dt.timedelta(days=i) for i in range(60)]
    rng = np.random.default_rng(4)
    # Two traffic campaigns (spend and clicks, revenue and results not tracked) and one that
    # spends without a single click: nothing at all to forecast.
    frame = pd.DataFrame([{"campaign_id": f"FACEBOOK_c{k}", "campaign_name": f"Traffic {k}",
                           "channel": "facebook", "date": d, "cost": 50.0 + k,
                           "clicks": 0 if k == 2 else int(rng.poisson(100)),
                           "impressions": 5000, "engagement": 10, "conversions": np.nan,
                           "revenue": np.nan} for k in range(3) for d in days])
    with engine.begin() as conn:
        insert_campaign_rows(conn, frame)
    at = open_page(db_url, tmp_path)
    at.button(key="prd_train").click().run()
    assert not at.exception and not at.error
    backtest = frame_with(at, "Forecaster")
    assert backtest is not None and "Trailing 28-day CPC" in set(backtest["Forecaster"])
    forecasts = frame_with(at, "Forecast CPC")
    assert forecasts is not None and set(forecasts["Campaign"]) == {"Traffic 0", "Traffic 1"}
    assert forecasts["Forecast ROI"].isna().all() and forecasts["P(loss)"].isna().all()
    assert not {"Forecast CPA", "Target CPA", "P(CPA > target)"} & set(forecasts.columns)
    assert forecasts["Forecast CPC"].between(0.3, 0.8).all()   # about $51 for 100 clicks
    assert forecasts["P(CPC > target)"].between(0, 1).all()
    listed = frame_with(at, "Why not")
    assert listed is not None and list(listed["Campaign"]) == ["Traffic 2"]
    assert listed["Why not"].str.contains("no clicks").all()
    shown = " ".join(m.value for m in (*at.markdown, *at.caption))
    assert "CPC (neither revenue nor results tracked)" in shown and "forecast CPC" in shown
    # (The model settings' target CPAs stay: they are settings, not a forecast.)
    assert not any(word in shown for word in ("forecast CPA", "CPA forecasts", "CPA (no revenue",
                                              "ROI **", "ROI forecasts"))
    charts = [str(c.proto) for c in at.get("plotly_chart")]
    assert any("Forecast CPC (neither revenue nor results tracked)" in c for c in charts)
    assert not any("cost per result" in c or "Forecast ROI" in c for c in charts)

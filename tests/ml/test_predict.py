"""Predictions: one consistent row per spending campaign, batches replaced, and a missing or
broken model asking for a retrain."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra.config import Settings
from demetra.db.models import ModelRun, Prediction
from demetra.ml import (
    RetrainNeeded,
    latest_predictions,
    load_latest_model,
    predict,
    risk_level,
)
from demetra.ml.features import LOOKBACK_DAYS
from tests.ml.world import END


def test_predictions_are_one_consistent_row_per_recently_spending_campaign(trained: dict) -> None:
    engine, done = trained["engine"], trained["predicted"]
    with engine.connect() as conn:
        spending = {r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT campaign_id FROM campaigns WHERE date > :d AND cost > 0"),
            {"d": END - dt.timedelta(days=7)})}
        everyone = conn.execute(sa.text("SELECT COUNT(DISTINCT campaign_id) FROM campaigns "
                                        "WHERE date > :d"), {"d": END - dt.timedelta(days=LOOKBACK_DAYS)}
                                ).scalar_one()
        rows = conn.execute(sa.select(Prediction.__table__)).all()
    assert done.written == len(spending) == len(rows)
    assert done.skipped_no_spend == everyone - len(spending) and done.skipped_invalid == 0
    assert {r.campaign_id for r in rows} == spending
    for r in rows:
        values = (r.predicted_roi, r.predicted_roi_low, r.predicted_roi_high, r.prob_loss)
        assert all(v is not None and math.isfinite(v) for v in values)
        assert 0 <= r.predicted_roi_low <= r.predicted_roi <= r.predicted_roi_high
        assert 0 <= r.prob_loss <= 1
        assert r.risk_level == risk_level(r.prob_loss)
        assert r.model_run_id == trained["result"].run_id and r.horizon_days == 7
        assert r.as_of == END
        # The seeded world tracks revenue everywhere: ROI by the pooled model, no CPA.
        assert r.metric == "roi" and r.method == "adaptive" and r.method_reason
        assert r.predicted_cpa is None and r.prob_cpa_above is None
    assert done.methods == {"adaptive": len(spending)} and not done.not_forecast
    latest = latest_predictions(engine)
    assert len(latest) == len(spending)
    assert latest["prob_loss"].is_monotonic_decreasing


def test_predicting_again_replaces_the_batch(trained: dict) -> None:
    engine = trained["engine"]
    again = predict(engine, trained["settings"])
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(Prediction)).scalar_one()
    assert count == again.written == trained["predicted"].written


def test_no_model_asks_for_a_retrain(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(RetrainNeeded, match="no trained ROI model"):
        predict(engine, Settings(model_dir=str(tmp_path)))


@pytest.mark.parametrize("damage", ["missing", "corrupt", "not a model"])
def test_a_missing_or_corrupt_artifact_asks_for_a_retrain(engine: sa.Engine, tmp_path: Path,
                                                          damage: str) -> None:
    path = tmp_path / "roi_model_1.joblib"
    if damage == "corrupt":
        path.write_bytes(b"\x80\x04 this is not a pickle")
    elif damage == "not a model":
        import joblib

        joblib.dump({"hello": "world"}, path)
    with engine.begin() as conn:
        conn.execute(sa.insert(ModelRun).values(version="roi-hgb-1", status="ok",
                                                artifact_path=str(path)))
    with pytest.raises(RetrainNeeded, match="python -m demetra train"):
        load_latest_model(engine, Settings(model_dir=str(tmp_path)))
    with pytest.raises(RetrainNeeded):
        predict(engine, Settings(model_dir=str(tmp_path)))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Prediction)).scalar_one() == 0

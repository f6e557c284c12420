"""Training: the backtest against the baselines, the recorded run and its artifact, and what
too little data is told."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra.config import Settings
from demetra.db.models import ModelRun
from demetra.ml import (
    FEATURES,
    NotEnoughData,
    load_latest_model,
    train,
)
from demetra.ml.model import MODEL_VERSION
from demetra.ml.small import SMALL_VERSION
from demetra.ml.train import BACKTEST_ORIGINS
from demetra.seed import seed_database
from tests.ml.world import END


def test_backtest_beats_the_trailing_28_day_roi(trained: dict) -> None:
    result = trained["result"]
    # The pooled model, served in a blend with the simple forecasts.
    assert result.method == "tree" and result.version == MODEL_VERSION
    model = result.metrics["model"]
    base = result.metrics["baselines"]
    assert set(base) == {"trailing_28d_roi", "trailing_7d_roi", "channel_28d_roi"}
    assert len(result.metrics["origins"]) == BACKTEST_ORIGINS
    # The trees' own score is kept beside what serves.
    assert result.metrics["tree"]["n"] == model["n"]
    assert model["n"] > 100
    assert model["wmae"] < base["trailing_28d_roi"]["wmae"]
    assert model["wmae"] < min(b["wmae"] for b in base.values())
    assert 0.6 <= model["coverage"] <= 0.95
    assert 0 <= model["brier"] < 0.25
    assert set(result.importance) == set(FEATURES)
    assert result.train_start < result.train_end == END
    assert result.seconds > 0
    fractions = [f for f, _ in trained["stages"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_a_model_run_is_recorded_with_its_artifact(trained: dict) -> None:
    result = trained["result"]
    with trained["engine"].connect() as conn:
        row = conn.execute(sa.select(ModelRun.__table__).where(ModelRun.id == result.run_id)).one()
    assert row.status == "ok" and row.version == result.version
    assert row.parameters["horizon_days"] == 7
    assert row.metrics["model"]["wmae"] == pytest.approx(result.metrics["model"]["wmae"])
    assert "trailing_28d_roi" in row.metrics["baselines"] and row.metrics["importance"]
    assert Path(row.artifact_path).is_file() and row.duration_seconds > 0
    run_id, model = load_latest_model(trained["engine"], trained["settings"])
    assert run_id == result.run_id and model.horizon_days == 7
    assert model.features and model.train_end == END


def test_too_short_a_history_is_refused_with_what_is_needed(engine: sa.Engine, tmp_path: Path) -> None:
    settings = Settings(model_dir=str(tmp_path / "models"))
    with pytest.raises(NotEnoughData, match="no campaign data"):
        train(engine, settings)
    seed_database(engine, campaigns=30, days=12, seed=1, end_date=END)
    with pytest.raises(NotEnoughData, match=r"only 12 days.*at least 21 days"):
        train(engine, settings)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ModelRun)).scalar_one() == 0
    assert not (tmp_path / "models").exists()


def test_too_few_campaigns_for_the_tree_fall_back_to_per_campaign_forecasts(
        engine: sa.Engine, tmp_path: Path) -> None:
    seed_database(engine, campaigns=12, days=80, seed=1, end_date=END)
    result = train(engine, Settings(model_dir=str(tmp_path)))
    assert result.method == "small" and result.version == SMALL_VERSION
    assert "needs 20" in result.method_reason and "Per-campaign forecasts" in result.summary()
    assert result.metrics["model"]["wmae"] is not None

"""Model settings: validated, and a new horizon asks for a retrain."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra.config import Settings, SettingsError
from demetra.db.models import ModelRun
from demetra.ml import (
    ModelSettings,
    RetrainNeeded,
    load_latest_model,
    load_model_settings,
    save_model_settings,
)


@pytest.mark.parametrize(("change", "expected"), [
    ({"horizon_days": 0}, "between 1 and 28"),
    ({"horizon_days": 29}, "between 1 and 28"),
    ({"horizon_days": 7.5}, "whole number"),
    ({"high_risk_threshold": 1.5}, "between 0.01 and 1"),
    ({"medium_risk_threshold": -0.1}, "between 0 and 0.99"),
    ({"high_risk_threshold": 0.3, "medium_risk_threshold": 0.4}, "below the high-risk threshold"),
    ({"high_risk_threshold": float("nan")}, "between"),
])
def test_invalid_model_settings_are_refused(engine: sa.Engine, change: dict, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        save_model_settings(engine, ModelSettings(**change))
    assert load_model_settings(engine) == ModelSettings()


def test_changing_the_horizon_asks_for_a_retrain(engine: sa.Engine, tmp_path: Path) -> None:
    save_model_settings(engine, ModelSettings(high_risk_threshold=0.6, medium_risk_threshold=0.3))
    assert load_model_settings(engine).thresholds == (0.6, 0.3)
    with engine.begin() as conn:
        conn.execute(sa.insert(ModelRun).values(version="roi-hgb-1", status="ok",
                                                artifact_path=str(tmp_path / "m.joblib")))
    save_model_settings(engine, ModelSettings(horizon_days=7, high_risk_threshold=0.7,
                                              medium_risk_threshold=0.3))
    with engine.connect() as conn:
        assert conn.execute(sa.select(ModelRun.status)).scalar_one() == "ok"
    save_model_settings(engine, ModelSettings(horizon_days=14))
    with engine.connect() as conn:
        assert conn.execute(sa.select(ModelRun.status)).scalar_one() == "stale"
    with pytest.raises(RetrainNeeded, match="settings changed"):
        load_latest_model(engine, Settings(model_dir=str(tmp_path)))

"""Model settings: validated, a new horizon asks for a retrain, and a target CPA per channel
(any channel id) is stored, read back (old per-field keys too) and refused when bad."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra.config import Settings, SettingsError
from demetra.db.models import AppSetting, ModelRun
from demetra.ml import (
    ModelSettings,
    RetrainNeeded,
    load_latest_model,
    load_model_settings,
    save_model_settings,
)
from demetra.ml.settings import SETTINGS_KEY


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


def test_a_target_cpa_for_a_channel_of_a_file_is_stored_read_and_used(engine: sa.Engine) -> None:
    save_model_settings(engine, ModelSettings(cpa_target_by_channel={"quora_ads": 42.5}))
    loaded = load_model_settings(engine)
    assert loaded.cpa_target_by_channel == {"quora_ads": 42.5}
    assert loaded.cpa_target("quora_ads") == 42.5
    assert loaded.cpa_target("facebook") is None  # none set: the campaign's own CPA


def test_targets_saved_one_key_per_channel_are_still_read(engine: sa.Engine) -> None:
    # What a save stored before the targets became a mapping.
    old = {"horizon_days": 7, "high_risk_threshold": 0.5, "medium_risk_threshold": 0.2,
           "cpa_target_facebook": 12.0, "cpa_target_tiktok": 0.0, "cpa_target_linkedin": 80}
    with engine.begin() as conn:
        conn.execute(sa.insert(AppSetting).values(key=SETTINGS_KEY, value=old))
    loaded = load_model_settings(engine)
    assert loaded.cpa_target_by_channel == {"facebook": 12.0, "linkedin": 80.0}
    assert loaded.cpa_target("facebook") == 12.0 and loaded.cpa_target("tiktok") is None
    # Saving again writes the mapping only, and reads back the same.
    save_model_settings(engine, loaded)
    with engine.connect() as conn:
        stored = conn.execute(sa.select(AppSetting.value)
                              .where(AppSetting.key == SETTINGS_KEY)).scalar_one()
    assert not any(k.startswith("cpa_target_") and k != "cpa_target_by_channel" for k in stored)
    assert load_model_settings(engine) == loaded


@pytest.mark.parametrize(("targets", "expected"), [
    ({"Quora Ads": 10.0}, "unknown channel 'Quora Ads'.*such as quora_ads"),
    ({"": 10.0}, "unknown channel ''"),
    ({"quora_ads": 0.0}, "Target CPA for quora_ads must be above 0"),
    ({"facebook": -5.0}, "Target CPA for facebook must be above 0"),
    ({"quora_ads": float("nan")}, "Target CPA for quora_ads must be between"),
    ({"quora_ads": "10"}, "Target CPA for quora_ads must be between"),
])
def test_bad_channels_and_targets_are_refused(engine: sa.Engine, targets: dict,
                                              expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        save_model_settings(engine, ModelSettings(cpa_target_by_channel=targets))
    assert load_model_settings(engine) == ModelSettings()

"""Alert settings: the documented defaults, ranges refused with the allowed range, saved
settings over the environment's, and a per-channel ROI threshold.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see conftest).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from demetra.alerts import (
    LIMITS,
    AlertSettings,
    detect,
    load_alert_settings,
    run_detection,
    save_alert_settings,
)
from demetra.config import Settings, SettingsError
from demetra.db.models import AppSetting
from tests.alerts.helpers import FAR_PAST, alerts, campaign, insert

# -- settings ------------------------------------------------------------------------------

def test_defaults_are_the_documented_ones() -> None:
    cfg = AlertSettings().validated()
    assert (cfg.roi_threshold, cfg.cost_spike_factor, cfg.min_conversion_rate, cfg.sensitivity,
            cfg.baseline_days, cfg.min_daily_spend) == (1.5, 2.8, 0.005, 3.5, 14, 20.0)
    assert LIMITS["sensitivity"] == (2, 10) and LIMITS["baseline_days"] == (7, 60)


@pytest.mark.parametrize(("change", "expected"), [
    ({"roi_threshold": -0.1}, "ROI threshold must be between 0 and 100"),
    ({"roi_threshold": float("nan")}, "ROI threshold must be between 0 and 100"),
    ({"cost_spike_factor": 0.9}, "Cost spike factor must be between 1 and 100"),
    ({"min_conversion_rate": 1.5}, "Minimum conversion rate must be between 0 and 1"),
    ({"sensitivity": 1.0}, "Sensitivity (z) must be between 2 and 10"),
    ({"sensitivity": "high"}, "Sensitivity (z) must be between 2 and 10"),
    ({"baseline_days": 3}, "Baseline days must be between 7 and 60"),
    ({"baseline_days": 61}, "Baseline days must be between 7 and 60"),
    ({"baseline_days": 14.5}, "Baseline days must be a whole number"),
    ({"min_daily_spend": -1.0}, "Minimum daily spend must be between 0 and 1e+06"),
    ({"roi_threshold_by_channel": {"facebook": 250.0}},
     "ROI threshold for facebook must be between 0 and 100"),
    ({"roi_threshold_by_channel": {"My Space": 1.0}}, "unknown channel 'My Space'"),
])
def test_invalid_thresholds_are_refused_with_the_allowed_range(change: dict, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        AlertSettings(**change).validated()
    assert expected in str(info.value)


def test_saving_refuses_invalid_settings_and_stores_nothing(engine: sa.Engine) -> None:
    with pytest.raises(SettingsError, match="between 2 and 10"):
        save_alert_settings(engine, AlertSettings(sensitivity=11.0))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(AppSetting)).scalar_one() == 0
    assert load_alert_settings(engine) == AlertSettings()
    with pytest.raises(SettingsError):  # detection refuses them too
        detect(engine, cfg=AlertSettings(cost_spike_factor=0.5))


def test_saved_settings_override_the_environment_defaults(engine: sa.Engine) -> None:
    from_env = Settings(alert_roi_threshold=1.2, alert_baseline_days=21)
    assert load_alert_settings(engine, from_env) == AlertSettings(roi_threshold=1.2, baseline_days=21)
    wanted = AlertSettings(roi_threshold=1.8, sensitivity=4.0,
                           roi_threshold_by_channel={"linkedin": 2.0, "tiktok": 0.9})
    save_alert_settings(engine, wanted)
    loaded = load_alert_settings(engine, from_env)
    assert loaded == wanted  # every field is saved, so the saved object wins as a whole
    assert loaded.roi_threshold_for("linkedin") == 2.0 and loaded.roi_threshold_for("facebook") == 1.8
    save_alert_settings(engine, AlertSettings(roi_threshold=1.1))  # saving again replaces
    assert load_alert_settings(engine).roi_threshold_by_channel == {}
    assert load_alert_settings(engine).roi_threshold == 1.1


def test_a_per_channel_roi_threshold_applies_to_that_channel_only(engine: sa.Engine) -> None:
    # ROI 2.5 -> 1.6 on a LinkedIn and a Facebook campaign: above the default 1.5 and not a
    # 40 % drop, so nothing by default; under LinkedIn's own line of 2.0.
    dip = {40: {"revenue": 1600.0}}
    insert(engine, campaign("LINKEDIN_dip00001", "linkedin", 41, bad=dip),
           campaign("FACEBOOK_dip00002", "facebook", 41, bad=dip))
    assert sum(run_detection(engine, since=FAR_PAST).raised.values()) == 0
    save_alert_settings(engine, AlertSettings(roi_threshold_by_channel={"linkedin": 2.0}))
    report = run_detection(engine, since=FAR_PAST)
    assert report.error is None and report.raised == {"roi_drop": 2}
    got = alerts(engine, alert_type="roi_drop")
    assert {(a["campaign_id"], a["channel"]) for a in got} == {
        ("LINKEDIN_dip00001", "linkedin"), (None, "linkedin")}
    assert all(a["threshold_value"] == pytest.approx(2.0) and a["severity"] == "low" for a in got)

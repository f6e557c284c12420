"""Model settings (forecast horizon, risk thresholds): defaults, saved in ``app_settings``.

Changing the horizon changes what the model predicts, so saving a new horizon marks every
trained model as ``stale``: ``load_latest_model`` then asks for a retrain.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

import sqlalchemy as sa

from demetra.config import check_ranges, declared, setting
from demetra.db.models import AppSetting, ModelRun
from demetra.errors import SettingsError

SETTINGS_KEY = "ml"
_CPA_HELP = ("A campaign without revenue is high risk when its CPA over the horizon is likely "
             "above this (in the data's currency); 0 uses the campaign's own trailing 28-day CPA")


@dataclass(frozen=True)
class ModelSettings:
    horizon_days: int = setting(
        7, "Days ahead the ROI is forecast over; changing it needs a retrain",
        label="Forecast horizon (days)", min=1, max=28)
    high_risk_threshold: float = setting(
        0.5, "A campaign is high risk when P(ROI < 1) is at least this",
        label="High-risk threshold (probability of loss)", min=0.01, max=1.0)
    medium_risk_threshold: float = setting(
        0.2, "A campaign is medium risk when P(ROI < 1) is at least this",
        label="Medium-risk threshold (probability of loss)", min=0.0, max=0.99)

    # Campaigns without revenue are forecast on CPA; their risk is P(CPA > target).
    cpa_target_facebook: float = setting(
        0.0, _CPA_HELP, label="Target CPA, Facebook (0: the campaign's own)", min=0.0, max=1e9)
    cpa_target_instagram: float = setting(
        0.0, _CPA_HELP, label="Target CPA, Instagram (0: the campaign's own)", min=0.0, max=1e9)
    cpa_target_google_ads: float = setting(
        0.0, _CPA_HELP, label="Target CPA, Google Ads (0: the campaign's own)", min=0.0, max=1e9)
    cpa_target_tiktok: float = setting(
        0.0, _CPA_HELP, label="Target CPA, TikTok (0: the campaign's own)", min=0.0, max=1e9)
    cpa_target_youtube: float = setting(
        0.0, _CPA_HELP, label="Target CPA, YouTube (0: the campaign's own)", min=0.0, max=1e9)
    cpa_target_linkedin: float = setting(
        0.0, _CPA_HELP, label="Target CPA, LinkedIn (0: the campaign's own)", min=0.0, max=1e9)

    @property
    def thresholds(self) -> tuple[float, float]:
        return (self.high_risk_threshold, self.medium_risk_threshold)

    def cpa_target(self, channel: str) -> float | None:
        """The target CPA of ``channel`` (None: each campaign's own trailing 28-day CPA)."""
        value = float(getattr(self, f"cpa_target_{channel}", 0.0) or 0.0)
        return value if value > 0 else None

    def validated(self) -> ModelSettings:
        """This object, or ``SettingsError`` naming the first value out of its allowed range."""
        check_ranges(self, SPECS)
        if self.medium_risk_threshold >= self.high_risk_threshold:
            raise SettingsError(
                f"{SPECS['medium_risk_threshold'].label} must be below the high-risk threshold "
                f"({self.high_risk_threshold:g}), got {self.medium_risk_threshold:g}")
        return self


SPECS = declared(ModelSettings)


def load_model_settings(engine: sa.Engine) -> ModelSettings:
    """The defaults, overridden by what was saved in the app."""
    with engine.connect() as conn:
        saved = conn.execute(sa.select(AppSetting.value).where(AppSetting.key == SETTINGS_KEY)).scalar()
    if not saved:
        return ModelSettings()
    known = {f.name for f in fields(ModelSettings)}
    return replace(ModelSettings(), **{k: v for k, v in saved.items() if k in known})


def save_model_settings(engine: sa.Engine, new: ModelSettings) -> ModelSettings:
    """Validate and store (a refused value raises ``SettingsError`` and stores nothing).

    A new horizon marks the trained models stale: predictions need a retrain first.
    """
    new.validated()
    new = replace(new, horizon_days=int(new.horizon_days))
    old = load_model_settings(engine)
    with engine.begin() as conn:
        conn.execute(sa.delete(AppSetting).where(AppSetting.key == SETTINGS_KEY))
        conn.execute(sa.insert(AppSetting).values(key=SETTINGS_KEY, value=asdict(new)))
        if new.horizon_days != old.horizon_days:
            conn.execute(sa.update(ModelRun).where(ModelRun.status == "ok").values(status="stale"))
    return new

"""Model settings (forecast horizon, risk thresholds, target CPAs): defaults, saved in
``app_settings``.

Changing the horizon changes what the model predicts, so saving a new horizon marks every
trained model as ``stale``: ``load_latest_model`` then asks for a retrain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import sqlalchemy as sa

from demetra.channels import is_channel_id, unknown_channel
from demetra.config import Setting, check_ranges, declared, setting
from demetra.db.models import AppSetting, ModelRun
from demetra.errors import SettingsError

SETTINGS_KEY = "ml"
# One target per channel, for any channel the data holds; the settings form draws one input
# per channel from this (see ``demetra.app.widgets.settings_form``).
CPA_TARGET = Setting(
    name="CPA_TARGET_BY_CHANNEL", field="cpa_target_by_channel", default=0.0,
    help="A campaign without revenue is high risk when its CPA over the horizon is likely above "
         "this (in the data's currency); 0 uses the campaign's own trailing 28-day CPA",
    label="Target CPA", kind=float, min=0.0, max=1e9)
_OLD_CPA_KEY = "cpa_target_"  # saved before the mapping: one key per seed channel


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

    # Campaigns without revenue are forecast on CPA; their risk is P(CPA > target). Channels
    # are data (an import may bring quora_ads), so the targets are a mapping, not a field each.
    cpa_target_by_channel: dict[str, float] = field(
        default_factory=dict, metadata={"per_channel": CPA_TARGET})

    @property
    def thresholds(self) -> tuple[float, float]:
        return (self.high_risk_threshold, self.medium_risk_threshold)

    def cpa_target(self, channel: str) -> float | None:
        """The target CPA of ``channel`` (None: each campaign's own trailing 28-day CPA)."""
        value = self.cpa_target_by_channel.get(channel)
        return float(value) if value is not None and value > 0 else None

    def validated(self) -> ModelSettings:
        """This object, or ``SettingsError`` naming the first value out of its allowed range."""
        check_ranges(self, SPECS)
        if self.medium_risk_threshold >= self.high_risk_threshold:
            raise SettingsError(
                f"{SPECS['medium_risk_threshold'].label} must be below the high-risk threshold "
                f"({self.high_risk_threshold:g}), got {self.medium_risk_threshold:g}")
        for channel, value in self.cpa_target_by_channel.items():
            # Any channel the data may hold: a known one or an imported file's own.
            if not is_channel_id(channel):
                raise SettingsError(f"{CPA_TARGET.label} per channel: {unknown_channel(channel)}")
            label = f"{CPA_TARGET.label} for {channel}"
            if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
                raise SettingsError(f"{label} must be above 0 (leave the channel out to use each "
                                    f"campaign's own trailing 28-day CPA), got {value!r}")
            replace(CPA_TARGET, label=label).check(value)
        return self


SPECS = declared(ModelSettings)


def _from_saved(saved: Mapping[str, Any]) -> dict[str, Any]:
    """The saved values ``ModelSettings`` knows, the old ``cpa_target_<channel>`` keys read
    into the mapping (a 0 there meant "the campaign's own", so it is left out)."""
    known = {f.name for f in fields(ModelSettings)}
    values = {k: v for k, v in saved.items() if k in known}
    old = {k.removeprefix(_OLD_CPA_KEY): v for k, v in saved.items()
           if k.startswith(_OLD_CPA_KEY) and k not in known}
    if old:
        values["cpa_target_by_channel"] = {
            **{c: float(v) for c, v in old.items() if isinstance(v, int | float) and v > 0},
            **(values.get("cpa_target_by_channel") or {})}
    return values


def load_model_settings(engine: sa.Engine) -> ModelSettings:
    """The defaults, overridden by what was saved in the app."""
    with engine.connect() as conn:
        saved = conn.execute(sa.select(AppSetting.value).where(AppSetting.key == SETTINGS_KEY)).scalar()
    if not saved:
        return ModelSettings()
    return replace(ModelSettings(), **_from_saved(saved))


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

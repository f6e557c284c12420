"""The thresholds of the alert rules: the ``ALERT_*`` settings, editable in the app.

Each threshold is declared once, as an ``alert_*`` field of ``demetra.config.Settings`` (its
default, label, help and allowed range); ``SPECS`` holds them by name without the prefix. The
environment and ``st.secrets`` set the defaults; what a user saves in the app (one
``app_settings`` row) overrides them, and nothing out of range is ever saved or used.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace

import sqlalchemy as sa

from demetra.channels import is_channel_id, unknown_channel
from demetra.config import Settings, SettingsError, check_ranges, declared
from demetra.db.models import AppSetting

_SETTINGS_KEY = "alerts"

# The thresholds are the ALERT_* settings (declared once in ``demetra.config.Settings``): their
# defaults, labels, help and ranges, by name without the prefix.
SPECS = declared(Settings, prefix="alert_")


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the rules; editable in the app, with the allowed ranges in ``SPECS``."""

    roi_threshold: float = SPECS["roi_threshold"].default
    cost_spike_factor: float = SPECS["cost_spike_factor"].default
    min_conversion_rate: float = SPECS["min_conversion_rate"].default
    cpa_rise_factor: float = SPECS["cpa_rise_factor"].default
    sensitivity: float = SPECS["sensitivity"].default
    baseline_days: int = SPECS["baseline_days"].default
    min_daily_spend: float = SPECS["min_daily_spend"].default
    roi_threshold_by_channel: dict[str, float] = field(default_factory=dict)

    def roi_threshold_for(self, channel: str) -> float:
        return self.roi_threshold_by_channel.get(channel, self.roi_threshold)

    def validated(self) -> AlertSettings:
        """This object, or ``SettingsError`` naming the first value out of its allowed range."""
        check_ranges(self, SPECS)
        spec = SPECS["roi_threshold"]
        for channel, value in self.roi_threshold_by_channel.items():
            # Any channel the data may hold: a known one or an imported file's own.
            if not is_channel_id(channel):
                raise SettingsError(f"ROI threshold per channel: {unknown_channel(channel)}")
            replace(spec, label=f"ROI threshold for {channel}").check(value)
        return self

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertSettings:
        """The thresholds the environment and secrets set."""
        return cls(**{name: getattr(settings, spec.field) for name, spec in SPECS.items()})


LIMITS: dict[str, tuple[float, float]] = {name: (s.min, s.max) for name, s in SPECS.items()}


def load_alert_settings(engine: sa.Engine, settings: Settings | None = None) -> AlertSettings:
    """The defaults from env/secrets, overridden by what was saved in the app."""
    base = AlertSettings.from_settings(settings or Settings())
    with engine.connect() as conn:
        saved = conn.execute(sa.select(AppSetting.value).where(AppSetting.key == _SETTINGS_KEY)).scalar()
    if not saved:
        return base
    known = {f.name for f in fields(AlertSettings)}
    return replace(base, **{k: v for k, v in saved.items() if k in known})


def save_alert_settings(engine: sa.Engine, new: AlertSettings) -> AlertSettings:
    """Validate and store; a refused value raises ``SettingsError`` and stores nothing."""
    new.validated()
    value = asdict(new)
    with engine.begin() as conn:
        conn.execute(sa.delete(AppSetting).where(AppSetting.key == _SETTINGS_KEY))
        conn.execute(sa.insert(AppSetting).values(key=_SETTINGS_KEY, value=value))
    return new

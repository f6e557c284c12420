"""Settings: read from the environment first, then (inside the app) from ``st.secrets``.

Every setting is declared once in ``SETTINGS`` with its default and a help string, so the
README table and the validation come from the same place.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

CHANNELS: tuple[str, ...] = ("facebook", "instagram", "google_ads", "tiktok", "youtube", "linkedin")

CHANNEL_LABELS: dict[str, str] = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "google_ads": "Google Ads",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "linkedin": "LinkedIn",
}

DEFAULT_DATABASE_URL = "sqlite:///data/demetra.db"


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: type = str
    min: float | None = None
    max: float | None = None


SETTINGS: tuple[Setting, ...] = (
    Setting("DATABASE_URL", DEFAULT_DATABASE_URL,
            "SQLAlchemy URL of the database: sqlite:///path.db or postgresql://user:pass@host/db"),
    Setting("OPENAI_API_KEY", "", "API key of the OpenAI-compatible endpoint (never shown or logged)"),
    Setting("OPENAI_BASE_URL", "", "Base URL of an OpenAI-compatible endpoint (empty: api.openai.com)"),
    Setting("LLM_MODEL", "gpt-4o-mini", "Model name sent to the LLM endpoint"),
    Setting("LLM_TIMEOUT", 30.0, "Seconds to wait for the LLM before using the rules engine",
            float, 1, 600),
    Setting("ALERT_ROI_THRESHOLD", 1.5, "Daily ROI below this raises a roi_drop alert", float, 0, 100),
    Setting("ALERT_COST_SPIKE_FACTOR", 2.8,
            "Daily spend above this multiple of the trailing baseline raises a cost_spike alert",
            float, 1, 100),
    Setting("ALERT_MIN_CONVERSION_RATE", 0.005,
            "Conversion rate under this floor raises a low_conversion alert", float, 0, 1),
    Setting("ALERT_SENSITIVITY", 3.5,
            "Robust z-score (median/IQR of the campaign's own trailing days) an alert needs; "
            "higher means fewer alerts", float, 2, 10),
    Setting("ALERT_BASELINE_DAYS", 14, "Trailing days that make a campaign's baseline", int, 7, 60),
    Setting("ALERT_MIN_DAILY_SPEND", 20.0,
            "Days with less spend than this are too small to judge", float, 0, 1_000_000),
    Setting("CACHE_TTL_SECONDS", 300, "How long the app caches query results", int, 0, 86400),
    Setting("MODEL_DIR", "data/models", "Folder where trained ROI models (joblib files) are kept"),
    Setting("MAX_UPLOAD_MB", 200, "Largest export file the Data page accepts for import, in MB",
            int, 1, 10_000),
)


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    openai_api_key: str = ""
    openai_base_url: str = ""
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = 30.0
    alert_roi_threshold: float = 1.5
    alert_cost_spike_factor: float = 2.8
    alert_min_conversion_rate: float = 0.005
    alert_sensitivity: float = 3.5
    alert_baseline_days: int = 14
    alert_min_daily_spend: float = 20.0
    cache_ttl_seconds: int = 300
    model_dir: str = "data/models"
    max_upload_mb: int = 200

    def __repr__(self) -> str:
        # The API key and the database password must never reach a log or a page.
        from demetra.db.engine import safe_url

        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["database_url"] = safe_url(self.database_url)
        shown["openai_api_key"] = "***" if self.openai_api_key else ""
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


def _coerce(spec: Setting, raw: Any) -> Any:
    if spec.kind is str:
        return str(raw).strip()
    try:
        value = spec.kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{spec.name} must be a number, got {raw!r}") from None
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise SettingsError(f"{spec.name} must be between {spec.min:g} and {spec.max:g}, got {value:g}")
    return value


def load_settings(secrets: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings: environment variables win, then ``secrets``, then the defaults."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        if environ.get(spec.name, "") != "":
            raw = environ[spec.name]
        elif spec.name in secrets and secrets[spec.name] not in (None, ""):
            raw = secrets[spec.name]
        else:
            continue
        values[spec.name.lower()] = _coerce(spec, raw)
    return Settings(**values)

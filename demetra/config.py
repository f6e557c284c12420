"""Settings: read from the environment first, then (inside the app) from ``st.secrets``.

Every setting is declared once, as a field of ``Settings`` made by ``setting()``: its default,
help text, label and allowed range live in that one place, and the README table, the
validation, the environment variable's name and the alert settings' defaults all come from it.
The same helpers declare the settings users edit in the app (``demetra.alerts.settings``,
``demetra.ml.settings``), so one range check serves them all.

A plain frozen dataclass rather than pydantic-settings: the one thing pydantic-settings would
add, reading the environment, is ten lines here, and the secrets come from Streamlit anyway.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

from demetra.channels import CHANNEL_LABELS, CHANNELS
from demetra.db.urls import safe_url
from demetra.errors import SettingsError

__all__ = ["CHANNELS", "CHANNEL_LABELS", "DEFAULT_DATABASE_URL", "SETTINGS", "Setting",
           "Settings", "SettingsError", "check_ranges", "currency_code", "declared", "load_settings",
           "setting"]

DEFAULT_DATABASE_URL = "sqlite:///data/demetra.db"


@dataclass(frozen=True)
class Setting:
    """One declared setting: what a README row, a form field and a range check need."""

    name: str         # the environment variable: the field's name in capitals
    field: str        # the dataclass field
    default: Any
    help: str
    label: str
    kind: type
    min: float | None = None
    max: float | None = None

    @property
    def env(self) -> str:
        return self.name

    def check(self, value: Any) -> None:
        """``SettingsError`` naming the setting when ``value`` is outside its range."""
        if self.min is None and self.max is None:
            return
        if (isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value)
                or (self.min is not None and value < self.min)
                or (self.max is not None and value > self.max)):
            raise SettingsError(f"{self.label} must be between {self.min:g} and {self.max:g}, "
                                f"got {value!r}")
        if self.kind is int and value != int(value):
            raise SettingsError(f"{self.label} must be a whole number, got {value!r}")


def setting(default: Any, help: str, *, label: str | None = None, min: float | None = None,
            max: float | None = None) -> Any:
    """Declare a dataclass field as a setting (its type is the default's)."""
    return field(default=default, metadata={"help": help, "label": label, "min": min, "max": max})


def declared(cls: type, *, prefix: str = "") -> dict[str, Setting]:
    """The settings a dataclass declares with ``setting()``, by field name without ``prefix``."""
    out: dict[str, Setting] = {}
    for f in fields(cls):
        if "help" not in f.metadata or not f.name.startswith(prefix):
            continue
        out[f.name.removeprefix(prefix)] = _spec(f)
    return out


def _spec(f: Field) -> Setting:
    m = f.metadata
    label = m["label"] or f.name.replace("_", " ").capitalize()
    return Setting(f.name.upper(), f.name, f.default, m["help"], label, type(f.default),
                   m["min"], m["max"])


def check_ranges(obj: Any, specs: Mapping[str, Setting]) -> None:
    """``SettingsError`` for the first value of ``obj`` outside its declared range."""
    for name, spec in specs.items():
        spec.check(getattr(obj, name))


def currency_code(value: Any, name: str) -> str:
    """``value`` as an ISO 4217 code ("eur" -> "EUR"; "" stays ""), or a ``SettingsError``
    naming the setting: three letters, A to Z."""
    code = "" if value is None else str(value).strip().upper()
    if code and not (len(code) == 3 and code.isascii() and code.isalpha()):
        raise SettingsError(f"{name} must be a three-letter ISO 4217 currency code such as EUR "
                            f"or USD (or empty: that of the first import), got {value!r}")
    return code


@dataclass(frozen=True)
class Settings:
    database_url: str = setting(
        DEFAULT_DATABASE_URL,
        "SQLAlchemy URL of the database: sqlite:///path.db or postgresql://user:pass@host/db")
    openai_api_key: str = setting(
        "", "API key of the OpenAI-compatible endpoint (never shown or logged)")
    openai_base_url: str = setting(
        "", "Base URL of an OpenAI-compatible endpoint (empty: api.openai.com)")
    llm_model: str = setting("gpt-4o-mini", "Model name sent to the LLM endpoint")
    llm_timeout: float = setting(
        30.0, "Seconds the LLM may take to read the facts and start answering (and at most "
        "between two pieces of its answer) before the rules engine writes the set; a local "
        "model on a laptop CPU needs about 300", min=1, max=3600)
    llm_max_tokens: int = setting(
        1200, "Most tokens the LLM may write for one answer (sent as max_tokens)",
        label="LLM max tokens", min=100, max=32_000)
    llm_min_tokens_per_second: float = setting(
        4.0, "Slowest writing speed waited for: once the LLM has started, an answer may take "
        "LLM_MAX_TOKENS / this many seconds more", label="LLM minimum tokens per second",
        min=0.1, max=10_000)
    alert_roi_threshold: float = setting(
        1.5, "Daily ROI below this raises a roi_drop alert", label="ROI threshold",
        min=0, max=100)
    alert_cost_spike_factor: float = setting(
        2.8, "Daily spend above this multiple of the trailing baseline raises a cost_spike "
        "alert (within one of the campaign's usual day-to-day swings under it, a low-severity lead)",
        label="Cost spike factor", min=1, max=100)
    alert_min_conversion_rate: float = setting(
        0.005, "Conversion rate under this floor raises a low_conversion alert",
        label="Minimum conversion rate", min=0, max=1)
    alert_cpa_rise_factor: float = setting(
        1.8, "For campaigns that track results but no revenue: a day's cost per result above "
        "this multiple of the trailing CPA (with too few results to be chance) raises a "
        "cpa_rise alert", label="CPA rise factor", min=1, max=100)
    alert_sensitivity: float = setting(
        3.5, "Robust z-score (median/IQR of the campaign's own trailing days) an alert needs; "
        "higher means fewer alerts", label="Sensitivity (z)", min=2, max=10)
    alert_baseline_days: int = setting(
        14, "Trailing days that make a campaign's baseline", label="Baseline days", min=7, max=60)
    alert_min_daily_spend: float = setting(
        20.0, "Days with less spend than this are too small to judge",
        label="Minimum daily spend", min=0, max=1_000_000)
    cache_ttl_seconds: int = setting(
        300, "How long the app caches query results", min=0, max=86400)
    model_dir: str = setting(
        "data/models", "Folder where trained ROI models (joblib files) are kept")
    max_upload_mb: int = setting(
        200, "Largest export file the Data page accepts for import, in MB", min=1, max=10_000)
    api_token: str = setting(
        "", "Bearer token every JSON API request but /health must carry (never shown or "
        "logged); required to serve the API on an address other than loopback")
    reporting_currency: str = setting(
        "", "ISO 4217 code of the one currency the database reports in (EUR, USD…); empty: "
        "that of the first import. Files in another currency need an exchange rate",
        label="Reporting currency")

    def __post_init__(self) -> None:
        object.__setattr__(self, "reporting_currency",
                           currency_code(self.reporting_currency, "REPORTING_CURRENCY"))

    def __repr__(self) -> str:
        # The API key and the database password must never reach a log or a page.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown["database_url"] = safe_url(self.database_url)
        shown["openai_api_key"] = "***" if self.openai_api_key else ""
        shown["api_token"] = "***" if self.api_token else ""
        return "Settings(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"


SETTINGS: tuple[Setting, ...] = tuple(declared(Settings).values())


def _coerce(spec: Setting, raw: Any) -> Any:
    if spec.kind is str:
        return str(raw).strip()
    try:
        value = spec.kind(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{spec.env} must be a number, got {raw!r}") from None
    if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
        raise SettingsError(f"{spec.env} must be between {spec.min:g} and {spec.max:g}, "
                            f"got {value:g}")
    return value


def load_settings(secrets: Mapping[str, Any] | None = None,
                  environ: Mapping[str, str] | None = None,
                  overrides: Mapping[str, Any] | None = None) -> Settings:
    """Build the settings: ``overrides`` (command-line flags, by field name) win, then the
    environment, then ``secrets``, then the defaults."""
    environ = os.environ if environ is None else environ
    secrets = secrets or {}
    overrides = {k: v for k, v in (overrides or {}).items() if v not in (None, "")}
    values: dict[str, Any] = {}
    for spec in SETTINGS:
        if spec.field in overrides:
            raw = overrides[spec.field]
        elif environ.get(spec.env, "") != "":
            raw = environ[spec.env]
        elif spec.env in secrets and secrets[spec.env] not in (None, ""):
            raw = secrets[spec.env]
        else:
            continue
        values[spec.field] = _coerce(spec, raw)
    return Settings(**values)

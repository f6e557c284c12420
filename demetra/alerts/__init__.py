"""Alerts: find what broke, once per incident, with the numbers, and work through them.

* ``settings``: the thresholds (the ``ALERT_*`` settings), with defaults and ranges, saved
  from the app;
* ``detection``: the rules, each campaign and channel against its own trailing baseline, and
  ``detect``, one run over a window of days;
* ``messages``: the sentence each alert carries, money in the data's currency, the campaign
  by its name;
* ``store``: one alert per incident, kept up to date and resolved when the metric recovers
  (an incident that cannot be written is skipped and named in a ``system`` alert);
  ``run_detection`` (a failure leaves a ``system`` alert); the alert list, read marks, counts.

Every page of the app counts the unread alerts, so importing this package loads no scipy:
``evaluate`` and ``detect`` (and any other name of ``detection``) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from demetra.alerts.messages import message
from demetra.alerts.settings import (
    LIMITS,
    SPECS,
    AlertSettings,
    load_alert_settings,
    save_alert_settings,
)
from demetra.alerts.store import (
    ALERT_TYPES,
    RULES,
    SEVERITIES,
    AlertFilter,
    DetectionReport,
    alert_count,
    list_alerts,
    run_detection,
    set_read,
    unread_count,
)

__all__ = ["ALERT_TYPES", "LIMITS", "RULES", "SEVERITIES", "SPECS", "AlertFilter", "AlertSettings",
           "DetectionReport", "alert_count", "detect", "evaluate", "list_alerts",
           "load_alert_settings", "message", "run_detection", "save_alert_settings", "set_read",
           "unread_count"]

# Where a name not imported above is found; ``detection`` last: it imports scipy.
_SUBMODULES = ("settings", "messages", "store", "detection")


def __getattr__(name: str) -> Any:
    """``detect``, ``evaluate`` and the submodules' other names, imported on first use."""
    if not name.startswith("__"):
        for sub in _SUBMODULES:
            module = importlib.import_module(f"{__name__}.{sub}")
            if name in vars(module):
                return vars(module)[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


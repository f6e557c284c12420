"""The one sentence each alert carries: what moved, on which campaign or channel, against
which trailing baseline, and the spend that day.

Amounts are written by ``demetra.format.money`` in the currency the data is in (detection reads
it once per run, ``queries.reporting_currency``), rates by ``format.pct``. A baseline that is
missing, zero or not finite (a campaign with no spending day in its window) is written "—" and
never divided by: a message is always a sentence, never an exception.

Campaigns are named by their names (``campaign_label``), with the id only where two campaigns
share a name.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from demetra.format import DASH, DEFAULT_CURRENCY, is_missing, money, pct

if TYPE_CHECKING:
    from demetra.alerts.settings import AlertSettings


def _number(value: Any) -> float | None:
    """``value`` as a finite float, or None (None, NaN, ±inf, anything not a number)."""
    if is_missing(value):
        return None
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _fixed(value: Any, decimals: int = 2) -> str:
    v = _number(value)
    return DASH if v is None else f"{v:.{decimals}f}"


def _times(value: Any, base: Any) -> str:
    """", 3.0× the usual" when there is a positive baseline to compare with, else nothing."""
    v, b = _number(value), _number(base)
    if v is None or b is None or b <= 0:
        return ""
    return f", {v / b:.1f}× the usual"


def message(rule: str, entity: str, row: dict, cfg: AlertSettings, *,
            currency: str = DEFAULT_CURRENCY) -> str:
    """One sentence a marketer reads at a glance."""
    w = cfg.baseline_days
    spend = money(row.get("cost"), currency)
    base = row.get("baseline")
    value = row.get("metric_value")
    # The evidence rules judge windows of days: their numbers are the window's.
    days = _number(row.get("days"))
    over = f" over {days:.0f} days" if days is not None and days > 1 else ""
    when = "over them" if over else "that day"
    if rule == "roi_drop":
        return (f"ROI fell to {_fixed(value)}{over} on {entity} (trailing {w}-day: "
                f"{_fixed(base)}), spend {spend} {when}")
    if rule == "cost_spike":
        return (f"Spend jumped to {spend} on {entity} (trailing {w}-day "
                f"median: {money(base, currency)}){_times(value, base)}")
    if rule == "low_conversion":
        return (f"Conversion rate fell to {pct(value)}{over} on {entity} (trailing "
                f"{w}-day: {pct(base)}), spend {spend} {when}")
    if rule == "cpa_rise":
        if not _number(row.get("conversions")):
            return (f"No results{over} on {entity} for {spend} of spend (trailing {w}-day "
                    f"CPA: {money(base, currency, decimals=2)})")
        return (f"Cost per result rose to {money(value, currency, decimals=2)}{over} on "
                f"{entity} (trailing {w}-day: {money(base, currency, decimals=2)})"
                f"{_times(value, base)}, spend {spend} {when}")
    metric = row.get("metric") or "a metric"
    shown = pct(value) if metric in ("ctr", "conversion rate") else (
        money(value, currency) if metric == "cost" else _fixed(value))
    return (f"Unusual {metric.upper() if metric == 'ctr' else metric} on {entity}: {shown}, "
            f"{_fixed(row.get('deviation'), 1)} robust standard deviations from its last {w} days")


def campaign_label(campaign_id: str, name: Any, shared: bool) -> str:
    """How a campaign is named to people: its name, "name (id)" when another campaign has
    the same name, and the id alone when it has no name (or its name is its id)."""
    cid = str(campaign_id)
    text = "" if name is None or is_missing(name) else str(name).strip()
    if not text or text == cid:
        return cid
    return f"{text} ({cid})" if shared else text

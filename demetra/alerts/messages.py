"""The one sentence each alert carries: what moved, on which campaign or channel, against
which trailing baseline, and the spend that day.

Amounts are written by ``demetra.format.money`` in the currency the data is in (detection reads
it once per run, ``queries.reporting_currency``), rates by ``format.pct``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from demetra.format import DEFAULT_CURRENCY, money, pct

if TYPE_CHECKING:
    from demetra.alerts.settings import AlertSettings


def message(rule: str, entity: str, row: dict, cfg: AlertSettings, *,
            currency: str = DEFAULT_CURRENCY) -> str:
    """One sentence a marketer reads at a glance."""
    w = cfg.baseline_days
    spend = money(row["cost"], currency)
    base = row.get("baseline")
    if rule == "roi_drop":
        return (f"ROI fell to {row['metric_value']:.2f} on {entity} (trailing {w}-day: "
                f"{base:.2f}), spend {spend} that day")
    if rule == "cost_spike":
        return (f"Spend jumped to {spend} on {entity} (trailing {w}-day median: "
                f"{money(base, currency)}), {row['metric_value'] / base:.1f}× the usual")
    if rule == "low_conversion":
        return (f"Conversion rate fell to {pct(row['metric_value'])} on {entity} (trailing "
                f"{w}-day: {pct(base)}), spend {spend} that day")
    metric = row.get("metric", "a metric")
    value = row["metric_value"]
    shown = pct(value) if metric in ("ctr", "conversion rate") else (
        money(value, currency) if metric == "cost" else f"{value:.2f}")
    return (f"Unusual {metric.upper() if metric == 'ctr' else metric} on {entity}: {shown}, "
            f"{row['deviation']:.1f} robust standard deviations from its last {w} days")

"""The totals of a filter: the KPIs and their change on the previous period, the trend per
(period, channel) and the breakdown per channel.

Named ``kpi``, not ``kpis``: the package re-exports the function ``kpis``, and a submodule of
the same name would be hidden behind it (``import demetra.queries.kpis as m`` would give the
function).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.errors import BadInput
from demetra.format import is_missing
from demetra.queries.filters import Filters
from demetra.queries.sql import (
    _Q,
    RATIOS,
    SUMS,
    _active_campaigns,
    _campaign_select,
    _frame,
    _matching_ids,
    _sum,
)

__all__ = ["KPI_FIGURES", "KPI_KEYS", "KpiDelta", "KpiFigure", "channel_breakdown", "kpis",
           "kpis_with_delta", "resolve_grain", "trend", "why_missing"]

# --------------------------------------------------------------------------------------------
# KPIs

KPI_KEYS = ("cost", "revenue", "clicks", "impressions", "conversions", "engagement", "campaigns",
            "roi", "ctr", "conversion_rate", "cpc", "cpa", "revenue_cost", "result_cost",
            "result_clicks")


class KpiFigure(NamedTuple):
    """A KPI as people see it: on the Overview's cards and in the PDF report."""

    key: str
    label: str  # on a card
    title: str  # in the report's table, spelled out
    kind: str  # how ``demetra.format.by_kind`` writes it
    delta: str  # the change's colour: "inverse" where a rise is bad (a cost), "off" for spend
    help: str = ""


# In the report's order; the cards show eight of them (``demetra.app.widgets``).
KPI_FIGURES: dict[str, KpiFigure] = {k.key: k for k in (
    KpiFigure("cost", "Spend", "Spend", "money", "off", "Total ad spend in the period"),
    KpiFigure("revenue", "Revenue", "Revenue", "money", "normal",
              "Conversion value reported by the platforms"),
    KpiFigure("roi", "ROI", "ROI", "roi", "normal", "Revenue ÷ spend; 1.00× is break-even"),
    KpiFigure("conversions", "Conversions", "Conversions (results)", "count", "normal",
              "Conversions (platforms report fractions)"),
    KpiFigure("cpa", "CPA", "Cost per result (CPA)", "cents", "inverse",
              "Cost per acquisition: spend ÷ conversions"),
    KpiFigure("clicks", "Clicks", "Clicks", "count", "normal"),
    KpiFigure("ctr", "CTR", "Click-through rate", "pct", "normal", "Clicks ÷ impressions"),
    KpiFigure("conversion_rate", "Conversion rate", "Conversion rate", "pct", "normal",
              "Conversions ÷ clicks"),
    KpiFigure("cpc", "CPC", "Cost per click", "cents", "inverse",
              "Cost per click: spend ÷ clicks"),
    KpiFigure("campaigns", "Campaigns", "Active campaigns", "count", "normal"),
)}


def _ratio(num: Any, den: Any) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)


@dataclass(frozen=True)
class KpiDelta:
    value: float | int | None
    previous: float | int | None
    change: float | None  # value / previous - 1; None when either is None or previous is 0


def _kpis(conn: sa.Connection, f: Filters) -> dict[str, float | int | None]:
    q = _Q(conn.dialect.name)
    if not f.search:
        sql = ("SELECT " + ", ".join(_sum(s) for s in (*SUMS, "engagement"))
               + f", ({_active_campaigns(q, f)}) AS campaigns FROM channel_days WHERE date "
               f"BETWEEN {q.bind(f.start, 'd')} AND {q.bind(f.end, 'd')}{q.channel_clause(f)}")
    else:
        sql = ("SELECT COUNT(*) AS campaigns, " + ", ".join(_sum(s) for s in (*SUMS, "engagement"))
               + f" FROM ({_campaign_select(q, f, engagement=True)}) c")
    out = q.execute(conn, sql).mappings().one()
    result: dict[str, float | int | None] = {}
    result["cost"] = float(out["cost"] or 0)
    for key in ("revenue", "conversions", "revenue_cost", "result_cost"):
        # None: not tracked by any row of the filter (a missing value is missing, never 0).
        result[key] = None if out[key] is None else float(out[key])
    for key in ("clicks", "impressions", "engagement", "campaigns", "result_clicks"):
        result[key] = int(out[key] or 0)
    for name, (num, den) in RATIOS.items():
        result[name] = _ratio(result[num], result[den])
    return {k: result[k] for k in KPI_KEYS}


_NOT_TRACKED = {"revenue": "revenue not tracked", "conversions": "conversions (results) not tracked"}
_NO_DENOMINATOR = {"revenue_cost": "no spend on campaigns that track revenue",
                   "impressions": "no impressions", "clicks": "no clicks",
                   "result_clicks": "no clicks on campaigns that track conversions",
                   "conversions": "no conversions"}


def why_missing(name: str, values: Mapping[str, Any]) -> str | None:
    """Why ``values[name]`` (a KPI or a campaign's figure) is None: not tracked, or a zero
    denominator; None when it is not missing."""
    if not is_missing(values.get(name)):
        return None
    if name in _NOT_TRACKED:
        return _NOT_TRACKED[name]
    if name not in RATIOS:
        return "no data"
    num, den = RATIOS[name]
    for outcome in ("revenue", "conversions"):
        if outcome in (num, den) and is_missing(values.get(outcome)):
            return _NOT_TRACKED[outcome]
    return _NO_DENOMINATOR.get(den, f"no {den}")


def kpis(engine: sa.Engine, f: Filters) -> dict[str, float | int | None]:
    """Totals and ratios of sums for the filter (keys: ``KPI_KEYS``).

    Sums are 0 when nothing matches; a ratio is None when its denominator is 0.
    """
    with engine.connect() as conn:
        return _kpis(conn, f)


def _change(value: Any, previous: Any) -> float | None:
    if value is None or previous is None or previous == 0:
        return None
    return float(value) / float(previous) - 1.0


def kpis_with_delta(engine: sa.Engine, f: Filters) -> dict[str, KpiDelta]:
    """``kpis`` for the filter and for ``f.previous()``, with the relative change of each."""
    with engine.connect() as conn:
        now, before = _kpis(conn, f), _kpis(conn, f.previous())
    return {k: KpiDelta(now[k], before[k], _change(now[k], before[k])) for k in KPI_KEYS}


# --------------------------------------------------------------------------------------------
# Trend and channels


def resolve_grain(f: Filters, grain: str = "auto") -> str:
    if grain == "auto":
        return "week" if f.days > 120 else "day"
    if grain not in ("day", "week"):
        raise BadInput(f"grain must be 'auto', 'day' or 'week', not {grain!r}")
    return grain


def _period_expr(dialect: str, grain: str, column: str = "date") -> str:
    if grain == "day":
        return column
    if dialect == "sqlite":
        return f"date({column}, 'weekday 0', '-6 days')"  # the Monday of its ISO week
    return f"CAST(date_trunc('week', {column}) AS DATE)"


_TREND_COLUMNS = ["period", "channel", *SUMS, "roi", "ctr", "conversion_rate", "cpc", "cpa"]


def trend(engine: sa.Engine, f: Filters, grain: str = "auto") -> pd.DataFrame:
    """One row per (period, channel) with data: sums and ratios of sums.

    ``period`` is the day, or the Monday of the week when the grain resolves to "week"
    ("auto": weeks when the range is longer than 120 days). Edge weeks are partial: they hold
    only the days inside the filter.
    """
    grain = resolve_grain(f, grain)
    with engine.connect() as conn:
        q = _Q(conn.dialect.name)
        period = _period_expr(q.dialect, grain)
        table = "channel_days"
        where = f"date BETWEEN {q.bind(f.start, 'd')} AND {q.bind(f.end, 'd')}{q.channel_clause(f)}"
        if f.search:
            table = "campaigns"
            where += f" AND campaign_id IN ({_matching_ids(q, f)})"
        sql = (f"SELECT {period} AS period, channel, "
               + ", ".join(_sum(s, raw=table == "campaigns") for s in SUMS)
               + f" FROM {table} WHERE {where} GROUP BY {period}, channel ORDER BY 1, 2")
        df = _frame(q.execute(conn, sql), dates=["period"], ratios=_TREND_COLUMNS[2 + len(SUMS):])
    return df[_TREND_COLUMNS]


_BREAKDOWN_COLUMNS = ["channel", *SUMS, "campaigns", "roi", "ctr", "conversion_rate", "cpc", "cpa",
                      "share_of_cost"]


def channel_breakdown(engine: sa.Engine, f: Filters) -> pd.DataFrame:
    """One row per channel with data: sums, distinct campaigns, ratios, share of total cost;
    biggest spend first."""
    with engine.connect() as conn:
        q = _Q(conn.dialect.name)
        if not f.search:
            sql = ("SELECT s.*, COALESCE(n.campaigns, 0) AS campaigns FROM (SELECT channel, "
                   + ", ".join(_sum(s) for s in SUMS)
                   + f" FROM channel_days WHERE date BETWEEN {q.bind(f.start, 'd')} AND "
                   f"{q.bind(f.end, 'd')}{q.channel_clause(f)} GROUP BY channel) s LEFT JOIN ("
                   f"{_active_campaigns(q, f, by_channel=True)}) n ON n.channel = s.channel")
        else:
            sql = ("SELECT channel, " + ", ".join(_sum(s) for s in SUMS)
                   + f", COUNT(*) AS campaigns FROM ({_campaign_select(q, f)}) c GROUP BY channel")
        df = _frame(q.execute(conn, sql + " ORDER BY cost DESC, channel"),
                    ratios=["roi", "ctr", "conversion_rate", "cpc", "cpa"])
    total = float(df["cost"].sum()) if len(df) else 0.0
    df["share_of_cost"] = df["cost"] / total if total else np.nan
    return df[_BREAKDOWN_COLUMNS]

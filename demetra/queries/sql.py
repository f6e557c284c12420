"""The statement building the readers share: bound parameters, the month plan, the
per-campaign select, the count of active campaigns and results as DataFrames.

Where the numbers come from
---------------------------
* ``channel_days`` (date, channel -> sums) serves the KPIs, the trend and the channel
  breakdown when no search string is given: a few rows per day instead of one per campaign-day.
* ``campaign_months`` (campaign, month -> sums, days, first/last date) serves everything
  per campaign: one pass over the rollup for the months the range touches gives the names and
  the whole months inside [start, end]; the partial months at both ends come from raw
  ``campaigns`` rows (index-only on the covering index) and are added per campaign. The
  rollups are refreshed in the write transaction (``demetra.db.rollups``), so the results
  equal the sums over raw rows up to float summation order (~1e-15 relative).
* "How many campaigns ran in the range": a campaign with a rollup row for a whole month in
  the range did; the others (seen only in the partial months) cost one probe each of the
  unique (campaign_id, date) index.

Measured at 1M rows in ``benchmarks/RESULTS.md`` (section "Foundation").
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.queries.filters import Filters, as_date

# Revenue and conversions sum to NULL where no row tracks them ("not tracked", not 0). The
# spend and clicks of the rows that do track them are summed beside (``TRACKED``), so that ROI,
# CPA and the conversion rate of a mixed account divide only by what was tracked.
SUMS = ("cost", "revenue", "clicks", "impressions", "conversions", "revenue_cost",
        "result_cost", "result_clicks")
OUTCOMES = ("revenue", "conversions")
# A tracked sum's value in a row of ``campaigns`` (the rollups store it as a column).
TRACKED = {"revenue_cost": "CASE WHEN revenue IS NOT NULL THEN cost END",
           "result_cost": "CASE WHEN conversions IS NOT NULL THEN cost END",
           "result_clicks": "CASE WHEN conversions IS NOT NULL THEN clicks END"}
_INT_SUMS = {"clicks", "impressions", "engagement", "campaign_days", "days", "campaigns",
             "result_clicks"}
RATIOS = {  # name: (numerator, denominator)
    "roi": ("revenue", "revenue_cost"),
    "ctr": ("clicks", "impressions"),
    "conversion_rate": ("conversions", "result_clicks"),
    "cpc": ("cost", "clicks"),
    "cpa": ("result_cost", "conversions"),
}


def _sum(col: str, *, raw: bool = False) -> str:
    """``SUM`` of a measure AS itself; ``raw``: over rows of ``campaigns`` (not a rollup)."""
    value = TRACKED.get(col, col) if raw else col
    if col in OUTCOMES:
        return f"SUM({value}) AS {col}"
    if col in _INT_SUMS:
        # PostgreSQL sums BIGINT into NUMERIC (Decimal in Python): cast back.
        return f"CAST(COALESCE(SUM({value}), 0) AS BIGINT) AS {col}"
    return f"COALESCE(SUM({value}), 0) AS {col}"


def _ratio_sql(name: str) -> str:
    # CAST: integer / integer would truncate on both backends.
    num, den = RATIOS[name]
    return f"CAST({num} AS DOUBLE PRECISION) / NULLIF({den}, 0) AS {name}"


class _Q:
    """A statement under construction: SQL text plus its bound parameters."""

    def __init__(self, dialect: str) -> None:
        self.dialect = dialect
        self.params: dict[str, Any] = {}
        self._n = 0

    def bind(self, value: Any, hint: str = "p") -> str:
        self._n += 1
        name = f"{hint}{self._n}"
        if isinstance(value, dt.date) and self.dialect == "sqlite":
            value = value.isoformat()  # dates are ISO text in SQLite
        self.params[name] = value
        return f":{name}"

    def in_list(self, column: str, values: Sequence[str]) -> str:
        return f"{column} IN ({', '.join(self.bind(v, 'ch') for v in values)})"

    def channel_clause(self, f: Filters, column: str = "channel") -> str:
        return f" AND {self.in_list(column, f.channels)}" if f.channels else ""

    def like(self, f: Filters) -> str:
        pattern = "%" + (f.search.lower().replace("!", "!!").replace("%", "!%")
                         .replace("_", "!_")) + "%"
        p = self.bind(pattern, "pat")
        return (f"(LOWER(campaign_id) LIKE {p} ESCAPE '!' "
                f"OR LOWER(campaign_name) LIKE {p} ESCAPE '!')")

    def execute(self, conn: sa.Connection, sql: str) -> sa.CursorResult:
        return conn.execute(sa.text(sql), self.params)


def _month_start(d: dt.date) -> dt.date:
    return d.replace(day=1)


def _next_month(d: dt.date) -> dt.date:
    return (d.replace(day=1) + dt.timedelta(days=32)).replace(day=1)


@dataclass(frozen=True)
class _Plan:
    """How [start, end] splits into whole months (rollup) and raw day ranges (the ends)."""

    months: tuple[dt.date, dt.date] | None          # first and last whole month (month starts)
    raw: tuple[tuple[dt.date, dt.date], ...] = field(default_factory=tuple)

    @staticmethod
    def of(start: dt.date, end: dt.date) -> _Plan:
        first_full = start if start.day == 1 else _next_month(start)
        after_end = end + dt.timedelta(days=1)
        end_excl = after_end if after_end.day == 1 else _month_start(end)  # end of last whole month
        if first_full >= end_excl:
            return _Plan(None, ((start, end),))
        last_full = _month_start(end_excl - dt.timedelta(days=1))
        raw = []
        if start < first_full:
            raw.append((start, first_full - dt.timedelta(days=1)))
        if end_excl <= end:
            raw.append((end_excl, end))
        return _Plan((first_full, last_full), tuple(raw))


def _matching_ids(q: _Q, f: Filters) -> str:
    """Ids of the campaigns whose id or name contains the search string (months in range)."""
    return (f"SELECT DISTINCT campaign_id FROM campaign_months WHERE month BETWEEN "
            f"{q.bind(_month_start(f.start), 'm')} AND {q.bind(_month_start(f.end), 'm')} "
            f"AND {q.like(f)}")


def _min_of(a: str, b: str, op: str = "<") -> str:
    """The smaller (op '<') or larger (op '>') of two nullable values, portably."""
    return (f"CASE WHEN {a} IS NULL THEN {b} WHEN {b} IS NULL THEN {a} "
            f"WHEN {b} {op} {a} THEN {b} ELSE {a} END")


def _campaign_select(q: _Q, f: Filters, *, engagement: bool = False) -> str:
    """Statement with one row per campaign with data in the filter: campaign_id,
    campaign_name, channel, days, first_date, last_date and the sums.

    One pass over ``campaign_months`` for the months touched by the range gives the names and
    the sums of the whole months; the partial months at the ends come from raw rows (grouped
    by campaign) and are added with a LEFT JOIN. With a search string the matching ids are
    found once (CTE ``ids``) and restrict both.
    """
    sums = list(SUMS) + (["engagement"] if engagement else [])
    plan = _Plan.of(f.start, f.end)
    m1, m2 = q.bind(_month_start(f.start), "m"), q.bind(_month_start(f.end), "m")
    ctes = []
    search = ""
    if f.search:
        ctes.append(f"ids AS ({_matching_ids(q, f)})")
        search = " AND campaign_id IN (SELECT campaign_id FROM ids)"

    if plan.months is None:                      # no whole month: the rollup gives names only
        def whole(fn: str, col: str) -> str:
            kind = ("DATE" if col.endswith("_date") else
                    "BIGINT" if col in _INT_SUMS else "DOUBLE PRECISION")
            return f"CAST(NULL AS {kind})"
    elif not plan.raw:                           # only whole months: no CASE needed
        def whole(fn: str, col: str) -> str:
            return f"{fn}({col})"
    else:
        in_whole = (f"month BETWEEN {q.bind(plan.months[0], 'm')} AND "
                    f"{q.bind(plan.months[1], 'm')}")

        def whole(fn: str, col: str) -> str:
            return f"{fn}(CASE WHEN {in_whole} THEN {col} END)"

    ctes.append(
        "m AS (SELECT campaign_id, MAX(campaign_name) AS campaign_name, MAX(channel) AS channel, "
        f"{whole('SUM', 'days')} AS days, {whole('MIN', 'first_date')} AS first_date, "
        f"{whole('MAX', 'last_date')} AS last_date, "
        + ", ".join(f"{whole('SUM', s)} AS {s}" for s in sums)
        + f" FROM campaign_months WHERE month BETWEEN {m1} AND {m2}{q.channel_clause(f)}{search}"
        " GROUP BY campaign_id)")
    if not plan.raw:
        return (f"WITH {', '.join(ctes)} SELECT m.campaign_id, m.campaign_name, m.channel, "
                f"CAST(m.days AS BIGINT) AS days, m.first_date, m.last_date, "
                + ", ".join(_cast_sum(f"m.{s}", s) for s in sums)
                + " FROM m WHERE m.days > 0")
    # SQLite would otherwise walk the unique (campaign_id, date) index for the grouping and
    # look every row up in the table; "+" makes it scan the covering date index instead
    # (~1.7x faster at 1M rows). PostgreSQL hash-aggregates either way.
    group = "+campaign_id" if q.dialect == "sqlite" else "campaign_id"
    parts = [
        "SELECT campaign_id, COUNT(*) AS days, MIN(date) AS first_date, MAX(date) AS last_date, "
        + ", ".join(f"SUM({TRACKED.get(s, s)}) AS {s}" for s in sums)
        + f" FROM campaigns WHERE date BETWEEN {q.bind(a, 'd')} AND {q.bind(b, 'd')}"
        f"{q.channel_clause(f)}{search} GROUP BY {group}"
        for a, b in plan.raw]
    if len(parts) == 1:
        ctes.append(f"r AS ({parts[0]})")
    else:
        ctes.append(
            "r AS (SELECT campaign_id, SUM(days) AS days, MIN(first_date) AS first_date, "
            "MAX(last_date) AS last_date, " + ", ".join(f"SUM({s}) AS {s}" for s in sums)
            + f" FROM ({' UNION ALL '.join(parts)}) e GROUP BY campaign_id)")
    days = "COALESCE(m.days, 0) + COALESCE(r.days, 0)"
    return (f"WITH {', '.join(ctes)} SELECT m.campaign_id, m.campaign_name, m.channel, "
            f"CAST({days} AS BIGINT) AS days, "
            f"{_min_of('m.first_date', 'r.first_date', '<')} AS first_date, "
            f"{_min_of('m.last_date', 'r.last_date', '>')} AS last_date, "
            + ", ".join(_cast_sum(_added(f"m.{s}", f"r.{s}", s), s) for s in sums)
            + f" FROM m LEFT JOIN r ON r.campaign_id = m.campaign_id WHERE {days} > 0")


def _added(a: str, b: str, name: str) -> str:
    """a + b, either NULL counting as 0, except that an outcome neither tracks stays NULL."""
    added = f"COALESCE({a}, 0) + COALESCE({b}, 0)"
    if name in OUTCOMES:
        return f"CASE WHEN {a} IS NULL AND {b} IS NULL THEN NULL ELSE {added} END"
    return added


def _cast_sum(expr: str, name: str) -> str:
    if name in _INT_SUMS:
        return f"CAST({expr} AS BIGINT) AS {name}"
    return f"CAST({expr} AS DOUBLE PRECISION) AS {name}"


def _active_campaigns(q: _Q, f: Filters, *, by_channel: bool = False) -> str:
    """Count of campaigns with at least one row in the filter (per channel if asked); for
    filters without a search string (with one, the per-campaign select counts them).

    A campaign with a ``campaign_months`` row for a whole month inside the range has data
    in it; so has one whose first or last day of data in a partial month at the ends falls
    inside the range. Only the rest with rows on both sides of the range are checked with a
    probe of the unique (campaign_id, date) index each.
    """
    plan = _Plan.of(f.start, f.end)
    channel = ", MAX(channel) AS channel" if by_channel else ""
    if plan.months is not None and not plan.raw:
        inner = (f"SELECT campaign_id{channel} FROM campaign_months WHERE month BETWEEN "
                 f"{q.bind(plan.months[0], 'm')} AND {q.bind(plan.months[1], 'm')}"
                 f"{q.channel_clause(f)} GROUP BY campaign_id")
        cond = ""
    else:
        known = ("0" if plan.months is None else
                 f"MAX(CASE WHEN month BETWEEN {q.bind(plan.months[0], 'm')} AND "
                 f"{q.bind(plan.months[1], 'm')} THEN 1 ELSE 0 END)")
        a, b = q.bind(f.start, "d"), q.bind(f.end, "d")
        # A month's first or last day with data inside the range proves the campaign ran in
        # it; a month whose rows all lie before or after it proves nothing. Only a month with
        # rows on both sides of the range (first before it, last after it) needs a probe of
        # the raw rows: a range inside one month.
        inner = (f"SELECT campaign_id{channel}, {known} AS known, MAX(CASE WHEN first_date "
                 f"BETWEEN {a} AND {b} OR last_date BETWEEN {a} AND {b} THEN 1 ELSE 0 END) AS "
                 f"sure, MAX(CASE WHEN first_date < {a} AND last_date > {b} THEN 1 ELSE 0 END) "
                 f"AS spans FROM campaign_months WHERE "
                 f"month BETWEEN {q.bind(_month_start(f.start), 'm')} AND "
                 f"{q.bind(_month_start(f.end), 'm')}{q.channel_clause(f)} GROUP BY campaign_id")
        probes = " OR ".join(
            f"r.date BETWEEN {q.bind(x, 'd')} AND {q.bind(y, 'd')}" for x, y in plan.raw)
        cond = (" WHERE c.known = 1 OR c.sure = 1 OR (c.spans = 1 AND EXISTS (SELECT 1 FROM "
                f"campaigns r WHERE r.campaign_id = c.campaign_id AND ({probes})))")
    if by_channel:
        return f"SELECT c.channel, COUNT(*) AS campaigns FROM ({inner}) c{cond} GROUP BY c.channel"
    return f"SELECT COUNT(*) AS campaigns FROM ({inner}) c{cond}"


_FLOATS = {"cost", "revenue", "conversions", "revenue_cost", "result_cost", "share_of_cost",
           *RATIOS}


def _frame(result: sa.CursorResult, *, dates: Iterable[str] = (),
           ratios: Iterable[str] = ()) -> pd.DataFrame:
    """The result as a DataFrame, built column by column (much cheaper than from Row objects):
    ints as int64, money and ratios as float64 (NaN for NULL), ``dates`` as datetime.date."""
    keys = list(result.keys())
    rows = result.all()
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(keys)
    dates = set(dates)
    data: dict[str, Any] = {}
    for key, values in zip(keys, columns, strict=True):
        if key in dates:
            data[key] = np.array([as_date(v) for v in values], dtype=object)
        elif key in _INT_SUMS:
            data[key] = np.array(values, dtype=np.int64)
        elif key in _FLOATS:
            data[key] = np.array(values, dtype=float)
        else:
            data[key] = list(values)
    for name in ratios:
        num, den = RATIOS[name]
        n = np.asarray(data[num], dtype=float)
        d = np.asarray(data[den], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            data[name] = np.where(d != 0, n / np.where(d != 0, d, 1.0), np.nan)
    return pd.DataFrame(data)


def _plain(v: Any) -> Any:
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    if isinstance(v, np.generic):
        v = v.item()
    return None if isinstance(v, float) and np.isnan(v) else v


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame's rows as plain dicts: NaN and NaT are None (missing, never 0), numpy scalars
    Python numbers, timestamps datetimes (for JSON and for the report's tables)."""
    return [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

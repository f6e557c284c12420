"""Every read the pages need, aggregated in the database with bound parameters.

Nothing here loads a table into Python: each function sends one or two aggregate statements
and gets back at most one row per campaign, per channel or per (period, channel).

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

Metric definitions (DESIGN.md): aggregates are ratios of sums, never averages of ratios:
ROI = Σrevenue/Σcost, CTR = Σclicks/Σimpressions, conversion rate = Σconversions/Σclicks,
CPC = Σcost/Σclicks, CPA = Σcost/Σconversions; None (NaN in frames) on a zero denominator.

Search is case-insensitive and matches a campaign when its id or its name (any name the
campaign had in the months touched by the range) contains the string; all of that campaign's
rows in the range then count. Campaigns are assumed to belong to one channel (the id carries
it: ``FACEBOOK_…``); per-campaign results report that channel.

Dates: SQLite stores ISO text; parameters are bound as ISO strings there and every date that
comes back is a ``datetime.date`` on both backends.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.channels import ordered

__all__ = [
    "CAMPAIGN_COLUMNS", "Filters", "KpiDelta", "KPI_KEYS", "campaign_choices", "campaign_history",
    "campaign_names",
    "campaign_table", "channel_breakdown", "data_summary", "date_span", "export_csv", "kpis",
    "kpis_with_delta", "reporting_currency", "top_campaigns", "trend",
]

# --------------------------------------------------------------------------------------------
# Filters


def as_date(value: Any) -> dt.date | None:
    """A date from what a driver returns: date, datetime or ISO text (SQLite); None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # pd.Timestamp too
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects. ``start``/``end`` are inclusive; empty ``channels`` = all."""

    start: dt.date
    end: dt.date
    channels: tuple[str, ...] = ()
    search: str = ""

    def __post_init__(self) -> None:
        start, end = as_date(self.start), as_date(self.end)
        if start is None or end is None:
            raise ValueError("Filters need a start and an end date")
        if start > end:
            raise ValueError(f"the start date {start} is after the end date {end}")
        channels = self.channels
        if isinstance(channels, str):
            channels = (channels,) if channels else ()
        # Sorted and de-duplicated: equal selections hash equal (st.cache_data keys).
        channels = tuple(sorted({str(c) for c in channels if c}))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "search", (self.search or "").strip())

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of equal length immediately before this one, same channels and search."""
        end = self.start - dt.timedelta(days=1)
        return Filters(end - dt.timedelta(days=self.days - 1), end, self.channels, self.search)


# --------------------------------------------------------------------------------------------
# SQL building blocks

SUMS = ("cost", "revenue", "clicks", "impressions", "conversions")
_INT_SUMS = {"clicks", "impressions", "engagement", "campaign_days", "days", "campaigns"}
RATIOS = {  # name: (numerator, denominator)
    "roi": ("revenue", "cost"),
    "ctr": ("clicks", "impressions"),
    "conversion_rate": ("conversions", "clicks"),
    "cpc": ("cost", "clicks"),
    "cpa": ("cost", "conversions"),
}
KPI_KEYS = ("cost", "revenue", "clicks", "impressions", "conversions", "engagement", "campaigns",
            "roi", "ctr", "conversion_rate", "cpc", "cpa")
CAMPAIGN_COLUMNS = ("campaign_id", "campaign_name", "channel", "days", "cost", "revenue", "clicks",
                    "impressions", "conversions", "roi", "ctr", "conversion_rate", "cpc", "cpa",
                    "first_date", "last_date")
# For "best": higher is better, except for the cost-per metrics.
_LOWER_IS_BETTER = {"cpc", "cpa"}


def _sum(col: str) -> str:
    if col in _INT_SUMS:
        # PostgreSQL sums BIGINT into NUMERIC (Decimal in Python): cast back.
        return f"CAST(COALESCE(SUM({col}), 0) AS BIGINT) AS {col}"
    return f"COALESCE(SUM({col}), 0) AS {col}"


def _ratio_sql(name: str) -> str:
    # CAST: integer / integer would truncate on both backends.
    num, den = RATIOS[name]
    return f"CAST({num} AS DOUBLE PRECISION) / NULLIF({den}, 0) AS {name}"


def _ratio(num: Any, den: Any) -> float | None:
    if num is None or den is None or den == 0:
        return None
    return float(num) / float(den)


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
        + ", ".join(f"SUM({s}) AS {s}" for s in sums)
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
            + ", ".join(_cast_sum(f"COALESCE(m.{s}, 0) + COALESCE(r.{s}, 0)", s) for s in sums)
            + f" FROM m LEFT JOIN r ON r.campaign_id = m.campaign_id WHERE {days} > 0")


def _cast_sum(expr: str, name: str) -> str:
    if name in _INT_SUMS:
        return f"CAST({expr} AS BIGINT) AS {name}"
    return f"CAST({expr} AS DOUBLE PRECISION) AS {name}"


def _active_campaigns(q: _Q, f: Filters, *, by_channel: bool = False) -> str:
    """Count of campaigns with at least one row in the filter (per channel if asked); for
    filters without a search string (with one, the per-campaign select counts them).

    A campaign with a ``campaign_months`` row for a whole month inside the range has data
    in it; the others (seen only in the partial months at the ends) are checked with one
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
        inner = (f"SELECT campaign_id{channel}, {known} AS known FROM campaign_months WHERE "
                 f"month BETWEEN {q.bind(_month_start(f.start), 'm')} AND "
                 f"{q.bind(_month_start(f.end), 'm')}{q.channel_clause(f)} GROUP BY campaign_id")
        probes = " OR ".join(
            f"r.date BETWEEN {q.bind(a, 'd')} AND {q.bind(b, 'd')}" for a, b in plan.raw)
        cond = (" WHERE c.known = 1 OR EXISTS (SELECT 1 FROM campaigns r WHERE "
                f"r.campaign_id = c.campaign_id AND ({probes}))")
    if by_channel:
        return f"SELECT c.channel, COUNT(*) AS campaigns FROM ({inner}) c{cond} GROUP BY c.channel"
    return f"SELECT COUNT(*) AS campaigns FROM ({inner}) c{cond}"


_FLOATS = {"cost", "revenue", "conversions", "share_of_cost", *RATIOS}


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


# --------------------------------------------------------------------------------------------
# KPIs


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
    for key in ("cost", "revenue", "conversions"):
        result[key] = float(out[key] or 0)
    for key in ("clicks", "impressions", "engagement", "campaigns"):
        result[key] = int(out[key] or 0)
    for name, (num, den) in RATIOS.items():
        result[name] = _ratio(result[num], result[den])
    return {k: result[k] for k in KPI_KEYS}


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
        raise ValueError(f"grain must be 'auto', 'day' or 'week', not {grain!r}")
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
        sql = (f"SELECT {period} AS period, channel, " + ", ".join(_sum(s) for s in SUMS)
               + f" FROM {table} WHERE {where} GROUP BY {period}, channel ORDER BY 1, 2")
        df = _frame(q.execute(conn, sql), dates=["period"], ratios=_TREND_COLUMNS[7:])
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


# --------------------------------------------------------------------------------------------
# Campaigns


def _campaign_frame(conn: sa.Connection, f: Filters, *, order: str, limit: int,
                    offset: int = 0, with_total: bool = False) -> pd.DataFrame:
    q = _Q(conn.dialect.name)
    inner = _campaign_select(q, f)
    ratios = ", ".join(_ratio_sql(r) for r in RATIOS)
    total = ", COUNT(*) OVER () AS total_rows" if with_total else ""
    sql = f"SELECT * FROM (SELECT c.*, {ratios}{total} FROM ({inner}) c) t ORDER BY {order}"
    sql += f" LIMIT {q.bind(int(limit), 'lim')} OFFSET {q.bind(int(offset), 'off')}"
    return _frame(q.execute(conn, sql), dates=["first_date", "last_date"])


def _order(sort: str, descending: bool) -> str:
    if sort not in CAMPAIGN_COLUMNS:
        raise ValueError(f"cannot sort by {sort!r}; choose one of {', '.join(CAMPAIGN_COLUMNS)}")
    direction = "DESC" if descending else "ASC"
    # NULL ratios last in both directions; campaign_id keeps pages stable.
    tiebreak = "" if sort == "campaign_id" else ", t.campaign_id ASC"
    return f"(t.{sort} IS NULL), t.{sort} {direction}{tiebreak}"


def campaign_table(engine: sa.Engine, f: Filters, *, sort: str = "cost", descending: bool = True,
                   page: int = 1, page_size: int = 25) -> tuple[pd.DataFrame, int]:
    """One page of campaigns matching the filter, and how many campaigns match in all.

    ``sort`` is one of ``CAMPAIGN_COLUMNS`` (ValueError otherwise); NULL ratios sort last in
    both directions, ties break by campaign_id. ``days`` counts days with data in the range.
    """
    order = _order(sort, descending)
    if page < 1 or page_size < 1:
        raise ValueError("page and page_size must be at least 1")
    with engine.connect() as conn:
        df = _campaign_frame(conn, f, order=order, limit=page_size,
                             offset=(page - 1) * page_size, with_total=True)
        if len(df):
            total = int(df["total_rows"].iloc[0])
        else:  # past the last page (or nothing matches): count separately
            q = _Q(conn.dialect.name)
            total = int(q.execute(conn, f"SELECT COUNT(*) FROM ({_campaign_select(q, f)}) c")
                        .scalar_one())
    return df[list(CAMPAIGN_COLUMNS)], total


DEFAULT_MIN_SHARE = 0.1


def top_campaigns(engine: sa.Engine, f: Filters, *, by: str = "roi", n: int = 5, worst: bool = False,
                  min_cost: float = 0.0, min_share: float = DEFAULT_MIN_SHARE) -> pd.DataFrame:
    """The ``n`` best (or worst) campaigns by ``by`` among those that spent enough to judge.

    A campaign qualifies when its cost in the range is at least ``min_cost`` AND at least
    ``min_share`` (default 10%) of the average cost per campaign in the filter, so that a
    campaign that spent $3 cannot top the list on a lucky sale. Pass ``min_share=0`` for an
    absolute floor only. Campaigns whose metric is undefined (zero denominator) are left out.
    "Best" is highest, except for ``cpc``/``cpa`` where it is lowest. Columns as
    ``campaign_table``.
    """
    if by not in CAMPAIGN_COLUMNS or by in ("campaign_id", "campaign_name", "channel"):
        raise ValueError(f"cannot rank by {by!r}")
    if n < 1:
        raise ValueError("n must be at least 1")
    descending = (by not in _LOWER_IS_BETTER) != worst
    direction = "DESC" if descending else "ASC"
    with engine.connect() as conn:
        # The floor needs the average over all campaigns: the per-campaign rows are a CTE
        # read twice.
        q = _Q(conn.dialect.name)
        inner = _campaign_select(q, f)
        ratios = ", ".join(_ratio_sql(r) for r in RATIOS)
        sql = (f"WITH t AS (SELECT c.*, {ratios} FROM ({inner}) c) SELECT * FROM t "
               f"WHERE t.{by} IS NOT NULL AND t.cost >= {q.bind(float(min_cost), 'min')} "
               f"AND t.cost >= {q.bind(float(min_share), 'share')} * "
               "(SELECT AVG(cost) FROM t AS t2) "
               f"ORDER BY t.{by} {direction}, t.campaign_id ASC LIMIT {q.bind(int(n), 'lim')}")
        df = _frame(q.execute(conn, sql), dates=["first_date", "last_date"])
    return df[list(CAMPAIGN_COLUMNS)]


def campaign_names(engine: sa.Engine, ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """(name, channel) of each campaign id, as of its newest month (from the monthly rollup:
    a few rows per campaign instead of one per day)."""
    ids = [str(i) for i in ids]
    if not ids:
        return {}
    t = sa.table("campaign_months", sa.column("campaign_id"), sa.column("campaign_name"),
                 sa.column("channel"), sa.column("month"))
    q = (sa.select(t.c.campaign_id, t.c.campaign_name, t.c.channel)
         .where(t.c.campaign_id.in_(ids)).order_by(t.c.month))
    with engine.connect() as conn:
        return {str(i): (str(n), str(c)) for i, n, c in conn.execute(q)}


def campaign_choices(engine: sa.Engine, f: Filters, *, limit: int = 200) -> list[tuple[str, str]]:
    """(campaign_id, "name (ID)") of the campaigns in the filter, biggest spend first."""
    with engine.connect() as conn:
        df = _campaign_frame(conn, f, order="t.cost DESC, t.campaign_id ASC", limit=limit)
    return [(cid, f"{name} ({cid})" if name else cid)
            for cid, name in zip(df["campaign_id"], df["campaign_name"], strict=True)]


_HISTORY_COLUMNS = ["date", *SUMS, "roi", "conversion_rate", "ctr", "cpc", "cpa"]


def campaign_history(engine: sa.Engine, campaign_id: str, start: dt.date | None = None,
                     end: dt.date | None = None) -> pd.DataFrame:
    """One row per day of one campaign (optionally within [start, end]), with its ratios."""
    with engine.connect() as conn:
        q = _Q(conn.dialect.name)
        where = f"campaign_id = {q.bind(campaign_id, 'id')}"
        if start is not None:
            where += f" AND date >= {q.bind(as_date(start), 'd')}"
        if end is not None:
            where += f" AND date <= {q.bind(as_date(end), 'd')}"
        df = _frame(q.execute(conn, (
            "SELECT date, " + ", ".join(_sum(s) for s in SUMS)
            + f" FROM campaigns WHERE {where} GROUP BY date ORDER BY date")),
            dates=["date"], ratios=["roi", "conversion_rate", "ctr", "cpc", "cpa"])
    return df[_HISTORY_COLUMNS]


# --------------------------------------------------------------------------------------------
# Data about the data

SUMMARY_TABLES = ("campaigns", "predictions", "recommendations", "alerts", "ml_dashboards",
                  "model_runs")


def date_span(engine: sa.Engine) -> tuple[dt.date, dt.date] | None:
    """First and last day with campaign data, or None when there is none."""
    with engine.connect() as conn:
        lo, hi = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM channel_days")).one()
    return None if lo is None else (as_date(lo), as_date(hi))


CURRENCY_KEY = "reporting_currency"


def reporting_currency(engine: sa.Engine) -> str:
    """The ISO code every amount in the database is in (``app_settings``; the demo world and a
    database that never said: USD)."""
    from demetra.format import DEFAULT_CURRENCY

    with engine.connect() as conn:
        saved = conn.execute(sa.text("SELECT value FROM app_settings WHERE key = :k"),
                             {"k": CURRENCY_KEY}).scalar()
    if isinstance(saved, str):  # a JSON column: SQLite hands back the text
        import json

        try:
            saved = json.loads(saved)
        except ValueError:
            saved = None
    code = saved.get("code") if isinstance(saved, dict) else None
    return str(code).upper() if code else DEFAULT_CURRENCY


def data_summary(engine: sa.Engine) -> dict[str, Any]:
    """What is in the database.

    ``{"tables": {table: row count for each of SUMMARY_TABLES}, "rows": campaign rows,
    "campaigns": distinct campaign ids, "first_date", "last_date": date | None,
    "channels": [channels present, in config order]}``.
    """
    with engine.connect() as conn:
        tables = {}
        for table in SUMMARY_TABLES:
            if table == "campaigns":
                # The rollup counts campaign-days exactly and is ~100x smaller than the table.
                sql = "SELECT CAST(COALESCE(SUM(campaign_days), 0) AS BIGINT) FROM channel_days"
            else:
                sql = f"SELECT COUNT(*) FROM {table}"
            tables[table] = int(conn.execute(sa.text(sql)).scalar_one())
        distinct = int(conn.execute(sa.text(
            "SELECT COUNT(DISTINCT campaign_id) FROM campaign_months")).scalar_one())
        lo, hi = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM channel_days")).one()
        present = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT channel FROM channel_days"))}
    return {"tables": tables, "rows": tables["campaigns"], "campaigns": distinct,
            "first_date": as_date(lo), "last_date": as_date(hi), "channels": ordered(present)}


# --------------------------------------------------------------------------------------------
# Export

EXPORT_COLUMNS = ("campaign_id", "campaign_name", "channel", "date", "cost", "clicks", "impressions",
                  "engagement", "conversions", "revenue", "conversion_rate", "roi")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str):
        # CSV injection: a spreadsheet would run a cell that starts like a formula.
        return "'" + value if value.startswith(_FORMULA_START) else value
    if isinstance(value, float):
        return repr(value)  # shortest round-tripping form
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def export_csv(engine: sa.Engine, f: Filters, *, chunk_rows: int = 50_000) -> Iterator[bytes]:
    """The filtered campaign rows as UTF-8 CSV, header first, one chunk per ``chunk_rows`` rows.

    Rows stream from a server-side cursor (PostgreSQL) / the SQLite cursor, so memory stays
    bounded whatever the size. Text cells starting with = + - @ (or tab / CR) get a leading '
    so spreadsheets show them instead of evaluating them.
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    yield buf.getvalue().encode("utf-8")
    with engine.connect() as conn:
        q = _Q(conn.dialect.name)
        where = f"date BETWEEN {q.bind(f.start, 'd')} AND {q.bind(f.end, 'd')}{q.channel_clause(f)}"
        if f.search:
            where += f" AND campaign_id IN ({_matching_ids(q, f)})"
        sql = (f"SELECT {', '.join(EXPORT_COLUMNS)} FROM campaigns WHERE {where} "
               "ORDER BY date, channel, campaign_id")
        result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(
            sa.text(sql), q.params)
        for rows in result.partitions(chunk_rows):
            buf.seek(0)
            buf.truncate()
            writer.writerows([_cell(v) for v in row] for row in rows)
            yield buf.getvalue().encode("utf-8")

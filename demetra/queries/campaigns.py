"""Reads per campaign: the sortable, paged table, the best and worst, the choices of a picker,
names by id and one campaign's daily history."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import pandas as pd
import sqlalchemy as sa

from demetra.errors import BadInput
from demetra.queries.filters import Filters, as_date
from demetra.queries.sql import _Q, RATIOS, SUMS, _campaign_select, _frame, _ratio_sql, _sum

__all__ = ["CAMPAIGN_COLUMNS", "DEFAULT_MIN_SHARE", "SOURCE_COLUMNS", "campaign_choices",
           "campaign_history", "campaign_names", "campaign_rows", "campaign_table",
           "top_campaigns"]

CAMPAIGN_COLUMNS = ("campaign_id", "campaign_name", "channel", "days", "cost", "revenue", "clicks",
                    "impressions", "conversions", "roi", "ctr", "conversion_rate", "cpc", "cpa",
                    "first_date", "last_date")
# campaign_table's rows also say what currency each campaign was imported in, at what rate.
SOURCE_COLUMNS = ("source_currency", "source_rate")
# For "best": higher is better, except for the cost-per metrics.
_LOWER_IS_BETTER = {"cpc", "cpa"}


def _campaign_frame(conn: sa.Connection, f: Filters, *, order: str, limit: int,
                    offset: int = 0, with_total: bool = False) -> pd.DataFrame:
    q = _Q(conn.dialect.name)
    inner = _campaign_select(q, f)
    ratios = ", ".join(_ratio_sql(r) for r in RATIOS)
    total = ", COUNT(*) OVER () AS total_rows" if with_total else ""
    # The currency each campaign was imported in and the rate it was converted at (NULL for
    # campaigns not imported: the demo world).
    sql = (f"SELECT * FROM (SELECT c.*, {ratios}{total}, s.currency AS source_currency, "
           f"s.exchange_rate AS source_rate FROM ({inner}) c "
           f"LEFT JOIN campaign_sources s ON s.campaign_id = c.campaign_id) t ORDER BY {order}")
    sql += f" LIMIT {q.bind(int(limit), 'lim')} OFFSET {q.bind(int(offset), 'off')}"
    return _frame(q.execute(conn, sql), dates=["first_date", "last_date"])


def _order(sort: str, descending: bool) -> str:
    if sort not in CAMPAIGN_COLUMNS:
        raise BadInput(f"cannot sort by {sort!r}; choose one of {', '.join(CAMPAIGN_COLUMNS)}")
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
    if page < 1 or page_size < 1:
        raise BadInput("page and page_size must be at least 1")
    return campaign_rows(engine, f, sort=sort, descending=descending, limit=page_size,
                         offset=(page - 1) * page_size)


def campaign_rows(engine: sa.Engine, f: Filters, *, sort: str = "cost", descending: bool = True,
                  limit: int = 25, offset: int = 0) -> tuple[pd.DataFrame, int]:
    """``campaign_table`` by ``limit`` and ``offset`` (the JSON API pages this way)."""
    order = _order(sort, descending)
    if limit < 1 or offset < 0:
        raise BadInput("limit must be at least 1 and offset at least 0")
    with engine.connect() as conn:
        df = _campaign_frame(conn, f, order=order, limit=limit, offset=offset, with_total=True)
        if len(df):
            total = int(df["total_rows"].iloc[0])
        else:  # past the last page (or nothing matches): count separately
            q = _Q(conn.dialect.name)
            total = int(q.execute(conn, f"SELECT COUNT(*) FROM ({_campaign_select(q, f)}) c")
                        .scalar_one())
    return df[[*CAMPAIGN_COLUMNS, *SOURCE_COLUMNS]], total


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
        raise BadInput(f"cannot rank by {by!r}")
    if n < 1:
        raise BadInput("n must be at least 1")
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
            "SELECT date, " + ", ".join(_sum(s, raw=True) for s in SUMS)
            + f" FROM campaigns WHERE {where} GROUP BY date ORDER BY date")),
            dates=["date"], ratios=["roi", "conversion_rate", "ctr", "cpc", "cpa"])
    return df[_HISTORY_COLUMNS]

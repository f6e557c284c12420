"""The pages' cached reads: ``st.cache_data`` over ``demetra.queries`` and the domain packages.

The cache key is the engine's URL (without the password) plus the arguments, through
``hash_funcs``. Never the ``_engine`` trick (an unhashed engine argument): two databases in one
process would then share entries, and one database's rows would be served for another.
``Filters`` hash by their ``repr``, so every field (including any added later) is in the key.
Writes call ``runtime.clear_caches()`` (or ``runtime.rerun_with``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import queries
from demetra.app.runtime import cache_ttl
from demetra.queries import Filters

CACHE_TTL = cache_ttl()

_HASH = {
    sa.Engine: lambda e: e.url.render_as_string(hide_password=True),
    Filters: repr,  # every field, including any added later
}


def _cached(max_entries: int = 256) -> Callable:
    return st.cache_data(ttl=CACHE_TTL, max_entries=max_entries, show_spinner=False,
                         hash_funcs=_HASH)


@_cached()
def kpis_with_delta(engine: sa.Engine, f: Filters) -> dict[str, queries.KpiDelta]:
    return queries.kpis_with_delta(engine, f)


@_cached()
def kpis(engine: sa.Engine, f: Filters) -> dict[str, Any]:
    return queries.kpis(engine, f)


@_cached()
def trend(engine: sa.Engine, f: Filters, grain: str = "auto") -> pd.DataFrame:
    return queries.trend(engine, f, grain)


@_cached()
def channel_breakdown(engine: sa.Engine, f: Filters) -> pd.DataFrame:
    return queries.channel_breakdown(engine, f)


@_cached()
def campaign_table(engine: sa.Engine, f: Filters, sort: str = "cost", descending: bool = True,
                   page: int = 1, page_size: int = 25) -> tuple[pd.DataFrame, int]:
    return queries.campaign_table(engine, f, sort=sort, descending=descending, page=page,
                                  page_size=page_size)


@_cached()
def top_campaigns(engine: sa.Engine, f: Filters, by: str = "roi", n: int = 5,
                  worst: bool = False) -> pd.DataFrame:
    return queries.top_campaigns(engine, f, by=by, n=n, worst=worst)


@_cached()
def campaign_history(engine: sa.Engine, campaign_id: str, start: dt.date | None = None,
                     end: dt.date | None = None) -> pd.DataFrame:
    return queries.campaign_history(engine, campaign_id, start, end)


@_cached(64)
def campaign_choices(engine: sa.Engine, f: Filters, limit: int = 200) -> list[tuple[str, str]]:
    return queries.campaign_choices(engine, f, limit=limit)


@_cached(16)
def date_span(engine: sa.Engine) -> tuple[dt.date, dt.date] | None:
    return queries.date_span(engine)


@_cached(16)
def data_summary(engine: sa.Engine) -> dict[str, Any]:
    return queries.data_summary(engine)


@_cached(16)
def reporting_currency(engine: sa.Engine) -> str:
    """The ISO code the stored amounts are in: every money figure on a page is written in it."""
    return queries.reporting_currency(engine)


@_cached(16)
def database_currency(engine: sa.Engine) -> str | None:
    """The currency the database has settled on for imports (None: an empty database that
    never said): a file in another one needs an exchange rate."""
    from demetra.ingest.currency import database_currency

    return database_currency(engine)


@_cached(16)
def budget_curves(engine: sa.Engine, end: dt.date, window_days: int) -> Any:
    from demetra.budget import fit_curves

    return fit_curves(engine, end=end, window_days=window_days)


@_cached(32)
def campaign_curves(engine: sa.Engine, channel: str, end: dt.date, window_days: int) -> Any:
    from demetra.budget import fit_campaign_curves

    return fit_campaign_curves(engine, channel, end=end, window_days=window_days)


@_cached(16)
def seed_truth(engine: sa.Engine) -> dict[str, Any] | None:
    from demetra.seed import load_truth

    return load_truth(engine)


# The gallery's reads carry ``gallery.stamp`` in their key, not a clear after each write: the
# worker saves charts from another process, and a save here need not forget the KPIs.
@_cached(4)
def saved_charts(engine: sa.Engine, stamp: tuple[int, int]) -> pd.DataFrame:
    from demetra.charts import gallery

    return gallery.list_charts(engine)


@_cached(8)
def chart_image(engine: sa.Engine, chart_id: int, stamp: tuple[int, int]) -> bytes | None:
    from demetra.charts import gallery

    return gallery.chart_image(engine, chart_id)

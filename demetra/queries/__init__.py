"""Every read the pages need, aggregated in the database with bound parameters.

Nothing here loads a table into Python: each function sends one or two aggregate statements
and gets back at most one row per campaign, per channel or per (period, channel).

Where things are
----------------
* ``filters``: ``Filters`` (what the sidebar selects), the periods it offers (``PRESETS``,
  ``preset_range``), ``as_date``, and the same choice in a URL (``read_link``,
  ``link_params``, ``LINK_KEYS``).
* ``kpi``: the totals of a filter: ``kpis``, ``kpis_with_delta``, ``trend``,
  ``channel_breakdown``; ``why_missing`` says why a figure is None; ``KPI_FIGURES`` names
  each KPI and how it is written.
* ``campaigns``: per campaign: ``campaign_table`` (by page) and ``campaign_rows`` (by limit
  and offset), ``top_campaigns``, ``campaign_choices``, ``campaign_names``,
  ``campaign_history``.
* ``summary``: data about the data: ``date_span``, ``data_summary``, ``channels_present``,
  ``reporting_currency``.
* ``export``: ``export_csv``, the filtered rows as CSV.
* ``sql``: the statement building they share, and where the numbers come from (which rollup
  serves which read, measured at 1M rows); ``records`` turns a result frame into plain rows.

Import the names from here (``from demetra.queries import Filters, kpis``); the submodules are
the layout, this package is the interface.

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

from demetra.queries.campaigns import (
    CAMPAIGN_COLUMNS,
    DEFAULT_MIN_SHARE,
    SOURCE_COLUMNS,
    campaign_choices,
    campaign_history,
    campaign_names,
    campaign_rows,
    campaign_table,
    top_campaigns,
)
from demetra.queries.export import EXPORT_COLUMNS, export_csv
from demetra.queries.filters import (
    DEFAULT_PRESET,
    LINK_KEYS,
    PRESETS,
    FilterLink,
    Filters,
    as_date,
    link_params,
    preset_range,
    read_link,
)
from demetra.queries.kpi import (
    KPI_FIGURES,
    KPI_KEYS,
    KpiDelta,
    KpiFigure,
    channel_breakdown,
    kpis,
    kpis_with_delta,
    resolve_grain,
    trend,
    why_missing,
)
from demetra.queries.sql import records
from demetra.queries.summary import (
    CURRENCY_KEY,
    SUMMARY_TABLES,
    channels_present,
    data_summary,
    date_span,
    reporting_currency,
)

__all__ = [
    "CAMPAIGN_COLUMNS", "CURRENCY_KEY", "DEFAULT_MIN_SHARE", "DEFAULT_PRESET", "EXPORT_COLUMNS",
    "FilterLink", "Filters", "KPI_FIGURES", "KPI_KEYS", "KpiDelta", "KpiFigure", "LINK_KEYS",
    "PRESETS", "SOURCE_COLUMNS", "SUMMARY_TABLES", "as_date", "campaign_choices",
    "campaign_history", "campaign_names", "campaign_rows", "campaign_table", "channel_breakdown",
    "channels_present", "data_summary", "date_span", "export_csv", "kpis", "kpis_with_delta",
    "link_params", "preset_range", "read_link", "records", "reporting_currency", "resolve_grain",
    "top_campaigns", "trend", "why_missing",
]

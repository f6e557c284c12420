"""Everything the pages share, and the only module that imports Streamlit.

* settings (environment first, then ``st.secrets``) and the process-wide engine
  (``st.cache_resource``, keyed by URL; ``make_engine`` migrates it);
* cached wrappers around ``demetra.queries`` (``st.cache_data`` keyed by the engine's URL,
  never the ``_engine`` trick, which serves one database's rows for another);
* the shared sidebar filters (date presets relative to the data's last day, channels);
* formatting helpers: money, rates, ROI, with "—" for undefined values;
* shared building blocks: page header, KPI cards, table column configs, empty state,
  demo-data loader, CSV download.

Pages (``app_pages/*.py``) only lay these out.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any, NoReturn

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import charts, queries
from demetra import format as fmt
from demetra.channels import channel_label
from demetra.config import CHANNEL_LABELS, CHANNELS, Settings, SettingsError, load_settings
from demetra.db.engine import DatabaseUnavailable, make_engine, normalize_url, safe_url
from demetra.queries import Filters

CURRENCY = fmt.DEFAULT_CURRENCY
DASH = fmt.DASH
is_missing = fmt.is_missing


def fmt_money(value: Any, decimals: int | None = None) -> str:
    return fmt.money(value, CURRENCY, decimals=decimals)


fmt_pct = fmt.pct
fmt_roi = fmt.roi
fmt_count = fmt.count
fmt_change = fmt.change
fmt_date = fmt.date
fmt_date_range = fmt.date_range


def describe_filters(f: Filters) -> str:
    """The active filter in words, for captions: dates, length, channels, search."""
    days = f"{f.days} day" + ("" if f.days == 1 else "s")
    channels = ", ".join(channel_label(c) for c in f.channels) if f.channels else "All channels"
    text = f"{fmt_date_range(f.start, f.end)} ({days}) · {channels}"
    if f.search:
        text += f" · matching “{f.search}”"
    return text


# --------------------------------------------------------------------------------------------
# Settings and engine


def _secrets(*, report: bool = False) -> Mapping[str, Any]:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError as exc:
        # StreamlitSecretNotFoundError: no secrets.toml anywhere (fine: env and defaults), or
        # one that is not valid TOML (say so rather than silently ignoring it).
        if report and "pars" in str(exc).lower():
            _fatal("`.streamlit/secrets.toml` is not valid TOML",
                   f"{exc}\n\nFix the file (see `.streamlit/secrets.toml.example`), then reload.")
        return {}


def settings() -> Settings:
    """Settings from the environment, then ``st.secrets``; a bad value stops the page."""
    try:
        return load_settings(secrets=_secrets(report=True))
    except SettingsError as exc:
        _fatal("A setting has a value Demetra cannot use",
               f"{exc}.\n\nFix it in the environment or in `.streamlit/secrets.toml` "
               "(see `.streamlit/secrets.toml.example`), then reload the page.")


def _cache_ttl() -> int:
    try:
        return load_settings(secrets=_secrets()).cache_ttl_seconds
    except Exception:  # a bad value is reported by settings() on the page itself
        return 300


CACHE_TTL = _cache_ttl()


def _fatal(title: str, body: str) -> NoReturn:
    st.error(f"**{title}**\n\n{body}", icon=":material/error:")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises; keeps type checkers honest


@st.cache_resource(show_spinner="Connecting to the database…", max_entries=4,
                   on_release=lambda engine: engine.dispose())
def _engine_for(url: str) -> sa.Engine:
    # One engine per URL per process, shared by every session; migrated on creation.
    return make_engine(url)


def get_engine() -> sa.Engine:
    """The engine for DATABASE_URL; on any problem an error that names the target (never its
    password) and says what to check, then the page stops."""
    url_text = settings().database_url
    try:
        url = normalize_url(url_text)
    except SettingsError as exc:
        _fatal("DATABASE_URL is malformed",
               f"{exc}.\n\nSet DATABASE_URL in the environment or in `.streamlit/secrets.toml`, "
               "then reload the page.")
    shown = url.render_as_string(hide_password=True)
    try:
        return _engine_for(url.render_as_string(hide_password=False))
    except DatabaseUnavailable as exc:
        _fatal("Cannot connect to the database",
               f"{exc}\n\nDatabase in use: `{shown}` (from DATABASE_URL).")
    except OSError as exc:
        _fatal("Cannot open the database",
               f"`{shown}`: {exc.strerror or type(exc).__name__}. Check that the folder exists "
               "and is writable, or point DATABASE_URL at another location.")
    except sa.exc.SQLAlchemyError as exc:
        _fatal("The database could not be prepared",
               f"Bringing the schema of `{shown}` up to date failed ({type(exc).__name__}). "
               "Check that the user may create tables there, or run `python -m demetra migrate` "
               "to see the full error.")


@contextlib.contextmanager
def database_errors(engine: sa.Engine) -> Iterator[None]:
    """Turn a database that stops answering mid-session into a message instead of a traceback
    (st.stop / st.rerun pass through: they are not database errors)."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        detail = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()[0]
        if engine.url.password:
            detail = detail.replace(str(engine.url.password), "***")
        _fatal("The database stopped answering",
               f"`{safe_url(engine.url)}`: {detail[:200]}.\n\nCheck that the server is running "
               "and reachable, then reload the page.")


def backend_name(engine: sa.Engine) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(engine.dialect.name,
                                                                 engine.dialect.name)


# --------------------------------------------------------------------------------------------
# Cached queries. The cache key is the engine's URL (without the password) plus the arguments.

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


def clear_caches() -> None:
    """Forget every cached query result: call after anything writes to the database."""
    st.cache_data.clear()


# --------------------------------------------------------------------------------------------
# Shared sidebar filters

PRESETS = ("Last 7 days", "Last 30 days", "Last 90 days", "This month", "All time", "Custom")
DEFAULT_PRESET = "Last 30 days"
_PRESET_DAYS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}

KEY_PRESET, KEY_CUSTOM, KEY_CHANNELS, KEY_ACTIVE = ("flt_period", "flt_custom", "flt_channels",
                                                    "flt_active")


def preset_range(preset: str, first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The dates a preset stands for, counted back from the data's last day (not today, so an
    old import still shows), never before the data's first day."""
    if preset in _PRESET_DAYS:
        start = last - dt.timedelta(days=_PRESET_DAYS[preset] - 1)
    elif preset == "This month":
        start = last.replace(day=1)
    else:  # All time (and the default of Custom)
        start = first
    return max(start, first), last


def _custom_range(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    default = preset_range(DEFAULT_PRESET, first, last)
    value = st.session_state.get(KEY_CUSTOM)
    if isinstance(value, list | tuple) and value:
        # After loading other data the old range may fall outside the new span: clamp it
        # (keeping a half-picked range half-picked).
        clamped = tuple(min(max(d, first), last) for d in value)
        if clamped != tuple(value):
            st.session_state[KEY_CUSTOM] = clamped
    else:
        st.session_state[KEY_CUSTOM] = default
    picked = st.date_input("Dates", key=KEY_CUSTOM, min_value=first, max_value=last,
                           format="YYYY-MM-DD", help="Pick the first and the last day")
    if isinstance(picked, list | tuple):
        if len(picked) == 0:
            return default
        # While the second click is pending the range has one day.
        return picked[0], picked[-1]
    return picked, picked


def sidebar_filters(engine: sa.Engine) -> Filters | None:
    """Draw the shared filters in the sidebar and return them (None: no data yet).

    The widgets live in the entry script, so their keys hold across pages.
    """
    span = date_span(engine)
    with st.sidebar:
        if span is None:
            st.session_state[KEY_ACTIVE] = None
            st.caption(":material/info: No campaign data yet. Load the demo world on any page.")
            return None
        first, last = span
        st.markdown("**Filters**")
        st.session_state.setdefault(KEY_PRESET, DEFAULT_PRESET)
        preset = st.selectbox("Period", PRESETS, key=KEY_PRESET,
                              help=f"Counted back from the last day with data ({fmt_date(last)})")
        if preset == "Custom":
            start, end = _custom_range(first, last)
        else:
            start, end = preset_range(preset, first, last)
        options = list(CHANNELS) + [c for c in data_summary(engine)["channels"] if c not in CHANNELS]
        chosen = [c for c in st.session_state.get(KEY_CHANNELS, []) if c in options]
        st.session_state[KEY_CHANNELS] = chosen
        channels = st.multiselect("Channels", options, key=KEY_CHANNELS, format_func=channel_label,
                                  placeholder="All channels")
        f = Filters(start, end, tuple(channels))
        st.caption(f":material/calendar_month: {fmt_date_range(start, end)} · {f.days} days")
        st.divider()
        st.caption(f":material/database: {backend_name(engine)} · data from "
                   f"{fmt_date_range(first, last)}")
    st.session_state[KEY_ACTIVE] = f
    return f


def active_filters() -> Filters | None:
    """The filters the sidebar set in this run (None when the database has no data)."""
    return st.session_state.get(KEY_ACTIVE)


# --------------------------------------------------------------------------------------------
# Page building blocks

_MARK = ('<rect x="0" y="2" width="36" height="36" rx="9" fill="#0F766E"/>'
         '<rect x="8" y="22" width="5" height="10" rx="1.5" fill="#fff" fill-opacity=".7"/>'
         '<rect x="15.5" y="16" width="5" height="16" rx="1.5" fill="#fff" fill-opacity=".85"/>'
         '<rect x="23" y="9" width="5" height="23" rx="1.5" fill="#fff"/>')
LOGO = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 150 40" width="150" height="40">'
        + _MARK + '<text x="46" y="28.5" font-family="Source Sans Pro, Segoe UI, Helvetica, '
        'Arial, sans-serif" font-size="23" font-weight="700" fill="#1F2937">Demetra</text></svg>')
ICON = ('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 36 40" width="36" height="40">'
        + _MARK + "</svg>")


def logo() -> None:
    st.logo(LOGO, size="large", icon_image=ICON)



def page_header(title: str, f: Filters | None, icon: str | None = None,
                subtitle: str | None = None) -> None:
    st.title(f"{icon} {title}" if icon else title, anchor=False)
    if f is not None:
        st.caption(f":material/filter_alt: {describe_filters(f)}"
                   + (f" · {subtitle}" if subtitle else ""))
    elif subtitle:
        st.caption(subtitle)


def flash() -> None:
    """Show (once) the message a write left for the next run."""
    message = st.session_state.pop("_flash", None)
    if message:
        st.toast(message, icon=":material/check_circle:")


# label, KPI key, formatter, delta colour (cost-type metrics: a rise is bad)
KPI_CARDS: tuple[tuple[str, str, Callable[[Any], str], str, str], ...] = (
    ("Spend", "cost", fmt_money, "off", "Total ad spend in the period"),
    ("Revenue", "revenue", fmt_money, "normal", "Conversion value reported by the platforms"),
    ("ROI", "roi", fmt_roi, "normal", "Revenue ÷ spend; 1.00× is break-even"),
    ("Conversions", "conversions", fmt_count, "normal", "Conversions (platforms report fractions)"),
    ("CTR", "ctr", fmt_pct, "normal", "Clicks ÷ impressions"),
    ("Conversion rate", "conversion_rate", fmt_pct, "normal", "Conversions ÷ clicks"),
    ("CPC", "cpc", lambda v: fmt_money(v, 2), "inverse", "Cost per click: spend ÷ clicks"),
    ("CPA", "cpa", lambda v: fmt_money(v, 2), "inverse", "Cost per acquisition: spend ÷ conversions"),
)
_RATIO_PARTS = {"roi": ("revenue", "cost"), "ctr": ("clicks", "impressions"),
                "conversion_rate": ("conversions", "clicks"), "cpc": ("cost", "clicks"),
                "cpa": ("cost", "conversions")}


def _sparklines(trend_df: pd.DataFrame) -> dict[str, list[float | None]]:
    """Per-period series of each KPI for the cards' sparklines (ratios of per-period sums)."""
    if trend_df.empty:
        return {}
    sums = trend_df.groupby("period", sort=True)[
        ["cost", "revenue", "clicks", "impressions", "conversions"]].sum()
    out: dict[str, list[float | None]] = {k: sums[k].astype(float).tolist()
                                          for k in ("cost", "revenue", "conversions")}
    for key, (num, den) in _RATIO_PARTS.items():
        ratio = sums[num].astype(float) / sums[den].astype(float).where(sums[den] != 0)
        # A period with a zero denominator has no point (st.metric's chart takes numbers only;
        # imported data has such days, the demo world rarely does).
        out[key] = [float(v) for v in ratio if not is_missing(v)]
    return out


def kpi_cards(engine: sa.Engine, f: Filters) -> None:
    """Eight KPI cards in two rows, each with its change against the previous period."""
    values = kpis_with_delta(engine, f)
    prev = f.previous()
    spark = _sparklines(trend(engine, f))
    description = f"vs. prior {f.days} days"
    for row in (KPI_CARDS[:4], KPI_CARDS[4:]):
        for col, (label, key, show, colour, help_text) in zip(st.columns(len(row)), row, strict=True):
            kd = values[key]
            with col:
                st.metric(
                    label, show(kd.value), delta=fmt_change(kd.change), delta_color=colour,
                    delta_description=description if kd.change is not None else None,
                    help=f"{help_text}. Previous period ({fmt_date_range(prev.start, prev.end)}): "
                         f"{show(kd.previous)}.",
                    border=True, chart_data=spark.get(key) if len(spark.get(key, [])) > 1 else None,
                    chart_type="area" if key in ("cost", "revenue", "conversions") else "line",
                )


def _money_col(label: str, cents: bool = False, help: str | None = None) -> Any:
    return st.column_config.NumberColumn(label, format="dollar", step=0.01 if cents else 1,
                                         help=help)


def campaign_column_config() -> dict[str, Any]:
    cc = st.column_config
    return {
        "campaign_name": cc.TextColumn("Campaign", width="medium"),
        "campaign_id": cc.TextColumn("ID"),
        "channel": cc.TextColumn("Channel"),
        "days": cc.NumberColumn("Days", format="%d", help="Days with data in the range"),
        "cost": _money_col("Spend"),
        "revenue": _money_col("Revenue"),
        "roi": cc.NumberColumn("ROI", format="%.2f×", help="Revenue ÷ spend; 1.00× is break-even"),
        "conversions": cc.NumberColumn("Conv.", format="localized", help="Conversions"),
        "clicks": cc.NumberColumn("Clicks", format="localized"),
        "impressions": cc.NumberColumn("Impr.", format="compact", help="Impressions"),
        # Rates arrive as percentage points (for_display), so every row shows two decimals.
        "ctr": cc.NumberColumn("CTR", format="%.2f%%", help="Clicks ÷ impressions"),
        "conversion_rate": cc.NumberColumn("Conv. rate", format="%.2f%%",
                                           help="Conversions ÷ clicks"),
        "cpc": _money_col("CPC", cents=True, help="Spend ÷ clicks"),
        "cpa": _money_col("CPA", cents=True, help="Spend ÷ conversions"),
        "first_date": cc.DateColumn("First day", format="MMM D"),
        "last_date": cc.DateColumn("Last day", format="MMM D"),
        "share_of_cost": cc.ProgressColumn("Share of spend", format="percent", min_value=0,
                                           max_value=1),
        "campaigns": cc.NumberColumn("Campaigns", format="%d"),
    }


def for_display(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns a table shows, with channel labels and whole conversions."""
    out = df[columns].copy()
    if "channel" in out:
        out["channel"] = out["channel"].map(channel_label)
    if "conversions" in out:
        out["conversions"] = out["conversions"].round(0)
    # The table truncates to the column's step; round here so it agrees with the KPI cards.
    for money in ("cost", "revenue"):
        if money in out:
            out[money] = out[money].round(0)
    for rate in ("ctr", "conversion_rate"):
        if rate in out:
            out[rate] = out[rate] * 100
    return out


def table(df: pd.DataFrame, columns: list[str], *, height: int | str = "auto",
          key: str | None = None, wide_names: bool = False) -> None:
    if df.empty:
        st.caption("Nothing to show for this selection.")
        return
    config = campaign_column_config()
    if wide_names:
        config["campaign_name"] = st.column_config.TextColumn("Campaign", width="large")
    st.dataframe(for_display(df, columns), column_config=config, hide_index=True,
                 width="stretch", height=height, key=key)


# --------------------------------------------------------------------------------------------
# Empty state, demo data, download


def load_demo(engine: sa.Engine, *, replace: bool = False, campaigns: int | None = None,
              days: int | None = None) -> None:
    """Load the demo world with a progress bar, then clear the caches and rerun."""
    from demetra.seed import DEFAULT_CAMPAIGNS, DEFAULT_DAYS, SeedRefused, seed_database

    campaigns = campaigns or DEFAULT_CAMPAIGNS
    days = days or DEFAULT_DAYS
    with st.status(f"Loading the demo world ({campaigns} campaigns × {days} days)…",
                   expanded=True) as status:
        bar = st.progress(0.0, text="Starting")

        def progress(fraction: float, text: str) -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

        try:
            report = seed_database(engine, campaigns=campaigns, days=days, replace=replace,
                                   progress=progress)
        except SeedRefused as exc:
            status.update(label="Nothing was loaded", state="error")
            st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}. Tick “Replace the existing data” "
                     "on the Data page to load the demo world instead.")
            return
        except sa.exc.SQLAlchemyError as exc:
            status.update(label="Nothing was loaded", state="error")
            st.error(f"Writing to {safe_url(engine.url)} failed ({type(exc).__name__}); the "
                     "database is unchanged. Check that it is writable and has free space.")
            return
        status.update(label=f"Loaded {report.rows:,} rows", state="complete")
    clear_caches()
    st.session_state["_flash"] = (f"Demo world loaded: {report.rows:,} rows, {report.campaigns} "
                                  f"campaigns, {fmt_date_range(report.start, report.end)}.")
    st.rerun()


def empty_state(engine: sa.Engine) -> NoReturn:
    """The page for a database without campaign data: say so and offer the demo world."""
    with st.container(border=True):
        st.subheader(":material/rocket_launch: No campaign data yet", anchor=False)
        st.markdown(
            f"Demetra is connected to **{backend_name(engine)}** (`{safe_url(engine.url)}`), "
            "but it holds no campaign rows yet.\n\n"
            "Load the **demo world** to look around: 50 campaigns on six channels over the last "
            "90 days, with realistic seasonality, diminishing returns and a few injected "
            "incidents. Or point `DATABASE_URL` at a database that has your data.")
        if st.button("Load demo data", type="primary", icon=":material/play_arrow:",
                     key="empty_load_demo"):
            load_demo(engine)
    st.stop()
    raise AssertionError("unreachable")


def require_filters(engine: sa.Engine) -> Filters:
    """The active filters, or the empty state (and stop) when there is no data."""
    f = active_filters()
    if f is None:
        empty_state(engine)
    return f


def csv_file_name(f: Filters) -> str:
    channels = "-".join(f.channels) if f.channels else "all-channels"
    if len(channels) > 60:
        channels = f"{len(f.channels)}-channels"
    return f"demetra_campaigns_{f.start.isoformat()}_{f.end.isoformat()}_{channels}.csv"


def csv_export(engine: sa.Engine, f: Filters) -> Callable[[], IO[bytes]]:
    """A callable for ``st.download_button``: runs only when clicked, streams the rows to a
    temporary file chunk by chunk, and hands Streamlit the open file (it reads it once)."""

    def build() -> IO[bytes]:
        with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False) as tmp:
            for chunk in queries.export_csv(engine, f):
                tmp.write(chunk)
        handle = open(tmp.name, "rb")  # Streamlit reads it once and drops it
        os.unlink(tmp.name)  # the open handle keeps the data until it is closed
        return handle

    return build


def with_search(f: Filters, search: str) -> Filters:
    return dataclasses.replace(f, search=search or "")


def ranking_note(engine: sa.Engine, f: Filters) -> str:
    """Which campaigns the best/worst lists consider (the minimum-spend guard), in words."""
    k = kpis(engine, f)
    share = queries.DEFAULT_MIN_SHARE
    if not k["campaigns"]:
        return "No campaigns ran in this period."
    floor = k["cost"] / k["campaigns"] * share
    return (f"Only campaigns that spent at least {fmt_money(floor)} in the period "
            f"({share:.0%} of the average campaign's spend) are ranked, so a lucky sale on a "
            "tiny budget cannot top the list.")


# --------------------------------------------------------------------------------------------
# Campaigns page state (page widget keys are dropped when the user navigates away, so the
# values that should survive are mirrored to plain keys)

SORTS: dict[str, str] = {
    "cost": "Spend", "revenue": "Revenue", "roi": "ROI", "conversions": "Conversions",
    "cpa": "CPA", "cpc": "CPC", "ctr": "CTR", "conversion_rate": "Conversion rate",
    "clicks": "Clicks", "campaign_name": "Name",
}
PAGE_SIZES = (25, 50, 100)


def remember(widget_key: str, store_key: str, *, reset_page: bool = True) -> Callable[[], None]:
    """An on_change callback that mirrors a page widget into a key that survives navigation."""

    def callback() -> None:
        st.session_state[store_key] = st.session_state[widget_key]
        if reset_page:
            st.session_state["cmp_page"] = 1

    return callback


def restore(widget_key: str, store_key: str, default: Any) -> None:
    """Put the remembered value back into a page widget's key before it is drawn."""
    if widget_key not in st.session_state:
        st.session_state[widget_key] = st.session_state.get(store_key, default)


def set_page(page: int) -> None:
    st.session_state["cmp_page"] = max(1, int(page))


def campaign_kpis(history: pd.DataFrame) -> None:
    """KPI cards for one campaign's days in the range (ratios of the summed days)."""
    cost, revenue = float(history["cost"].sum()), float(history["revenue"].sum())
    conversions, clicks = float(history["conversions"].sum()), int(history["clicks"].sum())
    impressions = int(history["impressions"].sum())
    cards = (
        ("Spend", fmt_money(cost)),
        ("Revenue", fmt_money(revenue)),
        ("ROI", fmt_roi(revenue / cost if cost else None)),
        ("Conversions", fmt_count(conversions)),
        ("CPA", fmt_money(cost / conversions if conversions else None, 2)),
        ("CPC", fmt_money(cost / clicks if clicks else None, 2)),
        ("CTR", fmt_pct(clicks / impressions if impressions else None)),
        ("Conversion rate", fmt_pct(conversions / clicks if clicks else None)),
    )
    for row in (cards[:4], cards[4:]):
        for col, (label, value) in zip(st.columns(len(row)), row, strict=True):
            col.metric(label, value, border=True)


TABLE_LABELS = {
    "campaigns": "Campaign rows (campaign × day)", "predictions": "ROI predictions",
    "recommendations": "Recommendations", "alerts": "Alerts", "ml_dashboards": "Saved charts",
    "model_runs": "Model trainings",
}


def database_overview(engine: sa.Engine) -> dict[str, Any]:
    """The Data page's "what is in the database" panel; returns the summary it showed."""
    summary = data_summary(engine)
    first, last = summary["first_date"], summary["last_date"]
    cols = st.columns(4)
    cols[0].metric("Backend", backend_name(engine), border=True)
    cols[1].metric("Campaign rows", fmt_count(summary["rows"]), border=True,
                   help="One row per campaign per day")
    cols[2].metric("Campaigns", fmt_count(summary["campaigns"]), border=True)
    cols[3].metric("Days covered", fmt_count((last - first).days + 1) if first else DASH,
                   border=True,
                   help=f"{fmt_date_range(first, last)}" if first else "No data yet")
    left, right = st.columns([1, 1])
    with left:
        counts = pd.DataFrame({"Table": [TABLE_LABELS.get(t, t) for t in summary["tables"]],
                               "Rows": list(summary["tables"].values())})
        st.dataframe(counts, hide_index=True, width="stretch",
                     column_config={"Rows": st.column_config.NumberColumn(format="localized")})
    with right:
        st.markdown(f"**Database in use:** `{safe_url(engine.url)}`")
        st.caption("Set by DATABASE_URL in the environment or `.streamlit/secrets.toml`.")
        st.markdown(f"**Date span:** {fmt_date_range(first, last) if first else DASH}")
        labels = [channel_label(c) for c in summary["channels"]]
        st.markdown("**Channels:** " + (" ".join(f":primary-badge[{x}]" for x in labels)
                                        if labels else DASH))
    return summary


def demo_loader(engine: sa.Engine, rows: int) -> None:
    """Load the demo world from the Data page: a size choice, and a confirmation to replace
    existing data."""
    from demetra.seed import DEFAULT_CAMPAIGNS, DEFAULT_DAYS

    a, b, _ = st.columns([1, 1, 2])
    campaigns = a.number_input("Campaigns", min_value=1, max_value=5000, value=DEFAULT_CAMPAIGNS,
                               step=10, key="data_demo_campaigns")
    days = b.number_input("Days (ending today)", min_value=1, max_value=1095, value=DEFAULT_DAYS,
                          step=30, key="data_demo_days")
    replace = False
    if rows:
        st.warning(f"The database already holds {rows:,} campaign rows. Loading the demo world "
                   "deletes them, with their predictions, alerts, recommendations and saved "
                   "charts.", icon=":material/warning:")
        replace = st.checkbox("Replace the existing data", key="data_replace")
    if st.button("Load demo data", type="primary", icon=":material/play_arrow:",
                 key="data_load_demo", disabled=bool(rows) and not replace):
        load_demo(engine, replace=replace, campaigns=int(campaigns), days=int(days))


# --------------------------------------------------------------------------------------------
# Alerts

SEVERITY_BADGES = {"critical": ":red-badge[Critical]", "high": ":orange-badge[High]",
                   "medium": ":yellow-badge[Medium]", "low": ":gray-badge[Low]"}
ALERT_TYPE_LABELS = {"roi_drop": "ROI drop", "cost_spike": "Cost spike",
                     "low_conversion": "Low conversion", "anomaly": "Anomaly",
                     "system": "System"}
ALERT_COLUMNS = {
    "Read": st.column_config.CheckboxColumn("Read", width="small"),
    "Severity": st.column_config.TextColumn("Severity", width="small"),
    "What happened": st.column_config.TextColumn("What happened", width="large"),
    "At stake": st.column_config.NumberColumn(
        "At stake", format=f"{fmt.currency_prefix(CURRENCY)}%,.0f",
        help="Money the incident cost: revenue below baseline, or spend above it"),
    "From": st.column_config.DateColumn("From", format="MMM D"),
    "Last seen": st.column_config.DateColumn("Last seen", format="MMM D"),
}


def alert_type_label(kind: str) -> str:
    return ALERT_TYPE_LABELS.get(kind, kind)


def alerts_for_display(df: pd.DataFrame) -> pd.DataFrame:
    """The alert list as the table shows it: badges, labels, money."""
    return pd.DataFrame({
        "Read": df["is_read"],
        "Severity": df["severity"].str.capitalize(),
        "Type": df["alert_type"].map(alert_type_label),
        "Channel": df["channel"].map(lambda c: channel_label(c) if isinstance(c, str) else DASH),
        "What happened": df["message"],
        "At stake": df["money_at_stake"],
        "From": df["date"],
        "Last seen": df["last_seen"],
        "Status": df["status"].str.capitalize(),
    })


def open_system_alerts(engine: sa.Engine) -> pd.DataFrame:
    from demetra import alerts

    return alerts.list_alerts(engine, alerts.AlertFilter(types=("system",), unread_only=True,
                                                         status="open"), limit=3)


def alerts_page_title(engine: sa.Engine) -> str:
    """"Alerts (3)" while there are unread alerts: the count shows in the navigation."""
    from demetra import alerts

    with database_errors(engine):
        n = alerts.unread_count(engine)
    return f"Alerts ({n:,})" if n else "Alerts"


# --------------------------------------------------------------------------------------------
# Predictions

RISK_BADGES = {"high": ":red-badge[High]", "medium": ":orange-badge[Medium]",
               "low": ":green-badge[Low]"}
RISK_WORDS = {"high": "High", "medium": "Medium", "low": "Low"}
FORECASTER_LABELS = {"model": "Demetra model", "trailing_28d_roi": "Trailing 28-day ROI",
                     "trailing_7d_roi": "Trailing 7-day ROI",
                     "channel_28d_roi": "Channel 28-day ROI"}
KEY_TRAINING = "prd_training"
PREDICTION_COLUMNS = {
    "Campaign": st.column_config.TextColumn("Campaign", width="medium"),
    "Forecast ROI": st.column_config.NumberColumn(
        "Forecast ROI", format="%.2f×", help="Point forecast of ROI over the horizon"),
    "P10": st.column_config.NumberColumn("P10", format="%.2f×",
                                         help="ROI is below this with 10% probability"),
    "P90": st.column_config.NumberColumn("P90", format="%.2f×",
                                         help="ROI is below this with 90% probability"),
    "P(loss)": st.column_config.ProgressColumn(
        "P(loss)", format="percent", min_value=0, max_value=1,
        help="Probability that ROI over the horizon is below 1.00× (spend not recovered)"),
    # Coloured labels without a pandas Styler (which cost 0.3 s at 2,000 rows): a read-only
    # multiselect column of one option per cell.
    "Risk": st.column_config.MultiselectColumn("Risk", width="small",
                                               options=["High", "Medium", "Low"],
                                               color=["#B91C1C", "#B45309", "#15803D"]),
}


@st.cache_resource
def _training_lock() -> Any:
    # One per process: two sessions (or two clicks) must never train at the same time.
    import threading

    return threading.Lock()


def training_running() -> bool:
    return _training_lock().locked()


def latest_model_run(engine: sa.Engine) -> dict[str, Any] | None:
    """The newest usable (ok or stale) training: id, status, window, metrics, seconds."""
    from demetra.db.models import ModelRun

    with engine.connect() as conn:
        row = conn.execute(
            sa.select(ModelRun.id, ModelRun.version, ModelRun.status, ModelRun.train_start,
                      ModelRun.train_end, ModelRun.metrics, ModelRun.duration_seconds,
                      ModelRun.trained_at, ModelRun.parameters)
            .where(ModelRun.status.in_(("ok", "stale"))).order_by(ModelRun.id.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def predictions_are_stale(engine: sa.Engine) -> bool:
    """True when the newest campaign day is newer than the newest predictions' as-of day (or
    there are campaign data and no predictions at all)."""
    with engine.connect() as conn:
        newest_data = conn.execute(sa.text("SELECT MAX(date) FROM campaigns")).scalar()
        newest_pred = conn.execute(sa.text("SELECT MAX(as_of) FROM predictions")).scalar()
    if newest_data is None:
        return False
    if newest_pred is None:
        return True
    return str(newest_pred)[:10] < str(newest_data)[:10]


def predictions_view(engine: sa.Engine, channels: tuple[str, ...] = (),
                     risks: tuple[str, ...] = ()) -> pd.DataFrame:
    """The newest forecast of each campaign with its name and channel, riskiest first,
    narrowed to ``channels`` and ``risks`` (empty: all)."""
    from demetra import ml

    df = ml.latest_predictions(engine)
    if df.empty:
        return df.assign(campaign_name=pd.Series(dtype=object), channel=pd.Series(dtype=object))
    found = queries.campaign_names(engine, df["campaign_id"].astype(str).unique())
    names = pd.DataFrame([(i, n, c) for i, (n, c) in found.items()],
                         columns=["campaign_id", "campaign_name", "channel"])
    df = df.merge(names, on="campaign_id", how="left")
    if channels:
        df = df[df["channel"].isin(channels)]
    if risks:
        df = df[df["risk_level"].isin(risks)]
    return df.reset_index(drop=True)


def predictions_for_display(df: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "Campaign": [n or c for n, c in zip(df["campaign_name"], df["campaign_id"], strict=True)],
        "Channel": df["channel"].map(lambda c: channel_label(c) if isinstance(c, str) else DASH),
        "Forecast ROI": df["predicted_roi"].astype(float),
        "P10": df["predicted_roi_low"].astype(float),
        "P90": df["predicted_roi_high"].astype(float),
        "P(loss)": df["prob_loss"].astype(float),
        "Risk": df["risk_level"].map(lambda r: RISK_WORDS.get(r, str(r))),
        "ID": df["campaign_id"],
    })


def risk_table(df: pd.DataFrame) -> pd.DataFrame:
    """The forecast table with the risk level as a coloured label (``PREDICTION_COLUMNS``; no
    emoji: not every browser has an emoji font)."""
    table = predictions_for_display(df)
    table["Risk"] = [[r] for r in table["Risk"]]
    return table


def backtest_table(metrics: Mapping[str, Any]) -> pd.DataFrame:
    """The model's backtest metrics beside the baselines', one row per forecaster."""
    rows = {"model": metrics.get("model", {}), **metrics.get("baselines", {})}

    def pct(value: Any) -> float | None:  # shown as percentage points, one decimal
        return None if is_missing(value) else float(value) * 100

    return pd.DataFrame([{
        "Forecaster": FORECASTER_LABELS.get(name, name),
        "Spend-weighted MAE": m.get("wmae"), "MAE": m.get("mae"),
        "P10–P90 coverage": pct(m.get("coverage")), "Brier": m.get("brier"),
        "High-risk precision": pct(m.get("high_precision")),
        "High-risk recall": pct(m.get("high_recall")),
    } for name, m in rows.items()])


BACKTEST_COLUMNS = {
    "Spend-weighted MAE": st.column_config.NumberColumn(
        format="%.3f", help="Mean absolute ROI error, weighted by spend (lower is better)"),
    "MAE": st.column_config.NumberColumn(format="%.3f", help="Mean absolute ROI error"),
    "P10–P90 coverage": st.column_config.NumberColumn(
        format="%.1f%%", help="Share of outcomes inside the P10–P90 interval (80% is ideal)"),
    "Brier": st.column_config.NumberColumn(
        format="%.3f", help="Error of P(loss) against what happened (lower is better)"),
    "High-risk precision": st.column_config.NumberColumn(
        format="%.1f%%", help="Of the campaigns called high risk, the share that lost money"),
    "High-risk recall": st.column_config.NumberColumn(
        format="%.1f%%", help="Of the campaigns that lost money, the share called high risk"),
}


def show_model_run(run: Mapping[str, Any]) -> None:
    """A training's backtest against the baselines, feature importance, window and time."""
    metrics = run.get("metrics") or {}
    if "model" not in metrics:
        st.info("The latest training recorded no backtest metrics.", icon=":material/info:")
        return
    seconds = run.get("duration_seconds")
    window = (fmt_date_range(as_day(run["train_start"]), as_day(run["train_end"]))
              if run.get("train_start") and run.get("train_end") else DASH)
    horizon = (run.get("parameters") or {}).get("horizon_days")
    st.markdown(f"**Model run {run['id']}** · trained on {window} · "
                f"{f'{horizon}-day horizon · ' if horizon else ''}"
                f"{len(metrics.get('origins', []))} backtest origins · "
                f"took {f'{seconds:.1f} s' if seconds is not None else DASH}"
                + (" · :orange-badge[Stale: settings changed, retrain]"
                   if run.get("status") == "stale" else ""))
    table_df = backtest_table(metrics)
    st.dataframe(table_df, hide_index=True, width="stretch", key="prd_backtest",
                 column_config=BACKTEST_COLUMNS)
    left, right = st.columns(2)
    wmae = dict(zip(table_df["Forecaster"], table_df["Spend-weighted MAE"], strict=True))
    left.plotly_chart(charts.metric_bars_figure(
        wmae, title="Spend-weighted MAE by forecaster (lower is better)",
        highlight=FORECASTER_LABELS["model"]), width="stretch", key="prd_wmae_chart",
        config={"displayModeBar": False})
    importance = dict(sorted((metrics.get("importance") or {}).items(),
                             key=lambda kv: -(kv[1] or 0))[:12])
    right.plotly_chart(charts.metric_bars_figure(
        importance, title="Permutation importance (rise in spend-weighted MAE)"),
        width="stretch", key="prd_importance_chart", config={"displayModeBar": False})


def as_day(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def train_model(engine: sa.Engine) -> None:
    """Train with a progress bar; one training per process at a time."""
    from demetra import ml

    lock = _training_lock()
    if st.session_state.get(KEY_TRAINING) or not lock.acquire(blocking=False):
        st.warning("Training is already running; its results show here when it finishes.",
                   icon=":material/hourglass_top:")
        return
    st.session_state[KEY_TRAINING] = True
    try:
        with st.status("Training the ROI model…", expanded=True) as status:
            bar = st.progress(0.0, text="Starting")

            def progress(fraction: float, text: str) -> None:
                bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

            try:
                result = ml.train(engine, settings(), progress=progress)
            except ml.NotEnoughData as exc:
                status.update(label="Not enough data to train", state="error")
                st.warning(f"{str(exc)[0].upper()}{str(exc)[1:]}.", icon=":material/warning:")
                return
            except Exception as exc:  # noqa: BLE001 - say what failed, never a traceback
                status.update(label="Training failed", state="error")
                st.error(f"Training failed ({type(exc).__name__}): {str(exc)[:300]}",
                         icon=":material/error:")
                return
            status.update(label=f"Trained model run {result.run_id} in {result.seconds:.1f} s",
                          state="complete", expanded=False)
    finally:
        st.session_state[KEY_TRAINING] = False
        lock.release()
    clear_caches()
    st.session_state["_flash"] = f"Model run {result.run_id} trained"
    run_predictions(engine, rerun=False)
    st.rerun()


def run_predictions(engine: sa.Engine, *, rerun: bool = True) -> bool:
    """Forecast every spending campaign; a missing model or too little data is a message."""
    from demetra import ml

    try:
        with st.spinner("Forecasting every campaign that spent in the last 7 days…"):
            result = ml.predict(engine, settings())
    except ml.RetrainNeeded as exc:
        st.info(f"**Train the model first.** {str(exc)[0].upper()}{str(exc)[1:]}.",
                icon=":material/model_training:")
        return False
    except ml.NotEnoughData as exc:
        st.warning(f"{str(exc)[0].upper()}{str(exc)[1:]}.", icon=":material/warning:")
        return False
    clear_caches()
    st.session_state["_flash"] = (f"{result.written} predictions as of "
                                  f"{fmt_date(result.as_of)}")
    if rerun:
        st.rerun()
    return True


def model_settings_form(engine: sa.Engine) -> None:
    """Horizon and risk thresholds; a new horizon asks for a retrain."""
    from demetra.ml import settings as ml_settings

    current = ml_settings.load_model_settings(engine)
    with st.form("prd_settings"):
        cols = st.columns(3)
        values: dict[str, Any] = {}
        for col, (name, spec) in zip(cols, ml_settings.SPECS.items(), strict=True):
            low, high = spec.min, spec.max
            integer = name == "horizon_days"
            value = getattr(current, name)
            values[name] = col.number_input(
                spec.label, value=int(value) if integer else float(value),
                step=1 if integer else 0.05, format=None if integer else "%.2f",
                help=f"{spec.help}. Allowed: {low:g} to {high:g}.",
                key=f"prd_set_{name}")
        if st.form_submit_button("Save settings", icon=":material/save:"):
            try:
                saved = ml_settings.save_model_settings(engine, ml_settings.ModelSettings(
                    horizon_days=int(values["horizon_days"]),
                    high_risk_threshold=float(values["high_risk_threshold"]),
                    medium_risk_threshold=float(values["medium_risk_threshold"])))
            except SettingsError as exc:
                st.error(f"Not saved: {exc}.", icon=":material/error:")
            else:
                note = ("; the horizon changed, so the model must be retrained before the next "
                        "predictions" if saved.horizon_days != current.horizon_days
                        else "; they apply from the next predictions")
                st.session_state["_flash"] = f"Model settings saved{note}"
                clear_caches()
                st.rerun()


# --------------------------------------------------------------------------------------------
# Recommendations

ACTION_BADGES = {"increase": ("Increase", "green", ":material/trending_up:"),
                 "decrease": ("Decrease", "orange", ":material/trending_down:"),
                 "pause": ("Pause", "red", ":material/pause_circle:"),
                 "test": ("Test", "blue", ":material/science:"),
                 "fix": ("Fix", "violet", ":material/build:")}
_MARKDOWN_SPECIALS = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+!|$<>~:"})


def plain(text: Any) -> str:
    """Text from the LLM or an import, shown literally: no markdown, no LaTeX ($…$), no links,
    no icons (:name:), on one line (so no heading, list or rule can start)."""
    return " ".join(str(text).split()).translate(_MARKDOWN_SPECIALS)


def target_label(target: str, campaigns: Mapping[str, str]) -> str:
    if target in CHANNEL_LABELS:
        return CHANNEL_LABELS[target]
    name = campaigns.get(target)
    return f"{name} ({target})" if name else target


def recommendation_cards(recs: list[Mapping[str, Any]], campaigns: Mapping[str, str]) -> None:
    cols = st.columns(2)
    for i, rec in enumerate(recs):
        label, color, icon = ACTION_BADGES.get(rec.get("action", ""), ("Note", "gray", None))
        with cols[i % 2].container(border=True):
            st.badge(label, color=color, icon=icon)
            st.markdown(f"**{plain(target_label(str(rec.get('target', '')), campaigns))}**")
            st.markdown(f"**Why:** {plain(rec.get('rationale', ''))}")
            st.markdown(f"**Expected impact:** {plain(rec.get('expected_impact', ''))}")
            metrics = ", ".join(str(m) for m in rec.get("metrics") or [])
            st.caption(f"Confidence: {rec.get('confidence', '—')}"
                       + (f" · rests on: {plain(metrics)}" if metrics else ""))

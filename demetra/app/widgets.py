"""What several pages draw: the logo, the page header, KPI cards, tables and their column
configs, the empty state with its demo loader, the CSV download, a settings form built from
declared settings, and ``plain()`` for text that came from an LLM or an import.

Money is written in the data's currency (``cache.reporting_currency``), never a fixed "$".
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import fields, is_dataclass
from typing import IO, Any, NoReturn

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import format as fmt
from demetra import queries
from demetra.app import cache
from demetra.app.runtime import backend_name, get_engine, progress, rerun_with, settings
from demetra.channels import CHANNELS, channel_label, ordered
from demetra.config import Setting
from demetra.db.engine import safe_url
from demetra.errors import SeedRefused, SettingsError
from demetra.queries import Filters

# --------------------------------------------------------------------------------------------
# Frame

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


def describe_filters(f: Filters) -> str:
    """The active filter in words, for captions: dates, length, channels, search."""
    channels = ", ".join(channel_label(c) for c in f.channels) if f.channels else "All channels"
    text = f"{fmt.date_range(f.start, f.end)} ({fmt.days(f.days)}) · {channels}"
    if f.search:
        text += f" · matching “{f.search}”"
    return text


def page_header(title: str, f: Filters | None, icon: str | None = None,
                subtitle: str | None = None) -> None:
    st.title(f"{icon} {title}" if icon else title, anchor=False)
    if f is not None:
        st.caption(f":material/filter_alt: {describe_filters(f)}"
                   + (f" · {subtitle}" if subtitle else ""))
    elif subtitle:
        st.caption(subtitle)


_MARKDOWN_SPECIALS = str.maketrans({c: "\\" + c for c in "\\`*_{}[]()#+!|$<>~:"})


def plain(text: Any) -> str:
    """Text from the LLM or an import, shown literally: no markdown, no LaTeX ($…$), no links,
    no icons (:name:), on one line (so no heading, list or rule can start)."""
    return " ".join(str(text).split()).translate(_MARKDOWN_SPECIALS)


def rows_height(rows: int, most: int = 15) -> int:
    """A table's height that shows ``rows`` rows, at most ``most`` before it scrolls."""
    return min(38 + 35 * rows, 38 + 35 * most)


# --------------------------------------------------------------------------------------------
# KPI cards

_FIGURES = queries.KPI_FIGURES
KPI_CARDS: tuple[queries.KpiFigure, ...] = tuple(
    _FIGURES[k] for k in ("cost", "revenue", "roi", "conversions", "ctr", "conversion_rate", "cpc",
                          "cpa"))
# When the account tracks no revenue, results and their cost lead, and revenue and ROI say so.
KPI_CARDS_RESULTS: tuple[queries.KpiFigure, ...] = (
    _FIGURES["cost"],
    _FIGURES["conversions"]._replace(label="Results",
                                     help="Conversions or leads the platforms report"),
    _FIGURES["cpa"]._replace(help="Cost per result: spend ÷ results"),
    _FIGURES["conversion_rate"]._replace(label="Result rate", help="Results ÷ clicks"),
    _FIGURES["ctr"], _FIGURES["cpc"], _FIGURES["revenue"], _FIGURES["roi"],
)
_UNTRACKED_HELP = ("Not tracked: the imported exports have no revenue (conversion value) "
                   "column, so there is no ROI to show; judge by results and CPA")
_RATIO_PARTS = {"roi": ("revenue", "revenue_cost"), "ctr": ("clicks", "impressions"),
                "conversion_rate": ("conversions", "result_clicks"), "cpc": ("cost", "clicks"),
                "cpa": ("result_cost", "conversions")}


def _sparklines(trend_df: pd.DataFrame) -> dict[str, list[float | None]]:
    """Per-period series of each KPI for the cards' sparklines (ratios of per-period sums)."""
    if trend_df.empty:
        return {}
    sums = trend_df.groupby("period", sort=True)[
        ["cost", "revenue", "clicks", "impressions", "conversions", "revenue_cost",
         "result_cost", "result_clicks"]].sum(min_count=1)
    out: dict[str, list[float | None]] = {k: sums[k].astype(float).tolist()
                                          for k in ("cost", "revenue", "conversions")}
    for key, (num, den) in _RATIO_PARTS.items():
        ratio = sums[num].astype(float) / sums[den].astype(float).where(sums[den] != 0)
        # A period with a zero denominator has no point (st.metric's chart takes numbers only;
        # imported data has such days, the demo world rarely does).
        out[key] = [float(v) for v in ratio if not fmt.is_missing(v)]
    return out


def kpi_cards(engine: sa.Engine, f: Filters) -> None:
    """Eight KPI cards in two rows, each with its change against the previous period."""
    values = cache.kpis_with_delta(engine, f)
    currency = cache.reporting_currency(engine)
    prev = f.previous()
    spark = _sparklines(cache.trend(engine, f))
    description = f"vs. prior {f.days} days"
    untracked = values["revenue"].value is None and (values["cost"].value or 0) > 0
    cards = KPI_CARDS_RESULTS if untracked else KPI_CARDS
    for row in (cards[:4], cards[4:]):
        for col, card in zip(st.columns(len(row)), row, strict=True):
            key = card.key
            kd, show = values[key], fmt.by_kind(card.kind, currency)
            if untracked and key in ("revenue", "roi"):
                col.metric(card.label, fmt.NOT_TRACKED, help=_UNTRACKED_HELP, border=True)
                continue
            with col:
                st.metric(
                    card.label, show(kd.value), delta=fmt.change(kd.change),
                    delta_color=card.delta,
                    delta_description=description if kd.change is not None else None,
                    help=f"{card.help}. Previous period ({fmt.date_range(prev.start, prev.end)}): "
                         f"{show(kd.previous)}.",
                    border=True, chart_data=spark.get(key) if len(spark.get(key, [])) > 1 else None,
                    chart_type="area" if key in ("cost", "revenue", "conversions") else "line",
                )


def metric_cards(cards: Sequence[tuple[str, str]], *, per_row: int = 4,
                 help: str | None = None) -> None:
    """Plain cards (label, value), ``per_row`` to a row."""
    for i in range(0, len(cards), per_row):
        row = cards[i:i + per_row]
        for col, (label, value) in zip(st.columns(len(row)), row, strict=True):
            col.metric(label, value, border=True, help=help)


# --------------------------------------------------------------------------------------------
# Tables

_NAMED_MONEY = {"USD": "dollar", "EUR": "euro"}  # Streamlit's own currency formats


def money_column(label: str, currency: str, *, cents: bool = False, **kwargs: Any) -> Any:
    """A number column of amounts in ``currency``: whole units, or with cents."""
    named = _NAMED_MONEY.get((currency or fmt.DEFAULT_CURRENCY).upper())
    if named:
        return st.column_config.NumberColumn(label, format=named, step=0.01 if cents else 1,
                                             **kwargs)
    return st.column_config.NumberColumn(
        label, format=f"{fmt.currency_prefix(currency)}%,.{2 if cents else 0}f", **kwargs)


def money_unit(currency: str) -> str:
    """The currency as a unit in a label: "$" in "Current $/day", "CHF" in "Current CHF/day"."""
    return fmt.currency_prefix(currency).strip()


def campaign_column_config(currency: str) -> dict[str, Any]:
    cc = st.column_config
    return {
        "campaign_name": cc.TextColumn("Campaign", width="medium"),
        "campaign_id": cc.TextColumn("ID"),
        "channel": cc.TextColumn("Channel"),
        "days": cc.NumberColumn("Days", format="%d", help="Days with data in the range"),
        "cost": money_column("Spend", currency),
        "revenue": money_column("Revenue", currency),
        "roi": cc.NumberColumn("ROI", format="%.2f×", help="Revenue ÷ spend; 1.00× is break-even"),
        "conversions": cc.NumberColumn("Conv.", format="localized", help="Conversions"),
        "clicks": cc.NumberColumn("Clicks", format="localized"),
        "impressions": cc.NumberColumn("Impr.", format="compact", help="Impressions"),
        # Rates arrive as percentage points (for_display), so every row shows two decimals.
        "ctr": cc.NumberColumn("CTR", format="%.2f%%", help="Clicks ÷ impressions"),
        "conversion_rate": cc.NumberColumn("Conv. rate", format="%.2f%%",
                                           help="Conversions ÷ clicks"),
        "cpc": money_column("CPC", currency, cents=True, help="Spend ÷ clicks"),
        "cpa": money_column("CPA", currency, cents=True, help="Spend ÷ conversions"),
        "first_date": cc.DateColumn("First day", format="MMM D"),
        "last_date": cc.DateColumn("Last day", format="MMM D"),
        "share_of_cost": cc.ProgressColumn("Share of spend", format="percent", min_value=0,
                                           max_value=1),
        "campaigns": cc.NumberColumn("Campaigns", format="%d"),
        "source": cc.TextColumn("Imported in", help="The currency of the file the campaign came "
                                "from, and the rate its amounts were converted at"),
    }


def source_text(currency: object, rate: object) -> str:
    """"EUR at 1.08" for a campaign converted at import, "EUR" for one that was not."""
    if not isinstance(currency, str) or not currency:
        return ""
    if isinstance(rate, int | float) and pd.notna(rate) and rate != 1:
        return f"{currency} at {rate:g}"
    return currency


def for_display(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns a table shows, with channel labels and whole conversions."""
    out = df[[c for c in columns if c != "source"]].copy()
    if "source" in columns:
        out["source"] = [source_text(c, r) for c, r in zip(df["source_currency"],
                                                            df["source_rate"], strict=True)]
        out = out[columns]
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


def table(df: pd.DataFrame, columns: list[str], *, currency: str, height: int | str = "auto",
          key: str | None = None, wide_names: bool = False) -> None:
    """Campaign or channel rows with the shared column configs."""
    if df.empty:
        st.caption("Nothing to show for this selection.")
        return
    config = campaign_column_config(currency)
    if wide_names:
        config["campaign_name"] = st.column_config.TextColumn("Campaign", width="large")
    st.dataframe(for_display(df, columns), column_config=config, hide_index=True,
                 width="stretch", height=height, key=key)


# --------------------------------------------------------------------------------------------
# Empty state and the demo world


def load_demo(engine: sa.Engine, *, replace: bool = False, campaigns: int | None = None,
              days: int | None = None) -> None:
    """Load the demo world and fill every page from it (``demetra.demo``) under one progress
    bar, then clear the caches and rerun."""
    from demetra import demo
    from demetra.seed import DEFAULT_CAMPAIGNS, DEFAULT_DAYS

    campaigns = campaigns or DEFAULT_CAMPAIGNS
    days = days or DEFAULT_DAYS
    with progress(f"Loading the demo world ({campaigns} campaigns × {days} days)…") as (
            status, report_progress):
        try:
            report = demo.load_demo(engine, settings(), replace=replace, campaigns=campaigns,
                                    days=days, progress=report_progress)
        except SeedRefused as exc:
            status.update(label="Nothing was loaded", state="error")
            st.error(f"{exc.sentence()} Tick “Replace the existing data” on the Data page to "
                     "load the demo world instead.")
            return
        except sa.exc.SQLAlchemyError as exc:
            status.update(label="The demo world was not loaded", state="error")
            st.error(f"Writing to {safe_url(engine.url)} failed ({type(exc).__name__}). Check "
                     "that the database is writable and has free space, then load it again "
                     "with “Replace the existing data” ticked.")
            return
        status.update(label=f"Loaded {report.seeded.rows:,} rows", state="complete")
    rerun_with(report.summary())


#: The empty state's container key: the browser test looks for ``.st-key-empty_state``.
EMPTY_STATE_KEY = "empty_state"


def empty_state(engine: sa.Engine) -> NoReturn:
    """The page for a database without campaign data: say so and offer the demo world."""
    with st.container(border=True, key=EMPTY_STATE_KEY):
        st.subheader(":material/rocket_launch: No campaign data yet", anchor=False)
        st.markdown(
            f"Demetra is connected to **{backend_name(engine)}** (`{safe_url(engine.url)}`), "
            "but it holds no campaign rows yet.\n\n"
            "Load the **demo world** to look around: 50 campaigns on six channels over the last "
            "90 days, with realistic seasonality, diminishing returns and a few injected "
            "incidents, a trained model with its forecasts, the alerts it raises and a first "
            "set of recommendations. Or point `DATABASE_URL` at a database that has your data.")
        if st.button("Load demo data", type="primary", icon=":material/play_arrow:",
                     key="empty_load_demo"):
            load_demo(engine)
    st.stop()
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# CSV download


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


def csv_download(engine: sa.Engine, f: Filters, *, key: str) -> None:
    """The button that downloads the campaign rows in the filter as CSV."""
    st.download_button("Download CSV", data=csv_export(engine, f), file_name=csv_file_name(f),
                       mime="text/csv", on_click="ignore", icon=":material/download:", key=key)


# --------------------------------------------------------------------------------------------
# Settings form


def _decimals(step: float) -> int:
    return max(2, -math.floor(math.log10(step)))


def settings_inputs(specs: Mapping[str, Setting], current: Any, *, key_prefix: str,
                    columns: int = 3, step: float = 0.1,
                    steps: Mapping[str, float] | None = None) -> dict[str, Any]:
    """One number input per declared setting, with its label, help and allowed range, three to a
    row; whole-number settings step by 1, the others by ``step`` (or ``steps[name]``)."""
    cols = st.columns(columns)
    values: dict[str, Any] = {}
    for i, (name, spec) in enumerate(specs.items()):
        value = getattr(current, name)
        if spec.kind is int:
            kwargs: dict[str, Any] = {"value": int(value), "step": 1}
        else:
            by = (steps or {}).get(name, step)
            kwargs = {"value": float(value), "step": by, "format": f"%.{_decimals(by)}f"}
        values[name] = cols[i % columns].number_input(
            spec.label, help=f"{spec.help}. Allowed: {spec.min:g} to {spec.max:g}.",
            key=f"{key_prefix}{name}", **kwargs)
    return values


def per_channel_settings(current: Any) -> dict[str, Setting]:
    """The fields of a settings dataclass that hold one value per channel (declared with
    ``metadata={"per_channel": spec}``), by field name."""
    if not is_dataclass(current):
        return {}
    return {f.name: f.metadata["per_channel"] for f in fields(current)
            if "per_channel" in f.metadata}


def channel_inputs(spec: Setting, current: Mapping[str, float], channels: Iterable[str], *,
                   key_prefix: str, step: float = 1.0) -> dict[str, float]:
    """One number input per channel, six to a row, 0 for "none set"; the channels given a
    value (a negative one too: the settings' validation refuses it with its reason)."""
    st.caption(f"{spec.label} per channel (leave at 0 for none)")
    stem = spec.field.removesuffix("_by_channel")
    shown = ordered(channels)
    values: dict[str, float] = {}
    for start in range(0, len(shown), 6):
        for col, channel in zip(st.columns(6), shown[start:start + 6], strict=False):
            values[channel] = col.number_input(
                f"{spec.label}, {channel_label(channel)}", value=float(current.get(channel, 0.0)),
                step=step, format=f"%.{_decimals(step)}f",
                help=f"{spec.help}. Allowed: above 0, up to {spec.max:g}.",
                key=f"{key_prefix}{stem}_{channel}")
    return {c: v for c, v in values.items() if v}


def _form_channels(saved: Mapping[str, float]) -> set[str]:
    # The demo's six, every channel the data holds (an import's own too) and any already set.
    return {*CHANNELS, *cache.data_summary(get_engine())["channels"], *saved}


def settings_form(form_key: str, specs: Mapping[str, Setting], current: Any, *,
                  key_prefix: str, save: Callable[[dict[str, Any]], str], clear: bool = True,
                  extra: Callable[[], dict[str, Any]] | None = None, **inputs: Any) -> None:
    """A form of ``settings_inputs``, ``channel_inputs`` for each per-channel setting of
    ``current`` (plus what ``extra`` draws and returns) and a Save button:
    ``save(values)`` stores them and returns the message to flash, or raises ``SettingsError``,
    which is shown and stores nothing."""
    with st.form(form_key):
        values = settings_inputs(specs, current, key_prefix=key_prefix, **inputs)
        for name, spec in per_channel_settings(current).items():
            saved = getattr(current, name)
            values[name] = channel_inputs(spec, saved, _form_channels(saved),
                                          key_prefix=key_prefix)
        if extra is not None:
            values.update(extra())
        if st.form_submit_button("Save settings", icon=":material/save:"):
            try:
                message = save(values)
            except SettingsError as exc:
                st.error(f"Not saved: {exc}.", icon=":material/error:")
            else:
                rerun_with(message, clear=clear)

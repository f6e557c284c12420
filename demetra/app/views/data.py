"""Data: which database is in use and what it holds, importing ad-platform exports, CSV
download of the filtered rows, loading the demo world."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import format as fmt
from demetra import ingest
from demetra.app import cache
from demetra.app.filters import active_filters
from demetra.app.runtime import backend_name, clear_caches, get_engine, progress, settings
from demetra.app.widgets import (
    campaign_column_config,
    csv_download,
    describe_filters,
    load_demo,
    metric_cards,
    page_header,
)
from demetra.channels import CHANNEL_ID_FORM, KNOWN_CHANNELS, channel_label
from demetra.db.engine import safe_url
from demetra.errors import ImportFileError, as_sentence
from demetra.ingest import currency, diagnose
from demetra.queries import Filters

FROM_FILE = "from_file"
OTHER_CHANNEL = "other_channel"  # a channel Demetra does not know by name, typed as its id
NOT_MAPPED = "— not in the file —"
KEY_DONE, KEY_PREVIEW, KEY_HEAD = "imp_done", "imp_preview", "imp_head"
TABLE_LABELS = {
    "campaigns": "Campaign rows (campaign × day)", "predictions": "ROI predictions",
    "recommendations": "Recommendations", "alerts": "Alerts", "ml_dashboards": "Saved charts",
    "model_runs": "Model trainings",
}


# --------------------------------------------------------------------------------------------
# What is in the database


def database_overview(engine: sa.Engine) -> dict[str, Any]:
    """The "what is in the database" panel; returns the summary it showed."""
    summary = cache.data_summary(engine)
    first, last = summary["first_date"], summary["last_date"]
    cols = st.columns(4)
    cols[0].metric("Backend", backend_name(engine), border=True)
    cols[1].metric("Campaign rows", fmt.count(summary["rows"]), border=True,
                   help="One row per campaign per day")
    cols[2].metric("Campaigns", fmt.count(summary["campaigns"]), border=True)
    cols[3].metric("Days covered", fmt.count((last - first).days + 1) if first else fmt.DASH,
                   border=True,
                   help=f"{fmt.date_range(first, last)}" if first else "No data yet")
    left, right = st.columns([1, 1])
    with left:
        counts = pd.DataFrame({"Table": [TABLE_LABELS.get(t, t) for t in summary["tables"]],
                               "Rows": list(summary["tables"].values())})
        st.dataframe(counts, hide_index=True, width="stretch",
                     column_config={"Rows": st.column_config.NumberColumn(format="localized")})
    with right:
        st.markdown(f"**Database in use:** `{safe_url(engine.url)}`")
        st.caption("Set by DATABASE_URL in the environment or `.streamlit/secrets.toml`.")
        st.markdown(f"**Date span:** {fmt.date_range(first, last) if first else fmt.DASH}")
        labels = [channel_label(c) for c in summary["channels"]]
        st.markdown("**Channels:** " + (" ".join(f":primary-badge[{x}]" for x in labels)
                                        if labels else fmt.DASH))
        zeros = stored_zero_outcomes(engine, summary)
        if zeros:
            one = len(zeros) == 1
            st.caption(f"{', '.join(zeros)} {'stores' if one else 'store'} a revenue or "
                       f"conversions of exactly 0 on all {'its' if one else 'their'} spend: rows "
                       "stored before an outcome could be “not tracked” keep that stored 0 until "
                       "their file is imported again.")
    return summary


def stored_zero_outcomes(engine: sa.Engine, summary: Mapping[str, Any]) -> list[str]:
    """The channels (as people name them) whose whole stored revenue or conversions is 0 on
    spend that tracks it: what rows imported before "not tracked" existed look like, since the
    migration to it (0006) could not tell such a 0 from a real one and kept it."""
    if summary["first_date"] is None:
        return []
    rows = cache.channel_breakdown(engine, Filters(summary["first_date"], summary["last_date"]))
    zero = ((rows["revenue"].eq(0) & rows["revenue_cost"].gt(0))
            | (rows["conversions"].eq(0) & rows["result_cost"].gt(0)))
    return [channel_label(c) for c in rows.loc[zero, "channel"]]


# --------------------------------------------------------------------------------------------
# Import


def mapping_form(columns: list[str], suggested: dict[str, str], file_id: str
                 ) -> dict[str, str | None]:
    """Field -> column selectboxes, pre-filled with the mapping suggested from the file's
    names and values."""
    options = [NOT_MAPPED, *columns]
    st.markdown("**Column mapping** — which column of the file holds each field "
                "(date, spend, impressions, clicks and a campaign name or ID are required).")
    cols = st.columns(5)
    mapping = {}
    for i, name in enumerate(ingest.FIELDS):
        guess = suggested.get(name)
        choice = cols[i % 5].selectbox(ingest.FIELD_LABELS[name], options,
                                       index=options.index(guess) if guess else 0,
                                       key=f"imp_map_{name}_{file_id}")
        mapping[name] = None if choice == NOT_MAPPED else choice
    return mapping


def show_preview(preview: ingest.ImportPreview, currency: str) -> None:
    """What the import would store: totals, warnings, the first rows, the rejected rows."""
    span = fmt.date_range(preview.start, preview.end) if preview.start else fmt.DASH
    st.markdown(f"**{preview.platform_label}** · {fmt.rows(preview.rows)} · "
                f"{preview.campaigns:,} campaigns · {span}"
                + (f" · {preview.skipped:,} summary rows skipped" if preview.skipped else ""))
    # The file's own currency when it states one, else the database's.
    if len(preview.currencies) == 1:
        currency = preview.currencies[0]
    metric_cards((("Spend", fmt.money(preview.totals["cost"], currency)),
                  ("Revenue", fmt.money(preview.totals["revenue"], currency)),
                  ("Clicks", fmt.count(preview.totals["clicks"])),
                  ("Conversions", fmt.count(preview.totals["conversions"]))),
                 help="What the file's accepted rows add up to")
    for warning in preview.warnings:
        st.warning(as_sentence(warning), icon=":material/warning:")
    st.caption("The first rows as they will be stored")
    st.dataframe(preview.sample, hide_index=True, width="stretch", key="imp_sample",
                 column_config=campaign_column_config(currency))
    if preview.rejected:
        st.error(f"{preview.rejected:,} of {fmt.rows(preview.rows)} will be rejected (not imported): "
                 f"they carry spend {fmt.money(preview.rejected_totals['cost'], currency)}"
                 + (f" ({fmt.pct(preview.rejected_share(), 1)} of the file's)"
                    if preview.rejected_share() is not None else "")
                 + f", {fmt.count(preview.rejected_totals['clicks'])} clicks and "
                   f"{fmt.count(preview.rejected_totals['conversions'])} conversions.",
                 icon=":material/block:")
        st.dataframe(preview.rejects, hide_index=True, width="stretch", key="imp_rejects",
                     column_config={"row": st.column_config.NumberColumn("Row", format="%d"),
                                    "column": "Column", "value": "Value", "reason": "Reason"})


def run_import(engine: sa.Engine, upload: Any, options: dict[str, Any]) -> None:
    """Import with a progress bar: all rows or none; then clear the caches and rerun."""
    with progress(f"Importing {upload.name}…", "Reading") as (status, report):
        try:
            result = ingest.import_file(engine, upload, name=upload.name, progress=report,
                                        **options)
        except ImportFileError as exc:
            status.update(label="Nothing was imported", state="error")
            st.error(exc.sentence(), icon=":material/error:")
            return
        except sa.exc.SQLAlchemyError as exc:
            status.update(label="Nothing was imported", state="error")
            st.error(f"Writing to the database failed ({type(exc).__name__}); the transaction was "
                     "rolled back, so the database is unchanged.", icon=":material/error:")
            return
        status.update(label="Imported", state="complete")
    clear_caches()
    # Shown as a success box in the import section (not a toast): it is the import's report.
    st.session_state[KEY_DONE] = (
        f"Imported {upload.name}: {result.counts()} ({result.seconds:.1f} s).")
    st.rerun()


def _cached_preview(upload: Any, options: dict[str, Any]) -> ingest.ImportPreview | None:
    """The preview of this file with these options, read once (kept in the session)."""
    key = (upload.file_id, repr(options))
    cached = st.session_state.get(KEY_PREVIEW)
    if cached is None or cached[0] != key:
        try:
            with st.spinner("Reading the file…"):
                cached = (key, ingest.preview(upload, name=upload.name, **options))
        except ImportFileError as exc:
            cached = (key, exc)
        st.session_state[KEY_PREVIEW] = cached
    if isinstance(cached[1], ImportFileError):
        st.error(cached[1].sentence(), icon=":material/error:")
        return None
    return cached[1]


def _file_head(upload: Any) -> dict[str, Any] | None:
    """What the page needs of the file's header and first rows (its columns; whether it is a
    known platform's export, complete or not), read once per uploaded file: kept in the session
    under the upload's file_id, so that a rerun (any widget) does not read the file again.
    None, after saying why, when the file cannot be opened."""
    cached = st.session_state.get(KEY_HEAD)
    if cached is None or cached["file_id"] != upload.file_id:
        cached = {"file_id": upload.file_id}
        try:
            opened = ingest.open_file(upload, name=upload.name)
            cached["columns"] = list(opened.columns)
            # A file of a known platform that lacks something (Google Ads without Day, Meta
            # without a campaign column) gets the platform's diagnosis from the preview.
            cached["known"] = ingest.detect(opened.columns) is not None or (
                diagnose.recognise(opened.columns, diagnose.head(opened)) is not None)
        except ImportFileError as exc:
            cached["error"] = exc
        st.session_state[KEY_HEAD] = cached
    if "error" in cached:
        st.error(cached["error"].sentence(), icon=":material/error:")
        return None
    return cached


def _suggested(upload: Any, head: dict[str, Any]) -> dict[str, str]:
    """The mapping suggested from the file's names and first values, for the mapping form:
    read the first time the form shows, then kept with the file's head."""
    if "suggested" not in head:
        try:
            sample = ingest.sample_values(ingest.open_file(upload, name=upload.name))
        except ImportFileError:
            sample = {}  # the preview says what is wrong with the rows
        head["suggested"] = ingest.suggest_mapping(head["columns"], sample)
    return head["suggested"]


def _currencies(engine: sa.Engine) -> tuple[str | None, str | None]:
    """The database's currency (None: an empty database that never said; cached, forgotten
    after every import) and the REPORTING_CURRENCY setting (None when not given)."""
    return cache.database_currency(engine), currency.configured(settings().reporting_currency)


def _channel_option(choice: str) -> str:
    if choice == FROM_FILE:
        return "From the file"
    return "Another channel…" if choice == OTHER_CHANNEL else channel_label(choice)


def import_section(engine: sa.Engine) -> None:
    limit = settings().max_upload_mb
    st.markdown("Campaign-by-day reports exported from **Meta Ads Manager**, **Google Ads**, "
                "**TikTok Ads Manager**, **LinkedIn Campaign Manager** or Fivetran's "
                "**ad_reporting** tables (CSV, TSV or XLSX), or "
                "any CSV with a column mapping. A campaign's day that is already stored is "
                "updated, never doubled; nothing is written until you press Import.")
    done = st.session_state.pop(KEY_DONE, None)
    if done:
        st.success(done, icon=":material/check_circle:")
    upload = st.file_uploader("Export file", type=["csv", "tsv", "txt", "xlsx"],
                              max_upload_size=limit, key="imp_file",
                              help=f"Up to {limit:,} MB (setting MAX_UPLOAD_MB)")
    if upload is None:
        st.session_state.pop(KEY_HEAD, None)
        return
    if upload.size > limit * 1024 * 1024:
        st.error(f"{upload.name} is {upload.size / 1024 / 1024:,.0f} MB; the limit is {limit:,} MB "
                 "(raise MAX_UPLOAD_MB, or import it with `python -m demetra import`).",
                 icon=":material/error:")
        return
    a, b = st.columns(2)
    platform = a.selectbox("Platform", ingest.PLATFORM_CHOICES, key="imp_platform",
                           format_func=ingest.PLATFORM_LABELS.get)
    channel = b.selectbox("Channel", [FROM_FILE, *KNOWN_CHANNELS, OTHER_CHANNEL],
                          key="imp_channel", format_func=_channel_option,
                          help="The channel of rows whose file does not say it (required for "
                               "a CSV without a channel column)")
    if channel == OTHER_CHANNEL:
        channel = b.text_input("Channel id", key="imp_channel_other", placeholder="quora_ads",
                               help=f"Any channel: {CHANNEL_ID_FORM}").strip() or FROM_FILE
    head = _file_head(upload)
    if head is None:
        return
    campaign = st.text_input(
        "Campaign (a file of one campaign)", key="imp_campaign", placeholder="optional",
        help="The campaign of every row, for an export without a campaign column (a Meta "
             "report of one campaign, say)").strip() or None
    mapping = None
    unknown = platform == "auto" and not head["known"]
    if platform == "generic" or unknown:
        if platform == "auto":
            st.info("The header matches no known export: map the columns below.",
                    icon=":material/info:")
        mapping = mapping_form(head["columns"], _suggested(upload, head), upload.file_id)
    options = {"platform": "generic" if mapping is not None else platform,
               "channel": None if channel == FROM_FILE else channel, "mapping": mapping,
               "campaign": campaign}
    preview = _cached_preview(upload, options)
    if preview is None:
        return
    stored, configured = _currencies(engine)
    show_preview(preview, stored or configured or cache.reporting_currency(engine))
    conflict = currency.conflict(stored, configured)
    if conflict is not None:
        st.error(as_sentence(conflict), icon=":material/currency_exchange:")
    rate: float | None = None
    file_currency = preview.currencies[0] if len(preview.currencies) == 1 else None
    reporting = currency.rate_needed(stored or configured, file_currency)
    if reporting is not None and conflict is None:
        where = (f"the database reports in {reporting}" if stored else
                 f"the database will report in {reporting} (the REPORTING_CURRENCY setting)")
        st.warning(f"This file's amounts are in {file_currency}; {where}. Give the exchange "
                   "rate to convert them (it is kept with the import).",
                   icon=":material/currency_exchange:")
        rate = st.number_input(f"1 {file_currency} = … {reporting}", min_value=0.0, value=None,
                               step=0.01, format="%.6f", key="imp_rate",
                               placeholder="exchange rate")
        rate = rate or None
    allow = False
    if preview.rejected and preview.accepted:
        # Nothing is left out without the user's explicit yes.
        allow = st.checkbox(f"Import without the {preview.rejected:,} rejected rows",
                            key="imp_allow_rejects",
                            help="Their spend, clicks and conversions will be missing from "
                                 "every figure; fixing them in the file and importing it again "
                                 "keeps them")
    rows = f"{preview.accepted:,} row{'s' if preview.accepted != 1 else ''}"
    if st.button(f"Import {rows}", type="primary", key="imp_go",
                 icon=":material/upload:",
                 disabled=preview.accepted == 0 or (preview.rejected > 0 and not allow)
                 or (reporting is not None and rate is None) or conflict is not None):
        run_import(engine, upload, {**options, "allow_rejects": allow, "exchange_rate": rate,
                                    "reporting_currency": configured})


# --------------------------------------------------------------------------------------------
# The demo world


def demo_loader(engine: sa.Engine, rows: int) -> None:
    """A size choice, and a confirmation to replace existing data."""
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


def render() -> None:
    engine = get_engine()
    f = active_filters()
    page_header("Data", f)

    st.subheader("Database", anchor=False)
    summary = database_overview(engine)

    st.subheader("Import", anchor=False)
    with st.container(border=True):
        import_section(engine)

    st.subheader("Download", anchor=False)
    if f is None:
        st.info("Nothing to download yet: the database holds no campaign rows.",
                icon=":material/info:")
    else:
        st.markdown(f"The campaign rows in the current filter ({describe_filters(f)}), one row "
                    "per campaign per day, as CSV.")
        csv_download(engine, f, key="data_download")

    st.subheader("Demo data", anchor=False)
    with st.container(border=True):
        st.markdown("The demo world: campaigns on six channels with realistic seasonality, "
                    "diminishing returns and injected incidents (its ground truth is stored with "
                    "it). Loading it also trains the model, forecasts, detects the alerts over "
                    "its whole history and writes a first set of recommendations with the rules "
                    "engine, so every page has something to show.")
        demo_loader(engine, summary["rows"])

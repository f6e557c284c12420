"""Data: which database is in use and what it holds, importing ad-platform exports, CSV
download of the filtered rows, loading the demo world."""

import sqlalchemy as sa
import streamlit as st

from demetra import ingest, ui
from demetra.config import CHANNELS

FROM_FILE = "from_file"
NOT_MAPPED = "— not in the file —"


def mapping_form(columns: list[str], file_id: str) -> dict[str, str | None]:
    """Field -> column selectboxes, pre-filled with the suggested mapping."""
    suggested = ingest.suggest_mapping(columns)
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


def show_preview(preview: ingest.ImportPreview) -> None:
    span = ui.fmt_date_range(preview.start, preview.end) if preview.start else ui.DASH
    st.markdown(f"**{preview.platform_label}** · {preview.rows:,} rows · "
                f"{preview.campaigns:,} campaigns · {span}"
                + (f" · {preview.skipped:,} summary rows skipped" if preview.skipped else ""))
    cards = (("Spend", ui.fmt_money(preview.totals["cost"])),
             ("Revenue", ui.fmt_money(preview.totals["revenue"])),
             ("Clicks", ui.fmt_count(preview.totals["clicks"])),
             ("Conversions", ui.fmt_count(preview.totals["conversions"])))
    for col, (label, value) in zip(st.columns(4), cards, strict=True):
        col.metric(label, value, border=True, help="What the file's accepted rows add up to")
    for warning in preview.warnings:
        st.warning(warning[0].upper() + warning[1:] + ".", icon=":material/warning:")
    st.caption("The first rows as they will be stored")
    st.dataframe(preview.sample, hide_index=True, width="stretch", key="imp_sample",
                 column_config=ui.campaign_column_config())
    if preview.rejected:
        st.error(f"{preview.rejected:,} of {preview.rows:,} rows will be rejected (not imported):",
                 icon=":material/block:")
        st.dataframe(preview.rejects, hide_index=True, width="stretch", key="imp_rejects",
                     column_config={"row": st.column_config.NumberColumn("Row", format="%d"),
                                    "column": "Column", "value": "Value", "reason": "Reason"})


def run_import(upload, options: dict) -> None:
    with st.status(f"Importing {upload.name}…", expanded=True) as status:
        bar = st.progress(0.0, text="Reading")

        def progress(fraction: float, text: str) -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

        try:
            result = ingest.import_file(engine, upload, name=upload.name, progress=progress,
                                        **options)
        except ingest.ImportFileError as exc:
            status.update(label="Nothing was imported", state="error")
            st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}.", icon=":material/error:")
            return
        except sa.exc.SQLAlchemyError as exc:
            status.update(label="Nothing was imported", state="error")
            st.error(f"Writing to the database failed ({type(exc).__name__}); the transaction was "
                     "rolled back, so the database is unchanged.", icon=":material/error:")
            return
        status.update(label="Imported", state="complete")
    ui.clear_caches()
    st.session_state["imp_done"] = (
        f"Imported {upload.name}: {result.inserted:,} rows inserted, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged, {result.rejected:,} rejected "
        f"({result.seconds:.1f} s).")
    st.rerun()


def import_section() -> None:
    limit = ui.settings().max_upload_mb
    st.markdown("Campaign-by-day reports exported from **Meta Ads Manager**, **Google Ads**, "
                "**TikTok Ads Manager** or **LinkedIn Campaign Manager** (CSV, TSV or XLSX), or any "
                "CSV with a column mapping. A campaign's day that is already stored is updated, "
                "never doubled; nothing is written until you press Import.")
    done = st.session_state.pop("imp_done", None)
    if done:
        st.success(done, icon=":material/check_circle:")
    upload = st.file_uploader("Export file", type=["csv", "tsv", "txt", "xlsx"],
                              max_upload_size=limit, key="imp_file",
                              help=f"Up to {limit:,} MB (setting MAX_UPLOAD_MB)")
    if upload is None:
        return
    if upload.size > limit * 1024 * 1024:
        st.error(f"{upload.name} is {upload.size / 1024 / 1024:,.0f} MB; the limit is {limit:,} MB "
                 "(raise MAX_UPLOAD_MB, or import it with `python -m demetra import`).",
                 icon=":material/error:")
        return
    a, b = st.columns(2)
    platform = a.selectbox("Platform", ingest.PLATFORM_CHOICES, key="imp_platform",
                           format_func=ingest.PLATFORM_LABELS.get)
    channel = b.selectbox("Channel", [FROM_FILE, *CHANNELS], key="imp_channel",
                          format_func=lambda c: "From the file" if c == FROM_FILE
                          else ui.channel_label(c),
                          help="The channel of rows whose file does not say it (required for "
                               "a CSV without a channel column)")
    try:
        opened = ingest.open_file(upload, name=upload.name)
    except ingest.ImportFileError as exc:
        st.error(f"{str(exc)[0].upper()}{str(exc)[1:]}.", icon=":material/error:")
        return
    mapping = None
    if platform == "generic" or (platform == "auto" and ingest.detect(opened.columns) is None):
        if platform == "auto":
            st.info("The header matches no known export: map the columns below.",
                    icon=":material/info:")
        mapping = mapping_form(opened.columns, upload.file_id)
    options = {"platform": "generic" if mapping is not None else platform,
               "channel": None if channel == FROM_FILE else channel, "mapping": mapping}
    key = (upload.file_id, repr(options))
    cached = st.session_state.get("imp_preview")
    if cached is None or cached[0] != key:
        try:
            with st.spinner("Reading the file…"):
                cached = (key, ingest.preview(upload, name=upload.name, **options))
        except ingest.ImportFileError as exc:
            cached = (key, exc)
        st.session_state["imp_preview"] = cached
    preview = cached[1]
    if isinstance(preview, ingest.ImportFileError):
        st.error(f"{str(preview)[0].upper()}{str(preview)[1:]}.", icon=":material/error:")
        return
    show_preview(preview)
    if st.button(f"Import {preview.accepted:,} rows", type="primary", key="imp_go",
                 icon=":material/upload:", disabled=preview.accepted == 0):
        run_import(upload, options)


engine = ui.get_engine()
f = ui.active_filters()
ui.page_header("Data", f)

st.subheader("Database", anchor=False)
summary = ui.database_overview(engine)

st.subheader("Import", anchor=False)
with st.container(border=True):
    import_section()

st.subheader("Download", anchor=False)
if f is None:
    st.info("Nothing to download yet: the database holds no campaign rows.",
            icon=":material/info:")
else:
    st.markdown(f"The campaign rows in the current filter ({ui.describe_filters(f)}), one row per "
                "campaign per day, as CSV.")
    st.download_button("Download CSV", data=ui.csv_export(engine, f),
                       file_name=ui.csv_file_name(f), mime="text/csv", on_click="ignore",
                       icon=":material/download:", key="data_download")

st.subheader("Demo data", anchor=False)
with st.container(border=True):
    st.markdown("The demo world: campaigns on six channels with realistic seasonality, "
                "diminishing returns and injected incidents (its ground truth is stored with it).")
    ui.demo_loader(engine, summary["rows"])

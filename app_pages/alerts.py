"""Alerts: what broke, one alert per incident, unread first; mark read, run detection, tune."""

import datetime as dt

import streamlit as st

from demetra import alerts, charts, ui

engine = ui.get_engine()
f = ui.active_filters()
unread = alerts.unread_count(engine)
ui.page_header("Alerts", f, subtitle=f"{unread:,} unread" if unread else "all read")

# A broken detection job must never be silent.
for _, row in ui.open_system_alerts(engine).iterrows():
    when = f" ({ui.fmt_date(row['date'])})" if row["date"] else ""
    st.error(f"{row['message']}{when}", icon=":material/error:")

# --- Toolbar ---------------------------------------------------------------------------------
run_col, since_col, _ = st.columns([1.2, 1.4, 3], vertical_alignment="bottom")
since = since_col.date_input("Check from", value=None, key="alr_since",
                             help="Empty: the last 7 days of data. Earlier dates re-check "
                                  "history; existing incidents are updated, not repeated.")
if run_col.button("Run detection now", icon=":material/radar:", type="primary", key="alr_run"):
    with st.spinner("Checking every campaign and channel against its own baseline…"):
        report = alerts.run_detection(engine, since=since, settings=ui.settings())
    if report.error:
        st.error(report.summary(), icon=":material/error:")
    else:
        st.session_state["_flash"] = report.summary()
        st.rerun()

# --- Filters ---------------------------------------------------------------------------------
sev_col, type_col, status_col, unread_col = st.columns([2, 2.2, 1.2, 1], vertical_alignment="bottom")
severities = sev_col.multiselect("Severity", alerts.SEVERITIES[::-1], key="alr_sev",
                                 placeholder="All severities")
types = type_col.multiselect("Type", alerts.ALERT_TYPES, key="alr_type",
                             format_func=ui.alert_type_label, placeholder="All types")
status = status_col.selectbox("Status", ["Open and resolved", "Open", "Resolved"], key="alr_status")
unread_only = unread_col.toggle("Unread only", key="alr_unread")
use_period = st.toggle("Only incidents in the sidebar period and channels", value=True,
                       key="alr_period")
query = alerts.AlertFilter(
    severities=tuple(severities), types=tuple(types),
    channels=f.channels if (f and use_period) else (),
    start=f.start if (f and use_period) else None, end=f.end if (f and use_period) else None,
    unread_only=unread_only,
    status={"Open": "open", "Resolved": "resolved"}.get(status))
shown = alerts.list_alerts(engine, query)

# --- The list --------------------------------------------------------------------------------
if shown.empty:
    if alerts.alert_count(engine) == 0:
        st.info("No alerts. Run detection to check the campaigns, or wait for the worker.",
                icon=":material/notifications_off:")
    else:
        st.info("No alerts match these filters.", icon=":material/filter_alt_off:")
else:
    st.caption(f"{len(shown):,} alert{'s' if len(shown) != 1 else ''} · unread first, then "
               "the most severe · select rows to mark them or to see the campaign")
    selection = st.dataframe(
        ui.alerts_for_display(shown), hide_index=True, width="stretch", key="alr_table",
        on_select="rerun", selection_mode="multi-row", column_config=ui.ALERT_COLUMNS,
        height=min(38 + 35 * len(shown), 38 + 35 * 15))
    picked = [int(shown.iloc[i]["id"]) for i in selection.selection.rows]
    targets = picked or shown["id"].astype(int).tolist()
    scope = f"{len(picked)} selected" if picked else f"all {len(shown)} shown"
    read_col, unread_btn_col, _ = st.columns([1.3, 1.3, 3])
    if read_col.button(f"Mark {scope} read", icon=":material/done_all:", key="alr_mark_read"):
        n = alerts.set_read(engine, targets, True)
        st.session_state["_flash"] = f"Marked {n} alert{'s' if n != 1 else ''} read"
        st.rerun()
    if unread_btn_col.button(f"Mark {scope} unread", icon=":material/mark_email_unread:",
                             key="alr_mark_unread"):
        n = alerts.set_read(engine, targets, False)
        st.session_state["_flash"] = f"Marked {n} alert{'s' if n != 1 else ''} unread"
        st.rerun()

    # --- One incident, in context ---------------------------------------------------------------
    focus = shown[shown["id"] == picked[0]].iloc[0] if picked else shown.iloc[0]
    st.subheader("The incident in context", anchor=False)
    st.markdown(f"**{ui.alert_type_label(focus['alert_type'])}** · "
                f"{ui.SEVERITY_BADGES.get(focus['severity'], focus['severity'])} · "
                f"{focus['message']}")
    if focus["campaign_id"] and focus["date"]:
        first, last = focus["date"], focus["last_seen"] or focus["date"]
        history = ui.campaign_history(engine, focus["campaign_id"],
                                      first - dt.timedelta(days=21), last + dt.timedelta(days=7))
        fig = charts.mark_incident(charts.campaign_history_figure(history), first, last)
        st.plotly_chart(fig, width="stretch", config={"displayModeBar": False},
                        key="alr_history_chart")
    elif focus["alert_type"] != "system":
        st.caption("A channel-level alert: open the Overview page for the channel's trend.")

# --- Settings --------------------------------------------------------------------------------
with st.expander("Alert settings", icon=":material/tune:"):
    current = alerts.load_alert_settings(engine, ui.settings())
    with st.form("alr_settings"):
        cols = st.columns(3)
        values = {}
        for i, (name, (low, high)) in enumerate(alerts.LIMITS.items()):
            value = getattr(current, name)
            integer = name == "baseline_days"
            values[name] = cols[i % 3].number_input(
                alerts.SPECS[name].label, value=int(value) if integer else float(value),
                step=1 if integer else (0.001 if name == "min_conversion_rate" else 0.1),
                format=None if integer else ("%.3f" if name == "min_conversion_rate" else "%.2f"),
                help=f"{alerts.SPECS[name].help}. Allowed: {low:g} to {high:g}.", key=f"alr_set_{name}")
        st.caption("ROI threshold per channel (leave at 0 to use the general one)")
        ch_cols = st.columns(6)
        per_channel = {}
        for col, channel in zip(ch_cols, ui.CHANNELS, strict=True):
            per_channel[channel] = col.number_input(
                ui.channel_label(channel),
                value=float(current.roi_threshold_by_channel.get(channel, 0.0)),
                step=0.1, format="%.2f", key=f"alr_set_roi_{channel}")
        if st.form_submit_button("Save settings", icon=":material/save:"):
            try:
                alerts.save_alert_settings(engine, alerts.AlertSettings(
                    **values, roi_threshold_by_channel={c: v for c, v in per_channel.items() if v}))
            except ui.SettingsError as exc:
                st.error(f"Not saved: {exc}.", icon=":material/error:")
            else:
                st.session_state["_flash"] = "Alert settings saved; they apply from the next run"
                st.rerun()

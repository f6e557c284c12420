"""Alerts: what broke, one alert per incident, unread first; mark read, run detection, tune."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import alerts, charts
from demetra import format as fmt
from demetra.app import cache
from demetra.app.filters import active_filters
from demetra.app.runtime import get_engine, rerun_with, settings
from demetra.app.widgets import money_column, page_header, rows_height, settings_form
from demetra.channels import CHANNELS, channel_label, ordered
from demetra.queries import Filters

SEVERITY_BADGES = {"critical": ":red-badge[Critical]", "high": ":orange-badge[High]",
                   "medium": ":yellow-badge[Medium]", "low": ":gray-badge[Low]"}
ALERT_TYPE_LABELS = {"roi_drop": "ROI drop", "cost_spike": "Cost spike",
                     "low_conversion": "Low conversion", "cpa_rise": "CPA rise",
                     "anomaly": "Anomaly",
                     "system": "System"}
STATUSES = {"Open and resolved": None, "Open": "open", "Resolved": "resolved"}
# Severity low is a lead: evidence short of proof (demetra.alerts.detection). Leads are hidden
# until asked for, so they do not bury the incidents that are proven.
LEAD = "low"
GRADED = tuple(s for s in alerts.SEVERITIES if s != LEAD)
LIST_LIMIT = 500  # rows the list reads (alerts.list_alerts' bound)
# Alerts are read straight from the database, never through the cache: their writes (detection,
# read marks, settings) have no cached reads to forget.
UNCACHED = {"clear": False}


def alert_columns(currency: str) -> dict[str, Any]:
    return {
        "Read": st.column_config.CheckboxColumn("Read", width="small"),
        "Severity": st.column_config.TextColumn("Severity", width="small"),
        "What happened": st.column_config.TextColumn("What happened", width="large"),
        "At stake": money_column(
            "At stake", currency,
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
        "Channel": df["channel"].map(lambda c: channel_label(c) if isinstance(c, str) else fmt.DASH),
        "What happened": df["message"],
        "At stake": df["money_at_stake"],
        "From": df["date"],
        "Last seen": df["last_seen"],
        "Status": df["status"].str.capitalize(),
    })


def open_system_alerts(engine: sa.Engine) -> pd.DataFrame:
    return alerts.list_alerts(engine, alerts.AlertFilter(types=("system",), unread_only=True,
                                                         status="open"), limit=3)


def _plural(n: int) -> str:
    return f"{n} alert{'s' if n != 1 else ''}"


def lead_filters(q: alerts.AlertFilter,
                 show_leads: bool) -> tuple[alerts.AlertFilter, alerts.AlertFilter | None]:
    """What the list reads, and what counts the leads it hides (None: it hides none).

    Severities picked by hand are shown as picked, leads among them."""
    if show_leads or q.severities:
        return q, None
    return (dataclasses.replace(q, severities=GRADED),
            dataclasses.replace(q, severities=(LEAD,)))


def _leads(n: int) -> str:
    if n >= LIST_LIMIT:
        return f"{LIST_LIMIT:,} or more leads (severity low)"
    return f"{n:,} lead{'s' if n != 1 else ''} (severity low)"


def _toolbar(engine: sa.Engine) -> None:
    run_col, since_col, _ = st.columns([1.2, 1.4, 3], vertical_alignment="bottom")
    since = since_col.date_input("Check from", value=None, key="alr_since",
                                 help="Empty: the last 7 days of data. Earlier dates re-check "
                                      "history; existing incidents are updated, not repeated.")
    if run_col.button("Run detection now", icon=":material/radar:", type="primary",
                      key="alr_run"):
        with st.spinner("Checking every campaign and channel against its own baseline…"):
            report = alerts.run_detection(engine, since=since, settings=settings())
        if report.error:
            st.error(report.summary(), icon=":material/error:")
        else:
            rerun_with(report.summary(), **UNCACHED)


def _query(f: Filters | None) -> tuple[alerts.AlertFilter, alerts.AlertFilter | None]:
    """The list's filters, drawn; by default narrowed to the sidebar's period and channels and
    without leads (``lead_filters``)."""
    sev_col, type_col, status_col, unread_col = st.columns([2, 2.2, 1.2, 1],
                                                           vertical_alignment="bottom")
    severities = sev_col.multiselect("Severity", alerts.SEVERITIES[::-1], key="alr_sev",
                                     placeholder="All severities")
    types = type_col.multiselect("Type", alerts.ALERT_TYPES, key="alr_type",
                                 format_func=alert_type_label, placeholder="All types")
    status = status_col.selectbox("Status", list(STATUSES), key="alr_status")
    unread_only = unread_col.toggle("Unread only", key="alr_unread")
    period_col, leads_col = st.columns(2)
    use_period = period_col.toggle("Only incidents in the sidebar period and channels",
                                   value=True, key="alr_period")
    show_leads = leads_col.toggle("Show leads (severity low)", key="alr_leads",
                                  help="Leads are evidence short of proof: worth a look, not "
                                       "yet an incident. Picking Low under Severity shows them "
                                       "too.")
    scoped = f if (f and use_period) else None
    return lead_filters(alerts.AlertFilter(
        severities=tuple(severities), types=tuple(types),
        channels=scoped.channels if scoped else (),
        start=scoped.start if scoped else None, end=scoped.end if scoped else None,
        unread_only=unread_only, status=STATUSES[status]), show_leads)


def _mark_buttons(engine: sa.Engine, shown: pd.DataFrame, picked: list[int]) -> None:
    targets = picked or shown["id"].astype(int).tolist()
    scope = f"{len(picked)} selected" if picked else f"all {len(shown)} shown"
    read_col, unread_col, _ = st.columns([1.3, 1.3, 3])
    if read_col.button(f"Mark {scope} read", icon=":material/done_all:", key="alr_mark_read"):
        rerun_with(f"Marked {_plural(alerts.set_read(engine, targets, True))} read", **UNCACHED)
    if unread_col.button(f"Mark {scope} unread", icon=":material/mark_email_unread:",
                         key="alr_mark_unread"):
        rerun_with(f"Marked {_plural(alerts.set_read(engine, targets, False))} unread",
                   **UNCACHED)


def _in_context(engine: sa.Engine, focus: pd.Series) -> None:
    """One incident: what happened, and the campaign's days around it."""
    st.subheader("The incident in context", anchor=False)
    st.markdown(f"**{alert_type_label(focus['alert_type'])}** · "
                f"{SEVERITY_BADGES.get(focus['severity'], focus['severity'])} · "
                f"{focus['message']}")
    if focus["campaign_id"] and focus["date"]:
        first, last = focus["date"], focus["last_seen"] or focus["date"]
        history = cache.campaign_history(engine, focus["campaign_id"],
                                         first - dt.timedelta(days=21),
                                         last + dt.timedelta(days=7))
        figure = charts.campaign_history_figure(history,
                                                currency=cache.reporting_currency(engine))
        st.plotly_chart(charts.mark_incident(figure, first, last), width="stretch",
                        config={"displayModeBar": False}, key="alr_history_chart")
    elif focus["alert_type"] != "system":
        st.caption("A channel-level alert: open the Overview page for the channel's trend.")


def _the_list(engine: sa.Engine, shown: pd.DataFrame, hidden: int) -> None:
    if shown.empty:
        if alerts.alert_count(engine) == 0:
            st.info("No alerts. Run detection to check the campaigns, or wait for the worker.",
                    icon=":material/notifications_off:")
        else:
            leads = (f"; {_leads(hidden)} {'is' if hidden == 1 else 'are'} hidden: turn on "
                     "Show leads to see them" if hidden else "")
            st.info(f"No alerts match these filters{leads}.", icon=":material/filter_alt_off:")
        return
    leads = f" · {_leads(hidden)} hidden" if hidden else ""
    st.caption(f"{len(shown):,} alert{'s' if len(shown) != 1 else ''}{leads} · unread first, "
               "then the most severe · select rows to mark them or to see the campaign")
    selection = st.dataframe(
        alerts_for_display(shown), hide_index=True, width="stretch", key="alr_table",
        on_select="rerun", selection_mode="multi-row",
        column_config=alert_columns(cache.reporting_currency(engine)),
        height=rows_height(len(shown)))
    picked = [int(shown.iloc[i]["id"]) for i in selection.selection.rows]
    _mark_buttons(engine, shown, picked)
    _in_context(engine, shown[shown["id"] == picked[0]].iloc[0] if picked else shown.iloc[0])


def _per_channel_thresholds(current: alerts.AlertSettings, present: list[str]) -> dict[str, Any]:
    st.caption("ROI threshold per channel (leave at 0 to use the general one)")
    # The demo's six, the channels the data holds and any with a saved threshold, six a row.
    channels = ordered({*CHANNELS, *present, *current.roi_threshold_by_channel})
    values = {}
    for start in range(0, len(channels), 6):
        row = channels[start:start + 6]
        for col, channel in zip(st.columns(6), row, strict=False):
            values[channel] = col.number_input(
                channel_label(channel),
                value=float(current.roi_threshold_by_channel.get(channel, 0.0)),
                step=0.1, format="%.2f", key=f"alr_set_roi_{channel}")
    return {"roi_threshold_by_channel": {c: v for c, v in values.items() if v}}


def _save_alert_settings(engine: sa.Engine, values: dict[str, Any]) -> str:
    alerts.save_alert_settings(engine, alerts.AlertSettings(**values))
    return "Alert settings saved; they apply from the next run"


def render() -> None:
    engine = get_engine()
    f = active_filters()
    unread = alerts.unread_count(engine)
    page_header("Alerts", f, subtitle=f"{unread:,} unread" if unread else "all read")

    # A broken detection job must never be silent.
    for _, row in open_system_alerts(engine).iterrows():
        when = f" ({fmt.date(row['date'])})" if row["date"] else ""
        st.error(f"{row['message']}{when}", icon=":material/error:")

    _toolbar(engine)
    shown, leads = _query(f)
    hidden = len(alerts.list_alerts(engine, leads, limit=LIST_LIMIT)) if leads else 0
    _the_list(engine, alerts.list_alerts(engine, shown, limit=LIST_LIMIT), hidden)

    with st.expander("Alert settings", icon=":material/tune:"):
        current = alerts.load_alert_settings(engine, settings())
        settings_form("alr_settings", alerts.SPECS, current, key_prefix="alr_set_",
                      steps={"min_conversion_rate": 0.001},
                      extra=lambda: _per_channel_thresholds(
                          current, cache.data_summary(engine)["channels"]),
                      save=lambda values: _save_alert_settings(engine, values), **UNCACHED)

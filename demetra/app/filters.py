"""The shared sidebar filters: a period (presets counted back from the data's last day, or a
custom range) and channels.

The widgets live in the entry script, so their keys (``flt_period``, ``flt_custom``,
``flt_channels``) hold across pages; the filters of the current run are kept under
``flt_active`` for the pages to read (``active_filters``, ``require_filters``).

The choice is also in the URL (``?period=Last+90+days``, ``?start=2026-05-01&end=2026-05-31``,
``?channels=facebook,google_ads``; ``demetra.queries.read_link``), so a view can be shared: the
first run of a session sets the widgets from the link it was opened with, naming in the
sidebar whatever it could not use, and every run writes the widgets back into the URL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import sqlalchemy as sa
import streamlit as st

from demetra import format as fmt
from demetra.app import cache
from demetra.app.runtime import backend_name
from demetra.app.widgets import empty_state, plain
from demetra.channels import CHANNELS, channel_label
from demetra.queries import (
    DEFAULT_PRESET,
    LINK_KEYS,
    PRESETS,
    Filters,
    link_params,
    preset_range,
    read_link,
)

KEY_PRESET, KEY_CUSTOM, KEY_CHANNELS, KEY_ACTIVE = ("flt_period", "flt_custom", "flt_channels",
                                                    "flt_active")
KEY_LINK_READ, KEY_LINK_IGNORED = "flt_link_read", "flt_link_ignored"


def _open_link(first: dt.date, last: dt.date, channels: list[str]) -> None:
    """Once a session (with data): set the widgets from the link it was opened with."""
    if st.session_state.get(KEY_LINK_READ):
        return
    st.session_state[KEY_LINK_READ] = True
    link = read_link(st.query_params.to_dict(), first, last, channels)
    st.session_state[KEY_PRESET] = link.preset
    if link.preset == "Custom":
        st.session_state[KEY_CUSTOM] = (link.start, link.end)
    st.session_state[KEY_CHANNELS] = list(link.channels)
    st.session_state[KEY_LINK_IGNORED] = link.ignored


def _forget_ignored() -> None:
    # The note is about the link; once a filter is changed by hand it no longer applies.
    st.session_state.pop(KEY_LINK_IGNORED, None)


def _follow_in_url(preset: str, start: dt.date, end: dt.date, channels: list[str]) -> None:
    """Keep the URL on the view shown: a widget change updates it, and it comes back after a
    page switch (Streamlit clears the query parameters on navigation)."""
    wanted = link_params(preset, start, end, channels)
    for key in LINK_KEYS:
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]


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
                           format="YYYY-MM-DD", help="Pick the first and the last day",
                           on_change=_forget_ignored)
    if isinstance(picked, list | tuple):
        if len(picked) == 0:
            return default
        # While the second click is pending the range has one day.
        return picked[0], picked[-1]
    return picked, picked


def sidebar_filters(engine: sa.Engine) -> Filters | None:
    """Draw the shared filters in the sidebar and return them (None: no data yet)."""
    span = cache.date_span(engine)
    with st.sidebar:
        if span is None:
            st.session_state[KEY_ACTIVE] = None
            st.caption(":material/info: No campaign data yet. Load the demo world on any page.")
            return None
        first, last = span
        present = cache.data_summary(engine)["channels"]
        options = list(CHANNELS) + [c for c in present if c not in CHANNELS]
        _open_link(first, last, options)
        st.markdown("**Filters**")
        ignored = st.session_state.get(KEY_LINK_IGNORED)
        if ignored:
            st.caption(":material/link_off: Ignored from the link: "
                       + "; ".join(plain(text) for text in ignored)
                       + " (left at the default).")
        st.session_state.setdefault(KEY_PRESET, DEFAULT_PRESET)
        preset = st.selectbox("Period", PRESETS, key=KEY_PRESET, on_change=_forget_ignored,
                              help=f"Counted back from the last day with data ({fmt.date(last)})")
        if preset == "Custom":
            start, end = _custom_range(first, last)
        else:
            start, end = preset_range(preset, first, last)
        chosen = [c for c in st.session_state.get(KEY_CHANNELS, []) if c in options]
        st.session_state[KEY_CHANNELS] = chosen
        channels = st.multiselect("Channels", options, key=KEY_CHANNELS, format_func=channel_label,
                                  placeholder="All channels", on_change=_forget_ignored)
        f = Filters(start, end, tuple(channels))
        _follow_in_url(preset, start, end, channels)
        st.caption(f":material/calendar_month: {fmt.date_range(start, end)} · {f.days} days")
        st.divider()
        st.caption(f":material/database: {backend_name(engine)} · data from "
                   f"{fmt.date_range(first, last)}")
    st.session_state[KEY_ACTIVE] = f
    return f


def active_filters() -> Filters | None:
    """The filters the sidebar set in this run (None when the database has no data)."""
    return st.session_state.get(KEY_ACTIVE)


def require_filters(engine: sa.Engine) -> Filters:
    """The active filters, or the empty state (and stop) when there is no data."""
    f = active_filters()
    if f is None:
        empty_state(engine)
    return f


def with_search(f: Filters, search: str) -> Filters:
    return dataclasses.replace(f, search=search or "")

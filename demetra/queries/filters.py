"""What the sidebar selects (``Filters``), the periods it offers (``PRESETS``, counted back
from the data's last day by ``preset_range``; the app and the JSON API share them) and
``as_date``, which turns what a driver returns into a ``datetime.date``; ``read_link`` and
``link_params``, the same choice as a URL's query parameters (views you can share)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from demetra.errors import BadInput

__all__ = ["DEFAULT_PRESET", "LINK_KEYS", "PRESETS", "FilterLink", "Filters", "as_date",
           "link_params", "preset_range", "read_link"]

PRESETS = ("Last 7 days", "Last 30 days", "Last 90 days", "This month", "All time", "Custom")
DEFAULT_PRESET = "Last 30 days"
_PRESET_DAYS = {"Last 7 days": 7, "Last 30 days": 30, "Last 90 days": 90}


def as_date(value: Any) -> dt.date | None:
    """A date from what a driver returns: date, datetime or ISO text (SQLite); None stays None."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):  # pd.Timestamp too
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


@dataclass(frozen=True)
class Filters:
    """What the sidebar selects. ``start``/``end`` are inclusive; empty ``channels`` = all."""

    start: dt.date
    end: dt.date
    channels: tuple[str, ...] = ()
    search: str = ""

    def __post_init__(self) -> None:
        start, end = as_date(self.start), as_date(self.end)
        if start is None or end is None:
            raise BadInput("Filters need a start and an end date")
        if start > end:
            raise BadInput(f"the start date {start} is after the end date {end}")
        channels = self.channels
        if isinstance(channels, str):
            channels = (channels,) if channels else ()
        # Sorted and de-duplicated: equal selections hash equal (st.cache_data keys).
        channels = tuple(sorted({str(c) for c in channels if c}))
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "search", (self.search or "").strip())

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Filters:
        """The period of equal length immediately before this one, same channels and search."""
        end = self.start - dt.timedelta(days=1)
        return Filters(end - dt.timedelta(days=self.days - 1), end, self.channels, self.search)


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


# -- views you can share: the sidebar's choice in the URL ----------------------------------------

#: The query parameters a shared view sets: ``?period=Last+90+days`` or ``?start=…&end=…``
#: (a custom range), and ``?channels=facebook,google_ads``.
LINK_KEYS = ("period", "start", "end", "channels")


@dataclass(frozen=True)
class FilterLink:
    """What a link asks the sidebar for, once checked against the data: a preset (``"Custom"``
    with ``start``/``end``), channels, and what was ignored from it, in words."""

    preset: str = DEFAULT_PRESET
    start: dt.date | None = None
    end: dt.date | None = None
    channels: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()


def _quoted(text: str) -> str:
    """A value from a link, quoted and cut short: it is shown back to whoever opened it."""
    return repr(text if len(text) <= 40 else text[:39] + "…")


def _link_date(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text.strip()) if text else None
    except ValueError:
        return None


def read_link(params: Mapping[str, str], first: dt.date, last: dt.date,
              channels: Sequence[str]) -> FilterLink:
    """The sidebar's choice from a link's query ``params``, for data from ``first`` to
    ``last`` with the channels offered. Whatever cannot be used (an unknown period or channel,
    a date that does not parse, an end before the start, a range without data) is left at its
    default and named in ``ignored``; the rest still applies."""
    ignored: list[str] = []
    preset, start, end = DEFAULT_PRESET, None, None
    period = (params.get("period") or "").strip()
    start_text, end_text = params.get("start"), params.get("end")
    if start_text or end_text:
        start, end = _link_date(start_text), _link_date(end_text)
        for name, text, value in (("start", start_text, start), ("end", end_text, end)):
            if value is None:
                ignored.append(f"{name} {_quoted(text)} (a date is YYYY-MM-DD)" if text
                               else f"a custom range without its {name} date")
        if start and end and end < start:
            ignored.append(f"the range {start} to {end} (it ends before it starts)")
        elif start and end and (end < first or start > last):
            ignored.append(f"the range {start} to {end} (the data runs from {first} to {last})")
        elif start and end:
            # Trimmed to the data, as the date picker's bounds would.
            preset, start, end = "Custom", max(start, first), min(end, last)
        if preset != "Custom":
            start = end = None
    elif period in PRESETS and period != "Custom":
        preset = period
    elif period:
        ignored.append(f"period {_quoted(period)}" + (" (it needs start and end dates)"
                                               if period == "Custom" else ""))
    chosen: list[str] = []
    for part in filter(None, (p.strip() for p in (params.get("channels") or "").split(","))):
        if part in channels:
            if part not in chosen:
                chosen.append(part)
        else:
            ignored.append(f"channel {_quoted(part)}")
    return FilterLink(preset, start, end, tuple(chosen), tuple(ignored))


def link_params(preset: str, start: dt.date, end: dt.date,
                channels: Sequence[str]) -> dict[str, str]:
    """The query parameters that reopen this choice; the defaults are left out, so the
    default view's URL stays bare."""
    params: dict[str, str] = {}
    if preset == "Custom":
        params.update(start=start.isoformat(), end=end.isoformat())
    elif preset != DEFAULT_PRESET:
        params["period"] = preset
    if channels:
        params["channels"] = ",".join(channels)
    return params

"""What the sidebar selects (``Filters``), the periods it offers (``PRESETS``, counted back
from the data's last day by ``preset_range``; the app and the JSON API share them) and
``as_date``, which turns what a driver returns into a ``datetime.date``."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from demetra.errors import BadInput

__all__ = ["DEFAULT_PRESET", "PRESETS", "Filters", "as_date", "preset_range"]

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

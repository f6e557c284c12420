"""``read_link`` / ``link_params``: the sidebar's choice as query parameters and back."""

from __future__ import annotations

import datetime as dt

import pytest

from demetra.queries import DEFAULT_PRESET, PRESETS, FilterLink, link_params, read_link

FIRST, LAST = dt.date(2026, 4, 2), dt.date(2026, 6, 30)
CHANNELS = ["facebook", "google_ads", "tiktok", "quora_ads"]


@pytest.mark.parametrize("preset", [p for p in PRESETS if p != "Custom"])
def test_every_preset_round_trips(preset: str) -> None:
    params = link_params(preset, FIRST, LAST, ["tiktok", "facebook"])
    assert read_link(params, FIRST, LAST, CHANNELS) == FilterLink(preset,
                                                                  channels=("tiktok", "facebook"))


def test_a_custom_range_round_trips_and_the_defaults_leave_the_url_bare() -> None:
    start, end = dt.date(2026, 5, 1), dt.date(2026, 5, 31)
    params = link_params("Custom", start, end, [])
    assert params == {"start": "2026-05-01", "end": "2026-05-31"}
    assert read_link(params, FIRST, LAST, CHANNELS) == FilterLink("Custom", start, end)
    assert link_params(DEFAULT_PRESET, FIRST, LAST, []) == {}


def test_a_range_reaching_past_the_data_is_trimmed_to_it() -> None:
    link = read_link({"start": "2026-01-01", "end": "2026-12-31"}, FIRST, LAST, CHANNELS)
    assert (link.preset, link.start, link.end, link.ignored) == ("Custom", FIRST, LAST, ())


def test_channels_are_ids_of_the_offered_channels_once_each() -> None:
    link = read_link({"channels": " quora_ads,,facebook,quora_ads,Facebook"}, FIRST, LAST,
                     CHANNELS)
    assert link.channels == ("quora_ads", "facebook")
    assert link.ignored == ("channel 'Facebook'",)


def test_a_range_wins_over_a_period_and_half_a_range_is_ignored() -> None:
    both = read_link({"period": "Last 7 days", "start": "2026-06-01", "end": "2026-06-07"},
                     FIRST, LAST, CHANNELS)
    assert (both.preset, both.start, both.end) == ("Custom", dt.date(2026, 6, 1),
                                                   dt.date(2026, 6, 7))
    half = read_link({"start": "2026-06-01"}, FIRST, LAST, CHANNELS)
    assert (half.preset, half.start, half.end) == (DEFAULT_PRESET, None, None)
    assert half.ignored == ("a custom range without its end date",)


def test_what_is_ignored_is_named_short() -> None:
    link = read_link({"period": "x" * 500}, FIRST, LAST, CHANNELS)
    assert link.preset == DEFAULT_PRESET
    assert link.ignored == (f"period {'x' * 39 + '…'!r}",)

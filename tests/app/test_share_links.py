"""Views you can share: the sidebar's period and channels live in the URL. A link sets the
widgets (and so the figures), a link with values that cannot be used opens the default for
them and says what it ignored, and the URL follows the widgets, across a page switch too."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP, last_day, metric, money, spend_in_db


def open_link(url: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.secrets["DATABASE_URL"] = url
    for key, value in params.items():
        at.query_params[key] = value
    return at.run()


def ignored_note(at: AppTest) -> str | None:
    return next((c.value for c in at.sidebar.caption if "Ignored from the link" in c.value), None)


def test_a_link_sets_the_period_and_the_channels(seeded_engine: sa.Engine, db_url: str) -> None:
    end = last_day(seeded_engine)
    at = open_link(db_url, period="Last 7 days", channels="facebook,google_ads")
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="flt_period").value == "Last 7 days"
    assert at.sidebar.multiselect(key="flt_channels").value == ["facebook", "google_ads"]
    assert metric(at, "Spend") == money(spend_in_db(
        seeded_engine, end - dt.timedelta(days=6), end, ("facebook", "google_ads")))
    assert ignored_note(at) is None


def test_a_link_with_a_custom_range(seeded_engine: sa.Engine, db_url: str) -> None:
    end = last_day(seeded_engine)
    first, last = end - dt.timedelta(days=40), end - dt.timedelta(days=20)
    at = open_link(db_url, start=first.isoformat(), end=last.isoformat(), channels="tiktok")
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="flt_period").value == "Custom"
    assert at.sidebar.date_input(key="flt_custom").value == (first, last)
    assert metric(at, "Spend") == money(spend_in_db(seeded_engine, first, last, ("tiktok",)))
    assert at.query_params["start"] == first.isoformat()
    assert at.query_params["end"] == last.isoformat()


@pytest.mark.parametrize(("params", "named"), [
    ({"period": "Last century", "channels": "myspace"}, ["period 'Last century'",
                                                         "channel 'myspace'"]),
    ({"start": "2026-06-20", "end": "2026-06-01"}, ["ends before it starts"]),
    ({"start": "yesterday", "end": "2026-06-10"}, ["start 'yesterday'"]),
    ({"start": "2019-01-01", "end": "2019-01-31"}, ["the data runs from"]),
    ({"period": "Custom"}, ["period 'Custom'", "it needs start and end dates"]),
    # What a link says is shown back as text, never as markdown.
    ({"channels": "[x](http://evil.example)"}, ["channel '\\[x\\]\\(http"]),
], ids=["unknown-period-and-channel", "end-before-start", "bad-date", "no-data", "bare-custom",
        "markdown"])
def test_a_bad_link_opens_the_default_view_and_says_what_it_ignored(
        seeded_engine: sa.Engine, db_url: str, params: dict[str, str], named: list[str]) -> None:
    end = last_day(seeded_engine)
    at = open_link(db_url, **params)
    assert not at.exception and not at.error
    assert at.sidebar.selectbox(key="flt_period").value == "Last 30 days"
    assert at.sidebar.multiselect(key="flt_channels").value == []
    assert metric(at, "Spend") == money(spend_in_db(seeded_engine, end - dt.timedelta(days=29),
                                                    end))
    note = ignored_note(at)
    assert note is not None and all(n in note for n in named), note
    # The URL now says what is shown: the default, so no parameters.
    assert not set(at.query_params) & {"period", "start", "end", "channels"}


def test_a_good_channel_survives_a_bad_one(seeded_engine: sa.Engine, db_url: str) -> None:
    at = open_link(db_url, channels="youtube,nope")
    assert at.sidebar.multiselect(key="flt_channels").value == ["youtube"]
    assert "channel 'nope'" in ignored_note(at)
    assert at.query_params["channels"] == "youtube"


def test_the_url_follows_the_widgets(seeded_engine: sa.Engine, db_url: str) -> None:
    at = open_link(db_url, channels="nope")
    assert not set(at.query_params) & {"period", "channels"}
    assert ignored_note(at)

    at.sidebar.selectbox(key="flt_period").select("Last 90 days").run()
    assert at.query_params["period"] == "Last 90 days"
    assert ignored_note(at) is None  # changed by hand: the note about the link is gone

    at.sidebar.multiselect(key="flt_channels").select("linkedin").select("facebook").run()
    assert at.query_params["channels"] == "linkedin,facebook"

    at.switch_page("app_pages/campaigns.py").run()
    assert not at.exception
    assert (at.query_params["period"], at.query_params["channels"]) == ("Last 90 days",
                                                                        "linkedin,facebook")

    end = last_day(seeded_engine)
    at.sidebar.selectbox(key="flt_period").select("Custom").run()
    at.sidebar.date_input(key="flt_custom").set_value(
        (end - dt.timedelta(days=9), end)).run()
    assert "period" not in at.query_params
    assert (at.query_params["start"], at.query_params["end"]) == (
        (end - dt.timedelta(days=9)).isoformat(), end.isoformat())

    at.sidebar.multiselect(key="flt_channels").set_value([]).run()
    assert "channels" not in at.query_params


def test_a_link_opens_the_campaigns_page_on_its_campaign(seeded_engine: sa.Engine,
                                                         db_url: str) -> None:
    with seeded_engine.connect() as conn:
        by_spend = conn.execute(sa.text(
            "SELECT campaign_id FROM campaigns GROUP BY campaign_id ORDER BY SUM(cost)"
        )).scalars().all()
    small, big = by_spend[0], by_spend[-1]
    at = open_link(db_url, period="All time", campaign=small)
    at.switch_page("app_pages/campaigns.py").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="cmp_pick_box").value == small  # not the biggest spender, the default
    assert not any("The link's campaign" in c.value for c in at.caption)

    at.selectbox(key="cmp_pick_box").set_value(big).run()
    assert at.query_params["campaign"] == big


def test_a_link_to_an_unknown_campaign_shows_another_and_says_so(seeded_engine: sa.Engine,
                                                                 db_url: str) -> None:
    at = open_link(db_url, campaign="NOPE_123")
    at.switch_page("app_pages/campaigns.py").run()
    assert not at.exception and not at.error
    assert any("The link's campaign “NOPE\\_123”" in c.value for c in at.caption)
    shown = at.selectbox(key="cmp_pick_box").value
    assert shown and at.query_params["campaign"] == shown

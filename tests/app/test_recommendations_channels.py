"""The Recommendations page names every channel as people do, the channels an import brought
from its file ("quora_ads") included: the cards show "Quora Ads", never the raw id."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from demetra import ingest
from demetra.app import pages
from demetra.app.views.recommendations import context_channels, target_label
from tests.app.helpers import open_page


def quora_file(end: dt.date, days: int = 30) -> bytes:
    """A losing channel the app knows only from the file: much spend, little revenue."""
    lines = ["Date,Campaign,Spend,Impressions,Clicks,Revenue"]
    for i in range(days):
        day = end - dt.timedelta(days=i)
        lines.append(f"{day},Quora answers,{400 + 7 * (i % 5)}.00,20000,300,{10 + i % 3}.00")
    return ("\n".join(lines) + "\n").encode()


def test_a_channel_from_the_file_is_shown_by_its_label(seeded_engine: sa.Engine, db_url: str,
                                                       small_world_date: dt.date) -> None:
    ingest.import_file(seeded_engine, quora_file(small_world_date), name="quora.csv",
                       platform="generic", channel="quora_ads")
    at = open_page(db_url, pages.RECOMMENDATIONS.path)
    at = at.button(key="rec_generate").click().run()
    assert not at.exception
    with seeded_engine.connect() as conn:
        [targets] = conn.execute(sa.text("SELECT recommendations FROM recommendations")).one()
    if isinstance(targets, str):  # a JSON column: SQLite hands back the text
        import json

        targets = json.loads(targets)
    assert "quora_ads" in {r["target"] for r in targets}, "the losing channel is a target"
    shown = [m.value for m in at.markdown]
    assert "**Quora Ads**" in shown
    assert not any("quora\\_ads" in m or "quora_ads" in m for m in shown
                   if m.startswith("**") and m.endswith("**"))


def test_target_label_names_channels_from_the_facts_and_campaigns() -> None:
    campaigns = {"FACEBOOK_1": "Spring sale"}
    assert target_label("google_ads", campaigns) == "Google Ads"
    assert target_label("quora_ads", campaigns, {"quora_ads"}) == "Quora Ads"
    assert target_label("FACEBOOK_1", campaigns, {"quora_ads"}) == "Spring sale"
    # Two campaigns of the set with one name: each with its id.
    twins = {**campaigns, "GOOGLE_ADS_2": "Spring sale", "GOOGLE_ADS_3": "Brand"}
    assert target_label("FACEBOOK_1", twins) == "Spring sale (FACEBOOK_1)"
    assert target_label("GOOGLE_ADS_2", twins) == "Spring sale (GOOGLE_ADS_2)"
    assert target_label("GOOGLE_ADS_3", twins) == "Brand"
    # Not a channel of the set and no campaign's name: the id as it is.
    assert target_label("quora_ads", campaigns) == "quora_ads"


def test_the_channels_of_a_stored_set_come_from_its_list_and_its_facts() -> None:
    context = {"channels": ["facebook"],
               "facts": {"channels": [{"channel": "quora_ads", "spend": 1.0}],
                         "budget": {"channels": [{"channel": "reddit"}]},
                         "open_alerts": [{"channel": "naver_ads", "campaign_id": None}]}}
    assert context_channels(context) == {"facebook", "quora_ads", "reddit", "naver_ads"}
    # A set stored before the list was kept: the facts alone.
    assert context_channels({"facts": {"channels": [{"channel": "quora_ads"}]}}) == {"quora_ads"}
    assert context_channels({}) == set()

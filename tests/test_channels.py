"""Channels are data: the six of the demo world keep their labels and order, the other platforms
an export may name (Microsoft Ads, Pinterest, Snapchat, X, Reddit, Amazon, Apple Search Ads) have
a label, their aliases and a colour, and any other channel a file names is stored as its slug
("Quora Ads" -> quora_ads) instead of being rejected; a cell that names no channel, or one of
which no channel id can be made, is rejected with its reason; ``--channel``, the alert
thresholds and the charts take any of them."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from demetra import charts, cli, ingest, queries
from demetra.alerts import AlertSettings, load_alert_settings, save_alert_settings
from demetra.channels import (
    CHANNEL_LABELS,
    CHANNELS,
    KNOWN_CHANNELS,
    channel_choice,
    channel_label,
    channel_of,
    channel_slug,
    is_channel_id,
    ordered,
)
from demetra.config import SettingsError
from demetra.queries import Filters
from tests.imported import stored_by_channel, stored_campaigns

NEW = {"microsoft_ads": "Microsoft Ads", "pinterest": "Pinterest", "snapchat": "Snapchat",
       "x": "X (Twitter)", "reddit": "Reddit", "amazon": "Amazon Ads",
       "apple_search_ads": "Apple Search Ads"}


def test_the_six_seed_channels_keep_their_labels_and_order() -> None:
    assert CHANNELS == ("facebook", "instagram", "google_ads", "tiktok", "youtube", "linkedin")
    assert [channel_label(c) for c in CHANNELS] == ["Facebook", "Instagram", "Google Ads",
                                                    "TikTok", "YouTube", "LinkedIn"]
    assert KNOWN_CHANNELS[:6] == CHANNELS and set(KNOWN_CHANNELS) == set(CHANNEL_LABELS)
    assert {c: channel_label(c) for c in KNOWN_CHANNELS[6:]} == NEW
    assert channel_label("quora_ads") == "Quora Ads"
    # The seed channels first, then the other known ones, then the file's own alphabetically.
    assert ordered({"quora_ads", "pinterest", "facebook", "avocado", "linkedin"}) == [
        "facebook", "linkedin", "pinterest", "avocado", "quora_ads"]


@pytest.mark.parametrize(("text", "valid"), [
    ("quora_ads", True), ("x", True), ("dv360", True), ("a" * 32, True),
    ("", False), ("Quora", False), ("quora ads", False), ("quora-ads", False), ("___", False),
    ("a" * 33, False), ("réseau", False),
])
def test_a_channel_id_is_a_short_lowercase_slug(text: str, valid: bool) -> None:
    assert is_channel_id(text) is valid


def test_a_name_no_alias_knows_becomes_its_slug() -> None:
    assert channel_slug("Quora Ads") == "quora_ads"
    assert channel_slug("  Taboola  (native) ") == "taboola_native"
    assert channel_slug("Réseau Pub") == "reseau_pub"
    assert channel_slug("—") is None and channel_slug("?!") is None
    assert channel_slug("A very long network name of many words") is None  # over 32 characters
    assert channel_of("Quora Ads") == "quora_ads"
    for nothing in ("", " ", "-", "--", "n/a", "N/A", "(not set)", "null"):
        assert channel_of(nothing) is None


@pytest.mark.parametrize(("text", "channel"), [
    ("bing", "microsoft_ads"), ("Bing Ads", "microsoft_ads"), ("Microsoft Advertising", "microsoft_ads"),
    ("microsoft", "microsoft_ads"), ("Pinterest Ads", "pinterest"), ("pinterest", "pinterest"),
    ("Snap", "snapchat"), ("Snapchat Ads", "snapchat"), ("Twitter", "x"), ("X", "x"),
    ("x (twitter)", "x"), ("Twitter Ads", "x"), ("Reddit Ads", "reddit"),
    ("Amazon Advertising", "amazon"), ("Amazon Ads", "amazon"), ("Apple Search Ads", "apple_search_ads"),
    # the seed channels' aliases still hold
    ("fb", "facebook"), ("Audience_Network", "facebook"), ("messenger", "facebook"),
    ("IG", "instagram"), ("threads", "instagram"), ("AdWords", "google_ads"),
    ("Google Ads", "google_ads"), ("You-Tube", "youtube"), ("Tik Tok", "tiktok"),
    ("Linked In", "linkedin"),
])
def test_aliases_name_the_known_channels(text: str, channel: str) -> None:
    assert channel_of(text) == channel


def test_every_known_channel_has_its_own_stable_colour() -> None:
    colors = {c: charts.channel_color(c) for c in KNOWN_CHANNELS}
    assert len(set(colors.values())) == len(KNOWN_CHANNELS)
    assert {c: colors[c] for c in ("microsoft_ads", "pinterest", "x", "reddit", "amazon",
                                   "apple_search_ads")} == {
        "microsoft_ads": "#00A4EF", "pinterest": "#E60023", "x": "#111827", "reddit": "#FF4500",
        "amazon": "#FF9900", "apple_search_ads": "#6B7280"}
    # Snapchat's own #FFFC00 vanishes on white: a darker yellow stands for it.
    assert colors["snapchat"] == "#EAB308"
    # A channel of the file's own takes the fallback palette, the same on every call.
    assert charts.channel_color("quora_ads") == charts.channel_color("quora_ads")
    assert charts.channel_color("quora_ads") not in colors.values()


MIXED = ("Date,Campaign,Channel,Spend,Impressions,Clicks,Revenue\n"
         "2026-09-01,Home Pins,Pinterest Ads,40.00,8000,60,35.00\n"
         "2026-09-01,Brand,Microsoft Advertising,25.50,1500,40,90.00\n"
         "2026-09-02,Brand,bing,20.00,1400,35,45.00\n"
         "2026-09-01,Answers,Quora Ads,12.25,3000,9,0\n"
         "2026-09-01,Orphan,,5.00,100,1,0\n"
         "2026-09-02,Long,A very long network name of many words,7.00,100,1,0\n")


def test_an_import_stores_new_channels_and_rejects_what_names_none(engine: sa.Engine) -> None:
    result = ingest.import_file(engine, MIXED.encode(), name="mixed.csv", platform="generic",
                                allow_rejects=True)
    p = result.preview
    assert (p.accepted, p.rejected) == (4, 2)
    reasons = dict(zip(p.rejects["row"], p.rejects["reason"], strict=True))
    assert reasons[6].startswith("the channel is empty")
    assert "makes no channel id" in reasons[7] and "lowercase letters" in reasons[7]
    assert stored_by_channel(engine) == {"pinterest": 40.0, "microsoft_ads": 45.5,
                                         "quora_ads": 12.25}
    assert set(stored_campaigns(engine).values()) == {"pinterest", "microsoft_ads", "quora_ads"}
    # Quora is no channel Demetra knows by name: the preview says so, with its label.
    assert [w for w in p.warnings if "Quora Ads (quora_ads, 1 row)" in w
            and "not among the known" in w]
    # The pages read them like any other: labels and colours on the channel chart.
    df = queries.channel_breakdown(engine, Filters(dt.date(2026, 9, 1), dt.date(2026, 9, 2)))
    assert set(df["channel"]) == {"pinterest", "microsoft_ads", "quora_ads"}
    fig = charts.channel_mix_figure(df)
    assert set(fig.data[0].labels) == {"Pinterest", "Microsoft Ads", "Quora Ads"}
    assert charts.CHANNEL_COLORS["pinterest"] in fig.data[0].marker.colors


def test_the_channel_of_a_file_is_any_known_channel_or_a_slug() -> None:
    data = b"Date,Campaign,Spend,Impressions,Clicks\n2026-09-01,Pins,10.00,100,2\n"
    for choice, stored in (("pinterest", "pinterest"), ("Bing", "microsoft_ads"),
                           ("quora_ads", "quora_ads"), ("snapchat", "snapchat")):
        p = ingest.preview(data, name="one.csv", platform="generic", channel=choice)
        assert p.channels == {stored: 1}, choice
    for bad in ("Quora Ads", "a" * 33, "n/a", ""):
        with pytest.raises(ingest.ImportFileError) as info:
            ingest.preview(data, name="one.csv", platform="generic", channel=bad)
        message = str(info.value)
        assert f"unknown channel {bad!r}" in message
        assert "lowercase letters, digits and underscores, at most 32 characters" in message
    with pytest.raises(ingest.ImportFileError, match=r"\(such as quora_ads\)"):
        ingest.preview(data, name="one.csv", platform="generic", channel="Quora Ads")
    assert channel_choice("apple_search_ads") == "apple_search_ads"


def test_the_command_line_takes_any_channel() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["recommend", "--channel", "bing", "--channel", "quora_ads"]
                             ).channel == ["microsoft_ads", "quora_ads"]
    with pytest.raises(SystemExit):
        parser.parse_args(["recommend", "--channel", "Quora Ads!"])


def test_an_alert_threshold_for_a_new_channel_is_accepted(engine: sa.Engine) -> None:
    chosen = AlertSettings(roi_threshold_by_channel={"pinterest": 1.2, "quora_ads": 0.8})
    assert chosen.validated() is chosen
    save_alert_settings(engine, chosen)
    loaded = load_alert_settings(engine)
    assert loaded.roi_threshold_for("pinterest") == 1.2
    assert loaded.roi_threshold_for("quora_ads") == 0.8
    assert loaded.roi_threshold_for("facebook") == loaded.roi_threshold
    with pytest.raises(SettingsError, match="unknown channel 'Pinterest Ads'.*such as pinterest_ads"):
        AlertSettings(roi_threshold_by_channel={"Pinterest Ads": 1.0}).validated()
    with pytest.raises(SettingsError, match="ROI threshold for pinterest must be between"):
        AlertSettings(roi_threshold_by_channel={"pinterest": 500.0}).validated()

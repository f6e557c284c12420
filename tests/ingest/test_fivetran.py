"""Fivetran's ad_reporting tables (``ad_reporting__ad_report``, ``__campaign_report``…) are a
platform of their own: recognised from the header, the channel of each row taken from its
``platform`` label ("Facebook Ads", or the connector's "facebook_ads"), each platform's campaign
id kept apart by the channel prefix, on SQLite and PostgreSQL; and the genuine export of
``../shared/real-exports/`` imports whole.

The fixtures are written the way the dbt package writes its output: ``fivetran_ad_report.csv``
(ad level, two ads of one campaign on one day, Google and Microsoft Ads with the same campaign
id, an empty ``conversions_value``) and ``fivetran_campaign_report.csv`` (no ad columns; the
other platforms the package supports).
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from demetra import cli, ingest
from demetra.ingest.platforms import FIVETRAN, PLATFORM_LABELS
from demetra.ingest.reader import open_file
from tests.imported import FIXTURES, real_export, stored_by_channel, stored_campaigns, stored_totals

AD_REPORT = FIXTURES / "fivetran_ad_report.csv"
CAMPAIGN_REPORT = FIXTURES / "fivetran_campaign_report.csv"


# The platform labels ad_reporting writes (its docs' names, and the connector names its
# get_query macro puts in ``platform``) -> the channel.
@pytest.mark.parametrize(("label", "channel"), [
    ("Facebook Ads", "facebook"), ("Instagram Ads", "instagram"), ("Google Ads", "google_ads"),
    ("TikTok Ads", "tiktok"), ("LinkedIn Ads", "linkedin"), ("Microsoft Ads", "microsoft_ads"),
    ("Bing Ads", "microsoft_ads"), ("Pinterest Ads", "pinterest"), ("Snapchat Ads", "snapchat"),
    ("Twitter Ads", "x"), ("X Ads", "x"), ("Reddit Ads", "reddit"), ("Amazon Ads", "amazon"),
    ("Apple Search Ads", "apple_search_ads"), ("YouTube", "youtube"),
    ("facebook_ads", "facebook"), ("google_ads", "google_ads"), ("linkedin_ads", "linkedin"),
    ("microsoft_ads", "microsoft_ads"), ("pinterest_ads", "pinterest"),
    ("snapchat_ads", "snapchat"), ("tiktok_ads", "tiktok"), ("twitter_ads", "x"),
    ("reddit_ads", "reddit"), ("amazon_ads", "amazon"), ("apple_search_ads", "apple_search_ads"),
])
def test_platform_labels_name_their_channel(label: str, channel: str) -> None:
    data = ("date_day,platform,campaign_id,campaign_name,clicks,impressions,spend\n"
            f"2026-09-01,{label},1,One,1,10,1.00\n")
    p = ingest.preview(data.encode(), name="ad_reporting.csv")
    assert p.platform == "fivetran" and p.channels == {channel: 1}


def test_the_header_is_recognised_as_fivetran_ad_reporting() -> None:
    for path in (AD_REPORT, CAMPAIGN_REPORT):
        assert ingest.detect(open_file(path).columns) is FIVETRAN
    assert "fivetran" in ingest.PLATFORMS and "fivetran" in ingest.PLATFORM_CHOICES
    assert PLATFORM_LABELS["fivetran"] == "Fivetran ad_reporting"
    plan = ingest.make_plan(open_file(AD_REPORT))
    assert plan.mapping == {"date": "date_day", "campaign_name": "campaign_name",
                            "campaign_id": "campaign_id", "channel": "platform", "cost": "spend",
                            "impressions": "impressions", "clicks": "clicks",
                            "conversions": "conversions", "revenue": "conversions_value"}
    assert plan.prefix_ids


def test_ad_report_imports_every_row_with_its_channel(engine: sa.Engine) -> None:
    result = ingest.import_file(engine, AD_REPORT)
    p = result.preview
    assert (p.platform, p.rows, p.accepted, p.rejected) == ("fivetran", 9, 9, 0)
    # The two ads of Brand Search on Google on 1 September are one campaign-day.
    assert p.combined == 1 and result.inserted == 8
    assert (p.start, p.end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 2))
    totals = stored_totals(engine)
    assert totals["rows"] == 8
    assert totals["cost"] == pytest.approx(609.25)
    assert totals["clicks"] == 860 and totals["impressions"] == 57900
    assert totals["conversions"] == pytest.approx(26.0)
    assert totals["revenue"] == pytest.approx(1340.0)  # an empty conversions_value is 0
    assert stored_by_channel(engine) == {"google_ads": 175.0, "microsoft_ads": 47.0,
                                         "facebook": 305.0, "pinterest": 82.25}
    # Campaign 1001 on Google Ads and 1001 on Microsoft Ads are two campaigns.
    assert stored_campaigns(engine) == {
        "GOOGLE_ADS_1001": "google_ads", "MICROSOFT_ADS_1001": "microsoft_ads",
        "FACEBOOK_23850000000000001": "facebook", "PINTEREST_5501": "pinterest"}
    again = ingest.import_file(engine, AD_REPORT)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 8)
    assert stored_totals(engine) == totals


def test_campaign_report_brings_the_other_platforms(engine: sa.Engine) -> None:
    result = ingest.import_file(engine, CAMPAIGN_REPORT)
    assert (result.preview.accepted, result.preview.rejected, result.inserted) == (5, 0, 5)
    assert stored_by_channel(engine) == {"snapchat": 60.0, "x": 30.0, "reddit": 35.5,
                                         "apple_search_ads": 49.9, "amazon": 38.1}
    assert set(stored_campaigns(engine)) == {"SNAPCHAT_c-31", "X_c-31", "REDDIT_c-40",
                                             "APPLE_SEARCH_ADS_88001", "AMAZON_41200"}
    assert not [w for w in result.preview.warnings if "not among the known" in w]


def test_a_row_without_a_platform_is_rejected_unless_a_channel_is_chosen() -> None:
    data = ("date_day,platform,campaign_id,campaign_name,clicks,impressions,spend\n"
            "2026-09-01,Google Ads,1,One,1,10,1.00\n"
            "2026-09-01,,2,Two,2,20,2.00\n")
    p = ingest.preview(data.encode(), name="ad_reporting.csv")
    assert (p.accepted, p.rejected) == (1, 1)
    assert p.rejects.iloc[0]["column"] == "platform"
    assert p.rejects.iloc[0]["reason"].startswith("the channel is empty")
    chosen = ingest.preview(data.encode(), name="ad_reporting.csv", channel="linkedin")
    assert (chosen.accepted, chosen.channels) == (2, {"google_ads": 1, "linkedin": 1})


def test_the_command_line_knows_the_platform(capsys) -> None:
    args = cli.build_parser().parse_args(["import", "--platform", "fivetran", str(AD_REPORT)])
    assert args.platform == "fivetran"
    assert cli.main(["import", "--dry-run", "--platform", "fivetran", str(AD_REPORT)]) == 0
    out = capsys.readouterr().out
    assert "Fivetran ad_reporting, 9 rows (9 accepted, 0 rejected" in out
    assert "spend 609.25" in out


def test_the_genuine_fivetran_ad_report_imports_whole(engine: sa.Engine) -> None:
    path = real_export("07a_fivetran_ad_report_schema.csv")
    result = ingest.import_file(engine, path)
    p = result.preview
    assert (p.platform, p.platform_label) == ("fivetran", "Fivetran ad_reporting")
    assert (p.rows, p.accepted, p.rejected, p.skipped) == (16, 16, 0, 0)
    assert p.totals["cost"] == pytest.approx(2247.15)
    assert p.totals["clicks"] == 3041
    totals = stored_totals(engine)
    assert round(totals["cost"], 2) == 2247.15 and totals["clicks"] == 3041
    assert set(stored_by_channel(engine)) == {"facebook", "google_ads", "tiktok"}
    assert set(stored_campaigns(engine)) == {"GOOGLE_ADS_CAM101", "FACEBOOK_CAM102",
                                             "TIKTOK_CAM201"}

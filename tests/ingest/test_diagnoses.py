"""Refusals that name the real cause and the fix in the platform's own words, and rows of several
days never stored as one day: each genuine export of ``../shared/real-exports/`` that must be
refused (skipped with the reason when the corpus is not beside the repository), the same quirks
in our own small fixtures, and the command line's one line on stderr."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra import ingest
from tests.imported import FIXTURES, ROOT, real_export, stored_totals

GOOGLE_NO_DAY = ("this Google Ads report has no date column, so it has one row per campaign for "
                 "the whole range", "add Segments → Time → Day and download it again")
META_BY_DAY = "break it down by day (Breakdown → By time → Day) and export it again"

# The genuine exports a user expects refused, and the words each refusal must hold.
CORPUS_REFUSALS: dict[str, tuple[str, ...]] = {
    "01_meta_fb_ads_daily.csv": (
        "this Meta Ads Manager export has no campaign column", "--campaign NAME",
        "the Campaign field on the Data page"),
    "02a_gads_utf16_campaign_report.csv": GOOGLE_NO_DAY,
    "02b_gads_campaign_report_1.csv": GOOGLE_NO_DAY,
    "02c_meta_empty.csv": (
        "the export holds no rows (Meta wrote 'No data available.'): pick a period in which "
        "the campaigns ran",),
    "03_gads_intrago.csv": GOOGLE_NO_DAY,
    "04a_meta_lingerie.csv": (
        "each row covers 366 days (2024-01-01 to 2024-12-31", "cannot be stored as one day",
        META_BY_DAY),
    # 31/01/2025 in "Reporting ends" decides DD/MM: a month, never 2025-01-01 alone.
    "04b_meta_monthly_jan.csv": (
        "each row covers 31 days (2025-01-01 to 2025-01-31", META_BY_DAY),
    "05a_gads_kyst_campaigns.csv": (
        "Google Ads report has no date column", "a daily campaign report is needed",
        "Segments → Time → Day"),
    "05b_gads_kyst_time_series.csv": (
        "Google Ads report has weekly rows (column “Week”, such as 'Week of May 13, 2024') and no "
        "campaign column", "Segments → Time → Day instead of “Week”",
        "the campaign column “Campaign”", "--campaign NAME"),
    "06_kag_conversion.csv": (
        "06_kag_conversion.csv has no date column", "a daily campaign report is needed",
        "--platform generic", "--map FIELD=COLUMN", "--channel C"),
}

# Our own fixture for each quirk, and the words of its refusal.
FIXTURE_REFUSALS: dict[str, tuple[str, ...]] = {
    "google_ads_no_day.csv": GOOGLE_NO_DAY,
    "meta_no_data.csv": ("the export holds no rows (Meta wrote 'No data available.')",
                         "pick a period in which the campaigns ran"),
    "meta_monthly_uk.csv": ("each row covers 31 days (2025-01-01 to 2025-01-31", META_BY_DAY),
    "meta_year_totals.csv": ("each row covers 366 days", META_BY_DAY),
    "google_ads_weekly.csv": ("weekly rows (column “Week”, such as 'Week of Sep 7, 2026') and no "
                              "campaign column", "Segments → Time → Day instead of “Week”",
                              "--campaign NAME"),
    "google_ads_overview.csv": ("Google Ads report has no date column",
                                "a daily campaign report is needed", "Segments → Time → Day",
                                "Impressions (a column named “Impr.”"),
    "meta_no_campaign.csv": ("this Meta Ads Manager export has no campaign column",
                             "--campaign NAME", "the Campaign field on the Data page"),
    "ad_level_no_dates.csv": ("has no date column", "none holds dates",
                              "a daily campaign report is needed", "--platform generic"),
}


def refusal(source: Path | bytes, **options) -> str:
    with pytest.raises(ingest.ImportFileError) as info:
        ingest.preview(source, **options)
    message = str(info.value)
    assert "\n" not in message
    return message


def assert_refused_and_nothing_stored(engine: sa.Engine, path: Path, words: tuple[str, ...]) -> None:
    message = refusal(path)
    for part in words:
        assert part in message, (part, message)
    assert "matches no known export" not in message or "--platform generic" in message
    with pytest.raises(ingest.ImportFileError) as info:
        ingest.import_file(engine, path)
    assert str(info.value) == message
    assert stored_totals(engine)["rows"] == 0


# --------------------------------------------------------------------------------------------
# The genuine exports


@pytest.mark.parametrize("name", sorted(CORPUS_REFUSALS))
def test_each_genuine_export_is_refused_with_its_real_cause(engine: sa.Engine, name: str) -> None:
    assert_refused_and_nothing_stored(engine, real_export(name), CORPUS_REFUSALS[name])


def test_the_meta_file_without_a_campaign_column_imports_as_the_campaign_named() -> None:
    p = ingest.preview(real_export("01_meta_fb_ads_daily.csv"), campaign="Facebook ads")
    assert p.platform == "meta" and p.campaigns == 1 and p.rejected == 0
    assert p.totals["cost"] == pytest.approx(2819.85)


# --------------------------------------------------------------------------------------------
# The same quirks in our own fixtures


@pytest.mark.parametrize("name", sorted(FIXTURE_REFUSALS))
def test_each_quirk_is_refused_with_its_real_cause(engine: sa.Engine, name: str) -> None:
    assert_refused_and_nothing_stored(engine, FIXTURES / name, FIXTURE_REFUSALS[name])


def test_the_utf16_excel_variant_of_a_report_without_day_is_google_ads() -> None:
    # "CSV (Excel)": UTF-16 with a BOM, tab-separated, title lines above the header.
    rows = [["Campaign report"], ["1 September 2026 - 30 September 2026"],
            ["Campaign status", "Campaign", "Currency code", "Clicks", "Impr.", "Cost",
             "Conv. value", "Conversions"],
            ["Enabled", "Office Fruit", "GBP", "264", "9,380", "365.22", "841.23", "25.00"],
            ["Total: Campaigns", " --", "GBP", "264", "9,380", "365.22", "841.23", "25.00"]]
    data = "\r\n".join("\t".join(r) for r in rows).encode("utf-16")
    message = refusal(data, name="Campaign report.csv")
    assert all(part in message for part in GOOGLE_NO_DAY), message


def test_a_file_of_one_campaign_imports_as_the_campaign_the_user_names(engine: sa.Engine) -> None:
    result = ingest.import_file(engine, FIXTURES / "meta_no_campaign.csv", campaign="Brand")
    assert result.preview.platform == "meta" and result.inserted == 2  # two days, rows summed
    assert stored_totals(engine)["cost"] == pytest.approx(4.22 + 34.33 + 44.49)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT DISTINCT campaign_name FROM campaigns")).scalars().all() \
            == ["Brand"]


def test_a_campaign_named_for_a_file_with_a_campaign_column_is_refused() -> None:
    message = refusal(FIXTURES / "google_ads_no_day.csv", campaign="Brand")
    assert "has a campaign column (“Campaign”)" in message and "leave it out" in message
    message = refusal(FIXTURES / "meta_daily_totals.csv", campaign="Brand")
    assert "has a campaign column (“Campaign name”)" in message


def test_a_weekly_report_named_as_one_campaign_still_says_weekly() -> None:
    message = refusal(FIXTURES / "google_ads_weekly.csv", campaign="Brand")
    assert "weekly rows" in message and "no campaign column" not in message


def test_meta_account_totals_row_is_a_summary_not_a_rejected_row() -> None:
    p = ingest.preview(FIXTURES / "meta_daily_totals.csv")
    assert (p.rows, p.accepted, p.rejected, p.skipped) == (2, 2, 0, 1)
    assert p.totals["cost"] == pytest.approx(30.00)  # not 60.00: the totals row is not data


def test_a_row_spanning_days_is_refused_whichever_columns_tell_the_span() -> None:
    # No platform's header: the generic mapping finds reporting_ends beside reporting_starts.
    message = refusal(FIXTURES / "generic_span.csv", platform="generic", channel="facebook")
    assert message.startswith("generic_span.csv: row 3 covers 7 days (2026-09-02 to 2026-09-08, "
                              "from “reporting_starts” to “reporting_ends”)")
    assert "cannot be stored as one day" in message
    # LinkedIn's start and end columns.
    data = (b"Start Date (in UTC),End Date (in UTC),Campaign Name,Total Spent,Impressions,Clicks\n"
            b"9/1/2026,9/1/2026,ABM,10.00,100,5\n"
            b"9/1/2026,9/30/2026,ABM,300.00,3000,50\n")
    assert refusal(data, name="linkedin.csv").startswith("linkedin.csv: row 3 covers 30 days")
    # The end column chosen by hand in a mapping.
    data = b"from,until,campaign,spend,impressions,clicks\n2026-09-01,2026-09-03,A,1,10,1\n"
    mapping = {"date": "from", "date_end": "until", "campaign_name": "campaign", "cost": "spend",
               "impressions": "impressions", "clicks": "clicks"}
    assert "covers 3 days" in refusal(data, mapping=mapping, channel="tiktok")


def test_an_end_date_that_does_not_parse_rejects_its_row_instead_of_skipping_the_check() -> None:
    data = (b"Campaign name,Amount spent (USD),Impressions,Link clicks,Reporting starts,"
            b"Reporting ends\n"
            b"A,10.00,100,5,2026-09-01,2026-09-01\n"
            b"A,20.00,100,5,2026-09-02,Ongoing\n"
            b"A,30.00,100,5,2026-09-03,\n"
            b"A,40.00,100,5,2026-09-05,2026-09-04\n")
    p = ingest.preview(data, name="meta.csv")
    assert (p.accepted, p.rejected) == (1, 3) and p.totals["cost"] == 10.00
    reasons = {r["row"]: r["reason"] for r in p.rejects.to_dict("records")}
    assert reasons[3].startswith("unparseable end date 'Ongoing'")
    assert reasons[4].startswith("the end date is empty")
    assert reasons[5] == "the row ends before it starts"


def test_day_and_month_order_is_decided_from_every_date_column() -> None:
    # Every Reporting starts/ends reads both ways (05/01/2025); the schedule's 17/12/2024 decides
    # DD/MM, so the day is 5 January, not 1 May.
    data = (b"Campaign name,Amount spent (GBP),Impressions,Link clicks,Starts,Ends,"
            b"Reporting starts,Reporting ends\n"
            b"A,10.00,100,5,17/12/2024,Ongoing,05/01/2025,05/01/2025\n"
            b"B,20.00,100,5,17/12/2024,Ongoing,05/01/2025,05/01/2025\n")
    p = ingest.preview(data, name="meta.csv")
    assert (p.start, p.end, p.rejected) == (dt.date(2025, 1, 5), dt.date(2025, 1, 5), 0)
    assert not any("fits both" in w for w in p.warnings), p.warnings


def test_a_generic_date_column_of_weeks_is_refused() -> None:
    mapping = {"date": "Week", "campaign_name": None, "cost": "Cost", "impressions": "Impressions",
               "clicks": "Clicks"}
    message = refusal(FIXTURES / "google_ads_weekly.csv", mapping=mapping, campaign="Brand",
                      channel="google_ads")
    assert "has weekly rows (column “Week”" in message and "not days" in message


def test_a_generic_mapping_without_a_column_of_dates_says_so_and_names_the_flags() -> None:
    message = refusal(FIXTURES / "ad_level_no_dates.csv", platform="generic", channel="facebook")
    assert message.startswith("map a column of ad_level_no_dates.csv to: Date")
    assert "none of its columns holds dates" in message and "--map date=COLUMN" in message


def test_a_file_of_nobodys_names_the_generic_flags_and_the_known_platforms() -> None:
    data = b"when,name,spend,impressions,clicks\n2026-09-01,A,1.00,10,1\n"
    message = refusal(data, name="sheet.csv")
    assert "the header matches no known export (Meta Ads Manager, Google Ads, TikTok Ads Manager, " \
           "LinkedIn Campaign Manager" in message
    for flag in ("--platform generic", "--channel C", "--map FIELD=COLUMN"):
        assert flag in message, message
    assert "date=when" in message and "cost=spend" in message


# --------------------------------------------------------------------------------------------
# The command line


def test_the_command_line_refuses_in_one_line_naming_the_fix(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'd.db'}"
    for name, fix in (("google_ads_no_day.csv", "add Segments → Time → Day"),
                      ("meta_no_campaign.csv", "--campaign NAME")):
        out = subprocess.run([sys.executable, "-m", "demetra", "import", str(FIXTURES / name)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2, (name, out.stdout, out.stderr)
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and fix in lines[0], out.stderr

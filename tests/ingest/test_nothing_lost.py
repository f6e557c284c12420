"""Nothing is lost without the user's yes: a column the import does not need never rejects a
row, a text column is never suggested for a number, and rejected rows are said in money and
refused unless the user agrees to import without them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra import ingest
from demetra.errors import ImportFileError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT.parent / "shared" / "real-exports"

META_HEADER = "Campaign name,Day,Amount spent (USD),Impressions,Link clicks,Post engagement\n"


def stored(engine: sa.Engine) -> tuple[int, float]:
    with engine.connect() as conn:
        rows, cost = conn.execute(sa.text("SELECT COUNT(*), COALESCE(SUM(cost), 0) FROM campaigns")
                                  ).one()
    return int(rows), float(cost)


def run(*args: str, url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "demetra", "--database-url", url, *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_a_text_column_is_never_suggested_for_a_number_field() -> None:
    columns = ["date", "campaign", "spend", "impressions", "clicks", "engagement", "results"]
    sample = {"date": ["2026-01-01"] * 3, "campaign": ["A", "B", "C"],
              "spend": ["1.50", "$2,000.10", "--"], "impressions": ["10", "20", "30"],
              "clicks": ["1", "2", "3"], "engagement": ["Average", "-", "Above average"],
              "results": ["3", "", "1"]}
    by_name = ingest.suggest_mapping(columns)
    assert by_name["engagement"] == "engagement"  # the name alone would have sent it there
    looked = ingest.suggest_mapping(columns, sample)
    assert looked["engagement"] is None
    assert (looked["cost"], looked["conversions"]) == ("spend", "results")


def test_a_ranking_column_is_not_an_amount_even_in_snake_case() -> None:
    mapping = ingest.suggest_mapping(["reporting_starts", "campaign_name", "amount_spent",
                                      "impressions", "link_clicks", "engagement_ranking"])
    assert mapping["engagement"] is None and mapping["cost"] == "amount_spent"


def test_an_unreadable_optional_value_empties_the_field_not_the_row(engine: sa.Engine) -> None:
    data = (META_HEADER + "A,2026-09-01,10.00,100,5,Average\nA,2026-09-02,20.00,100,5,7\n"
            "B,2026-09-02,30.00,100,5,-3\n").encode()
    preview = ingest.preview(data, name="meta.csv")
    assert (preview.accepted, preview.rejected) == (3, 0)
    assert any("2 values of engagement" in w and "'Average'" in w for w in preview.warnings)
    ingest.import_file(engine, data, name="meta.csv")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(engagement), SUM(cost) FROM campaigns")).one() \
            == (7, pytest.approx(60.0))


def test_rejected_rows_are_said_in_money_and_share() -> None:
    data = (META_HEADER + "A,2026-09-01,100.00,1000,50,1\nA,someday,300.00,900,40,1\n").encode()
    preview = ingest.preview(data, name="meta.csv")
    assert (preview.accepted, preview.rejected) == (1, 1)
    assert preview.rejected_totals["cost"] == pytest.approx(300.0)
    assert preview.rejected_totals["clicks"] == 40
    assert preview.rejected_share() == pytest.approx(0.75)
    assert "1 rejected row carries spend 300.00 (75.0% of the file's), clicks 40" in preview.summary()
    assert preview.summary().endswith("spend stored 100.00 of 400.00 in the file")


def test_a_rejected_spend_that_cannot_be_read_is_not_said_as_zero() -> None:
    # Row 3's date is bad but its spend counts; rows 4 and 5 have a spend that is no amount.
    data = (META_HEADER + "A,2026-09-01,100.00,1000,50,1\nA,someday,300.00,900,40,1\n"
            "A,2026-09-03,ten,900,40,1\nB,2026-09-03,-5,10,1,1\n").encode()
    preview = ingest.preview(data, name="meta.csv")
    assert (preview.accepted, preview.rejected, preview.rejected_spend_unknown) == (1, 3, 2)
    assert ("3 rejected rows carry spend 300.00 (75.0% of the file's) and 2 spend values that "
            "cannot be counted (unreadable or negative), clicks 81") in preview.summary()
    only = ingest.preview((META_HEADER + "A,2026-09-01,100.00,1000,50,1\n"
                           "A,2026-09-03,ten,900,40,1\n").encode(), name="meta.csv")
    assert only.rejected_note().startswith("1 rejected row carries spend that cannot be counted")
    assert "spend 0.00" not in only.summary()


def test_an_import_with_rejects_needs_the_users_yes(engine: sa.Engine) -> None:
    data = (META_HEADER + "A,2026-09-01,100.00,1000,50,1\nA,someday,300.00,900,40,1\n").encode()
    with pytest.raises(ImportFileError) as refused:
        ingest.import_file(engine, data, name="meta.csv")
    message = str(refused.value)
    assert "spend 300.00 (75.0% of the file's)" in message and "nothing was imported" in message
    assert "row 3" in message and "--allow-rejects" in message
    assert stored(engine) == (0, 0.0)
    result = ingest.import_file(engine, data, name="meta.csv", allow_rejects=True)
    assert result.inserted == 1 and stored(engine) == (1, pytest.approx(100.0))
    assert result.summary().endswith("spend stored 100.00 of 400.00 in the file")


def test_a_file_that_is_all_rejects_is_refused(engine: sa.Engine) -> None:
    data = (META_HEADER + "A,someday,100.00,1000,50,1\nB,,5.00,10,1,0\n").encode()
    with pytest.raises(ImportFileError, match="every row of meta.csv was rejected"):
        ingest.import_file(engine, data, name="meta.csv", allow_rejects=True)
    assert stored(engine) == (0, 0.0)


def test_the_command_line_maps_columns_over_the_suggestion(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'd.db'}"
    f = tmp_path / "report.csv"
    f.write_text("when,campaign,outlay,views,taps,score\n"
                 "2026-09-01,A,10.00,100,5,High\n2026-09-02,A,20.00,200,6,Low\n")
    missing = run("import", "--dry-run", "--channel", "tiktok", str(f), url=url)
    assert missing.returncode == 2  # nothing says which column holds the spend
    ok = run("import", "--channel", "tiktok", "--map", "cost=outlay", "--map", "date=when",
             "--map", "impressions=views", str(f), url=url)
    assert ok.returncode == 0, ok.stderr
    assert "2 rows inserted" in ok.stdout and ok.stdout.strip().endswith(
        "spend stored 30.00 of 30.00 in the file")
    absent = run("import", "--dry-run", "--channel", "tiktok", "--map", "cost=Spend", str(f),
                 url=url)
    assert absent.returncode == 2 and "has no column named “Spend”" in absent.stderr
    unmapped = run("import", "--dry-run", "--channel", "tiktok", "--map", "date=when",
                   "--map", "cost=", str(f), url=url)
    assert unmapped.returncode == 2 and "Spend" in unmapped.stderr
    bad = run("import", "--dry-run", "--map", "budget=outlay", str(f), url=url)
    assert bad.returncode == 2 and "FIELD one of date" in bad.stderr


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the real-export corpus is not at {CORPUS}")
def test_the_lead_generation_account_imports_every_row(engine: sa.Engine) -> None:
    # 08: Meta Marketing API, ad level by day; engagement_ranking says "Average" or "-".
    f = CORPUS / "08_meta_api_movexercise8_daily_ad_level.csv"
    result = ingest.import_file(engine, f, platform="generic", channel="facebook")
    assert result.rejected == 0
    with engine.connect() as conn:
        cost, clicks, impressions, conversions, engagement = conn.execute(sa.text(
            "SELECT SUM(cost), SUM(clicks), SUM(impressions), SUM(conversions), "
            "SUM(engagement) FROM campaigns")).one()
    assert cost == pytest.approx(56_176.21) and (clicks, impressions) == (91_531, 3_002_459)
    assert conversions == pytest.approx(5_632) and engagement == 0

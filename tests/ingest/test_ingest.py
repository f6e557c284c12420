"""Importing ad-platform exports, on SQLite and PostgreSQL: each platform's fixture round trips
to the KPI queries with totals worked out by hand from the fixture files, re-importing changes
nothing, a later overlapping export updates the overlap, one transaction (a database failing
mid-import writes nothing), the generic mapping, and every kind of bad input."""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra import ingest, queries
from demetra.queries import Filters

FIX = Path(__file__).parents[1] / "fixtures" / "imports"
SEPT = Filters(dt.date(2026, 9, 1), dt.date(2026, 9, 30))

# Hand-added from the fixture files (see each file): spend, revenue, clicks, impressions,
# conversions of the rows that must be stored; "Total" rows excluded.
EXPECTED = {
    # 1,250.40 + 310.25 + 1,100.00 + 295.75 + 80.00 + 12.50; "--" and "" count as 0
    "meta_platform.csv": dict(platform="meta", rows=6, cost=3048.90, revenue=5095.75,
                              clicks=2240, impressions=185500, conversions=32.0,
                              by_channel={"facebook": 2442.90, "instagram": 606.00},
                              campaigns=3),
    # the same rows as Meta's XLSX export holds them (numbers as numbers)
    "meta_platform.xlsx": dict(platform="meta", rows=6, cost=3048.90, revenue=5095.75,
                               clicks=2240, impressions=185500, conversions=32.0,
                               by_channel={"facebook": 2442.90, "instagram": 606.00},
                               campaigns=3),
    # two "Total: …" rows at the bottom are not data; Video campaigns are YouTube
    "google_ads.csv": dict(platform="google_ads", rows=4, cost=2560.75, revenue=8150.25,
                           clicks=2685, impressions=174950, conversions=87.5,
                           by_channel={"google_ads": 2010.50, "youtube": 550.25}, campaigns=2),
    "google_ads_utf16.tsv": dict(platform="google_ads", rows=4, cost=2560.75, revenue=8150.25,
                                 clicks=2685, impressions=174950, conversions=87.5,
                                 by_channel={"google_ads": 2010.50, "youtube": 550.25},
                                 campaigns=2),
    # the XLSX's last row ("Total of 3 results") is a summary
    "tiktok.xlsx": dict(platform="tiktok", rows=3, cost=480.49, revenue=1970.00, clicks=1410,
                        impressions=127000, conversions=25.0, by_channel={"tiktok": 480.49},
                        campaigns=2),
    # no revenue column in LinkedIn's export
    "linkedin.csv": dict(platform="linkedin", rows=3, cost=955.75, revenue=None, clicks=311,
                         impressions=48700, conversions=7.0, by_channel={"linkedin": 955.75},
                         campaigns=2),
}


def rows_of(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT campaign_id, campaign_name, channel, date, cost, clicks, impressions, "
            "engagement, conversions, revenue, updated_at FROM campaigns "
            "ORDER BY campaign_id, date"))]


def raw_sum(engine: sa.Engine, column: str, where: str = "1 = 1") -> float:
    with engine.connect() as conn:
        return float(conn.execute(sa.text(
            f"SELECT COALESCE(SUM({column}), 0) FROM campaigns WHERE {where}")).scalar_one())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_platform_round_trips_to_the_kpis(engine: sa.Engine, name: str) -> None:
    want = EXPECTED[name]
    result = ingest.import_file(engine, FIX / name)
    assert result.preview.platform == want["platform"]
    assert (result.inserted, result.updated, result.unchanged, result.rejected) == \
        (want["rows"], 0, 0, 0)
    k = queries.kpis(engine, SEPT)
    assert k["cost"] == pytest.approx(want["cost"], abs=1e-6)
    # A file without a revenue column does not track it: missing, not 0.
    assert k["revenue"] == (None if want["revenue"] is None
                            else pytest.approx(want["revenue"], abs=1e-6))
    assert k["clicks"] == want["clicks"] and k["impressions"] == want["impressions"]
    assert k["conversions"] == pytest.approx(want["conversions"])
    assert k["campaigns"] == want["campaigns"]
    assert k["roi"] == (None if want["revenue"] is None
                        else pytest.approx(want["revenue"] / want["cost"]))
    for channel, cost in want["by_channel"].items():
        assert queries.kpis(engine, Filters(SEPT.start, SEPT.end, (channel,)))["cost"] == \
            pytest.approx(cost, abs=1e-6)
    # The rollups the KPIs read agree with the raw rows.
    assert raw_sum(engine, "cost") == pytest.approx(want["cost"], abs=1e-6)


def test_preview_reports_what_would_be_stored_and_writes_nothing() -> None:
    p = ingest.preview(FIX / "meta_platform.csv")
    assert p.platform == "meta" and p.platform_label.startswith("Meta")
    assert (p.rows, p.accepted, p.rejected, p.skipped) == (6, 6, 0, 0)
    assert (p.start, p.end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 3))
    assert p.totals["cost"] == pytest.approx(3048.90)
    assert p.totals["revenue"] == pytest.approx(5095.75)
    assert p.totals["clicks"] == 2240 and p.totals["conversions"] == 32
    assert p.channels == {"facebook": 4, "instagram": 2}
    first = p.sample.iloc[0]
    assert first["campaign_id"] == "FACEBOOK_120210000000000001"
    assert first["campaign_name"] == "Autumn Sale, Retargeting"
    assert first["date"] == dt.date(2026, 9, 1) and first["cost"] == pytest.approx(1250.40)
    # The same Meta campaign on Instagram is another campaign row (channel in the id).
    assert p.sample.iloc[1]["campaign_id"] == "INSTAGRAM_120210000000000001"
    assert p.mapping["cost"] == "Amount spent (USD)" and p.mapping["clicks"] == "Link clicks"


def test_same_file_twice_changes_nothing(engine: sa.Engine) -> None:
    ingest.import_file(engine, FIX / "meta_platform.csv")
    before = rows_of(engine)
    again = ingest.import_file(engine, FIX / "meta_platform.csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 6)
    assert rows_of(engine) == before  # updated_at included: no row was rewritten
    assert queries.kpis(engine, SEPT)["cost"] == pytest.approx(3048.90)


def test_overlapping_later_export_updates_the_overlap_and_adds_the_rest(engine: sa.Engine) -> None:
    ingest.import_file(engine, FIX / "meta_platform.csv")
    later = ingest.import_file(engine, FIX / "meta_later.csv")
    # Sep 2 Facebook changed (1,100 -> 1,150), Sep 2 Instagram is the same, Sep 4 is new.
    assert (later.inserted, later.updated, later.unchanged) == (1, 1, 1)
    k = queries.kpis(engine, SEPT)
    assert k["cost"] == pytest.approx(3048.90 - 1100.00 + 1150.00 + 900.00)
    assert k["revenue"] == pytest.approx(5095.75 + 600.00 + 1500.00)
    assert k["clicks"] == 2240 - 790 + 800 + 700
    assert k["conversions"] == pytest.approx(32 + 4 + 9)
    assert raw_sum(engine, "cost", "date = '2026-09-02' AND channel = 'facebook'") == 1150.00
    assert len(rows_of(engine)) == 7


def test_rows_of_one_campaign_day_are_summed(engine: sa.Engine) -> None:
    # An ad-set level export: two rows for the same campaign and day.
    data = ("Campaign name,Ad set name,Day,Amount spent (USD),Impressions,Link clicks,Purchases,"
            "Purchases conversion value\n"
            "Spring,Lookalike,2026-09-05,10.50,1000,10,1,30\n"
            "Spring,Interests,2026-09-05,4.25,500,5,0,0\n")
    result = ingest.import_file(engine, data.encode(), channel="instagram")
    assert (result.inserted, result.updated, result.unchanged) == (1, 0, 0)
    rows = rows_of(engine)
    assert len(rows) == 1
    assert rows[0][2] == "instagram" and rows[0][4] == pytest.approx(14.75)
    assert rows[0][5:7] == (15, 1500)
    assert result.preview.combined == 1 and "added together" in result.preview.warnings[-1]
    again = ingest.import_file(engine, data.encode(), channel="instagram")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)


def test_campaign_ids_without_platform_ids_are_stable(engine: sa.Engine) -> None:
    mapping = ingest.suggest_mapping(ingest.open_file(FIX / "generic.csv").columns)
    ingest.import_file(engine, FIX / "generic.csv", platform="generic", mapping=mapping)
    later = ("When,Network,Campaign title,Spend,Views,Taps,Orders,Order value\n"
             "2026-09-03,Facebook,Spring  Launch,50.00,5000,100,2,160.00\n")
    result = ingest.import_file(engine, later.encode(), platform="generic", mapping=mapping)
    assert result.inserted == 1
    with engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT campaign_id FROM campaigns WHERE channel = 'facebook'"))]
    # Same channel + name (whitespace aside) -> the same campaign.
    assert len(ids) == 1 and ids[0].startswith("FACEBOOK_")


def test_generic_mapping_path_and_formula_text_stays_text(engine: sa.Engine) -> None:
    columns = ingest.open_file(FIX / "generic.csv").columns
    mapping = ingest.suggest_mapping(columns)
    assert mapping == {"date": "When", "campaign_name": "Campaign title", "campaign_id": None,
                       "channel": "Network", "cost": "Spend", "impressions": "Views",
                       "clicks": "Taps", "conversions": "Orders", "revenue": "Order value",
                       "engagement": None}
    result = ingest.import_file(engine, FIX / "generic.csv", platform="generic", mapping=mapping)
    assert (result.inserted, result.rejected) == (4, 0)
    k = queries.kpis(engine, SEPT)
    assert k["cost"] == pytest.approx(100.00 + 120.00 + 60.50 + 10.00)
    assert k["revenue"] == pytest.approx(400.00 + 480.00 + 70.00)
    assert (k["clicks"], k["impressions"]) == (520, 53000)
    for channel, cost in {"facebook": 220.00, "youtube": 60.50, "tiktok": 10.00}.items():
        assert queries.kpis(engine, Filters(SEPT.start, SEPT.end, (channel,)))["cost"] == \
            pytest.approx(cost)
    formula = '=HYPERLINK("http://evil.example","click")'
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT campaign_name FROM campaigns WHERE channel = 'tiktok'")).scalar_one()
    assert stored == formula
    exported = b"".join(queries.export_csv(engine, SEPT)).decode()
    names = [row["campaign_name"] for row in csv.DictReader(io.StringIO(exported))]
    assert "'" + formula in names and formula not in names


def test_a_database_failing_mid_import_writes_nothing(engine: sa.Engine) -> None:
    ingest.import_file(engine, FIX / "meta_platform.csv")
    before = rows_of(engine)
    # The rollup refresh runs after the upsert in the same transaction: make it fail there.
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE channel_days RENAME TO channel_days_away")
    try:
        with pytest.raises(sa.exc.SQLAlchemyError):
            ingest.import_file(engine, FIX / "meta_later.csv")
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE channel_days_away RENAME TO channel_days")
    assert rows_of(engine) == before
    # And the import works once the database does.
    assert ingest.import_file(engine, FIX / "meta_later.csv").inserted == 1


def test_a_row_the_database_refuses_rolls_back_the_rows_before_it(engine: sa.Engine) -> None:
    # A trigger refuses one campaign; the rows staged and upserted before it must go too.
    if engine.dialect.name == "sqlite":
        ddl = ["CREATE TRIGGER refuse BEFORE INSERT ON campaigns WHEN NEW.campaign_name = "
               "'Brand Awareness' BEGIN SELECT RAISE(ABORT, 'refused'); END"]
    else:
        ddl = ["CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
               "IF NEW.campaign_name = 'Brand Awareness' THEN RAISE EXCEPTION 'refused'; END IF; "
               "RETURN NEW; END $$",
               "CREATE TRIGGER refuse BEFORE INSERT ON campaigns FOR EACH ROW "
               "EXECUTE FUNCTION refuse()"]
    with engine.begin() as conn:
        for statement in ddl:
            conn.exec_driver_sql(statement)
    with pytest.raises(sa.exc.SQLAlchemyError, match="refused"):
        ingest.import_file(engine, FIX / "meta_platform.csv")
    assert rows_of(engine) == []
    assert queries.date_span(engine) is None  # the rollups were not touched either


# --------------------------------------------------------------------------------------------
# Bad input


def test_empty_file() -> None:
    for data in (b"", b"  \r\n\n"):
        with pytest.raises(ingest.ImportFileError, match="is empty"):
            ingest.preview(data, name="report.csv")


def test_not_a_csv_or_xlsx() -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4
    with pytest.raises(ingest.ImportFileError, match="PNG image, not a CSV or XLSX"):
        ingest.preview(png, name="chart.png")
    noise = random.Random(5).randbytes(4096)  # noqa: S311 - test data
    with pytest.raises(ingest.ImportFileError, match="not a CSV or XLSX file"):
        ingest.preview(noise, name="noise.bin")
    with pytest.raises(ingest.ImportFileError, match="not a valid XLSX"):
        ingest.preview(b"PK\x03\x04" + b"\x00" * 200, name="broken.xlsx")
    with pytest.raises(ingest.ImportFileError, match=r"old Excel \.xls"):
        ingest.preview(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 200, name="old.xls")


def test_header_matching_no_platform_and_no_mapping() -> None:
    data = b"foo,bar,baz\n1,2,3\n"
    with pytest.raises(ingest.ImportFileError) as info:
        ingest.preview(data, name="x.csv")
    message = str(info.value)
    assert "matches no known export" in message and "foo, bar, baz" in message
    assert "generic" in message
    # A generic import whose mapping names nothing required says what to map.
    with pytest.raises(ingest.ImportFileError, match="map a column of x.csv to: Date, campaign "
                                                     "name or ID, Spend, Impressions, Clicks"):
        ingest.preview(data, name="x.csv", platform="generic", channel="facebook")


def test_missing_required_columns_are_named() -> None:
    data = (b"Campaign name,Day,Impressions,Link clicks,Purchases\n"
            b"Spring,2026-09-01,100,3,1\n")
    with pytest.raises(ingest.ImportFileError) as info:
        ingest.preview(data, name="meta.csv", platform="meta")
    assert str(info.value) == ("meta.csv lacks columns a Meta Ads Manager (Facebook, Instagram) "
                               "export needs: Spend (a column named “Amount spent”). Add it "
                               "(Columns → Customise columns) and export it again, or, if the "
                               "file holds it under another name, import it with --platform "
                               "generic --map cost=COLUMN")
    with pytest.raises(ingest.ImportFileError, match="map a column of g.csv to: Spend"):
        ingest.preview(b"date,campaign,impressions,clicks\n2026-09-01,a,1,1\n", name="g.csv",
                       platform="generic", channel="tiktok")
    with pytest.raises(ingest.ImportFileError, match="choose the channel"):
        ingest.preview(b"date,campaign,spend,impressions,clicks\n2026-09-01,a,1,1,1\n",
                       platform="generic")


def test_rejects_name_row_column_and_reason() -> None:
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"  # line 1
            "Good,2026-09-01,10.00,100,5\n"                                  # line 2
            "Refund,2026-09-02,-4.00,100,5\n"                                # line 3
            "Typo,2026-13-45,1.00,100,5\n"                                   # line 4
            "Bot traffic,2026-09-03,2.00,10,50\n"                            # line 5
            "Text,2026-09-04,abc,100,5\n"                                    # line 6
            ",2026-09-05,1.00,100,5\n")                                      # line 7
    p = ingest.preview(data.encode(), name="meta.csv")
    assert (p.rows, p.accepted, p.rejected) == (6, 1, 5)
    got = [(r["row"], r["column"], r["reason"]) for r in p.rejects.to_dict("records")]
    assert sorted(got) == [
        (3, "Amount spent (USD)", "negative spend"),
        (4, "Day", "unparseable date '2026-13-45'"),
        (5, "Link clicks", "clicks (50) exceed impressions"),
        (6, "Amount spent (USD)", "spend 'abc' is not a number"),
        (7, "Campaign name", "the campaign name and id are both empty"),
    ]
    assert p.totals["cost"] == 10.00


def test_mixed_date_formats_are_rejected_by_row() -> None:
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            "A,2026-09-01,10.00,100,5\n"
            "A,09/02/2026,11.00,100,5\n"
            "A,2026-09-03,12.00,100,5\n")
    p = ingest.preview(data.encode(), name="meta.csv")
    assert p.accepted == 2 and p.rejected == 1
    reject = p.rejects.iloc[0]
    assert (reject["row"], reject["column"], reject["value"]) == (3, "Day", "09/02/2026")
    assert reject["reason"] == ("mixed date formats: this date is MM/DD/YYYY, the file's dates "
                                "are YYYY-MM-DD")


def test_every_row_rejected_imports_nothing(engine: sa.Engine) -> None:
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            "A,2026-09-01,-1.00,100,5\n"
            "B,2026-09-02,-2.00,100,5\n")
    p = ingest.preview(data.encode())
    assert (p.accepted, p.rejected) == (0, 2)
    with pytest.raises(ingest.ImportFileError, match=r"every row of upload was rejected \(2 rows\)"
                                                     r", nothing was imported: row 2: negative "):
        ingest.import_file(engine, data.encode())
    assert rows_of(engine) == []


def test_header_without_data_rows() -> None:
    with pytest.raises(ingest.ImportFileError, match="has a header but no data rows"):
        ingest.preview(b"Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n",
                       name="meta.csv")


def test_number_and_date_variants() -> None:
    data = ("\ufeffCampaign,Day,Cost,Impr.,Clicks,Conversions,Conv. value\n"
            '"Sale","Sep 1, 2026","$1,234.50","1,000",10,12.5%,"(0)"\n'
            '"Sale","Sep 2, 2026",--,0,0,--,--\n')
    p = ingest.preview(data.encode("utf-8"), name="g.csv", channel="google_ads")
    assert p.platform == "google_ads" and p.accepted == 2
    assert (p.start, p.end) == (dt.date(2026, 9, 1), dt.date(2026, 9, 2))
    assert p.totals["cost"] == 1234.50 and p.totals["impressions"] == 1000
    assert p.totals["conversions"] == pytest.approx(0.125)


def test_unknown_platform_and_channel_choices() -> None:
    with pytest.raises(ingest.ImportFileError, match="unknown platform 'bing'"):
        ingest.preview(FIX / "meta_platform.csv", platform="bing")
    with pytest.raises(ingest.ImportFileError, match="unknown channel 'My Space!'"):
        ingest.preview(FIX / "meta_platform.csv", channel="My Space!")
    with pytest.raises(ingest.ImportFileError, match="does not exist"):
        ingest.preview(FIX / "nope.csv")


def test_progress_is_reported_up_to_done(engine: sa.Engine) -> None:
    seen: list[tuple[float, str]] = []
    ingest.import_file(engine, FIX / "google_ads.csv", chunk_rows=2,
                       progress=lambda f, text: seen.append((f, text)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(seen) >= 3
    assert any(text.startswith("Writing 4 rows") for _, text in seen)


def test_small_chunks_give_the_same_rows_as_one_chunk() -> None:
    whole = ingest.preview(FIX / "google_ads.csv")
    chunked = ingest.preview(FIX / "google_ads.csv", chunk_rows=1)
    assert chunked.totals == whole.totals and chunked.skipped == whole.skipped == 2
    assert chunked.sample.to_dict("records") == whole.sample.to_dict("records")


def test_nul_characters_are_dropped_from_text(engine: sa.Engine) -> None:
    # Past the first 64 KB (a NUL there makes the file binary): 3,000 good rows first.
    good = "".join(f"Campaign {i:05d},2026-09-01,10,100,5\n" for i in range(3000))
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n" + good
            + "Sp\x00ring,2026-09-01,10,100,5\n").encode()
    assert len(data) > 64 * 1024
    assert ingest.import_file(engine, data).inserted == 3001
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT campaign_name FROM campaigns WHERE campaign_name "
                                    "LIKE 'Sp%'")).scalar_one() == "Spring"


def rollup_rows(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        days = [tuple(r) for r in conn.execute(sa.text(
            "SELECT date, channel, campaign_days, cost, revenue, clicks, impressions, engagement, "
            "conversions FROM channel_days ORDER BY date, channel"))]
        months = [tuple(r) for r in conn.execute(sa.text(
            "SELECT campaign_id, month, channel, campaign_name, days, first_date, last_date, cost, "
            "revenue, clicks, impressions, engagement, conversions FROM campaign_months "
            "ORDER BY campaign_id, month"))]
    return days + months


@pytest.mark.parametrize("name", ["meta_platform.csv", "google_ads.csv", "tiktok.xlsx"])
def test_rollups_of_a_first_import_equal_the_sql_rollups(engine: sa.Engine, name: str) -> None:
    from demetra.db import rollups

    # Several chunks, so that a campaign's month is assembled from partial rollups.
    ingest.import_file(engine, FIX / name, chunk_rows=2)
    written = rollup_rows(engine)
    with engine.begin() as conn:
        rollups.rebuild(conn)
    expected = rollup_rows(engine)
    assert len(written) == len(expected) > 4
    for got, want in zip(written, expected, strict=True):
        assert got == tuple(pytest.approx(v) if isinstance(v, float) else v for v in want)


def test_a_campaign_named_total_is_data_not_a_summary_row() -> None:
    data = ("Campaign,Date,Spend,Impressions,Clicks,Channel\n"
            "Totally Awesome Sale,2026-09-01,12.00,100,4,facebook\n"
            "Total,--,12.00,100,4,\n")
    p = ingest.preview(data.encode(), platform="generic")
    assert (p.rows, p.accepted, p.skipped, p.rejected) == (1, 1, 1, 0)
    assert p.sample.iloc[0]["campaign_name"] == "Totally Awesome Sale"


def test_a_malformed_csv_names_the_line() -> None:
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            "A,2026-09-01,10,100,5\n"
            "B,2026-09-02,10,100,5,7,8\n")
    with pytest.raises(ingest.ImportFileError, match=r"not a well-formed CSV: .*line 3"):
        ingest.preview(data.encode(), name="meta.csv")


def test_windows_1252_text_is_read() -> None:
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            "Café Crème,2026-09-01,10,100,5\n").encode("cp1252")
    p = ingest.preview(data, name="meta.csv")
    assert p.sample.iloc[0]["campaign_name"] == "Café Crème"



@pytest.mark.parametrize(("cost", "value"), [("1.234,56", 1234.56), ("1 234,56", 1234.56),
                                             ("12,50", 12.5), ("1234,5", 1234.5)])
def test_a_decimal_comma_file_is_read_in_its_style(cost: str, value: float) -> None:
    # 1.234,56 used to be read as 1.23456, "1 234,56" as 123456 and "12,50" as 1250; then such
    # a file was refused. Its own style is proof enough to read every number of it that way.
    data = ("Campaign name,Day,Amount spent (EUR),Impressions,Link clicks\n"
            'A,2026-09-01,"10,00",1.200,5\n'
            f'A,2026-09-02,"{cost}",100,5\n')
    p = ingest.preview(data.encode(), name="meta.csv")
    assert p.totals["cost"] == pytest.approx(10 + value)
    assert p.totals["impressions"] == 1300
    assert any("decimal comma" in w and "row 2" in w for w in p.warnings)


def test_dots_for_thousands_without_a_decimal_comma_anywhere_are_thousands() -> None:
    # "1.234" impressions cannot be 1.234: the file groups thousands with dots, so its spend
    # "1.234" is 1234 too, although nothing in the file has a decimal comma.
    data = ("Campaign name,Day,Amount spent (EUR),Impressions,Link clicks\n"
            "A,2026-09-01,250,900,5\n"
            "A,2026-09-02,1.234,12.345,1.002\n")
    p = ingest.preview(data.encode(), name="meta.csv", chunk_rows=1)
    assert p.totals == {"cost": 1484.0, "revenue": 0.0, "clicks": 1007.0,
                        "impressions": 13245.0, "conversions": 0.0}
    assert p.rejected == 0


@pytest.mark.parametrize("cost", ["1.234,56", "12,50"])
def test_a_file_with_both_number_styles_is_refused_naming_both(cost: str) -> None:
    data = ("Campaign name,Day,Amount spent (EUR),Impressions,Link clicks\n"
            "A,2026-09-01,10.50,100,5\n"
            f'A,2026-09-02,"{cost}",100,5\n')
    with pytest.raises(ingest.ImportFileError,
                       match=rf"decimal comma \(row 3, “Amount spent \(EUR\)”: '{cost}'\) and "
                             r"with a decimal point \(row 2, .*'10.50'\)"):
        ingest.preview(data.encode(), name="meta.csv")


def test_an_import_read_again_in_the_comma_style_stores_each_row_once(engine) -> None:
    # The first pass staged rows read the English way before the proof came: they are dropped.
    data = ("Campaign name,Day,Amount spent (EUR),Impressions,Link clicks\n"
            "A,2026-09-01,250,900,5\n"
            'A,2026-09-02,"1.234,50",100,5\n')
    result = ingest.import_file(engine, data.encode(), name="meta.csv", chunk_rows=1)
    assert result.inserted == 2
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT SUM(cost), COUNT(*) FROM campaigns")).one() == (
            pytest.approx(1484.5), 2)


@pytest.mark.parametrize("cost", ["1,234.50", "1,234,567.00", "$1,234", "1,23,456.00"])
def test_thousands_separators_still_parse(cost: str) -> None:
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            f'A,2026-09-01,"{cost}",100,5\n')
    p = ingest.preview(data.encode(), name="meta.csv")
    assert p.totals["cost"] == float(cost.replace(",", "").replace("$", ""))


def test_day_month_dates_decided_by_the_whole_file_not_its_first_chunk() -> None:
    # The first chunk (03/04, 05/04: both DD/MM and MM/DD) used to fix MM/DD for the file, so
    # those days were stored as March and May and 13/04/2026 was rejected as "mixed".
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            "A,03/04/2026,1.00,100,5\n"
            "A,05/04/2026,2.00,100,5\n"
            "A,13/04/2026,3.00,100,5\n")
    p = ingest.preview(data.encode(), name="meta.csv", chunk_rows=2)
    assert (p.accepted, p.rejected) == (3, 0)
    assert (p.start, p.end) == (dt.date(2026, 4, 3), dt.date(2026, 4, 13))
    assert list(p.sample["date"]) == [dt.date(2026, 4, d) for d in (3, 5, 13)]


def test_dates_ambiguous_in_the_whole_file_are_read_as_consecutive_days_and_warned() -> None:
    # Every date fits DD/MM and MM/DD: the reading giving a daily report's contiguous days wins.
    rows = "".join(f"A,{d:02d}/04/2026,1.00,100,5\n" for d in range(1, 6))
    data = "Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n" + rows
    p = ingest.preview(data.encode(), name="meta.csv")
    assert (p.start, p.end) == (dt.date(2026, 4, 1), dt.date(2026, 4, 5))
    assert any("DD/MM/YYYY" in w and "MM/DD/YYYY" in w for w in p.warnings), p.warnings
    us = "".join(f"A,04/{d:02d}/2026,1.00,100,5\n" for d in range(1, 6))
    p = ingest.preview(("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
                        + us).encode(), name="meta.csv")
    assert (p.start, p.end) == (dt.date(2026, 4, 1), dt.date(2026, 4, 5))


def test_windows_1252_text_after_the_first_64_kb_is_read_as_such(engine: sa.Engine) -> None:
    # The encoding used to be guessed from the first 64 KB only: an ASCII start made the file
    # UTF-8, "Café Crème" further down came out as "Caf� Cr�me" and, named differently, became
    # a second campaign beside the one a smaller export of the same report had stored.
    header = "Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
    filler = "".join(f"Campaign {i:05d},2026-09-01,1.00,100,5\n" for i in range(2000))
    small = (header + "Café Crème,2026-09-02,1.00,100,5\n").encode("cp1252")
    big = (header + filler + "Café Crème,2026-09-02,1.00,100,5\n").encode("cp1252")
    assert len(big) > 64 * 1024 and big[:64 * 1024].isascii()
    ingest.import_file(engine, small)
    result = ingest.import_file(engine, big)
    assert (result.inserted, result.unchanged) == (2000, 1)
    with engine.connect() as conn:
        names = conn.execute(sa.text("SELECT campaign_name FROM campaigns "
                                     "WHERE date = '2026-09-02'")).scalars().all()
    assert names == ["Café Crème"]


@pytest.mark.parametrize("impressions", ["1e30", "99999999999999999999999"])
def test_a_count_too_large_for_the_database_is_rejected(engine: sa.Engine, impressions) -> None:
    # It used to wrap round in the cast to int64 and be stored as -9223372036854775808.
    data = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            "A,2026-09-01,1.00,100,5\n"
            f"A,2026-09-02,1.00,{impressions},5\n")
    p = ingest.preview(data.encode(), name="meta.csv")
    assert (p.accepted, p.rejected, p.totals["impressions"]) == (1, 1, 100)
    assert list(p.rejects.itertuples(index=False, name=None)) == [
        (3, "Impressions", impressions, f"impressions '{impressions}' is too large")]
    ingest.import_file(engine, data.encode(), allow_rejects=True)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT MIN(impressions), COUNT(*) FROM campaigns")).one() \
            == (100, 1)


def test_command_line_import_failing_in_the_database_is_one_line(
        engine: sa.Engine, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    from demetra import cli

    ingest.import_file(engine, FIX / "meta_platform.csv")
    before = rows_of(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE channel_days RENAME TO channel_days_away")
    try:
        # It used to end in a traceback with the SQL statement.
        code = cli.main(["--database-url", db_url, "import", str(FIX / "meta_later.csv")])
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE channel_days_away RENAME TO channel_days")
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("error: writing to the database failed (")
    assert err[0].endswith("nothing was imported")
    assert rows_of(engine) == before


def test_campaign_ids_rounded_by_a_spreadsheet_are_rejected_not_merged() -> None:
    # Saved from Excel, Meta's 18-digit ids read 1.2021E+17: two campaigns used to become one
    # campaign-day, added together.
    data = ("Campaign name,Campaign ID,Day,Amount spent (USD),Impressions,Link clicks\n"
            "Autumn Sale,1.2021E+17,2026-09-01,10.00,100,5\n"
            "Brand,1.2021E+17,2026-09-01,20.00,100,5\n"
            "Brand,120210000000000002,2026-09-02,30.00,100,5\n")
    p = ingest.preview(data.encode(), name="meta.csv")
    assert (p.accepted, p.rejected, p.combined) == (1, 2, 0)
    assert p.totals["cost"] == 30.00
    assert list(p.rejects["row"]) == [2, 3]
    assert set(p.rejects["column"]) == {"Campaign ID"}
    assert "rounded" in p.rejects["reason"].iloc[0]


def test_xlsx_ids_beyond_float_precision_are_rejected_not_rounded(tmp_path: Path) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Campaign name", "Campaign ID", "Day", "Amount spent (USD)", "Impressions",
               "Link clicks"])
    # How Excel stores an 18-digit number: a float that cannot hold every digit.
    ws.append(["Autumn Sale", 120210000000000001.0, "2026-09-01", 10.0, 100, 5])
    ws.append(["Brand", 120210000000000002.0, "2026-09-01", 20.0, 100, 5])
    ws.append(["Small", 1234567.0, "2026-09-01", 5.0, 100, 5])
    path = tmp_path / "meta.xlsx"
    wb.save(path)
    p = ingest.preview(path)
    assert (p.accepted, p.rejected, p.combined) == (1, 2, 0)
    assert list(p.sample["campaign_id"]) == ["FACEBOOK_1234567"]


def test_suggested_mapping_never_takes_a_rate_for_a_count_or_an_amount() -> None:
    # "Conv. rate" used to be suggested as the conversions, and "Cost per order" as the spend:
    # the command line imports the suggested mapping as it is.
    columns = ["Date", "Campaign", "Cost per order", "Media spend", "Impressions", "Clicks",
               "CTR", "Conv. rate", "Sales"]
    mapping = ingest.suggest_mapping(columns)
    assert (mapping["cost"], mapping["conversions"], mapping["revenue"]) == (
        "Media spend", None, "Sales")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_a_file_cut_off_in_its_last_row_is_refused(encoding: str) -> None:
    # An interrupted download: "B,2026-09-03,12" used to be stored as spend 12 with no
    # impressions or clicks, and the rows that never arrived were not missed.
    whole = ("Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
             "A,2026-09-01,10.00,100,5\n"
             "B,2026-09-03,12.50,200,7\n")
    assert ingest.preview(whole.encode(encoding), name="m.csv").accepted == 2
    assert ingest.preview(whole.rstrip("\n").encode(encoding), name="m.csv").accepted == 2
    cut = whole[:whole.rindex("12.50") + 2]
    with pytest.raises(ingest.ImportFileError,
                       match=r"m\.csv ends in the middle of a row \(its last line has 3 of 5 fields\)"):
        ingest.preview(cut.encode(encoding), name="m.csv")

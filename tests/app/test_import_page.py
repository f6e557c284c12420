"""The Data page's import flow through the entry script (AppTest), on SQLite and PostgreSQL:
upload -> preview -> Import -> counts shown and every page's numbers refreshed; the generic
mapping form; a file that cannot be imported gets a message, not a traceback."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from demetra.app import pages
from tests.app.helpers import FIXTURES, metric, open_page

FIX = FIXTURES / "imports"
PAGE = pages.DATA.path


def data_page(url: str, **secrets: object) -> AppTest:
    return open_page(url, PAGE, **secrets)


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/csv") -> AppTest:
    at.file_uploader(key="imp_file").set_value((name, data, mime))
    return at.run()


def test_upload_preview_import_counts(db_url: str) -> None:
    at = data_page(db_url)
    assert not at.exception
    assert metric(at, "Campaign rows") == "0"
    at = upload(at, "meta_platform.csv", (FIX / "meta_platform.csv").read_bytes())
    assert not at.exception
    # The preview: file totals worked out by hand (tests/test_ingest.py), nothing written yet.
    assert metric(at, "Spend") == "$3,049"
    assert metric(at, "Revenue") == "$5,096"
    assert metric(at, "Clicks") == "2,240"
    assert any("Meta Ads Manager" in m.value and "6 rows" in m.value for m in at.markdown)
    assert metric(at, "Campaign rows") == "0"
    go = at.button(key="imp_go")
    assert go.label == "Import 6 rows"
    at = go.click().run()
    assert not at.exception
    assert len(at.success) == 1 and at.success[0].value.startswith("Imported meta_platform.csv")
    assert "6 rows inserted, 0 updated, 0 unchanged, 0 rejected" in at.success[0].value
    # Caches were cleared: the database panel and the sidebar see the new rows.
    assert metric(at, "Campaign rows") == "6"
    assert metric(at, "Campaigns") == "3"
    # The same file again changes nothing, and says so.
    at = at.button(key="imp_go").click().run()
    assert "0 rows inserted, 0 updated, 6 unchanged" in at.success[0].value
    assert metric(at, "Campaign rows") == "6"
    at.switch_page("app_pages/overview.py").run()
    assert not at.exception


def test_rejected_rows_are_listed_before_import(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}")
    data = (b"Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n"
            b"Good,2026-09-01,10.00,100,5\n"
            b"Refund,2026-09-02,-4.00,100,5\n")
    at = upload(at, "meta.csv", data)
    assert not at.exception
    assert any("1 of 2 rows will be rejected" in e.value for e in at.error)
    rejects = next(d.value for d in at.dataframe if "reason" in d.value.columns)
    assert rejects.to_dict("records") == [{"row": 3, "column": "Amount spent (USD)",
                                          "value": "-4.00", "reason": "negative spend"}]
    assert at.button(key="imp_go").label == "Import 1 row"
    # Nothing is left out without the user's yes: Import waits for the box to be ticked.
    assert at.button(key="imp_go").disabled
    at = at.checkbox(key="imp_allow_rejects").check().run()
    assert not at.button(key="imp_go").disabled
    at = at.button(key="imp_go").click().run()
    assert not at.exception
    assert "1 row inserted" in at.success[0].value and "1 rejected" in at.success[0].value
    assert metric(at, "Campaign rows") == "1"


def test_a_file_in_another_currency_asks_for_the_rate(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}")
    header = b"Campaign name,Day,Amount spent (%s),Impressions,Link clicks\n"
    at = upload(at, "eur.csv", header % b"EUR" + b"A,2026-09-01,100.00,1000,50\n")
    assert not at.exception and not [n for n in at.number_input if n.key == "imp_rate"]
    at = at.button(key="imp_go").click().run()
    assert "1 row inserted" in at.success[0].value
    at = upload(at, "usd.csv", header % b"USD" + b"B,2026-09-01,200.00,1000,50\n")
    assert any("in USD; the database reports in EUR" in w.value for w in at.warning)
    assert at.button(key="imp_go").disabled
    at = at.number_input(key="imp_rate").set_value(0.9).run()
    at = at.button(key="imp_go").click().run()
    assert not at.exception and "1 row inserted" in at.success[0].value
    assert metric(at, "Campaign rows") == "2"


def test_generic_mapping_form(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}")
    at = upload(at, "generic.csv", (FIX / "generic.csv").read_bytes())
    assert not at.exception
    # Auto-detection finds no platform: the mapping form appears, pre-filled.
    assert any("matches no known export" in i.value for i in at.info)
    spend = next(s for s in at.selectbox if s.key.startswith("imp_map_cost_"))
    assert spend.value == "Spend"
    # Edit the mapping: no revenue column.
    revenue = next(s for s in at.selectbox if s.key.startswith("imp_map_revenue_"))
    at = revenue.select("— not in the file —").run()
    assert metric(at, "Revenue") == "$0.00"
    assert metric(at, "Spend") == "$290.50"
    at = at.button(key="imp_go").click().run()
    assert not at.exception
    assert "4 rows inserted" in at.success[0].value
    assert metric(at, "Campaign rows") == "4"


def test_a_file_that_cannot_be_imported_gets_a_message(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}")
    at = upload(at, "export.csv", b"\x89PNG\r\n\x1a\n" + bytes(200), "text/csv")
    assert not at.exception
    assert any("PNG image, not a CSV or XLSX export" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "imp_go"]


def test_a_file_over_the_upload_limit_is_refused_with_the_setting_named(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}", MAX_UPLOAD_MB=1)
    big = (FIX / "meta_platform.csv").read_bytes() + b"\n" * (1024 * 1024)
    at = upload(at, "meta_platform.csv", big)
    assert not at.exception
    assert any("the limit is 1 MB" in e.value and "MAX_UPLOAD_MB" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "imp_go"]


def test_xlsx_upload_is_recognised(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}")
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    at = upload(at, "tiktok.xlsx", (FIX / "tiktok.xlsx").read_bytes(), xlsx)
    assert not at.exception
    assert any("TikTok Ads Manager" in m.value and "1 summary rows skipped" in m.value
               for m in at.markdown)
    # 200.00 + 180.50 + 99.99 (the sheet's "Total of 3 results" row is not data)
    assert metric(at, "Spend") == "$480.49"
    at = at.button(key="imp_go").click().run()
    assert "3 rows inserted" in at.success[0].value


def test_a_known_export_missing_something_gets_its_diagnosis(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}")
    at = upload(at, "Campaign report.csv", (FIX / "google_ads_no_day.csv").read_bytes())
    assert not at.exception
    assert any("Segments → Time → Day" in e.value for e in at.error)
    assert not [s for s in at.selectbox if s.key.startswith("imp_map_")]  # no mapping form
    assert not [b for b in at.button if b.key == "imp_go"]


def test_a_file_of_one_campaign_is_imported_under_the_name_given(tmp_path: Path) -> None:
    at = data_page(f"sqlite:///{tmp_path / 'd.db'}")
    at = upload(at, "fb.csv", (FIX / "meta_no_campaign.csv").read_bytes())
    assert any("--campaign NAME" in e.value and "Campaign field" in e.value for e in at.error)
    at = at.text_input(key="imp_campaign").input("Spring sale").run()
    assert not at.exception and not at.error
    at = at.button(key="imp_go").click().run()
    assert not at.exception and "rows inserted" in at.success[0].value
    assert metric(at, "Campaigns") == "1"

"""The Data page with channels beyond the six (AppTest, SQLite and PostgreSQL): a Fivetran
ad_reporting file is recognised and imports its channels, which the sidebar, the Overview and
the per-channel alert thresholds then show; a file of one channel takes a known channel from
the list or any channel id typed in, and a name that is no channel id is refused with the form
it should have."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from demetra.app import pages
from tests.app.helpers import FIXTURES, metric, open_page

FIX = FIXTURES / "imports"


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="imp_file").set_value((name, data, "text/csv"))
    return at.run()


def test_a_fivetran_file_brings_its_channels_to_every_page(db_url: str) -> None:
    at = open_page(db_url, pages.DATA.path)
    at = upload(at, "ad_reporting__ad_report.csv", (FIX / "fivetran_ad_report.csv").read_bytes())
    assert not at.exception
    assert any("Fivetran ad_reporting" in m.value and "9 rows" in m.value for m in at.markdown)
    assert metric(at, "Spend") == "$609.25"
    at = at.button(key="imp_go").click().run()
    assert not at.exception and "8 rows inserted" in at.success[0].value
    options = at.sidebar.multiselect(key="flt_channels").options
    assert {"Microsoft Ads", "Pinterest", "Google Ads", "Facebook"} <= set(options)
    at = at.switch_page(pages.OVERVIEW.path).run()
    assert not at.exception
    at = at.switch_page(pages.ALERTS.path).run()
    assert not at.exception
    keys = {n.key for n in at.number_input}
    assert {"alr_set_roi_pinterest", "alr_set_roi_microsoft_ads", "alr_set_roi_facebook"} <= keys


def test_the_channel_of_a_file_is_chosen_or_typed(tmp_path: Path) -> None:
    at = open_page(f"sqlite:///{tmp_path / 'd.db'}", pages.DATA.path)
    data = b"Date,Campaign,Spend,Impressions,Clicks\n2026-09-01,Answers,12.50,300,4\n"
    at = upload(at, "one.csv", data)
    at = at.selectbox(key="imp_channel").select("pinterest").run()
    assert not at.exception and at.button(key="imp_go").label == "Import 1 row"
    at = at.selectbox(key="imp_channel").select("other_channel").run()
    at = at.text_input(key="imp_channel_other").input("Quora Ads").run()
    assert not at.exception
    assert any("Unknown channel 'Quora Ads'" in e.value and "such as quora_ads" in e.value
               for e in at.error)
    at = at.text_input(key="imp_channel_other").input("quora_ads").run()
    at = at.button(key="imp_go").click().run()
    assert not at.exception and "1 row inserted" in at.success[0].value
    assert "Quora Ads" in at.sidebar.multiselect(key="flt_channels").options

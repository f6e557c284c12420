"""The Charts page (AppTest): Generate saves the chart for the sidebar's filters, the gallery
shows it with its thumbnail, Open shows it full size with a download, Delete removes it; a
chart without its data says what to do first and saves nothing."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from demetra import queries
from demetra.charts import gallery
from tests.app.helpers import open_page

PAGE = "app_pages/charts.py"


def _count(engine: sa.Engine) -> int:
    return gallery.chart_count(engine)


def test_generate_open_and_delete_a_chart(seeded_engine: sa.Engine, db_url: str) -> None:
    at = open_page(db_url, PAGE)
    assert not at.exception
    assert any("No chart saved yet" in c.value for c in at.caption)
    at.selectbox(key="chr_type").set_value("conversion_analysis")
    at.button(key="chr_generate").click().run()
    assert not at.exception
    assert _count(seeded_engine) == 1
    saved = gallery.list_charts(seeded_engine).iloc[0]
    assert saved["dashboard_type"] == "conversion_analysis"
    # The sidebar's default period (the last 30 days of data) is what it shows.
    first, last = queries.date_span(seeded_engine)
    assert (saved["period_start"], saved["period_end"]) == (last - dt.timedelta(days=29), last)
    assert any(f"chart {saved['id']}" in t.value for t in at.toast)
    assert at.get("download_button")  # opened at once, with its download
    assert any("Saved charts (1)" in h.value for h in at.subheader)
    at.button(key="chr_delete").click().run()
    assert not at.exception and _count(seeded_engine) == 0


def test_a_chart_without_its_data_saves_nothing(seeded_engine: sa.Engine, db_url: str) -> None:
    at = open_page(db_url, PAGE)
    at.selectbox(key="chr_type").set_value("forecast")
    at.button(key="chr_generate").click().run()
    assert not at.exception
    assert any("train the model" in w.value for w in at.warning)
    assert _count(seeded_engine) == 0


def test_the_report_is_built_for_the_filters_and_offered_for_download(
        seeded_engine: sa.Engine, db_url: str) -> None:
    at = open_page(db_url, PAGE)
    assert not any(b.proto.label == "Download the PDF" for b in at.get("download_button"))
    at.button(key="chr_report").click().run()
    assert not at.exception
    offered = [b for b in at.get("download_button") if b.proto.label == "Download the PDF"]
    assert len(offered) == 1


def test_a_link_names_the_chart_type_and_the_url_follows_the_choice(
        seeded_engine: sa.Engine, db_url: str) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.app.helpers import APP

    def linked(value: str) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=60)
        at.secrets["DATABASE_URL"] = db_url
        at.query_params["chart"] = value
        return at.run().switch_page(PAGE).run()

    at = linked("spend_efficiency")
    assert at.selectbox(key="chr_type").value == "spend_efficiency"
    at.selectbox(key="chr_type").set_value("alerts_timeline").run()
    assert at.query_params["chart"] == "alerts_timeline"
    bad = linked("pie_chart")
    assert bad.selectbox(key="chr_type").value == "roi_analysis"
    assert any("The link's chart type “pie" in c.value for c in bad.caption)
    assert not bad.exception

"""The Charts page (AppTest): Generate saves the chart for the sidebar's filters, the gallery
shows it with its thumbnail, Open shows it full size with a download, Delete removes it; a
chart without its data says what to do first and saves nothing."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from demetra import queries
from demetra.charts import gallery
from demetra.charts.png import render as render_chart
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


def test_the_gallery_is_read_once_and_shows_a_chart_saved_elsewhere(
        seeded_engine: sa.Engine, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    for name in ("list_charts", "chart_image"):
        real = getattr(gallery, name)
        monkeypatch.setattr(gallery, name, lambda *a, _real=real, _name=name, **kw:
                            reads.append(_name) or _real(*a, **kw))
    at = open_page(db_url, PAGE)
    at.run()
    assert not at.exception and reads == ["list_charts"]  # the rerun read nothing again
    # Saved by another process (the worker, the CLI): the next run shows it.
    _, last = queries.date_span(seeded_engine)
    chart = render_chart(seeded_engine, "conversion_analysis",
                         queries.Filters(last - dt.timedelta(days=29), last))
    chart_id = gallery.save_chart(seeded_engine, chart, by="worker")
    at.run()
    assert any("Saved charts (1)" in h.value for h in at.subheader)
    assert reads == ["list_charts", "list_charts"]
    at.button(key=f"chr_open_{chart_id}").click().run()
    at.run()
    assert not at.exception and at.get("download_button")
    assert reads == ["list_charts", "list_charts", "chart_image"]


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

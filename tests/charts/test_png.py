"""The persisted charts: each type renders a PNG of the stated size from a seeded account on
SQLite and PostgreSQL, round-trips through ml_dashboards byte for byte, the gallery never reads
an image, delete removes the row, and a chart without its data says what to do first."""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from demetra import queries
from demetra.charts import gallery
from demetra.charts.png import CHART_TYPES, SIZE_PX, THUMB_PX, render, standard_set
from demetra.errors import BadInput, NotEnoughData
from demetra.seed import seed_database
from tests.accounts import filled_account
from tests.databases import BACKENDS

END = dt.date(2026, 6, 30)
PERIOD = queries.Filters(END - dt.timedelta(days=59), END)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module", params=BACKENDS)
def account(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[sa.Engine]:
    with filled_account(request.param, tmp_path_factory.mktemp(f"charts-{request.param}"),
                        world=dict(campaigns=30, days=120, seed=5, end_date=END),
                        recommend=False) as filled:
        yield filled["engine"]


@pytest.mark.parametrize("kind", list(CHART_TYPES))
def test_each_type_renders_a_png_that_round_trips(account: sa.Engine, kind: str) -> None:
    chart = render(account, kind, PERIOD)
    assert png_size(chart.png) == SIZE_PX
    assert png_size(chart.thumbnail) == THUMB_PX
    assert len(chart.png) > 20_000          # a drawn chart, not an empty canvas
    assert "Jun 30, 2026" in chart.title and "all channels" in chart.title and "USD" in chart.title
    chart_id = gallery.save_chart(account, chart)
    try:
        assert gallery.chart_image(account, chart_id) == chart.png
        listed = gallery.list_charts(account, kind=kind)
        row = listed[listed["id"] == chart_id].iloc[0]
        assert row["thumbnail"] == chart.thumbnail
        assert row["parameters"]["start"] == PERIOD.start.isoformat()
        assert (row["period_start"], row["period_end"]) == (PERIOD.start, PERIOD.end)
    finally:
        assert gallery.delete_chart(account, chart_id)
    assert gallery.chart_image(account, chart_id) is None
    assert not gallery.delete_chart(account, chart_id)


def test_the_title_names_the_channels_and_the_figures_follow_them(account: sa.Engine) -> None:
    f = queries.Filters(PERIOD.start, PERIOD.end, ("facebook", "tiktok"))
    chart = render(account, "roi_analysis", f)
    assert "Facebook, TikTok" in chart.title and chart.filters["channels"] == ["facebook", "tiktok"]
    assert chart.png != render(account, "roi_analysis", PERIOD).png


def test_the_gallery_never_reads_an_image(account: sa.Engine) -> None:
    ids = [gallery.save_chart(account, c) for c in standard_set(account, PERIOD)[0]]
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    sa.event.listen(account, "before_cursor_execute", remember)
    try:
        listed = gallery.list_charts(account)
    finally:
        sa.event.remove(account, "before_cursor_execute", remember)
        for i in ids:
            gallery.delete_chart(account, i)
    assert len(listed) >= 5 and list(listed["id"][:5]) == sorted(ids, reverse=True)
    assert statements and not any("image_data" in s for s in statements)


def test_a_chart_without_its_data_says_what_to_do_first(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=6, days=30, seed=1, end_date=END)
    with pytest.raises(NotEnoughData, match="train the model"):
        render(engine, "forecast", PERIOD)
    with pytest.raises(NotEnoughData, match="no alerts from"):
        render(engine, "alerts_timeline", PERIOD)
    before = queries.Filters(dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    with pytest.raises(NotEnoughData, match="no campaign data from 2020-01-01"):
        render(engine, "roi_analysis", before)
    with pytest.raises(BadInput, match="unknown chart type"):
        render(engine, "pie", PERIOD)
    done, skipped = standard_set(engine, PERIOD)
    assert {c.kind for c in done} == {"roi_analysis", "conversion_analysis", "spend_efficiency"}
    assert set(skipped) == {"forecast", "alerts_timeline"}
    assert gallery.chart_count(engine) == 0       # nothing saved by a refusal


def test_an_account_without_revenue_gets_the_cpa_versions(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=8, days=60, seed=4, end_date=END, outcome="results")
    roi = render(engine, "roi_analysis", PERIOD)
    assert roi.title.startswith("Cost per result by channel")
    spend = render(engine, "spend_efficiency", PERIOD)
    assert spend.title.startswith("Spend and the results it brought")
    assert png_size(roi.png) == SIZE_PX

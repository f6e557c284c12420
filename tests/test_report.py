"""The stakeholder report: its pages render (pypdfium2), none is blank, each carries the
filters and its page number, the headings and the figures are there; a period without data
says so on its first page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pypdfium2 as pdfium
import pytest
import sqlalchemy as sa

from demetra import format as fmt
from demetra import queries
from demetra.report import build_report
from demetra.seed import seed_database
from tests.accounts import filled_account
from tests.databases import BACKENDS

END = dt.date(2026, 6, 30)


def pages(pdf: bytes) -> list[tuple[str, np.ndarray]]:
    """(text, grey pixels) of every page."""
    doc = pdfium.PdfDocument(pdf)
    try:
        out = []
        for page in doc:
            text = page.get_textpage().get_text_range()
            image = np.asarray(page.render(scale=0.6).to_pil().convert("L"), dtype=float)
            out.append((text, image))
            page.close()
        return out
    finally:
        doc.close()


@pytest.fixture(scope="module", params=BACKENDS)
def account(request: pytest.FixtureRequest, tmp_path_factory) -> Iterator[sa.Engine]:
    with filled_account(request.param, tmp_path_factory.mktemp(f"report-{request.param}"),
                        world=dict(campaigns=30, days=120, seed=5, end_date=END),
                        detect_days=7) as filled:
        yield filled["engine"]


def test_the_report_has_every_section_and_the_filters_on_every_page(account: sa.Engine) -> None:
    f = queries.Filters(END - dt.timedelta(days=29), END, ("facebook", "google_ads"))
    got = pages(build_report(account, f))
    assert len(got) >= 4
    text = "\n".join(t for t, _ in got)
    for heading in ("Advertising performance report", "Key figures", "Channels",
                    "Forecasts and risk", "Open alerts", "Recommendations"):
        assert heading in text, heading
    for n, (page_text, image) in enumerate(got, 1):
        assert "Facebook, Google Ads" in page_text and "amounts in USD" in page_text
        assert f"Page {n} of {len(got)}" in page_text
        assert image.std() > 5, f"page {n} is blank"        # ink on the page, not white
    with account.connect() as conn:
        spend = conn.execute(sa.text(
            "SELECT SUM(cost) FROM campaigns WHERE date BETWEEN :a AND :b "
            "AND channel IN ('facebook', 'google_ads')"), {"a": f.start, "b": f.end}).scalar_one()
        newest = conn.execute(sa.text("SELECT source FROM recommendations ORDER BY id DESC")).first()
    assert fmt.money(float(spend), "USD") in text
    assert "rules engine" in text and newest[0] == "rules"
    assert "Generated:" in got[0][0] and "Jun 1 – Jun 30, 2026" in got[0][0]


def test_a_period_without_data_says_so_on_its_first_page(account: sa.Engine) -> None:
    f = queries.Filters(dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    got = pages(build_report(account, f))
    assert len(got) == 1
    assert "There is no campaign data from 2020-01-01 to 2020-01-31" in got[0][0]
    assert "Key figures" not in got[0][0]


def test_an_account_without_revenue_says_not_tracked(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=6, days=60, seed=4, end_date=END, outcome="results")
    text = "\n".join(t for t, _ in pages(build_report(engine, queries.Filters(
        END - dt.timedelta(days=29), END))))
    assert "Revenue not tracked" in text.replace("\r\n", " ")
    assert "No forecasts yet" in text and "No recommendation yet" in text

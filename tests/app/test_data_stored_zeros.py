"""The Data page says where a stored 0 may stand for "not tracked" (AppTest, SQLite and
PostgreSQL): a channel whose whole revenue or conversions is a stored 0 is named in one caption,
as rows imported before outcomes could be "not tracked" look; an outcome that is not tracked
(NULL), or tracked and above 0, brings no caption."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from demetra import ingest
from demetra.app import pages
from tests.app.helpers import open_page

CAPTION = "keep that stored 0 until their file is imported again"


def daily(revenue: str | None) -> bytes:
    head = "Date,Campaign,Spend,Impressions,Clicks,Conversions" + (",Revenue" if revenue else "")
    rows = [f"2026-09-{d:02d},Answers,{20 + d}.00,1000,30,{1 + d % 3}"
            + (f",{revenue}" if revenue else "") for d in range(1, 11)]
    return ("\n".join([head, *rows]) + "\n").encode()


@pytest.mark.parametrize(("revenue", "named"), [("0", True), (None, False), ("55.5", False)])
def test_a_channel_with_only_stored_zeros_is_named(engine: sa.Engine, db_url: str,
                                                   revenue: str | None, named: bool) -> None:
    ingest.import_file(engine, daily(revenue), name="quora.csv", platform="generic",
                       channel="quora_ads")
    at = open_page(db_url, pages.DATA.path)
    assert not at.exception
    shown = [c.value for c in at.caption if CAPTION in c.value]
    assert len(shown) == (1 if named else 0)
    if named:
        assert shown[0].startswith("Quora Ads stores a revenue or conversions of exactly 0")

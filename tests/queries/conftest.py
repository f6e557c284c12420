"""Fixtures of the query tests (the database fixtures ``engine`` and ``seeded_engine``, on
SQLite and, when TEST_DATABASE_URL is set, PostgreSQL, come from ``tests/conftest.py``)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from demetra.db.bulk import insert_campaign_rows
from tests.queries.helpers import HAND


@pytest.fixture
def hand_engine(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        insert_campaign_rows(conn, HAND)
    return engine

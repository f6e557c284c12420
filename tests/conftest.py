"""Shared fixtures for every test folder: a fresh, migrated database per test on SQLite and
(when TEST_DATABASE_URL is set, as CI does) on PostgreSQL (``tests/databases.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from demetra.db.engine import make_engine, normalize_url
from tests.databases import BACKENDS, IN_CI, PG_URL, fresh_database_url


def pytest_sessionstart(session: pytest.Session) -> None:
    if IN_CI and not PG_URL:
        raise pytest.UsageError("CI=true but TEST_DATABASE_URL is not set: PostgreSQL tests must run")
    if PG_URL:
        url = normalize_url(PG_URL)
        host = url.host or "localhost"
        if host not in ("localhost", "::1") and not host.startswith("127."):
            raise pytest.UsageError(f"TEST_DATABASE_URL must point at a loopback address, not {host}")
        try:
            eng = sa.create_engine(url, connect_args={"connect_timeout": 5})
            with eng.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            eng.dispose()
        except sa.exc.SQLAlchemyError as exc:
            # Fail, never skip: a CI run that silently drops PostgreSQL proves nothing about it.
            raise pytest.UsageError(
                f"TEST_DATABASE_URL is set but PostgreSQL cannot be reached: {exc.orig}") from None


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """URL of a fresh, empty (unmigrated) database on each backend."""
    url, cleanup = fresh_database_url(request.param, tmp_path)
    yield url
    cleanup()


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """A migrated, empty database on each backend."""
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture(scope="session")
def small_world_date():
    import datetime as dt

    return dt.date(2026, 6, 30)


@pytest.fixture
def seeded_engine(engine: sa.Engine, small_world_date) -> sa.Engine:
    """The default demo world (50 campaigns x 90 days, seed 42) ending on a fixed date."""
    from demetra.seed import seed_database

    seed_database(engine, end_date=small_world_date)
    return engine

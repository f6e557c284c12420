"""The test databases: a fresh, migrated database per test on SQLite and, when
TEST_DATABASE_URL is set (CI sets it), on PostgreSQL in a schema of its own that is dropped
afterwards. A plain module, so tests that build their own databases import it; the fixtures
over it are in ``tests/conftest.py``."""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa

from demetra.db.engine import normalize_url

PG_URL = os.environ.get("TEST_DATABASE_URL", "")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _pg_schema_url(schema: str) -> sa.URL:
    return normalize_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})


def fresh_database_url(backend: str, tmp_path) -> tuple[str, object]:
    """A URL of an empty database for ``backend``, and a cleanup callable."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'demetra.db'}", lambda: None
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(normalize_url(PG_URL))
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()

    return _pg_schema_url(schema).render_as_string(hide_password=False), drop

"""Engine creation, URL handling and schema migration.

One engine per process: the app keeps it in ``st.cache_resource``, the CLI makes one per
command. ``make_engine`` brings the schema to the latest Alembic revision before returning.
"""

from __future__ import annotations

import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from demetra.db.urls import normalize_url, safe_url
from demetra.errors import DatabaseUnavailable

# normalize_url, safe_url and DatabaseUnavailable are imported from here by callers too.
__all__ = ["DatabaseUnavailable", "alembic_config", "current_revision", "downgrade", "head_revision",
           "make_engine", "normalize_url", "safe_url", "upgrade"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]

def describe_target(url: URL) -> str:
    """Where the database is, in words for an error message."""
    if url.get_backend_name() == "sqlite":
        return f"the SQLite file {url.database or ':memory:'}"
    return f"PostgreSQL at {url.host or 'localhost'}:{url.port or 5432} (database {url.database!r})"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    # WAL lets the app read while the CLI or the worker writes; busy_timeout rides out the lock.
    for pragma in ("journal_mode=WAL", "foreign_keys=ON", "busy_timeout=10000",
                   "synchronous=NORMAL", "cache_size=-65536", "temp_store=MEMORY"):
        cur.execute(f"PRAGMA {pragma}")
    cur.close()


def make_engine(url: str | URL, *, migrate: bool = True) -> sa.Engine:
    """Create the process's engine for ``url`` and (by default) migrate it to head.

    Raises ``SettingsError`` for a malformed URL and ``DatabaseUnavailable`` when the
    database cannot be reached, with a message that never contains the password.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:" and not db.startswith("file:"):
            Path(db).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sa.create_engine(
            parsed, pool_size=5, max_overflow=5, pool_pre_ping=True, pool_recycle=1800,
            connect_args={"connect_timeout": 5, "application_name": "demetra"},
        )
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        engine.dispose()
        raise DatabaseUnavailable(_unreachable_message(parsed, exc)) from None
    if migrate:
        upgrade(engine)
    return engine


def _unreachable_message(url: URL, exc: SQLAlchemyError) -> str:
    target = describe_target(url)
    if url.get_backend_name() == "sqlite":
        hint = "check that the folder exists and is writable"
    else:
        hint = ("check that the server is running and accepts connections there, "
                "and that the user, password and database name in DATABASE_URL are right")
    detail = ""
    if isinstance(exc, OperationalError) and exc.orig is not None:
        # The driver's first line says refused / timeout / auth failed; it never has the password.
        detail = f" ({str(exc.orig).strip().splitlines()[0][:200]})"
    return f"Cannot reach {target}{detail}: {hint}."


def alembic_config(connection: sa.Connection):
    from alembic.config import Config

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    # Handing the connection over (not the URL) keeps a '%' in a password from breaking
    # configparser and runs the migration inside our transaction.
    cfg.attributes.update(connection=connection, configure_logger=False)
    return cfg


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; on PostgreSQL one process at a time."""
    from alembic import command

    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Several app replicas or the worker may start together.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        command.upgrade(alembic_config(conn), revision)


def downgrade(engine: sa.Engine, revision: str = "base") -> None:
    from alembic import command

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), revision)


def current_revision(engine: sa.Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    """The newest revision the migrations know (what ``make_engine`` brings a database to)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    return ScriptDirectory.from_config(cfg).get_current_head()

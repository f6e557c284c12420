"""Alembic environment: URL from DATABASE_URL (normalised like the app's), metadata from the models."""

from logging.config import fileConfig

import sqlalchemy as sa
from alembic import context

from demetra.config import load_settings
from demetra.db.engine import normalize_url
from demetra.db.models import Base

config = context.config
if config.config_file_name and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def _url() -> sa.URL:
    given = context.get_x_argument(as_dictionary=True).get("dburl")
    return normalize_url(given or load_settings().database_url)


def _configure(**kw) -> None:
    context.configure(target_metadata=target_metadata, compare_type=True,
                      compare_server_default=True, **kw)


def run_migrations_offline() -> None:
    url = _url()
    _configure(url=url, literal_binds=True, render_as_batch=url.get_backend_name() == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    conn = config.attributes.get("connection")
    if conn is not None:  # handed in by demetra.db.engine.upgrade and the tests
        _configure(connection=conn, render_as_batch=conn.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(_url(), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

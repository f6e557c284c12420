"""Engine, URL handling, settings and migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from demetra.config import SETTINGS, Settings, SettingsError, load_settings
from demetra.db.engine import (
    DatabaseUnavailable,
    current_revision,
    downgrade,
    make_engine,
    normalize_url,
    safe_url,
    upgrade,
)
from demetra.db.models import Base

TABLES = {"campaigns", "predictions", "recommendations", "alerts", "ml_dashboards", "model_runs",
          "seed_truth", "channel_days", "campaign_months", "app_settings"}


def _head() -> str:
    from alembic.script import ScriptDirectory

    from demetra.db.engine import ROOT

    return ScriptDirectory(str(ROOT / "migrations")).get_current_head()


@pytest.mark.parametrize("given, driver", [
    ("postgresql://u:p@db:5432/x", "postgresql+psycopg2"),
    ("postgres://u:p@db/x", "postgresql+psycopg2"),
    ("postgresql+psycopg2://u@db/x", "postgresql+psycopg2"),
    ("sqlite:///data/demetra.db", "sqlite"),
])
def test_urls_as_people_write_them_map_to_the_installed_driver(given: str, driver: str) -> None:
    assert normalize_url(given).drivername == driver


@pytest.mark.parametrize("bad", ["", "nonsense", "mysql://u@h/db", "://", "postgresql://u:p@h:abc/db"])
def test_malformed_or_unsupported_urls_are_refused_with_a_message(bad: str) -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        normalize_url(bad)


def test_safe_url_never_shows_the_password() -> None:
    shown = safe_url("postgresql://alice:s3cr%40t@db.example:5432/ads")
    assert "s3cr" not in shown and "alice" in shown and "***" in shown


def test_unreachable_database_names_the_host_and_hides_the_password() -> None:
    with pytest.raises(DatabaseUnavailable) as err:
        make_engine("postgresql://alice:topsecret@127.0.0.1:1/ads")
    message = str(err.value)
    assert "127.0.0.1:1" in message and "topsecret" not in message


def test_sqlite_file_and_its_folder_are_created_on_first_use(tmp_path) -> None:
    path = tmp_path / "nested" / "dir" / "d.db"
    eng = make_engine(f"sqlite:///{path}")
    assert path.exists() and TABLES <= set(sa.inspect(eng).get_table_names())
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    eng.dispose()


def test_settings_env_wins_over_secrets_and_bad_values_are_refused() -> None:
    s = load_settings(secrets={"DATABASE_URL": "sqlite:///a.db", "ALERT_ROI_THRESHOLD": 2},
                      environ={"DATABASE_URL": "sqlite:///b.db"})
    assert s.database_url == "sqlite:///b.db" and s.alert_roi_threshold == 2.0
    assert load_settings(environ={}).database_url == "sqlite:///data/demetra.db"
    with pytest.raises(SettingsError, match="between 0 and 100"):
        load_settings(environ={"ALERT_ROI_THRESHOLD": "-1"})
    with pytest.raises(SettingsError, match="must be a number"):
        load_settings(environ={"LLM_TIMEOUT": "soon"})


def test_settings_repr_hides_secrets() -> None:
    s = load_settings(environ={"OPENAI_API_KEY": "sk-live-123",
                               "DATABASE_URL": "postgresql://u:pw123@h/db"})
    assert "sk-live-123" not in repr(s) and "pw123" not in repr(s)


def test_every_setting_is_a_field_of_settings() -> None:
    names = set(load_settings(environ={}).__dataclass_fields__)
    assert {spec.name.lower() for spec in SETTINGS} == names
    # Settings() (used where no environment is read) must agree with the declared defaults.
    plain = Settings()
    for spec in SETTINGS:
        assert getattr(plain, spec.name.lower()) == (spec.default or ""), spec.name


def test_migrations_create_every_table_and_match_the_models(engine: sa.Engine) -> None:
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_server_default": True,
                                                     "compare_type": True})
        assert compare_metadata(ctx, Base.metadata) == []


def test_drift_between_models_and_migrations_is_detected(engine: sa.Engine) -> None:
    # The agreement test above must be able to fail: a column the migration lacks is found.
    meta = sa.MetaData()
    for table in Base.metadata.tables.values():
        table.to_metadata(meta)
    meta.tables["alerts"].append_column(sa.Column("not_migrated", sa.Integer))
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn)
        diffs = compare_metadata(ctx, meta)
    assert any(d[0] == "add_column" and d[3].name == "not_migrated" for d in diffs)


def test_upgrade_downgrade_upgrade_round_trip(engine: sa.Engine) -> None:
    assert current_revision(engine) == _head()
    downgrade(engine, "base")
    assert not (TABLES & set(sa.inspect(engine).get_table_names()))
    assert current_revision(engine) is None
    upgrade(engine)
    assert TABLES <= set(sa.inspect(engine).get_table_names())
    assert current_revision(engine) == _head()


def test_upgrading_keeps_existing_rows(engine: sa.Engine) -> None:
    downgrade(engine, "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO alerts (alert_type, severity, message, alert_key) "
                             "VALUES ('roi_drop', 'high', 'ROI fell', 'k1')")
    upgrade(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT message, status FROM alerts")).one()
    assert tuple(row) == ("ROI fell", "open")


def test_roi_and_conversion_rate_are_derived_from_the_sums(engine: sa.Engine) -> None:
    import datetime as dt

    import pandas as pd

    from demetra.db.bulk import insert_campaign_rows

    rows = pd.DataFrame({
        "campaign_id": ["A", "A", "B"], "campaign_name": ["a", "a", "b"],
        "channel": ["facebook", "facebook", "tiktok"],
        "date": [dt.date(2026, 1, 1), dt.date(2026, 1, 2), dt.date(2026, 1, 1)],
        "cost": [100.0, 0.0, 50.0], "clicks": [40, 0, 10], "impressions": [1000, 0, 900],
        "engagement": [5, 0, 1], "conversions": [4.0, 0.0, 0.0], "revenue": [250.0, 0.0, 0.0],
    })
    with engine.begin() as conn:
        insert_campaign_rows(conn, rows)
    with engine.connect() as conn:
        got = conn.execute(sa.text(
            "SELECT campaign_id, date, roi, conversion_rate FROM campaigns ORDER BY campaign_id, date"
        )).all()
    assert [(r[2], r[3]) for r in got] == [(2.5, 0.1), (None, None), (0.0, 0.0)]

"""Database URLs as people write them: parsed, mapped to the installed driver, and shown
without their password."""

from __future__ import annotations

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from demetra.errors import SettingsError

_PG_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"}


def normalize_url(url: str | URL) -> URL:
    """Parse a URL as people write it and pick the installed PostgreSQL driver.

    SQLAlchemy 2.1 reads a bare ``postgresql://`` as psycopg 3, and ``postgres://`` (Heroku,
    many hosting panels) not at all; we ship psycopg2.
    """
    if isinstance(url, str):
        text = url.strip()
        if not text:
            raise SettingsError("DATABASE_URL is empty; use e.g. sqlite:///data/demetra.db")
        if text.startswith("postgres://"):
            text = "postgresql://" + text[len("postgres://"):]
        try:
            parsed = make_url(text)
            parsed.port  # noqa: B018 - a port that is not a number fails here, not at connect
        except (ArgumentError, ValueError):
            raise SettingsError(
                "DATABASE_URL is not a database URL; expected sqlite:///path.db or "
                "postgresql://user:password@host:5432/dbname"
            ) from None
    else:
        parsed = url
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername not in _PG_SCHEMES and not parsed.drivername.startswith("sqlite"):
        raise SettingsError(
            f"DATABASE_URL uses '{parsed.drivername}'; Demetra supports sqlite and postgresql"
        )
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL as it may be shown: the password replaced by ***."""
    try:
        return normalize_url(url).render_as_string(hide_password=True)
    except SettingsError:
        return "<malformed DATABASE_URL>"

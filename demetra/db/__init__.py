"""Database layer: engine, models and migrations. No Streamlit import here."""

from demetra.db.engine import (
    DatabaseUnavailable,
    make_engine,
    normalize_url,
    safe_url,
    upgrade,
)

__all__ = ["DatabaseUnavailable", "make_engine", "normalize_url", "safe_url", "upgrade"]

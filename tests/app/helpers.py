"""Helpers of the app tests: start the app through its entry script (AppTest), read what it
shows, and work out the expected numbers straight from the tables (independently of the app)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "streamlit_app.py")
FIXTURES = ROOT / "tests" / "fixtures"


def start(url: str, *, timeout: float = 60, **secrets: object) -> AppTest:
    """The app on ``url`` after its first run (the Overview), with more ``secrets`` if given."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.secrets["DATABASE_URL"] = url
    for name, value in secrets.items():
        at.secrets[name] = value
    return at.run()


def open_page(url: str, page: str, *, timeout: float = 60, **secrets: object) -> AppTest:
    """The app on ``url``, switched to ``page`` (a path of the page registry)."""
    return start(url, timeout=timeout, **secrets).switch_page(page).run()


def texts(node: object) -> list[str]:
    """Every element's protobuf as text, recursively: what the browser would receive."""
    out = []
    proto = getattr(node, "proto", None)
    if proto is not None:
        out.append(str(proto))
    for child in getattr(node, "children", {}).values():
        out.extend(texts(child))
    return out


def metric(at: AppTest, label: str) -> str:
    """The value of the first metric card labelled ``label``."""
    return next(m.value for m in at.metric if m.label == label)


def money(value: float) -> str:
    """The pages' money format in USD, written out independently of demetra.format."""
    return f"${value:,.0f}" if abs(value) >= 1000 else f"${value:,.2f}"


def spend_in_db(engine: sa.Engine, start_: dt.date, end: dt.date,
                channels: tuple[str, ...] = ()) -> float:
    where = "date BETWEEN :s AND :e"
    params: dict[str, object] = {"s": start_, "e": end}
    if channels:
        where += " AND channel IN :ch"
        params["ch"] = list(channels)
    stmt = sa.text(f"SELECT SUM(cost) FROM campaigns WHERE {where}").bindparams(
        sa.bindparam("s", type_=sa.Date), sa.bindparam("e", type_=sa.Date))
    if channels:
        stmt = stmt.bindparams(sa.bindparam("ch", expanding=True))
    with engine.connect() as conn:
        return float(conn.execute(stmt, params).scalar_one() or 0)


def last_day(engine: sa.Engine) -> dt.date:
    with engine.connect() as conn:
        value = conn.execute(sa.text("SELECT MAX(date) FROM campaigns")).scalar_one()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])

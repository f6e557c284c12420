"""What the alert tests build on: hand-made campaigns where the right answer is known, and
reading back the alerts they raise. A plain module, imported by the test modules; the database
fixtures (``engine``, ``db_url``: SQLite and, when TEST_DATABASE_URL is set, PostgreSQL) come
from ``tests/conftest.py``."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from demetra.db.bulk import insert_campaign_rows
from demetra.db.models import Alert

START = dt.date(2026, 1, 1)
FAR_PAST = dt.date(2000, 1, 1)
# Deterministic day-to-day wiggle (a 9-day cycle, so it is no weekly pattern): the spread of a
# steady campaign is small but not zero.
WIGGLE = (0.0, 0.012, -0.008, 0.016, -0.014, 0.006, -0.004, 0.01, -0.012)
STEADY = {"cost": 1000.0, "clicks": 1000, "impressions": 50_000, "conversions": 50.0,
          "revenue": 2500.0}


def day(i: int) -> dt.date:
    return START + dt.timedelta(days=i)


def campaign(cid: str, channel: str, days: int, *, first: int = 0,
             bad: dict[int, dict] | None = None, level: dict | None = None,
             cost_wiggle: bool = True, name: str | None = None) -> list[dict]:
    """``days`` daily rows of a steady campaign from day ``first``; ``bad`` replaces the
    values of some days (by day index) outright, without wiggle. Named ``name`` (default:
    "<id> – test")."""
    base = {**STEADY, **(level or {})}
    rows = []
    for i in range(first, first + days):
        w = WIGGLE[i % len(WIGGLE)]
        row = {"cost": round(base["cost"] * (1 + w / 2), 2) if cost_wiggle else base["cost"],
               "clicks": round(base["clicks"] * (1 - w)),
               "impressions": round(base["impressions"] * (1 + w)),
               "conversions": round(base["conversions"] * (1 + w), 2),
               "revenue": round(base["revenue"] * (1 + w), 2)}
        row.update((bad or {}).get(i, {}))
        rows.append({"campaign_id": cid, "campaign_name": name or f"{cid} – test",
                     "channel": channel,
                     "date": day(i), "engagement": 0, **row})
    return rows


def insert(engine: sa.Engine, *campaigns: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame([r for c in campaigns for r in c])
    with engine.begin() as conn:
        insert_campaign_rows(conn, frame)
    return frame


def alerts(engine: sa.Engine, **where) -> list[dict]:
    """Every alert row as a dict (ordered by id), optionally filtered on equal columns."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(Alert.__table__).order_by(Alert.id))]
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def snapshot(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(Alert.__table__).order_by(Alert.id))]


def baseline_roi(rows: list[dict], i: int, window: int = 14) -> float:
    """Σrevenue / Σcost over the ``window`` days before day index ``i`` of one campaign."""
    prev = [r for r in rows if day(i - window) <= r["date"] < day(i)]
    return sum(r["revenue"] for r in prev) / sum(r["cost"] for r in prev)


BAD_DAYS = {
    # order values collapse: ROI 0.5 against 2.5, everything else normal
    "roi_drop": {"revenue": 500.0},
    # spend 3x, and clicks, conversions and revenue with it: only the spend is unusual (a
    # budget change: severity low, see ``RUNAWAY`` for the spike whose results stay put)
    "cost_spike": {"cost": 3000.0, "clicks": 3000, "impressions": 150_000, "conversions": 150.0,
                   "revenue": 7500.0},
    # 3 conversions from ~1000 clicks (baseline 5 %), order values make up the revenue
    "low_conversion": {"conversions": 3.0},
    # impressions fall tenfold: CTR 20 % against 2 %, nothing that a rule covers
    "anomaly": {"impressions": 5_000},
}
# a runaway bid: spend 3x and the clicks it buys, but no more conversions or revenue than usual
RUNAWAY = {"cost": 3000.0, "clicks": 3000, "impressions": 150_000}
# one day's order values collapse: ROI 0.5 against 2.5
BROKEN = {"revenue": 500.0}
# a paused day as exports write it: a row of zeros
PAUSED = {"cost": 0.0, "clicks": 0, "impressions": 0, "conversions": 0.0, "revenue": 0.0}


def paused(rows: list[dict], days: range, *, drop: bool = False) -> list[dict]:
    """``rows`` with the days ``days`` (day indices) paused: rows of zeros, or (``drop``) no
    rows at all, as an export that leaves out days without delivery."""
    out = []
    for r in rows:
        if (r["date"] - START).days in days:
            if drop:
                continue
            r = {**r, **PAUSED}
        out.append(r)
    return out

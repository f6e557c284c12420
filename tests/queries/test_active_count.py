""""How many campaigns ran in the range" from the rollups equals COUNT(DISTINCT) over the raw
rows for ranges of every shape (whole months, partial ends, inside one month), on an account
whose campaigns pause for days to weeks, so months have rows on both sides of a range."""

from __future__ import annotations

import datetime as dt

import numpy as np
import sqlalchemy as sa

from demetra import queries
from demetra.seed import seed_database

END = dt.date(2026, 6, 30)


def test_active_campaigns_equal_the_raw_count(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=40, days=150, seed=11, end_date=END, pauses=True)
    first = END - dt.timedelta(days=149)
    rng = np.random.default_rng(3)
    ranges = [(dt.date(2026, 5, 1), dt.date(2026, 5, 31)), (dt.date(2026, 5, 2), END),
              (dt.date(2026, 5, 10), dt.date(2026, 5, 20)), (dt.date(2026, 4, 30), dt.date(2026, 5, 1))]
    for _ in range(25):
        a = first + dt.timedelta(days=int(rng.integers(0, 150)))
        ranges.append((a, min(END, a + dt.timedelta(days=int(rng.integers(0, 70))))))
    with engine.connect() as conn:
        for a, b in ranges:
            raw = dict(conn.execute(sa.text(
                "SELECT channel, COUNT(DISTINCT campaign_id) FROM campaigns "
                "WHERE date BETWEEN :a AND :b GROUP BY channel"), {"a": a, "b": b}).all())
            f = queries.Filters(a, b)
            assert queries.kpis(engine, f)["campaigns"] == sum(raw.values()), (a, b)
            by_channel = queries.channel_breakdown(engine, f).set_index("channel")["campaigns"]
            assert {c: int(n) for c, n in by_channel.items() if n} == raw, (a, b)

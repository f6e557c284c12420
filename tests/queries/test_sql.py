"""``demetra.queries.sql``'s month plan: whole months from the rollup, the partial months at the
ends from raw rows, equal to the raw sums on random ranges of a world written in two batches;
and the rollups a bulk load writes equal the ones recomputed in SQL.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra import queries as Q
from demetra.db.bulk import insert_campaign_rows
from demetra.queries import Filters
from tests.queries.helpers import SUMS, D, assert_kpis, expected_kpis, read_raw, select_rows


@pytest.fixture
def two_batch_engine(engine: sa.Engine) -> tuple[sa.Engine, pd.DataFrame]:
    """A 25-campaign, 150-day world written in two inserts split in the middle of a month, so
    the second insert has to recompute a month the first one already rolled up."""
    from demetra.seed_world import generate_world

    rows = generate_world(campaigns=25, days=150, seed=7, end_date=D(2026, 5, 20)).rows
    split = D(2026, 3, 14)
    with engine.begin() as conn:
        insert_campaign_rows(conn, rows[rows.date < split])
    with engine.begin() as conn:
        insert_campaign_rows(conn, rows[rows.date >= split])
    return engine, rows


def test_rollups_equal_raw_rows_on_random_ranges(two_batch_engine) -> None:
    engine, _ = two_batch_engine
    raw = read_raw(engine)
    lo, hi = raw.date.min(), raw.date.max()
    assert (lo, hi) == (D(2025, 12, 22), D(2026, 5, 20))
    rng = np.random.default_rng(11)
    span = (hi - lo).days + 20
    ranges = [(D(2026, 1, 1), D(2026, 3, 31)), (D(2026, 2, 1), D(2026, 2, 28)),
              (D(2026, 2, 2), D(2026, 2, 27)), (lo, hi), (D(2026, 1, 31), D(2026, 3, 1))]
    for _ in range(14):
        a, b = sorted(int(x) for x in rng.integers(-10, span, size=2))
        ranges.append((lo + dt.timedelta(days=a), lo + dt.timedelta(days=b)))
    channel_sets = [(), ("facebook",), ("google_ads", "linkedin", "tiktok")]
    for i, (start, end) in enumerate(ranges):
        f = Filters(start, end, channel_sets[i % 3], search="sale" if i % 4 == 3 else "")
        sel = select_rows(raw, f)
        assert_kpis(Q.kpis(engine, f), expected_kpis(sel))

        table, total = Q.campaign_table(engine, f, sort="campaign_id", descending=False,
                                        page_size=10_000)
        want = sel.groupby("campaign_id").agg(
            days=("date", "size"), first_date=("date", "min"), last_date=("date", "max"),
            channel=("channel", "first"), **{c: (c, "sum") for c in SUMS}).reset_index()
        assert total == len(want) == len(table), (start, end)
        assert list(table.campaign_id) == list(want.campaign_id)
        assert list(table.days) == list(want.days) and list(table.channel) == list(want.channel)
        assert list(table.first_date) == list(want.first_date)
        assert list(table.last_date) == list(want.last_date)
        for col in SUMS:
            assert np.allclose(table[col], want[col], rtol=1e-9, atol=0), col
        with np.errstate(divide="ignore", invalid="ignore"):
            assert np.allclose(table.roi, want.revenue / want.cost.replace(0, np.nan),
                               rtol=1e-9, equal_nan=True)

        channels = Q.channel_breakdown(engine, f)
        by_channel = sel.groupby("channel").agg(
            campaigns=("campaign_id", "nunique"), **{c: (c, "sum") for c in SUMS})
        assert sorted(channels.channel) == sorted(by_channel.index)
        for row in channels.itertuples():
            assert row.campaigns == by_channel.loc[row.channel, "campaigns"]
            assert row.cost == pytest.approx(by_channel.loc[row.channel, "cost"], rel=1e-9)
            assert row.clicks == by_channel.loc[row.channel, "clicks"]
        if len(channels):
            assert channels.share_of_cost.sum() == pytest.approx(1.0)
            assert list(channels.cost) == sorted(channels.cost, reverse=True)

        t = Q.trend(engine, f, "day")
        daily = sel.groupby(["date", "channel"])[SUMS].sum().reset_index()
        assert len(t) == len(daily)
        assert np.allclose(t.sort_values(["period", "channel"]).revenue,
                           daily.sort_values(["date", "channel"]).revenue, rtol=1e-9)


def test_bulk_load_rollups_equal_the_sql_rollups(engine: sa.Engine) -> None:
    """A load into an empty table groups the frame in pandas (rollups.rebuild_from_frame);
    recomputing the rollups in SQL from the stored rows must give the same tables."""
    from demetra.db import rollups
    from demetra.seed_world import generate_world

    rows = generate_world(campaigns=12, days=70, seed=3, end_date=D(2026, 2, 10)).rows
    with engine.begin() as conn:
        insert_campaign_rows(conn, rows)
    day_sql = ("SELECT date, channel, campaign_days, cost, revenue, clicks, impressions, "
               "engagement, conversions FROM channel_days ORDER BY date, channel")
    month_sql = ("SELECT campaign_id, month, channel, campaign_name, days, first_date, last_date, "
                 "cost, revenue, clicks, impressions, engagement, conversions FROM campaign_months "
                 "ORDER BY campaign_id, month")

    def snapshot() -> tuple[list[tuple], list[tuple]]:
        with engine.connect() as conn:
            return ([tuple(r) for r in conn.execute(sa.text(day_sql))],
                    [tuple(r) for r in conn.execute(sa.text(month_sql))])

    from_frame = snapshot()
    with engine.begin() as conn:
        rollups.rebuild(conn)
    from_sql = snapshot()
    assert len(from_frame[0]) == len(from_sql[0]) > 6 * 60
    assert len(from_frame[1]) == len(from_sql[1]) >= 12 * 2
    for got_rows, want_rows in zip(from_frame, from_sql, strict=True):
        for got, want in zip(got_rows, want_rows, strict=True):
            assert [str(v) for v in got if not isinstance(v, float)] == \
                   [str(v) for v in want if not isinstance(v, float)]
            assert [v for v in got if isinstance(v, float)] == pytest.approx(
                [v for v in want if isinstance(v, float)], rel=1e-12)

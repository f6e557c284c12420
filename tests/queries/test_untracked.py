"""An account where some campaigns track revenue, some only results and some neither: revenue
and conversions not tracked are missing (NULL), never 0, and every ratio divides only by the
spend and clicks that tracked its numerator — in the rollups and in raw rows alike."""

from __future__ import annotations

import datetime as dt
import random

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra import ingest
from demetra import queries as Q
from demetra.queries import Filters
from tests.queries.helpers import assert_kpis, expected_kpis, read_raw, select_rows

START = dt.date(2026, 1, 20)
DAYS = 75


def _file(channel: str, campaigns: int, *, revenue: bool, conversions: bool, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    rows = []
    for c in range(campaigns):
        for d in range(DAYS):
            if rng.random() < 0.15:
                continue  # paused days
            spend = round(float(rng.uniform(5, 300)), 2)
            clicks = int(rng.integers(1, 200))
            row = {"date": (START + dt.timedelta(days=d)).isoformat(),
                   "campaign": f"{channel} {c}", "spend": spend, "clicks": clicks,
                   "impressions": clicks * int(rng.integers(20, 90))}
            if conversions:
                row["conversions"] = int(rng.integers(0, 12))
            if revenue:
                row["revenue"] = round(spend * float(rng.uniform(0.2, 4)), 2)
            rows.append(row)
    return pd.DataFrame(rows).to_csv(index=False).encode()


@pytest.fixture
def mixed_engine(engine: sa.Engine) -> sa.Engine:
    for channel, kind, seed in (("facebook", (True, True), 1), ("linkedin", (False, True), 2),
                                ("tiktok", (False, False), 3)):
        revenue, conversions = kind
        mapping = {"date": "date", "campaign_name": "campaign", "cost": "spend",
                   "clicks": "clicks", "impressions": "impressions"}
        if conversions:
            mapping["conversions"] = "conversions"
        if revenue:
            mapping["revenue"] = "revenue"
        ingest.import_file(engine, _file(channel, 4, revenue=revenue, conversions=conversions,
                                         seed=seed),
                           name=f"{channel}.csv", platform="generic", channel=channel,
                           mapping=mapping)
    return engine


def test_untracked_outcomes_are_stored_as_missing(mixed_engine: sa.Engine) -> None:
    with mixed_engine.connect() as conn:
        counted = {ch: (revenue, conversions, rows) for ch, revenue, conversions, rows in
                   conn.execute(sa.text(
                       "SELECT channel, COUNT(revenue), COUNT(conversions), COUNT(*) "
                       "FROM campaigns GROUP BY channel"))}
        rollup = {ch: (revenue, conversions) for ch, revenue, conversions in conn.execute(
            sa.text("SELECT channel, SUM(revenue), SUM(conversions) FROM channel_days "
                    "GROUP BY channel"))}
    assert counted["tiktok"][:2] == (0, 0)
    assert counted["linkedin"][0] == 0 and counted["linkedin"][1] == counted["linkedin"][2]
    assert counted["facebook"][0] == counted["facebook"][2]
    assert rollup["tiktok"] == (None, None) and rollup["linkedin"][0] is None
    assert rollup["facebook"][0] > 0


def test_kpis_of_a_mixed_account_equal_the_raw_rows_on_random_ranges(
        mixed_engine: sa.Engine) -> None:
    raw = read_raw(mixed_engine)
    rng = random.Random(7)  # noqa: S311 - reproducible test ranges, not secrets
    for _ in range(12):
        a = START + dt.timedelta(days=rng.randrange(DAYS))
        b = min(a + dt.timedelta(days=rng.randrange(1, 60)), START + dt.timedelta(days=DAYS))
        channels = tuple(rng.sample(["facebook", "linkedin", "tiktok"], rng.randrange(0, 3)))
        for search in ("", " 1"):
            f = Filters(a, b, channels=channels, search=search)
            assert_kpis(Q.kpis(mixed_engine, f), expected_kpis(select_rows(raw, f)))


def test_each_channel_and_campaign_says_what_it_tracks(mixed_engine: sa.Engine) -> None:
    f = Filters(START, START + dt.timedelta(days=DAYS))
    channels = Q.channel_breakdown(mixed_engine, f).set_index("channel")
    assert channels.loc["facebook", "roi"] > 0
    assert np.isnan(channels.loc["linkedin", "revenue"]) and np.isnan(channels.loc["linkedin",
                                                                                   "roi"])
    assert channels.loc["linkedin", "cpa"] > 0  # results without revenue: CPA still holds
    assert np.isnan(channels.loc["tiktok", "conversions"]) and np.isnan(channels.loc["tiktok",
                                                                                     "cpa"])
    # The account's ROI is facebook's own: the untracked spend is not counted as a loss.
    account = Q.kpis(mixed_engine, f)
    assert account["roi"] == pytest.approx(channels.loc["facebook", "roi"], rel=1e-9)
    assert account["revenue_cost"] == pytest.approx(channels.loc["facebook", "cost"], rel=1e-9)
    rows, _ = Q.campaign_table(mixed_engine, Filters(START + dt.timedelta(days=3),
                                                     START + dt.timedelta(days=50)),
                               page_size=50)
    per = rows.set_index("channel")
    assert per.loc["tiktok", "revenue"].isna().all() and per.loc["tiktok", "roi"].isna().all()
    assert per.loc["facebook", "roi"].notna().all()

"""``demetra.queries.campaigns`` on SQLite and PostgreSQL: sorting with NULL ratios, paging and
totals, the best and worst campaigns, choices and a campaign's history.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra import queries as Q
from demetra.db.bulk import insert_campaign_rows
from demetra.queries import Filters
from tests.queries.helpers import D, make_rows, read_raw, select_rows


def test_campaign_table_null_ratios_sort_last_both_ways(hand_engine: sa.Engine) -> None:
    f = Filters(D(2026, 2, 1), D(2026, 2, 2))   # FB_A: cost 0 (ROI NULL), TT_B 0.5, GA_C 2
    desc, total = Q.campaign_table(hand_engine, f, sort="roi", descending=True)
    asc, _ = Q.campaign_table(hand_engine, f, sort="roi", descending=False)
    assert total == 3
    assert list(desc.campaign_id) == ["GA_C", "TT_B", "FB_A"]
    assert list(asc.campaign_id) == ["TT_B", "GA_C", "FB_A"]
    assert math.isnan(desc.iloc[-1]["roi"])
    cpc_desc, _ = Q.campaign_table(hand_engine, f, sort="cpc")   # TT_B and FB_A have no clicks
    assert list(cpc_desc.campaign_id) == ["GA_C", "FB_A", "TT_B"]  # NULLs tie -> campaign_id
    assert list(desc.columns) == [*Q.CAMPAIGN_COLUMNS, *Q.SOURCE_COLUMNS]
    full, _ = Q.campaign_table(hand_engine, Filters(D(2026, 1, 1), D(2026, 3, 31)), sort="days")
    a = full.set_index("campaign_id").loc["FB_A"]
    assert (a["days"], a["first_date"], a["last_date"]) == (3, D(2026, 1, 30), D(2026, 2, 1))
    assert (a["campaign_name"], a["channel"], a["cost"]) == ("Alpha Spring", "facebook", 150.0)
    with pytest.raises(ValueError, match="cannot sort"):
        Q.campaign_table(hand_engine, f, sort="cost; DROP TABLE campaigns")
    with pytest.raises(ValueError):
        Q.campaign_table(hand_engine, f, page=0)


def test_top_campaigns_ignores_tiny_spenders_by_default(hand_engine: sa.Engine) -> None:
    f = Filters(D(2026, 1, 30), D(2026, 2, 2))
    # TT_B made 10 on its $1 day... but over the range: TT_B 20/21, FB_A 300/150, GA_C 60/30.
    tiny = Filters(D(2026, 1, 31), D(2026, 1, 31))   # FB_A: $50 for 0, TT_B: $1 for $10
    assert list(Q.top_campaigns(hand_engine, tiny, min_share=0).campaign_id) == ["TT_B", "FB_A"]
    # Average spend per campaign is 25.5; TT_B's $1 is under 10 % of it and does not qualify.
    assert list(Q.top_campaigns(hand_engine, tiny).campaign_id) == ["FB_A"]
    best = Q.top_campaigns(hand_engine, f, n=2)
    assert list(best.campaign_id) == ["FB_A", "GA_C"]   # ROI 2.0 each: tie broken by id
    worst = Q.top_campaigns(hand_engine, f, worst=True, n=1)
    assert list(worst.campaign_id) == ["TT_B"]
    assert list(Q.top_campaigns(hand_engine, f, min_cost=40).campaign_id) == ["FB_A"]
    cheapest = Q.top_campaigns(hand_engine, f, by="cpc", n=3)
    assert list(cheapest.campaign_id) == ["FB_A", "GA_C", "TT_B"]   # CPC 2, 3 and 21
    assert list(Q.top_campaigns(hand_engine, f, by="cpc", n=1, worst=True).campaign_id) == ["TT_B"]
    with pytest.raises(ValueError):
        Q.top_campaigns(hand_engine, f, by="campaign_name")


def test_campaign_history_hand_made(hand_engine: sa.Engine) -> None:
    h = Q.campaign_history(hand_engine, "FB_A")
    assert list(h["date"]) == [D(2026, 1, 30), D(2026, 1, 31), D(2026, 2, 1)]
    assert list(h["cost"]) == [100, 50, 0] and list(h["clicks"]) == [50, 25, 0]
    assert h["roi"].iloc[0] == pytest.approx(3.0) and h["roi"].iloc[1] == 0.0
    assert math.isnan(h["roi"].iloc[2]) and math.isnan(h["conversion_rate"].iloc[2])
    assert h["ctr"].iloc[2] == 0.0
    assert {"date", "cost", "revenue", "clicks", "impressions", "conversions", "roi",
            "conversion_rate", "ctr"} <= set(h.columns)
    part = Q.campaign_history(hand_engine, "FB_A", D(2026, 1, 31), D(2026, 1, 31))
    assert list(part["date"]) == [D(2026, 1, 31)]
    assert Q.campaign_history(hand_engine, "NOPE").empty


def test_campaign_table_paging_total_and_tiebreak(seeded_engine: sa.Engine) -> None:
    f = Filters(D(2026, 4, 15), D(2026, 6, 30))
    everything, total = Q.campaign_table(seeded_engine, f, sort="cost", page_size=1000)
    raw = select_rows(read_raw(seeded_engine), f)
    assert total == len(everything) == raw.campaign_id.nunique() == 50
    assert list(everything.cost) == sorted(everything.cost, reverse=True)
    pages = [Q.campaign_table(seeded_engine, f, sort="cost", page=p, page_size=7) for p in range(1, 9)]
    assert all(t == 50 for _, t in pages)
    assert [len(df) for df, _ in pages] == [7] * 7 + [1]
    assert list(pd.concat([df for df, _ in pages]).campaign_id) == list(everything.campaign_id)
    beyond, beyond_total = Q.campaign_table(seeded_engine, f, page=99, page_size=7)
    assert beyond.empty and beyond_total == 50
    assert list(beyond.columns) == [*Q.CAMPAIGN_COLUMNS, *Q.SOURCE_COLUMNS]
    for descending in (True, False):
        by_channel, _ = Q.campaign_table(seeded_engine, f, sort="channel", descending=descending,
                                         page_size=100)
        expected = by_channel.sort_values("campaign_id").sort_values(
            "channel", ascending=not descending, kind="stable")
        assert list(by_channel.campaign_id) == list(expected.campaign_id)
    asc, _ = Q.campaign_table(seeded_engine, f, sort="roi", descending=False, page_size=3)
    assert list(asc.roi) == sorted(everything.roi.dropna())[:3]
    sub, sub_total = Q.campaign_table(seeded_engine, Filters(f.start, f.end, ("linkedin",)))
    assert sub_total == raw[raw.channel == "linkedin"].campaign_id.nunique()
    assert set(sub.channel) == {"linkedin"}
    choices = Q.campaign_choices(seeded_engine, f, limit=5)
    assert [c for c, _ in choices] == list(everything.campaign_id[:5])
    name = everything.set_index("campaign_id").campaign_name
    assert all(label == f"{name[c]} ({c})" for c, label in choices)


def test_campaign_history_equals_raw_rows(seeded_engine: sa.Engine) -> None:
    raw = read_raw(seeded_engine)
    cid = raw.campaign_id.iloc[0]
    mine = raw[raw.campaign_id == cid].sort_values("date")
    h = Q.campaign_history(seeded_engine, cid)
    assert list(h.date) == list(mine.date)
    assert np.allclose(h.cost, mine.cost) and list(h.clicks) == list(mine.clicks)
    roi = np.where(mine.cost > 0, mine.revenue / mine.cost.where(mine.cost > 0, 1), np.nan)
    assert np.allclose(h.roi, roi, equal_nan=True)
    window = Q.campaign_history(seeded_engine, cid, D(2026, 5, 1), D(2026, 5, 31))
    assert len(window) == ((mine.date >= D(2026, 5, 1)) & (mine.date <= D(2026, 5, 31))).sum()


def test_campaigns_without_a_name_load_and_show_empty(engine: sa.Engine) -> None:
    rows = make_rows(("X_1", "", "youtube", D(2026, 5, 1), 10, 20, 3, 100, 0, 1),
                 ("X_1", "", "youtube", D(2026, 5, 2), 5, 0, 1, 50, 0, 0))
    with engine.begin() as conn:
        insert_campaign_rows(conn, rows)          # into an empty table: the bulk path
    table, total = Q.campaign_table(engine, Filters(D(2026, 5, 1), D(2026, 5, 31)))
    assert total == 1 and table.campaign_name.iloc[0] == "" and table.cost.iloc[0] == 15
    assert Q.campaign_choices(engine, Filters(D(2026, 5, 1), D(2026, 5, 31))) == [("X_1", "X_1")]

"""``demetra.queries.kpi`` on SQLite and PostgreSQL: metric definitions, zero denominators,
filters and search, deltas, the trend and the channel breakdown, on hand-made rows and
against the raw rows of the seeded world.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra import queries as Q
from demetra.queries import Filters
from tests.queries.helpers import SUMS, D, assert_kpis, expected_kpis, read_raw, select_rows


def test_kpis_on_hand_made_rows(hand_engine: sa.Engine) -> None:
    k = Q.kpis(hand_engine, Filters(D(2026, 1, 30), D(2026, 2, 2)))
    assert k == pytest.approx({
        "cost": 201.0, "revenue": 380.0, "clicks": 86, "impressions": 2110, "conversions": 8.5,
        "engagement": 13, "campaigns": 3, "roi": 380 / 201, "ctr": 86 / 2110,
        "conversion_rate": 8.5 / 86, "cpc": 201 / 86, "cpa": 201 / 8.5, "revenue_cost": 201.0,
        "result_cost": 201.0, "result_clicks": 86}, rel=1e-12)
    assert isinstance(k["clicks"], int) and isinstance(k["campaigns"], int)
    assert isinstance(k["cost"], float)
    assert list(k) == list(Q.KPI_KEYS)


def test_roi_is_a_ratio_of_sums_not_an_average_of_ratios(hand_engine: sa.Engine) -> None:
    # FB_A: 300 on 150 (ROI 2), TT_B: 10 on 1 (ROI 10). The mean of the ROIs would be 6.
    k = Q.kpis(hand_engine, Filters(D(2026, 1, 30), D(2026, 1, 31)))
    assert k["roi"] == pytest.approx(310 / 151, rel=1e-12)
    assert k["roi"] != pytest.approx(6.0) and k["roi"] != pytest.approx((3 + 0 + 10) / 3)
    assert k["conversion_rate"] == pytest.approx(6 / 76, rel=1e-12)
    table, _ = Q.campaign_table(hand_engine, Filters(D(2026, 1, 30), D(2026, 1, 31)))
    a = table.set_index("campaign_id").loc["FB_A"]
    # Per campaign too: FB_A's rows have ROI 3 and 0, the campaign's ROI is 300/150.
    assert a["roi"] == pytest.approx(2.0) and a["cpc"] == pytest.approx(150 / 75)


def test_zero_denominators_give_none_not_zero(hand_engine: sa.Engine) -> None:
    no_cost_no_clicks = Q.kpis(hand_engine, Filters(D(2026, 2, 1), D(2026, 2, 1), ("facebook",)))
    assert no_cost_no_clicks["cost"] == 0 and no_cost_no_clicks["clicks"] == 0
    assert no_cost_no_clicks["roi"] is None and no_cost_no_clicks["cpc"] is None
    assert no_cost_no_clicks["conversion_rate"] is None and no_cost_no_clicks["cpa"] is None
    assert no_cost_no_clicks["ctr"] == 0.0  # 0 clicks on 200 impressions is a real 0 %
    assert no_cost_no_clicks["campaigns"] == 1

    no_impressions = Q.kpis(hand_engine, Filters(D(2026, 2, 2), D(2026, 2, 2), ("tiktok",)))
    assert no_impressions["ctr"] is None and no_impressions["roi"] == pytest.approx(0.5)

    no_conversions = Q.kpis(hand_engine, Filters(D(2026, 3, 1), D(2026, 3, 31)))
    assert no_conversions["cpa"] is None and no_conversions["conversion_rate"] == 0.0
    assert no_conversions["cpc"] == pytest.approx(5.0)

    empty = Q.kpis(hand_engine, Filters(D(2025, 1, 1), D(2025, 1, 31)))
    assert {k: empty[k] for k in ("cost", "clicks", "impressions", "engagement",
                                  "campaigns")} == dict.fromkeys(
        ("cost", "clicks", "impressions", "engagement", "campaigns"), 0)
    # Nothing matches, so nothing tracks revenue or conversions there: missing, not 0.
    assert empty["revenue"] is None and empty["conversions"] is None
    assert all(empty[r] is None for r in ("roi", "ctr", "conversion_rate", "cpc", "cpa"))
    searched_empty = Q.kpis(hand_engine, Filters(D(2025, 1, 1), D(2025, 1, 31), search="alpha"))
    assert searched_empty == empty


def test_channel_and_search_filters(hand_engine: sa.Engine) -> None:
    span = (D(2026, 1, 1), D(2026, 3, 31))
    assert Q.kpis(hand_engine, Filters(*span, ("tiktok", "google_ads")))["cost"] == 51.0
    assert Q.kpis(hand_engine, Filters(*span, ("tiktok", "google_ads")))["campaigns"] == 2
    assert Q.kpis(hand_engine, Filters(*span, ("youtube",)))["campaigns"] == 0
    # Case-insensitive, on the id or the name; % and _ are literal characters, not wildcards.
    assert Q.kpis(hand_engine, Filters(*span, search="ALPHA"))["cost"] == 150.0
    assert Q.kpis(hand_engine, Filters(*span, search="ga_c"))["cost"] == 30.0
    assert Q.kpis(hand_engine, Filters(*span, search="50%"))["campaigns"] == 1
    assert Q.kpis(hand_engine, Filters(*span, search="%"))["campaigns"] == 1
    assert Q.kpis(hand_engine, Filters(*span, search="_"))["campaigns"] == 4
    assert Q.kpis(hand_engine, Filters(*span, search="a_c"))["campaigns"] == 1   # GA_C only
    assert Q.kpis(hand_engine, Filters(*span, search="nothing"))["campaigns"] == 0
    assert Q.kpis(hand_engine, Filters(*span, ("facebook",), search="gamma"))["campaigns"] == 0
    hostile = Q.kpis(hand_engine, Filters(*span, search="'; DROP TABLE campaigns; --"))
    assert hostile["campaigns"] == 0
    assert Q.kpis(hand_engine, Filters(*span))["campaigns"] == 4  # still there


def test_previous_period_and_deltas_on_hand_made_rows(hand_engine: sa.Engine) -> None:
    f = Filters(D(2026, 2, 1), D(2026, 2, 2))
    assert f.previous() == Filters(D(2026, 1, 30), D(2026, 1, 31)) and f.days == 2
    d = Q.kpis_with_delta(hand_engine, f)
    # now: cost 0+20+30=50, revenue 70; before: cost 151, revenue 310.
    assert d["cost"] == Q.KpiDelta(50.0, 151.0, pytest.approx(50 / 151 - 1))
    assert d["roi"].value == pytest.approx(70 / 50) and d["roi"].previous == pytest.approx(310 / 151)
    assert d["roi"].change == pytest.approx((70 / 50) / (310 / 151) - 1)
    assert d["campaigns"] == Q.KpiDelta(3, 2, pytest.approx(0.5))
    # conversions before 6, now 2.5; cpa now 50/2.5=20, before 151/6.
    assert d["cpa"].change == pytest.approx(20 / (151 / 6) - 1)
    # Nothing before: change undefined.
    first = Q.kpis_with_delta(hand_engine, Filters(D(2026, 1, 28), D(2026, 1, 30)))
    assert first["cost"].previous == 0 and first["cost"].change is None
    assert first["roi"].previous is None and first["roi"].change is None


def test_trend_day_and_week_grain_on_hand_made_rows(hand_engine: sa.Engine) -> None:
    f = Filters(D(2026, 1, 30), D(2026, 2, 2))
    day = Q.trend(hand_engine, f, "day")
    assert list(day.columns[:13]) == ["period", "channel", "cost", "revenue", "clicks",
                                      "impressions", "conversions", "revenue_cost", "result_cost",
                                      "result_clicks", "roi", "ctr", "conversion_rate"]
    assert len(day) == 6 and all(isinstance(p, dt.date) for p in day["period"])
    fb = day[day.channel == "facebook"].set_index("period")
    assert fb.loc[D(2026, 2, 1), "cost"] == 0 and math.isnan(fb.loc[D(2026, 2, 1), "roi"])
    assert fb.loc[D(2026, 1, 30), "roi"] == pytest.approx(3.0)
    week = Q.trend(hand_engine, f, "week")
    # 2026-01-30 is a Friday: its week starts on Monday 26 January; 2 February is a Monday.
    assert sorted(set(week["period"])) == [D(2026, 1, 26), D(2026, 2, 2)]
    assert all(p.weekday() == 0 for p in week["period"])
    tt = week[week.channel == "tiktok"].set_index("period")
    assert tt.loc[D(2026, 1, 26), "cost"] == 1 and tt.loc[D(2026, 2, 2), "cost"] == 20
    assert math.isnan(tt.loc[D(2026, 2, 2), "ctr"])
    assert Q.resolve_grain(Filters(D(2026, 1, 1), D(2026, 4, 30)), "auto") == "day"   # 120 days
    assert Q.resolve_grain(Filters(D(2026, 1, 1), D(2026, 5, 1)), "auto") == "week"   # 121 days
    with pytest.raises(ValueError):
        Q.trend(hand_engine, f, "month")


def test_kpis_and_deltas_on_the_seeded_world_equal_raw_sums(seeded_engine: sa.Engine) -> None:
    raw = read_raw(seeded_engine)
    assert len(raw) > 3000
    for f in (Filters(D(2026, 5, 17), D(2026, 6, 30)),
              Filters(D(2026, 5, 17), D(2026, 6, 30), ("facebook", "youtube")),
              Filters(D(2026, 4, 20), D(2026, 6, 3), search="sale"),
              Filters(D(2026, 4, 1), D(2026, 6, 30))):
        assert_kpis(Q.kpis(seeded_engine, f), expected_kpis(select_rows(raw, f)))
        deltas = Q.kpis_with_delta(seeded_engine, f)
        now, before = expected_kpis(select_rows(raw, f)), expected_kpis(select_rows(raw, f.previous()))
        assert_kpis({k: d.value for k, d in deltas.items()}, now)
        assert_kpis({k: d.previous for k, d in deltas.items()}, before)
        for k, d in deltas.items():
            if now[k] is None or before[k] is None or before[k] == 0:
                assert d.change is None, k
            else:
                assert d.change == pytest.approx(now[k] / before[k] - 1, rel=1e-9, abs=1e-12), k
    # The seeded world starts 2026-04-02: a range before it has nothing.
    assert Q.kpis(seeded_engine, Filters(D(2026, 1, 1), D(2026, 3, 31)))["campaigns"] == 0


def test_trend_day_and_week_sum_to_the_kpis(seeded_engine: sa.Engine) -> None:
    f = Filters(D(2026, 4, 9), D(2026, 6, 25), ("google_ads", "tiktok", "instagram"))
    k = Q.kpis(seeded_engine, f)
    day, week = Q.trend(seeded_engine, f, "day"), Q.trend(seeded_engine, f, "week")
    assert set(day.channel) == {"google_ads", "tiktok", "instagram"}
    assert day.period.min() >= f.start and day.period.max() <= f.end
    assert week.period.nunique() < day.period.nunique()
    for col in SUMS:
        assert day[col].sum() == pytest.approx(k[col], rel=1e-9)
        assert week[col].sum() == pytest.approx(k[col], rel=1e-9)
    assert not day.duplicated(["period", "channel"]).any()
    raw = select_rows(read_raw(seeded_engine), f)
    raw_week = raw.assign(period=[d - dt.timedelta(days=d.weekday()) for d in raw.date])
    want = raw_week.groupby(["period", "channel"])[SUMS].sum().reset_index()
    got = week.merge(want, on=["period", "channel"], suffixes=("", "_raw"))
    assert len(got) == len(want) == len(week)
    assert np.allclose(got["cost"], got["cost_raw"], rtol=1e-9)
    assert np.allclose(got["roi"], got["revenue_raw"] / got["cost_raw"], rtol=1e-9)
    searched = Q.trend(seeded_engine, Filters(f.start, f.end, f.channels, search="_"), "day")
    pd.testing.assert_frame_equal(searched.reset_index(drop=True), day.reset_index(drop=True),
                                  check_exact=False, rtol=1e-9)


def test_channel_breakdown_with_search_and_share(seeded_engine: sa.Engine) -> None:
    f = Filters(D(2026, 4, 10), D(2026, 6, 30))
    plain = Q.channel_breakdown(seeded_engine, f)
    searched = Q.channel_breakdown(seeded_engine, Filters(f.start, f.end, search="_"))
    pd.testing.assert_frame_equal(plain, searched, check_exact=False, rtol=1e-9)
    assert list(plain.columns) == ["channel", "cost", "revenue", "clicks", "impressions",
                                   "conversions", "revenue_cost", "result_cost", "result_clicks",
                                   "campaigns", "roi", "ctr", "conversion_rate", "cpc", "cpa",
                                   "share_of_cost"]
    k = Q.kpis(seeded_engine, f)
    assert plain.campaigns.sum() == k["campaigns"]
    assert plain.cost.sum() == pytest.approx(k["cost"], rel=1e-9)
    assert plain.share_of_cost.iloc[0] == pytest.approx(plain.cost.iloc[0] / k["cost"])

"""demetra.queries on SQLite and PostgreSQL: metric definitions, filters, rollups vs raw rows.

Expectations come either from small hand-made rows with hand-computed numbers, or from the raw
``campaigns`` rows read with a plain SELECT and summed in pandas here, independently of the
rollups and SQL the module uses.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra import queries as Q
from demetra.db.bulk import insert_campaign_rows
from demetra.queries import Filters

D = dt.date
SUMS = ["cost", "revenue", "clicks", "impressions", "conversions"]


# ---------------------------------------------------------------------------------------------
# Hand-made rows

def _rows(*rows: tuple) -> pd.DataFrame:
    cols = ["campaign_id", "campaign_name", "channel", "date", "cost", "revenue", "clicks",
            "impressions", "engagement", "conversions"]
    df = pd.DataFrame(rows, columns=cols)
    df["clicks"] = df["clicks"].astype("int64")
    df["impressions"] = df["impressions"].astype("int64")
    df["engagement"] = df["engagement"].astype("int64")
    df["cost"] = df["cost"].astype(float)
    df["revenue"] = df["revenue"].astype(float)
    df["conversions"] = df["conversions"].astype(float)
    return df


HAND = _rows(
    # id       name                channel      date          cost  rev  clk  impr  eng conv
    ("FB_A", "Alpha Spring",      "facebook",   D(2026, 1, 30), 100, 300, 50, 1000, 7, 5),
    ("FB_A", "Alpha Spring",      "facebook",   D(2026, 1, 31), 50,  0,   25, 500,  3, 0),
    ("FB_A", "Alpha Spring",      "facebook",   D(2026, 2, 1),  0,   0,   0,  200,  1, 0),
    ("TT_B", "=1+2",              "tiktok",     D(2026, 1, 31), 1,   10,  1,  10,   0, 1),
    ("TT_B", "=1+2",              "tiktok",     D(2026, 2, 2),  20,  10,  0,  0,    0, 0),
    ("GA_C", "-50% Off Gamma",    "google_ads", D(2026, 2, 1),  30,  60,  10, 400,  2, 2.5),
    ("LI_D", "@SUM(A1)",          "linkedin",   D(2026, 3, 5),  10,  5,   2,  100,  0, 0),
)


@pytest.fixture
def hand_engine(engine: sa.Engine) -> sa.Engine:
    with engine.begin() as conn:
        insert_campaign_rows(conn, HAND)
    return engine


def test_kpis_on_hand_made_rows(hand_engine: sa.Engine) -> None:
    k = Q.kpis(hand_engine, Filters(D(2026, 1, 30), D(2026, 2, 2)))
    assert k == pytest.approx({
        "cost": 201.0, "revenue": 380.0, "clicks": 86, "impressions": 2110, "conversions": 8.5,
        "engagement": 13, "campaigns": 3, "roi": 380 / 201, "ctr": 86 / 2110,
        "conversion_rate": 8.5 / 86, "cpc": 201 / 86, "cpa": 201 / 8.5}, rel=1e-12)
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
    assert {k: empty[k] for k in ("cost", "revenue", "clicks", "impressions", "conversions",
                                  "engagement", "campaigns")} == dict.fromkeys(
        ("cost", "revenue", "clicks", "impressions", "conversions", "engagement", "campaigns"), 0)
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


def test_filters_validate_and_normalise() -> None:
    with pytest.raises(ValueError, match="after"):
        Filters(D(2026, 2, 2), D(2026, 2, 1))
    f = Filters(D(2026, 1, 1), D(2026, 12, 31), channels=["tiktok", "facebook", "tiktok"],
                search="  x ")
    assert f.channels == ("facebook", "tiktok") and f.search == "x" and f.days == 365
    assert hash(f) == hash(Filters(D(2026, 1, 1), D(2026, 12, 31), ("facebook", "tiktok"), "x"))
    p = f.previous()
    assert p.end == D(2025, 12, 31) and p.days == 365 and p.channels == f.channels


def test_trend_day_and_week_grain_on_hand_made_rows(hand_engine: sa.Engine) -> None:
    f = Filters(D(2026, 1, 30), D(2026, 2, 2))
    day = Q.trend(hand_engine, f, "day")
    assert list(day.columns[:10]) == ["period", "channel", "cost", "revenue", "clicks",
                                      "impressions", "conversions", "roi", "ctr", "conversion_rate"]
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
    assert list(desc.columns) == list(Q.CAMPAIGN_COLUMNS)
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


def test_export_round_trip_and_formula_escaping(hand_engine: sa.Engine) -> None:
    chunks = list(Q.export_csv(hand_engine, Filters(D(2026, 1, 1), D(2026, 3, 31)), chunk_rows=2))
    assert len(chunks) == 1 + 4 and all(isinstance(c, bytes) for c in chunks)  # header + 7 rows / 2
    text = b"".join(chunks).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(Q.EXPORT_COLUMNS) and len(rows) == len(HAND)
    names = {r["campaign_id"]: r["campaign_name"] for r in rows}
    assert names == {"FB_A": "Alpha Spring", "TT_B": "'=1+2", "GA_C": "'-50% Off Gamma",
                     "LI_D": "'@SUM(A1)"}
    got = pd.DataFrame(rows)
    got["date"] = [D.fromisoformat(v) for v in got["date"]]
    got = got.sort_values(["campaign_id", "date"]).reset_index(drop=True)
    want = HAND.sort_values(["campaign_id", "date"]).reset_index(drop=True)
    for col in ("cost", "revenue", "conversions"):
        assert list(got[col].astype(float)) == list(want[col])
    for col in ("clicks", "impressions", "engagement"):
        assert list(got[col].astype(int)) == list(want[col])
    assert list(got["date"]) == list(want["date"])
    # roi is empty (NULL) where cost is 0, never "0" or "nan".
    assert got.loc[(got.campaign_id == "FB_A") & (got.date == D(2026, 2, 1)), "roi"].item() == ""
    only = b"".join(Q.export_csv(hand_engine, Filters(D(2026, 1, 1), D(2026, 3, 31), ("tiktok",))))
    assert len(list(csv.reader(io.StringIO(only.decode())))) == 1 + 2
    nothing = list(Q.export_csv(hand_engine, Filters(D(2020, 1, 1), D(2020, 1, 2))))
    assert b"".join(nothing).decode().strip() == ",".join(Q.EXPORT_COLUMNS)


def test_date_span_and_data_summary(engine: sa.Engine) -> None:
    assert Q.date_span(engine) is None
    summary = Q.data_summary(engine)
    assert summary["rows"] == 0 and summary["campaigns"] == 0 and summary["channels"] == []
    assert summary["first_date"] is None
    with engine.begin() as conn:
        insert_campaign_rows(conn, HAND)
    assert Q.date_span(engine) == (D(2026, 1, 30), D(2026, 3, 5))
    summary = Q.data_summary(engine)
    assert summary["tables"] == {"campaigns": 7, "predictions": 0, "recommendations": 0,
                                 "alerts": 0, "ml_dashboards": 0, "model_runs": 0}
    assert summary["campaigns"] == 4 and summary["rows"] == 7
    assert summary["channels"] == ["facebook", "google_ads", "tiktok", "linkedin"]
    assert (summary["first_date"], summary["last_date"]) == (D(2026, 1, 30), D(2026, 3, 5))


# ---------------------------------------------------------------------------------------------
# Against raw rows read here (seeded world and a multi-month world loaded in two batches)

RAW_SQL = ("SELECT campaign_id, campaign_name, channel, date, cost, revenue, clicks, impressions, "
           "conversions, engagement FROM campaigns")


def _raw(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        df = pd.read_sql(sa.text(RAW_SQL), conn)
    df["date"] = [D.fromisoformat(str(v)[:10]) for v in df["date"]]
    return df


def _select(raw: pd.DataFrame, f: Filters) -> pd.DataFrame:
    sel = raw[(raw.date >= f.start) & (raw.date <= f.end)]
    if f.channels:
        sel = sel[sel.channel.isin(f.channels)]
    if f.search:
        s = f.search.lower()
        hit = (raw.campaign_id.str.lower().str.contains(s, regex=False)
               | raw.campaign_name.str.lower().str.contains(s, regex=False))
        ids = set(raw.loc[hit, "campaign_id"])
        sel = sel[sel.campaign_id.isin(ids)]
    return sel


def _div(a: float, b: float) -> float | None:
    return None if b == 0 else a / b


def _expected_kpis(sel: pd.DataFrame) -> dict:
    s = {c: sel[c].sum() for c in (*SUMS, "engagement")}
    return {**s, "campaigns": sel.campaign_id.nunique(),
            "roi": _div(s["revenue"], s["cost"]), "ctr": _div(s["clicks"], s["impressions"]),
            "conversion_rate": _div(s["conversions"], s["clicks"]),
            "cpc": _div(s["cost"], s["clicks"]), "cpa": _div(s["cost"], s["conversions"])}


def _assert_kpis(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for k, v in want.items():
        if v is None:
            assert got[k] is None, k
        else:
            assert got[k] == pytest.approx(float(v), rel=1e-9, abs=1e-9), k


def test_kpis_and_deltas_on_the_seeded_world_equal_raw_sums(seeded_engine: sa.Engine) -> None:
    raw = _raw(seeded_engine)
    assert len(raw) > 3000
    for f in (Filters(D(2026, 5, 17), D(2026, 6, 30)),
              Filters(D(2026, 5, 17), D(2026, 6, 30), ("facebook", "youtube")),
              Filters(D(2026, 4, 20), D(2026, 6, 3), search="sale"),
              Filters(D(2026, 4, 1), D(2026, 6, 30))):
        _assert_kpis(Q.kpis(seeded_engine, f), _expected_kpis(_select(raw, f)))
        deltas = Q.kpis_with_delta(seeded_engine, f)
        now, before = _expected_kpis(_select(raw, f)), _expected_kpis(_select(raw, f.previous()))
        _assert_kpis({k: d.value for k, d in deltas.items()}, now)
        _assert_kpis({k: d.previous for k, d in deltas.items()}, before)
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
    raw = _select(_raw(seeded_engine), f)
    raw_week = raw.assign(period=[d - dt.timedelta(days=d.weekday()) for d in raw.date])
    want = raw_week.groupby(["period", "channel"])[SUMS].sum().reset_index()
    got = week.merge(want, on=["period", "channel"], suffixes=("", "_raw"))
    assert len(got) == len(want) == len(week)
    assert np.allclose(got["cost"], got["cost_raw"], rtol=1e-9)
    assert np.allclose(got["roi"], got["revenue_raw"] / got["cost_raw"], rtol=1e-9)
    searched = Q.trend(seeded_engine, Filters(f.start, f.end, f.channels, search="_"), "day")
    pd.testing.assert_frame_equal(searched.reset_index(drop=True), day.reset_index(drop=True),
                                  check_exact=False, rtol=1e-9)


def test_campaign_table_paging_total_and_tiebreak(seeded_engine: sa.Engine) -> None:
    f = Filters(D(2026, 4, 15), D(2026, 6, 30))
    everything, total = Q.campaign_table(seeded_engine, f, sort="cost", page_size=1000)
    raw = _select(_raw(seeded_engine), f)
    assert total == len(everything) == raw.campaign_id.nunique() == 50
    assert list(everything.cost) == sorted(everything.cost, reverse=True)
    pages = [Q.campaign_table(seeded_engine, f, sort="cost", page=p, page_size=7) for p in range(1, 9)]
    assert all(t == 50 for _, t in pages)
    assert [len(df) for df, _ in pages] == [7] * 7 + [1]
    assert list(pd.concat([df for df, _ in pages]).campaign_id) == list(everything.campaign_id)
    beyond, beyond_total = Q.campaign_table(seeded_engine, f, page=99, page_size=7)
    assert beyond.empty and beyond_total == 50 and list(beyond.columns) == list(Q.CAMPAIGN_COLUMNS)
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
    raw = _raw(seeded_engine)
    cid = raw.campaign_id.iloc[0]
    mine = raw[raw.campaign_id == cid].sort_values("date")
    h = Q.campaign_history(seeded_engine, cid)
    assert list(h.date) == list(mine.date)
    assert np.allclose(h.cost, mine.cost) and list(h.clicks) == list(mine.clicks)
    roi = np.where(mine.cost > 0, mine.revenue / mine.cost.where(mine.cost > 0, 1), np.nan)
    assert np.allclose(h.roi, roi, equal_nan=True)
    window = Q.campaign_history(seeded_engine, cid, D(2026, 5, 1), D(2026, 5, 31))
    assert len(window) == ((mine.date >= D(2026, 5, 1)) & (mine.date <= D(2026, 5, 31))).sum()


def test_export_of_the_seeded_world_round_trips(seeded_engine: sa.Engine) -> None:
    f = Filters(D(2026, 5, 1), D(2026, 6, 10), ("facebook", "tiktok"))
    got = pd.read_csv(io.BytesIO(b"".join(Q.export_csv(seeded_engine, f, chunk_rows=500))),
                      dtype={"campaign_id": str, "campaign_name": str, "channel": str, "date": str})
    want = _select(_raw(seeded_engine), f)
    assert len(got) == len(want)
    assert got.cost.sum() == pytest.approx(want.cost.sum(), rel=1e-12)
    assert got.clicks.sum() == want.clicks.sum()
    assert set(got.channel) == {"facebook", "tiktok"}
    assert list(got.date) == sorted(got.date)


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
    raw = _raw(engine)
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
        sel = _select(raw, f)
        _assert_kpis(Q.kpis(engine, f), _expected_kpis(sel))

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


def test_channel_breakdown_with_search_and_share(seeded_engine: sa.Engine) -> None:
    f = Filters(D(2026, 4, 10), D(2026, 6, 30))
    plain = Q.channel_breakdown(seeded_engine, f)
    searched = Q.channel_breakdown(seeded_engine, Filters(f.start, f.end, search="_"))
    pd.testing.assert_frame_equal(plain, searched, check_exact=False, rtol=1e-9)
    assert list(plain.columns) == ["channel", "cost", "revenue", "clicks", "impressions",
                                   "conversions", "campaigns", "roi", "ctr", "conversion_rate",
                                   "cpc", "cpa", "share_of_cost"]
    k = Q.kpis(seeded_engine, f)
    assert plain.campaigns.sum() == k["campaigns"]
    assert plain.cost.sum() == pytest.approx(k["cost"], rel=1e-9)
    assert plain.share_of_cost.iloc[0] == pytest.approx(plain.cost.iloc[0] / k["cost"])


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


def test_campaigns_without_a_name_load_and_show_empty(engine: sa.Engine) -> None:
    rows = _rows(("X_1", "", "youtube", D(2026, 5, 1), 10, 20, 3, 100, 0, 1),
                 ("X_1", "", "youtube", D(2026, 5, 2), 5, 0, 1, 50, 0, 0))
    with engine.begin() as conn:
        insert_campaign_rows(conn, rows)          # into an empty table: the bulk path
    table, total = Q.campaign_table(engine, Filters(D(2026, 5, 1), D(2026, 5, 31)))
    assert total == 1 and table.campaign_name.iloc[0] == "" and table.cost.iloc[0] == 15
    assert Q.campaign_choices(engine, Filters(D(2026, 5, 1), D(2026, 5, 31))) == [("X_1", "X_1")]

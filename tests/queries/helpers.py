"""What the query tests build on: hand-made rows with hand-computed numbers, and the raw
``campaigns`` rows read with a plain SELECT and summed in pandas, independently of the rollups
and SQL ``demetra.queries`` uses. A plain module, imported by the test modules; the fixtures
are in ``conftest.py`` here and in ``tests/conftest.py``."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from demetra.queries import Filters

D = dt.date
SUMS = ["cost", "revenue", "clicks", "impressions", "conversions"]


# ---------------------------------------------------------------------------------------------
# Hand-made rows

def make_rows(*rows: tuple) -> pd.DataFrame:
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


HAND = make_rows(
    # id       name                channel      date          cost  rev  clk  impr  eng conv
    ("FB_A", "Alpha Spring",      "facebook",   D(2026, 1, 30), 100, 300, 50, 1000, 7, 5),
    ("FB_A", "Alpha Spring",      "facebook",   D(2026, 1, 31), 50,  0,   25, 500,  3, 0),
    ("FB_A", "Alpha Spring",      "facebook",   D(2026, 2, 1),  0,   0,   0,  200,  1, 0),
    ("TT_B", "=1+2",              "tiktok",     D(2026, 1, 31), 1,   10,  1,  10,   0, 1),
    ("TT_B", "=1+2",              "tiktok",     D(2026, 2, 2),  20,  10,  0,  0,    0, 0),
    ("GA_C", "-50% Off Gamma",    "google_ads", D(2026, 2, 1),  30,  60,  10, 400,  2, 2.5),
    ("LI_D", "@SUM(A1)",          "linkedin",   D(2026, 3, 5),  10,  5,   2,  100,  0, 0),
)


# ---------------------------------------------------------------------------------------------
# Raw rows read here, and what the queries should say about them

RAW_SQL = ("SELECT campaign_id, campaign_name, channel, date, cost, revenue, clicks, impressions, "
           "conversions, engagement FROM campaigns")


def read_raw(engine: sa.Engine) -> pd.DataFrame:
    with engine.connect() as conn:
        df = pd.read_sql(sa.text(RAW_SQL), conn)
    df["date"] = [D.fromisoformat(str(v)[:10]) for v in df["date"]]
    return df


def select_rows(raw: pd.DataFrame, f: Filters) -> pd.DataFrame:
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


def _div(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b == 0 else a / b


def expected_kpis(sel: pd.DataFrame) -> dict:
    """The KPIs of raw rows, computed the plain way: a NULL (NaN) outcome is not tracked, and
    the ratios divide by the spend and clicks of the rows that track it."""
    s = {c: sel[c].sum() for c in ("cost", "clicks", "impressions", "engagement")}
    for outcome in ("revenue", "conversions"):
        s[outcome] = sel[outcome].sum(min_count=1)
        s[outcome] = None if pd.isna(s[outcome]) else s[outcome]
    s["revenue_cost"] = sel.loc[sel.revenue.notna(), "cost"].sum()
    s["result_cost"] = sel.loc[sel.conversions.notna(), "cost"].sum()
    s["result_clicks"] = sel.loc[sel.conversions.notna(), "clicks"].sum()
    return {**s, "campaigns": sel.campaign_id.nunique(),
            "roi": _div(s["revenue"], s["revenue_cost"]),
            "ctr": _div(s["clicks"], s["impressions"]),
            "conversion_rate": _div(s["conversions"], s["result_clicks"]),
            "cpc": _div(s["cost"], s["clicks"]), "cpa": _div(s["result_cost"], s["conversions"])}


def assert_kpis(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for k, v in want.items():
        if v is None:
            assert got[k] is None, k
        else:
            assert got[k] == pytest.approx(float(v), rel=1e-9, abs=1e-9), k

"""Accounts that do not track revenue everywhere, imported as a user would (generic CSVs without
a revenue or a conversions column), with known results curves: a helper module shared by the
budget, facts and command-line tests (it holds no tests and no fixtures).

Each channel's daily results follow a known Hill curve of its daily spend (``TRUE``), with
noise, so a test can judge the allocator's results split by the true curves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra import ingest
from demetra.budget.curves import Curve

END = dt.date(2026, 4, 30)
DAYS = 120
# results a day = vmax / (1 + (K / spend)^n); the levels make the current split far from best.
TRUE = {"facebook": (300.0, 900.0, 1.2), "linkedin": (120.0, 500.0, 1.0),
        "tiktok": (200.0, 700.0, 1.4)}
LEVEL = {"facebook": 800.0, "linkedin": 800.0, "tiktok": 800.0}
REVENUE_PER_RESULT = 30.0
BASE = {"date": "date", "campaign_name": "campaign", "cost": "spend", "clicks": "clicks",
        "impressions": "impressions"}


def hill(spend: np.ndarray | float, channel: str) -> np.ndarray | float:
    vmax, k, n = TRUE[channel]
    return vmax / (1 + (k / np.maximum(spend, 1e-9)) ** n)


def true_curves(current: Mapping[str, float]) -> dict[str, Curve]:
    """The true results curves, at the given current spends."""
    return {ch: Curve(channel=ch, kind="hill",
                      params={"vmax": v, "half_saturation": k, "shape": n},
                      current_spend=current[ch], days=DAYS, spend_min=0.0, spend_max=np.inf,
                      outcome="results")
            for ch, (v, k, n) in TRUE.items() if ch in current}


def account_frame(channel: str, *, revenue: bool = False, conversions: bool = True,
                  campaigns: int = 2, seed: int = 0, days: int = DAYS,
                  idle: str | None = None) -> pd.DataFrame:
    """Daily rows of ``campaigns`` campaigns of one channel: the channel's spend varies day to
    day (lognormal), its campaigns share it at random, results follow the true curve (Poisson)
    and are shared in proportion to spend. ``idle``: one more campaign that spends every day
    without a single result."""
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(days):
        day = (END - dt.timedelta(days=days - 1 - d)).isoformat()
        total = LEVEL[channel] * float(rng.lognormal(0, 0.25))
        shares = rng.dirichlet([4.0] * campaigns)
        expected = float(hill(total, channel))
        for c in range(campaigns):
            spend = round(total * float(shares[c]), 2)
            row = {"date": day, "campaign": f"{channel} leads {c + 1}", "spend": spend,
                   "clicks": max(int(spend / 2), 1), "impressions": int(spend * 40)}
            results = int(rng.poisson(expected * float(shares[c])))
            if conversions:
                row["conversions"] = results
            if revenue:
                row["revenue"] = round(results * REVENUE_PER_RESULT, 2)
            rows.append(row)
        if idle:
            row = {"date": day, "campaign": idle,
                   "spend": round(25.0 * float(rng.lognormal(0, 0.3)), 2), "clicks": 12,
                   "impressions": 900}
            if conversions:
                row["conversions"] = 0
            if revenue:
                row["revenue"] = 0.0
            rows.append(row)
    return pd.DataFrame(rows)


def import_account(engine: sa.Engine, spec: Mapping[str, tuple[bool, bool]], *, seed: int = 0,
                   campaigns: int = 2, idle: Mapping[str, str] | None = None) -> sa.Engine:
    """Import one generic CSV per channel of ``spec`` (channel -> (revenue, conversions): the
    columns its file has), as the Data page does."""
    for i, (channel, (revenue, conversions)) in enumerate(spec.items()):
        frame = account_frame(channel, revenue=revenue, conversions=conversions,
                              campaigns=campaigns, seed=seed + i,
                              idle=(idle or {}).get(channel))
        mapping = dict(BASE)
        if conversions:
            mapping["conversions"] = "conversions"
        if revenue:
            mapping["revenue"] = "revenue"
        ingest.import_file(engine, frame.to_csv(index=False).encode(), name=f"{channel}.csv",
                           platform="generic", channel=channel, mapping=mapping)
    return engine


LEADS = {"facebook": (False, True), "linkedin": (False, True), "tiktok": (False, True)}
MIXED = {"facebook": (True, True), "linkedin": (False, True), "tiktok": (False, False)}


def keys_in(value: object) -> set[str]:
    """Every key of a JSON-like value, at any depth."""
    if isinstance(value, dict):
        return {str(k) for k in value} | {k for v in value.values() for k in keys_in(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys_in(v)}
    return set()

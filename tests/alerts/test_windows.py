"""Alerts that accumulate evidence (issue 14): a small campaign's collapse is judged over the
days it lasts, not day by day, and its ordinary Poisson noise stays quiet.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see conftest).
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from demetra.alerts import AlertSettings, detect
from tests.alerts.helpers import FAR_PAST, alerts, day, insert

# A small campaign: $200 a day, 100 clicks, 4 or 5 conversions of $50 (4.5 a day: no single
# day of 1 conversion is unusual, P = 0.06; three in a row are, P ≈ 0.001).
SMALL = (4.0, 5.0)
COLLAPSE = range(40, 43)
RULES = {"low_conversion", "roi_drop"}


def small(cid: str, days: int, *, bad: dict[int, float] | None = None) -> list[dict]:
    rows = []
    for i in range(days):
        conversions = (bad or {}).get(i, SMALL[i % 2])
        rows.append({"campaign_id": cid, "campaign_name": f"{cid} – test", "channel": "tiktok",
                     "date": day(i), "engagement": 0, "cost": 200.0 + (i % 3),
                     "clicks": 100, "impressions": 10_000, "conversions": conversions,
                     "revenue": 50.0 * conversions})
    return rows


def test_three_bad_days_of_a_small_campaign_raise_one_alert_from_the_first(
        engine: sa.Engine) -> None:
    cid = "TIKTOK_small0001"
    rows = small(cid, 46, bad=dict.fromkeys(COLLAPSE, 1.0))
    # Day by day, as a daily run sees them: nothing after one or two bad days.
    insert(engine, rows[:COLLAPSE[0] + 2])
    detect(engine, since=FAR_PAST)
    assert alerts(engine, campaign_id=cid) == []
    insert(engine, rows[COLLAPSE[0] + 2:COLLAPSE[-1] + 1])
    detect(engine, since=day(COLLAPSE[-1]), until=day(COLLAPSE[-1]))
    got = alerts(engine, campaign_id=cid)
    assert got and {a["alert_type"] for a in got} <= RULES
    assert all(a["date"] == day(COLLAPSE[0]) and a["status"] == "open" for a in got)
    assert "over 3 days" in got[0]["message"]
    # The rest arrives (normal again): the same alerts, resolved on the first normal day.
    insert(engine, rows[COLLAPSE[-1] + 1:])
    detect(engine)
    done = alerts(engine, campaign_id=cid)
    assert [a["id"] for a in done] == [a["id"] for a in got]
    assert {(a["date"], a["last_seen"], a["status"], a["resolved_on"]) for a in done} == {
        (day(COLLAPSE[0]), day(COLLAPSE[-1]), "resolved", day(COLLAPSE[-1] + 1))}


def test_a_week_long_collapse_is_one_alert_per_rule(engine: sa.Engine) -> None:
    cid = "TIKTOK_small0002"
    insert(engine, small(cid, 56, bad=dict.fromkeys(range(40, 47), 1.0)))
    detect(engine, since=FAR_PAST)
    got = alerts(engine, campaign_id=cid)
    assert got and {a["alert_type"] for a in got} <= RULES
    assert len({a["alert_type"] for a in got}) == len(got)  # one per rule
    assert {(a["date"], a["last_seen"], a["resolved_on"]) for a in got} == {
        (day(40), day(46), day(47))}


def test_one_bad_day_of_a_small_campaign_is_no_alert(engine: sa.Engine) -> None:
    # The guard is on the window's expected count: one day expects 4.5, too few to judge.
    insert(engine, small("TIKTOK_small0003", 46, bad={40: 0.0}))
    detect(engine, since=FAR_PAST)
    assert alerts(engine, campaign_id="TIKTOK_small0003") == []


def _quiet(seed: int, days: int) -> list[dict]:
    """A small campaign's ordinary noise: Poisson conversions (4.5 a day) and clicks, a
    steady budget."""
    rng = np.random.default_rng(seed)
    cid = f"TIKTOK_quiet{seed:04d}"
    conversions = rng.poisson(4.5, days).astype(float)
    clicks = rng.poisson(100, days)
    value = rng.lognormal(-0.5 * 0.12 ** 2, 0.12, days)
    cost = np.round(200 * rng.lognormal(-0.5 * 0.1 ** 2, 0.1, days), 2)
    return [{"campaign_id": cid, "campaign_name": f"quiet {seed}", "channel": "tiktok",
             "date": day(i), "engagement": 0, "cost": float(cost[i]), "clicks": int(clicks[i]),
             "impressions": 10_000, "conversions": float(conversions[i]),
             "revenue": round(float(conversions[i] * 50 * value[i]), 2)} for i in range(days)]


def test_a_quiet_month_of_poisson_noise_raises_next_to_nothing(engine: sa.Engine) -> None:
    # 40 small campaigns of noise, each judged for 37 days (after a whole baseline of 14).
    # Each window of 1-7 days is a test every day, so some noise will pass: the calibration
    # keeps it near 0.1 false incident per campaign-month (see _evidence_thresholds), ~5
    # here in expectation at most; these seeds make 3 (a dip of revenue and conversions
    # alike may be told by both rules: one campaign).
    insert(engine, *[_quiet(seed, 51) for seed in range(40)])
    detect(engine, since=FAR_PAST)
    found = [a for a in alerts(engine) if a["campaign_id"] and a["alert_type"] in RULES]
    noisy = {a["campaign_id"] for a in found}
    assert len(noisy) <= 6, [(a["campaign_id"], a["date"], a["message"]) for a in found]
    # None of them grown to a graded alert: noise makes leads (severity low) at most.
    assert all(a["severity"] == "low" for a in found)
    # The count is a measure that can fail: judged at the lowest sensitivity, the same
    # noise raises more.
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM alerts")
    detect(engine, since=FAR_PAST, cfg=AlertSettings(sensitivity=2.0))
    loose = {a["campaign_id"] for a in alerts(engine) if a["campaign_id"]
             and a["alert_type"] in RULES}
    assert len(loose) > 6

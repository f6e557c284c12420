"""Alert detection (issue 4) against real databases: hand-made campaigns where the right answer
is known, the incident lifecycle, idempotent and incremental runs, settings, failures, the
alert list, quality on the seeded world and the CLI.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see conftest).
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra.alerts import (
    LIMITS,
    RULES,
    AlertFilter,
    AlertSettings,
    detect,
    list_alerts,
    load_alert_settings,
    run_detection,
    save_alert_settings,
    set_read,
    unread_count,
)
from demetra.config import Settings, SettingsError
from demetra.db.bulk import insert_campaign_rows
from demetra.db.models import Alert, AppSetting
from demetra.seed import load_truth, seed_database

ROOT = Path(__file__).resolve().parents[1]
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
             cost_wiggle: bool = True) -> list[dict]:
    """``days`` daily rows of a steady campaign from day ``first``; ``bad`` replaces the
    values of some days (by day index) outright, without wiggle."""
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
        rows.append({"campaign_id": cid, "campaign_name": f"{cid} – test", "channel": channel,
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


# -- each rule, on hand-made campaigns -----------------------------------------------------

def test_a_steady_campaign_raises_nothing(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_steady01", "facebook", 40),
           campaign("GOOGLE_ADS_steady02", "google_ads", 40, level={"cost": 300.0, "clicks": 150,
                                                                   "conversions": 12.0,
                                                                   "revenue": 960.0}))
    report = detect(engine, since=FAR_PAST)
    assert report.error is None
    assert (report.since, report.until) == (START, day(39))
    assert report.rows_scanned == 2 * 40 + 2 * 40  # campaign rows + channel rows
    assert report.entities == 2 and report.short_history == 0
    assert sum(report.raised.values()) == 0
    assert alerts(engine) == []
    assert "0 new alerts (none)" in report.summary()


BAD_DAYS = {
    # order values collapse: ROI 0.5 against 2.5, everything else normal
    "roi_drop": {"revenue": 500.0},
    # spend 3x, and clicks, conversions and revenue with it: only the spend is unusual
    "cost_spike": {"cost": 3000.0, "clicks": 3000, "impressions": 150_000, "conversions": 150.0,
                   "revenue": 7500.0},
    # 3 conversions from ~1000 clicks (baseline 5 %), order values make up the revenue
    "low_conversion": {"conversions": 3.0},
    # impressions fall tenfold: CTR 20 % against 2 %, nothing that a rule covers
    "anomaly": {"impressions": 5_000},
}


@pytest.mark.parametrize("rule", list(BAD_DAYS))
def test_each_rule_fires_on_its_day_and_only_it(engine: sa.Engine, rule: str) -> None:
    cid = "FACEBOOK_bad00001"
    rows = campaign(cid, "facebook", 41, bad={40: BAD_DAYS[rule]})
    insert(engine, rows, campaign("YOUTUBE_steady03", "youtube", 41))
    report = detect(engine, since=FAR_PAST)

    mine = alerts(engine, campaign_id=cid)
    assert [(a["alert_type"], a["date"], a["last_seen"]) for a in mine] == [(rule, day(40), day(40))]
    alert = mine[0]
    assert alert["channel"] == "facebook" and alert["status"] == "open"
    assert alert["is_read"] is False and alert["resolved_on"] is None
    assert alerts(engine, channel="youtube") == []
    # The same rule on the channel's totals (the campaign is the channel's only one).
    channel_alerts = alerts(engine, campaign_id=None)
    assert [(a["alert_type"], a["channel"]) for a in channel_alerts] == [(rule, "facebook")]
    assert "facebook (all campaigns)" in channel_alerts[0]["message"]
    assert report.raised == {rule: 2}

    text = alert["message"]
    assert cid in text
    base = baseline_roi(rows, 40)
    if rule == "roi_drop":
        spend = rows[40]["cost"]
        assert alert["metric_value"] == pytest.approx(500 / spend)
        # Far below its own baseline (60 % of it) and under the absolute line, which is shown.
        assert 500 / spend < 0.6 * base and alert["threshold_value"] == pytest.approx(1.5)
        assert "ROI fell to 0.50" in text and f"{base:.2f}" in text and f"${spend:,.0f}" in text
        assert alert["money_at_stake"] == pytest.approx(base * spend - 500)
        assert alert["severity"] == "critical"
    elif rule == "cost_spike":
        median = float(np.median([r["cost"] for r in rows[26:40]]))
        assert alert["metric_value"] == pytest.approx(3000.0)
        assert alert["threshold_value"] == pytest.approx(2.8 * median, rel=1e-3)
        assert "Spend jumped to $3,000" in text and f"{3000 / median:.1f}×" in text
        assert alert["money_at_stake"] == pytest.approx(3000 - median, rel=1e-3)
        assert alert["severity"] == "critical"
    elif rule == "low_conversion":
        clicks = rows[40]["clicks"]
        assert alert["metric_value"] == pytest.approx(3 / clicks)
        assert alert["threshold_value"] == pytest.approx(0.5 * 0.05, rel=0.02)  # half the baseline
        assert f"Conversion rate fell to {3 / clicks:.2%}" in text and "(trailing 14-day: 5.0" in text
        assert alert["money_at_stake"] == pytest.approx((0.05 * clicks - 3) * 50, rel=0.02)
        assert alert["severity"] == "critical"
    else:
        assert f"Unusual CTR on {cid}: {rows[40]['clicks'] / 5000:.2%}" in text
        assert alert["severity"] == "medium"  # an anomaly is a lead, never above medium


def test_severity_grows_with_distance_and_money(engine: sa.Engine) -> None:
    # low: ROI 2.0 -> 1.25 crosses the absolute line (1.5) without a big relative drop;
    # high: a small campaign ($300/day) collapses (ROI 2.5 -> 0.5), $600 at stake;
    # critical: a large one ($1,000/day) collapses, $2,000 at stake.
    low = campaign("FACEBOOK_mild0001", "facebook", 41, level={"revenue": 2000.0, "conversions": 40.0},
                   bad={40: {"revenue": 1250.0, "conversions": 40.0}})
    high = campaign("TIKTOK_small0001", "tiktok", 41,
                    level={"cost": 300.0, "clicks": 300, "conversions": 30.0, "revenue": 750.0},
                    bad={40: {"cost": 300.0, "clicks": 300, "conversions": 30.0, "revenue": 150.0}})
    critical = campaign("GOOGLE_ADS_big00001", "google_ads", 41, bad={40: {"revenue": 500.0}})
    insert(engine, low, high, critical)
    detect(engine, since=FAR_PAST)
    got = {a["campaign_id"]: a for a in alerts(engine, alert_type="roi_drop") if a["campaign_id"]}
    assert {cid: a["severity"] for cid, a in got.items()} == {
        "FACEBOOK_mild0001": "low", "TIKTOK_small0001": "high", "GOOGLE_ADS_big00001": "critical"}
    # The mild one is judged against the absolute threshold, the others against the baseline.
    assert got["FACEBOOK_mild0001"]["threshold_value"] == pytest.approx(1.5)
    assert got["TIKTOK_small0001"]["money_at_stake"] == pytest.approx(baseline_roi(high, 40) * 300 - 150)
    assert all(a["date"] == day(40) for a in got.values())


def test_low_conversion_severity_grows_with_the_shortfall(engine: sa.Engine) -> None:
    # low: a thin converter under the 0.5 % floor; high: 10 of ~50 expected conversions
    # (a Poisson tail of z ≈ 6.4 < 2 × sensitivity); critical: 3 of ~50.
    insert(engine,
           campaign("LINKEDIN_thin0002", "linkedin", 41, level={"conversions": 8.0},
                    bad={40: {"conversions": 1.0}}),
           campaign("TIKTOK_fewer0001", "tiktok", 41, bad={40: {"conversions": 10.0}}),
           campaign("GOOGLE_ADS_none0001", "google_ads", 41, bad={40: {"conversions": 3.0}}))
    detect(engine, since=FAR_PAST)
    got = {a["campaign_id"]: a["severity"] for a in alerts(engine, alert_type="low_conversion")
           if a["campaign_id"]}
    assert got == {"LINKEDIN_thin0002": "low", "TIKTOK_fewer0001": "high",
                   "GOOGLE_ADS_none0001": "critical"}
    assert [a["alert_type"] for a in alerts(engine) if a["campaign_id"]] == ["low_conversion"] * 3


def test_milder_breaches_stay_quiet(engine: sa.Engine) -> None:
    # ROI 2.5 -> 2.0 (a normal bad day), spend 2x (under the 2.8x factor), conversion rate
    # 5 % -> 4 %: none is an incident.
    insert(engine,
           campaign("FACEBOOK_meh00001", "facebook", 41, bad={40: {"revenue": 2000.0}}),
           campaign("TIKTOK_meh00002", "tiktok", 41,
                    bad={40: {"cost": 2000.0, "clicks": 2000, "impressions": 100_000,
                              "conversions": 100.0, "revenue": 5000.0}}),
           campaign("LINKEDIN_meh00003", "linkedin", 41, bad={40: {"conversions": 40.0}}))
    detect(engine, since=FAR_PAST, cfg=AlertSettings())
    assert [(a["alert_type"], a["campaign_id"]) for a in alerts(engine)
            if a["alert_type"] != "anomaly"] == []


def test_cost_spike_threshold_is_strictly_above_factor_times_median(engine: sa.Engine) -> None:
    # Spend exactly $1,000 every day: the trailing median is $1,000, the threshold 2.8 x that.
    at = campaign("FACEBOOK_atline01", "facebook", 41, cost_wiggle=False,
                  bad={40: {"cost": 2800.0, "clicks": 2800, "impressions": 140_000,
                            "conversions": 140.0, "revenue": 7000.0}})
    above = campaign("TIKTOK_overline1", "tiktok", 41, cost_wiggle=False,
                     bad={40: {"cost": 2800.01, "clicks": 2800, "impressions": 140_000,
                               "conversions": 140.0, "revenue": 7000.0}})
    insert(engine, at, above)
    # A low sensitivity, so that only the factor decides (the z test passes either way).
    detect(engine, since=FAR_PAST, cfg=AlertSettings(sensitivity=2.0))
    spikes = alerts(engine, alert_type="cost_spike")
    assert {(a["campaign_id"], a["channel"]) for a in spikes} == {
        ("TIKTOK_overline1", "tiktok"), (None, "tiktok")}
    spike = next(a for a in spikes if a["campaign_id"])
    assert spike["threshold_value"] == pytest.approx(2800.0)
    assert spike["metric_value"] == pytest.approx(2800.01)
    assert "$1,000" in spike["message"] and "2.8×" in spike["message"]


def test_the_cost_spike_factor_setting_moves_the_line(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_double01", "facebook", 41, cost_wiggle=False,
                            bad={40: {"cost": 2200.0, "clicks": 2200, "impressions": 110_000,
                                      "conversions": 110.0, "revenue": 5500.0}}))
    assert detect(engine, since=FAR_PAST).raised["cost_spike"] == 0
    report = detect(engine, since=FAR_PAST, cfg=AlertSettings(cost_spike_factor=2.0))
    assert report.raised["cost_spike"] == 2  # the campaign and its channel
    assert [a["threshold_value"] for a in alerts(engine, alert_type="cost_spike")] == [
        pytest.approx(2000.0)] * 2


def test_the_conversion_floor_fires_as_low_severity(engine: sa.Engine) -> None:
    # A thin converter (0.8 %: 8 a day, too few for the relative test) falls to 0.1 %.
    rows = campaign("LINKEDIN_thin0001", "linkedin", 41,
                    level={"conversions": 8.0, "revenue": 2500.0},
                    bad={40: {"conversions": 1.0}})
    insert(engine, rows)
    detect(engine, since=FAR_PAST)
    got = alerts(engine, alert_type="low_conversion", campaign_id="LINKEDIN_thin0001")
    assert len(got) == 1
    assert got[0]["severity"] == "low" and got[0]["threshold_value"] == pytest.approx(0.005)
    assert got[0]["metric_value"] == pytest.approx(1 / rows[40]["clicks"])
    assert f"{1 / rows[40]['clicks']:.2%}" in got[0]["message"]


# -- bad input -----------------------------------------------------------------------------

def test_short_history_gets_no_baseline_alerts_and_is_counted(engine: sa.Engine) -> None:
    terrible = {"revenue": 100.0, "conversions": 2.0}
    insert(engine,
           campaign("FACEBOOK_veteran1", "facebook", 40),
           # 7 days, the last one terrible: only 6 days of history before it
           campaign("TIKTOK_newbie001", "tiktok", 7, first=33, bad={39: terrible}),
           # 8 days, the last one terrible: 7 days of history, enough
           campaign("LINKEDIN_newbie02", "linkedin", 8, first=32, bad={39: terrible}))
    report = detect(engine, since=FAR_PAST)
    assert report.error is None
    assert report.entities == 3 and report.short_history == 1
    assert "1 campaigns had too little history" in report.summary()
    assert alerts(engine, campaign_id="TIKTOK_newbie001") == []
    assert alerts(engine, channel="tiktok") == []
    assert {a["alert_type"] for a in alerts(engine, campaign_id="LINKEDIN_newbie02")} >= {"roi_drop"}


def test_zero_spend_and_zero_click_days_do_not_divide_by_zero(engine: sa.Engine) -> None:
    zero = {"cost": 0.0, "clicks": 0, "impressions": 0, "conversions": 0.0, "revenue": 0.0}
    insert(engine,
           # paused for three days in the middle, and on the last day
           campaign("FACEBOOK_paused01", "facebook", 41, bad={20: zero, 21: zero, 22: zero, 40: zero}),
           # never spent anything
           campaign("INSTAGRAM_zero0001", "instagram", 41, bad={i: zero for i in range(41)}),
           # spend but no clicks (a tracking outage) on the last day
           campaign("TIKTOK_noclick01", "tiktok", 41,
                    bad={40: {"clicks": 0, "conversions": 0.0, "revenue": 0.0}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # 0/0 and x/0 warn in numpy
        report = detect(engine, since=FAR_PAST)
    assert report.error is None
    assert alerts(engine, campaign_id="FACEBOOK_paused01") == []
    assert alerts(engine, campaign_id="INSTAGRAM_zero0001") == []
    assert alerts(engine, channel="instagram") == []
    outage = alerts(engine, campaign_id="TIKTOK_noclick01")
    # No conversion rate exists without clicks; spending $1,000 for nothing is an ROI drop.
    assert [a["alert_type"] for a in outage] == ["roi_drop"]
    assert outage[0]["metric_value"] == 0.0
    for a in alerts(engine):
        for column in ("metric_value", "worst_value", "money_at_stake"):
            assert a[column] is None or math.isfinite(a[column])


# -- incidents: one alert while it lasts, resolved when it ends ----------------------------

BROKEN = {"revenue": 500.0}


def test_a_two_day_incident_is_one_alert_and_a_later_breach_a_new_one(engine: sa.Engine) -> None:
    cid = "FACEBOOK_twice001"
    rows = campaign(cid, "facebook", 56, bad={40: BROKEN, 41: BROKEN, 50: BROKEN})
    insert(engine, rows)
    detect(engine, since=FAR_PAST)
    got = alerts(engine, campaign_id=cid)
    assert [(a["alert_type"], a["date"], a["last_seen"], a["status"], a["resolved_on"])
            for a in got] == [("roi_drop", day(40), day(41), "resolved", day(42)),
                              ("roi_drop", day(50), day(50), "resolved", day(51))]
    first, later = got
    money = (baseline_roi(rows, 40) * rows[40]["cost"] - 500) + (
        baseline_roi(rows, 41) * rows[41]["cost"] - 500)
    assert first["money_at_stake"] == pytest.approx(money)
    assert first["worst_value"] == pytest.approx(min(500 / rows[40]["cost"], 500 / rows[41]["cost"]))
    assert later["money_at_stake"] == pytest.approx(baseline_roi(rows, 50) * rows[50]["cost"] - 500)
    assert first["alert_key"] != later["alert_key"]


def test_an_incident_on_the_newest_day_stays_open(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_ongoing1", "facebook", 42, bad={40: BROKEN, 41: BROKEN}))
    detect(engine, since=FAR_PAST)
    (a,) = alerts(engine, campaign_id="FACEBOOK_ongoing1")
    assert (a["status"], a["last_seen"], a["resolved_on"]) == ("open", day(41), None)


def test_rerunning_the_same_window_changes_nothing(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_twice002", "facebook", 56,
                            bad={40: BROKEN, 41: BROKEN, 50: BROKEN}),
           campaign("TIKTOK_spiky0001", "tiktok", 56, bad={45: BAD_DAYS["cost_spike"]}))
    detect(engine, since=FAR_PAST)
    before = snapshot(engine)
    assert len(before) == 6  # 3 incidents, each on the campaign and on its channel
    again = detect(engine, since=FAR_PAST)
    assert sum(again.raised.values()) == 0 and again.updated == 0 and again.resolved == 0
    assert snapshot(engine) == before
    # The default run (last 7 days) and windows that start inside a finished incident find
    # the same incidents again and add nothing.
    for since in (None, day(41), day(46), day(50)):
        report = detect(engine, since=since)
        assert sum(report.raised.values()) == 0, since
        assert snapshot(engine) == before, since


def test_an_incremental_run_extends_the_open_incident(engine: sa.Engine) -> None:
    cid = "FACEBOOK_grows001"
    rows = campaign(cid, "facebook", 43, bad={40: BROKEN, 41: BROKEN})
    insert(engine, rows[:41])
    first = detect(engine, since=FAR_PAST)
    assert first.raised["roi_drop"] == 2  # campaign and channel
    (opened,) = alerts(engine, campaign_id=cid)
    assert (opened["status"], opened["last_seen"]) == ("open", day(40))

    insert(engine, rows[41:42])  # the next day's data arrives: still broken
    second = detect(engine, since=day(41))
    assert sum(second.raised.values()) == 0 and second.updated == 2
    (grown,) = alerts(engine, campaign_id=cid)
    assert grown["id"] == opened["id"] and grown["date"] == day(40)
    assert (grown["status"], grown["last_seen"]) == ("open", day(41))
    assert grown["money_at_stake"] == pytest.approx(
        sum(baseline_roi(rows, i) * rows[i]["cost"] - 500 for i in (40, 41)))

    insert(engine, rows[42:])  # and recovers
    third = detect(engine)  # the default window: the last 7 days
    assert third.resolved == 2 and sum(third.raised.values()) == 0
    (done,) = alerts(engine, campaign_id=cid)
    assert (done["id"], done["status"], done["resolved_on"]) == (opened["id"], "resolved", day(42))
    settled = snapshot(engine)
    detect(engine)
    assert snapshot(engine) == settled


def _comparable(engine: sa.Engine) -> list[tuple]:
    rows = alerts(engine)
    return sorted((a["alert_type"], a["campaign_id"] or "", a["channel"], a["date"], a["last_seen"],
                   a["status"], a["resolved_on"], a["severity"], round(a["metric_value"], 6),
                   round(a["worst_value"], 6), round(a["money_at_stake"], 2),
                   None if a["threshold_value"] is None else round(a["threshold_value"], 6),
                   a["message"]) for a in rows)


def test_day_by_day_runs_find_what_one_full_run_finds(engine: sa.Engine) -> None:
    # What a daily cron job raises must not depend on where its windows start and end.
    end = dt.date(2026, 3, 31)
    seed_database(engine, campaigns=40, days=50, seed=1, end_date=end)
    first = end - dt.timedelta(days=29)  # incidents need 21 days of history: none before
    full = detect(engine, since=first)
    whole = _comparable(engine)
    assert sum(full.raised.values()) >= 10
    assert any(a[4] > a[3] for a in whole), "no incident of several days to extend"
    with engine.begin() as conn:
        conn.execute(sa.delete(Alert))
    d = first
    while d <= end:
        detect(engine, since=d, until=d)
        d += dt.timedelta(days=1)
    assert _comparable(engine) == whole


def test_incremental_and_full_runs_agree_on_a_worsening_incident(engine: sa.Engine) -> None:
    # ROI 5 falls to 1.8 (under 60 % of its baseline, still above the 1.5 line), then to 0.5
    # (under the line): the alert shows the worst day, with that day's threshold.
    cid = "GOOGLE_ADS_worse001"
    rows = campaign(cid, "google_ads", 43, level={"revenue": 5000.0},
                    bad={40: {"revenue": 1800.0}, 41: {"revenue": 500.0}})
    insert(engine, rows[:41])
    detect(engine, since=FAR_PAST)
    (a,) = alerts(engine, campaign_id=cid)
    assert a["metric_value"] == pytest.approx(1800 / rows[40]["cost"])
    assert a["threshold_value"] == pytest.approx(0.6 * baseline_roi(rows, 40))
    insert(engine, rows[41:])
    detect(engine, since=day(41))
    (a,) = alerts(engine, campaign_id=cid)
    assert a["metric_value"] == pytest.approx(500 / rows[41]["cost"])
    assert a["threshold_value"] == pytest.approx(1.5)
    assert a["severity"] == "critical" and "ROI fell to 0.5" in a["message"]
    assert (a["status"], a["resolved_on"]) == ("resolved", day(42))
    incremental = _comparable(engine)
    with engine.begin() as conn:
        conn.execute(sa.delete(Alert))
    detect(engine, since=FAR_PAST)
    assert _comparable(engine) == incremental


def test_a_wider_run_after_a_narrower_one_extends_the_same_alert(engine: sa.Engine) -> None:
    cid = "FACEBOOK_widens01"
    rows = campaign(cid, "facebook", 46, bad={40: BROKEN, 41: BROKEN})
    insert(engine, rows)
    detect(engine, since=day(41))  # sees the incident's second day only
    (a,) = alerts(engine, campaign_id=cid)
    assert (a["date"], a["last_seen"]) == (day(41), day(41))
    report = detect(engine, since=FAR_PAST)
    assert sum(report.raised.values()) == 0
    (b,) = alerts(engine, campaign_id=cid)
    assert b["id"] == a["id"] and (b["date"], b["last_seen"]) == (day(40), day(41))
    assert b["money_at_stake"] == pytest.approx(
        sum(baseline_roi(rows, i) * rows[i]["cost"] - 500 for i in (40, 41)))
    settled = snapshot(engine)
    detect(engine, since=FAR_PAST)
    assert snapshot(engine) == settled


# -- settings ------------------------------------------------------------------------------

def test_defaults_are_the_documented_ones() -> None:
    cfg = AlertSettings().validated()
    assert (cfg.roi_threshold, cfg.cost_spike_factor, cfg.min_conversion_rate, cfg.sensitivity,
            cfg.baseline_days, cfg.min_daily_spend) == (1.5, 2.8, 0.005, 3.5, 14, 20.0)
    assert LIMITS["sensitivity"] == (2, 10) and LIMITS["baseline_days"] == (7, 60)


@pytest.mark.parametrize(("change", "expected"), [
    ({"roi_threshold": -0.1}, "ROI threshold must be between 0 and 100"),
    ({"roi_threshold": float("nan")}, "ROI threshold must be between 0 and 100"),
    ({"cost_spike_factor": 0.9}, "Cost spike factor must be between 1 and 100"),
    ({"min_conversion_rate": 1.5}, "Minimum conversion rate must be between 0 and 1"),
    ({"sensitivity": 1.0}, "Sensitivity (z) must be between 2 and 10"),
    ({"sensitivity": "high"}, "Sensitivity (z) must be between 2 and 10"),
    ({"baseline_days": 3}, "Baseline days must be between 7 and 60"),
    ({"baseline_days": 61}, "Baseline days must be between 7 and 60"),
    ({"baseline_days": 14.5}, "Baseline days must be a whole number"),
    ({"min_daily_spend": -1.0}, "Minimum daily spend must be between 0 and 1e+06"),
    ({"roi_threshold_by_channel": {"facebook": 250.0}},
     "ROI threshold for facebook must be between 0 and 100"),
    ({"roi_threshold_by_channel": {"myspace": 1.0}}, "unknown channel 'myspace'"),
])
def test_invalid_thresholds_are_refused_with_the_allowed_range(change: dict, expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        AlertSettings(**change).validated()
    assert expected in str(info.value)


def test_saving_refuses_invalid_settings_and_stores_nothing(engine: sa.Engine) -> None:
    with pytest.raises(SettingsError, match="between 2 and 10"):
        save_alert_settings(engine, AlertSettings(sensitivity=11.0))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(AppSetting)).scalar_one() == 0
    assert load_alert_settings(engine) == AlertSettings()
    with pytest.raises(SettingsError):  # detection refuses them too
        detect(engine, cfg=AlertSettings(cost_spike_factor=0.5))


def test_saved_settings_override_the_environment_defaults(engine: sa.Engine) -> None:
    from_env = Settings(alert_roi_threshold=1.2, alert_baseline_days=21)
    assert load_alert_settings(engine, from_env) == AlertSettings(roi_threshold=1.2, baseline_days=21)
    wanted = AlertSettings(roi_threshold=1.8, sensitivity=4.0,
                           roi_threshold_by_channel={"linkedin": 2.0, "tiktok": 0.9})
    save_alert_settings(engine, wanted)
    loaded = load_alert_settings(engine, from_env)
    assert loaded == wanted  # every field is saved, so the saved object wins as a whole
    assert loaded.roi_threshold_for("linkedin") == 2.0 and loaded.roi_threshold_for("facebook") == 1.8
    save_alert_settings(engine, AlertSettings(roi_threshold=1.1))  # saving again replaces
    assert load_alert_settings(engine).roi_threshold_by_channel == {}
    assert load_alert_settings(engine).roi_threshold == 1.1


def test_a_per_channel_roi_threshold_applies_to_that_channel_only(engine: sa.Engine) -> None:
    # ROI 2.5 -> 1.6 on a LinkedIn and a Facebook campaign: above the default 1.5 and not a
    # 40 % drop, so nothing by default; under LinkedIn's own line of 2.0.
    dip = {40: {"revenue": 1600.0}}
    insert(engine, campaign("LINKEDIN_dip00001", "linkedin", 41, bad=dip),
           campaign("FACEBOOK_dip00002", "facebook", 41, bad=dip))
    assert sum(run_detection(engine, since=FAR_PAST).raised.values()) == 0
    save_alert_settings(engine, AlertSettings(roi_threshold_by_channel={"linkedin": 2.0}))
    report = run_detection(engine, since=FAR_PAST)
    assert report.error is None and report.raised == {"roi_drop": 2}
    got = alerts(engine, alert_type="roi_drop")
    assert {(a["campaign_id"], a["channel"]) for a in got} == {
        ("LINKEDIN_dip00001", "linkedin"), (None, "linkedin")}
    assert all(a["threshold_value"] == pytest.approx(2.0) and a["severity"] == "low" for a in got)


# -- failures leave a system alert ---------------------------------------------------------

def _system_alerts(engine: sa.Engine) -> list[dict]:
    return alerts(engine, alert_type="system")


def test_invalid_saved_settings_fail_the_run_with_a_system_alert(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_bad00002", "facebook", 41, bad={40: BROKEN}))
    with engine.begin() as conn:  # e.g. written by an older version, or by hand
        conn.execute(sa.insert(AppSetting).values(key="alerts", value={"sensitivity": 50}))
    report = run_detection(engine, since=FAR_PAST)
    assert report.error and "between 2 and 10" in report.error
    assert report.summary().startswith("Detection failed")
    (system,) = _system_alerts(engine)
    assert system["severity"] == "high" and system["is_read"] is False
    assert system["message"].startswith("Alert detection failed")
    assert "between 2 and 10" in system["message"]
    assert [a["alert_type"] for a in alerts(engine)] == ["system"]  # nothing half-written


def test_a_broken_database_fails_the_run_with_a_system_alert(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_gone0001", "facebook", 41, bad={40: BROKEN}))
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE campaigns"))
    report = run_detection(engine, since=FAR_PAST)
    assert report.error and report.error.startswith("database error")
    assert "campaigns" in report.error
    (system,) = _system_alerts(engine)
    assert "campaigns" in system["message"] and system["status"] == "open"
    run_detection(engine, since=FAR_PAST)  # each failed run leaves its own trace
    assert len(_system_alerts(engine)) == 2


def test_an_empty_database_is_not_an_error(engine: sa.Engine) -> None:
    report = run_detection(engine)
    assert report.error is None and report.since is None
    assert report.summary() == "No campaign data to check."
    assert alerts(engine) == []


# -- reading and working through alerts ----------------------------------------------------

def _add(engine: sa.Engine, **values) -> int:
    row = {"message": "test", "is_read": False, "status": "open",
           "alert_key": f"test:{values['alert_type']}:{values.get('campaign_id')}:{values['date']}",
           "last_seen": values["date"], **values}
    with engine.begin() as conn:
        return conn.execute(sa.insert(Alert).values(**row).returning(Alert.id)).scalar_one()


def test_list_alerts_filters_and_puts_unread_first(engine: sa.Engine) -> None:
    ids = {
        "a": _add(engine, alert_type="roi_drop", severity="critical", channel="facebook",
                  campaign_id="FACEBOOK_a", date=day(10), last_seen=day(12)),
        "b": _add(engine, alert_type="cost_spike", severity="high", channel="tiktok",
                  campaign_id="TIKTOK_b", date=day(20)),
        "c": _add(engine, alert_type="low_conversion", severity="low", channel="facebook",
                  campaign_id="FACEBOOK_c", date=day(30), status="resolved", resolved_on=day(31)),
        "d": _add(engine, alert_type="anomaly", severity="medium", channel="linkedin",
                  campaign_id="LINKEDIN_d", date=day(25), is_read=True),
        "e": _add(engine, alert_type="system", severity="high", channel=None, date=day(26)),
    }
    name = {v: k for k, v in ids.items()}

    def listed(f: AlertFilter | None = None) -> list[str]:
        return [name[i] for i in list_alerts(engine, f or AlertFilter())["id"]]

    # unread first; then critical > high > medium > low; then the newest
    assert listed() == ["a", "e", "b", "c", "d"]
    assert listed(AlertFilter(severities=("high", "critical"))) == ["a", "e", "b"]
    assert listed(AlertFilter(types=("cost_spike", "anomaly"))) == ["b", "d"]
    # channel filter keeps system alerts, which belong to no channel
    assert listed(AlertFilter(channels=("facebook",))) == ["a", "e", "c"]
    # dates: alerts whose days (first .. last seen) meet the range
    assert listed(AlertFilter(start=day(12), end=day(20))) == ["a", "b"]
    assert listed(AlertFilter(start=day(13), end=day(25))) == ["b", "d"]
    assert listed(AlertFilter(unread_only=True)) == ["a", "e", "b", "c"]
    assert listed(AlertFilter(status="resolved")) == ["c"]
    assert listed(AlertFilter(severities=("low",), channels=("tiktok",))) == []
    frame = list_alerts(engine)
    assert frame.loc[frame["id"] == ids["a"], "date"].item() == day(10)
    assert frame["is_read"].dtype == bool
    assert len(list_alerts(engine, limit=2)) == 2


def test_marking_read_and_unread_persists(engine: sa.Engine) -> None:
    ids = [_add(engine, alert_type="roi_drop", severity=s, channel="facebook",
                campaign_id=f"FACEBOOK_{i}", date=day(i))
           for i, s in enumerate(("low", "critical", "high"))]
    assert unread_count(engine) == 3
    assert set_read(engine, ids[1:]) == 2
    assert unread_count(engine) == 1
    assert set_read(engine, ids[1:]) == 0  # already read: nothing changes
    listed = list_alerts(engine)
    assert listed["id"].tolist() == [ids[0], ids[1], ids[2]]  # the unread low one comes first
    assert listed["is_read"].tolist() == [False, True, True]
    assert set_read(engine, [ids[1]], read=False) == 1
    assert unread_count(engine) == 2
    assert list_alerts(engine, AlertFilter(unread_only=True))["id"].tolist() == [ids[1], ids[0]]
    assert set_read(engine, []) == 0


def test_detection_does_not_undo_read_marks(engine: sa.Engine) -> None:
    rows = campaign("FACEBOOK_readme01", "facebook", 43, bad={40: BROKEN, 41: BROKEN})
    insert(engine, rows[:41])
    detect(engine, since=FAR_PAST)
    (a,) = alerts(engine, campaign_id="FACEBOOK_readme01")
    set_read(engine, [a["id"]])
    insert(engine, rows[41:])
    detect(engine, since=FAR_PAST)
    (a,) = alerts(engine, campaign_id="FACEBOOK_readme01")
    assert a["is_read"] is True and a["last_seen"] == day(41) and a["status"] == "resolved"


# -- quality on the seeded world -----------------------------------------------------------

def quality(engine: sa.Engine) -> tuple[float, float, int, int]:
    """(recall, precision, incidents, alerts above low), computed from the seeded truth.

    Recall: injected incidents (consecutive days of one campaign) with an alert on that
    campaign whose first day is the incident's first day or the day after. Precision: the
    share of alerts above severity low whose first day is an incident day, or the day after
    one, of their campaign (of a campaign of their channel, for channel alerts).
    """
    truth = load_truth(engine)
    channel_of = {cid: c["channel"] for cid, c in truth["campaigns"].items()}
    days = sorted((i["campaign_id"], dt.date.fromisoformat(i["date"])) for i in truth["incidents"])
    starts = [(c, d) for k, (c, d) in enumerate(days)
              if k == 0 or days[k - 1] != (c, d - dt.timedelta(days=1))]
    near = {(c, d + dt.timedelta(days=k)) for c, d in days for k in (0, 1)}
    near_channel = {(channel_of[c], d) for c, d in near}
    found = [a for a in alerts(engine) if a["alert_type"] in RULES]
    raised = {(a["campaign_id"], a["date"]) for a in found if a["campaign_id"]}
    hits = sum(any((c, d + dt.timedelta(days=k)) in raised for k in (0, 1)) for c, d in starts)
    serious = [a for a in found if a["severity"] != "low"]
    good = sum(((a["campaign_id"], a["date"]) in near) if a["campaign_id"]
               else ((a["channel"], a["date"]) in near_channel) for a in serious)
    return hits / len(starts), good / max(len(serious), 1), len(starts), len(serious)


def test_recall_and_precision_on_the_seeded_world(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=120, days=120, seed=3, end_date=dt.date(2026, 6, 30))
    report = detect(engine, since=FAR_PAST)
    assert report.error is None and report.rows_scanned > 14_000
    recall, precision, incidents, serious = quality(engine)
    assert incidents >= 10 and serious >= 10
    assert recall >= 0.9, recall
    assert precision >= 0.8, precision


def test_the_quality_measure_can_fail(engine: sa.Engine) -> None:
    # The same measure on a world where alerts are shifted a week away from the incidents.
    seed_database(engine, campaigns=40, days=75, seed=11, end_date=dt.date(2026, 3, 31))
    detect(engine, since=FAR_PAST)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alerts SET date = date + 7")
                     if conn.dialect.name == "postgresql" else
                     sa.text("UPDATE alerts SET date = date(date, '+7 days')"))
    recall, precision, _, _ = quality(engine)
    assert recall < 0.5 and precision < 0.5


# -- the command line ----------------------------------------------------------------------

def cli(url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "demetra", "alerts", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)


def test_the_cli_prints_what_it_raised_and_raises_nothing_twice(db_url: str, engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_cli00001", "facebook", 45, bad={40: BROKEN}),
           campaign("TIKTOK_cli000002", "tiktok", 45, bad={42: BAD_DAYS["cost_spike"]}))
    out = cli(db_url, "--since", "2026-01-01")
    assert out.returncode == 0, out.stderr
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (roi_drop|cost_spike|low_conversion|anomaly)",
                                               out.stdout)}
    assert counts == {"cost_spike": 2, "roi_drop": 2}, out.stdout
    assert "4 new alerts" in out.stdout and "Checked 180 rows" in out.stdout
    in_db = pd.Series([a["alert_type"] for a in alerts(engine)]).value_counts().to_dict()
    assert in_db == counts
    again = cli(db_url, "--since", "2026-01-01")
    assert again.returncode == 0 and "0 new alerts (none)" in again.stdout
    assert len(alerts(engine)) == 4
    bad = cli(db_url, "--since", "yesterday")
    assert bad.returncode == 2 and "not a date" in bad.stderr

"""Alerts in the database (issue 4): the incident lifecycle, idempotent and incremental runs,
failures that leave a system alert, the alert list and read marks, and the CLI.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see conftest).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from demetra.alerts import AlertFilter, detect, list_alerts, run_detection, set_read, unread_count
from demetra.db.models import Alert, AppSetting
from demetra.seed import seed_database
from tests.alerts.helpers import (
    BAD_DAYS,
    BROKEN,
    FAR_PAST,
    alerts,
    baseline_roi,
    campaign,
    day,
    insert,
    snapshot,
)

ROOT = Path(__file__).resolve().parents[2]


# -- incidents: one alert while it lasts, resolved when it ends ----------------------------

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
    # The worst of the windows that proved it (issue 14): day 40 alone, then both days
    # together, each against the baseline from before the incident.
    cost = rows[40]["cost"], rows[41]["cost"]
    assert first["worst_value"] == pytest.approx(min(500 / cost[0], 1000 / sum(cost)))
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


@pytest.mark.parametrize(("world", "seed"), [("fatigue", 2), ("leadgen", 8)])
def test_day_by_day_runs_find_what_one_full_run_finds_on_other_worlds(
        engine: sa.Engine, world: str, seed: int) -> None:
    # Windows make it harder: a run may prove days on either side of one an earlier run wrote
    # (two incidents of one run continue one alert: both add their money), and the worst day
    # of a rise in CPA is the one the store would keep (these two worlds hold both cases).
    end = dt.date(2026, 6, 30)
    seed_database(engine, days=180, seed=seed, end_date=end, world=world)
    first = end - dt.timedelta(days=39)
    detect(engine, since=first)
    whole = _comparable(engine)
    assert len(whole) >= 10
    with engine.begin() as conn:
        conn.execute(sa.delete(Alert))
    for i in range(40):
        detect(engine, since=first + dt.timedelta(days=i), until=first + dt.timedelta(days=i))
    assert _comparable(engine) == whole


def _ramp_then_runaway(cid: str) -> list[dict]:
    """A campaign whose spend ran to 2.7x its usual on day 40 (under the 2.8x line: a lead)
    and to 4x on day 41, its clicks with it and its conversions and revenue at their usual."""
    return campaign(cid, "facebook", 44, bad={
        40: {"cost": 2700.0, "clicks": 2700, "impressions": 135_000},
        41: {"cost": 4000.0, "clicks": 4000, "impressions": 200_000}})


def test_a_runaway_after_a_day_of_a_lead_is_its_own_alert_dated_from_its_day(
        engine: sa.Engine) -> None:
    # The 4x day is proved by its own day, after the lead: the graded alert is dated from it,
    # not from the day before (which stays a lead of its own).
    insert(engine, _ramp_then_runaway("FACEBOOK_ramp0001"))
    detect(engine, since=FAR_PAST)
    got = [(a["date"], a["last_seen"], a["severity"])
           for a in alerts(engine, campaign_id="FACEBOOK_ramp0001", alert_type="cost_spike")]
    assert got == [(day(40), day(40), "low"), (day(41), day(41), "critical")]


def test_day_by_day_runs_keep_a_lead_and_the_runaway_after_it_apart(engine: sa.Engine) -> None:
    insert(engine, _ramp_then_runaway("FACEBOOK_ramp0002"))
    detect(engine, since=FAR_PAST)
    whole = _comparable(engine)
    spikes = [a for a in whole if a[:2] == ("cost_spike", "FACEBOOK_ramp0002")]
    assert [a[3] for a in spikes] == [day(40), day(41)]
    with engine.begin() as conn:
        conn.execute(sa.delete(Alert))
    for i in range(38, 44):
        detect(engine, since=day(i), until=day(i))
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

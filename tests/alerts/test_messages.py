"""The sentence each alert carries: money in the data's currency (``format.money``: cents below
1,000, whole units from 1,000 up), rates as percentages, and a detection run that writes its
messages in the currency the database says its amounts are in.

The database test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL.
"""

from __future__ import annotations

import math

import sqlalchemy as sa

from demetra.alerts import AlertSettings, detect, message
from demetra.db.models import AppSetting
from demetra.queries import CURRENCY_KEY
from tests.alerts.helpers import BAD_DAYS, BROKEN, FAR_PAST, alerts, campaign, insert

CFG = AlertSettings()


def test_money_is_in_the_given_currency_and_dollars_by_default() -> None:
    row = {"cost": 812.34, "metric_value": 0.5, "baseline": 2.5}
    assert message("roi_drop", "FACEBOOK_x", row, CFG) == (
        "ROI fell to 0.50 on FACEBOOK_x (trailing 14-day: 2.50), spend $812.34 that day")
    assert "spend €812.34 that day" in message("roi_drop", "FACEBOOK_x", row, CFG, currency="EUR")
    spike = {"cost": 3000.0, "metric_value": 3000.0, "baseline": 1000.0}
    assert message("cost_spike", "TIKTOK_y", spike, CFG, currency="CHF") == (
        "Spend jumped to CHF 3,000 on TIKTOK_y (trailing 14-day median: CHF 1,000), 3.0× the usual")


def test_rates_are_percentages_and_a_missing_baseline_is_a_dash() -> None:
    row = {"cost": 1000.0, "metric_value": 0.003, "baseline": 0.05}
    assert message("low_conversion", "LINKEDIN_z", row, CFG) == (
        "Conversion rate fell to 0.30% on LINKEDIN_z (trailing 14-day: 5.00%), spend $1,000 that day")
    odd = {"cost": 950.0, "metric": "cost", "metric_value": 950.0, "deviation": 7.3}
    assert message("anomaly", "x", odd, CFG, currency="GBP") == (
        "Unusual cost on x: £950.00, 7.3 robust standard deviations from its last 14 days")
    ctr = {"cost": 10.0, "metric": "ctr", "metric_value": 0.2, "deviation": 9.0}
    assert message("anomaly", "x", ctr, CFG).startswith("Unusual CTR on x: 20.00%,")
    no_base = {"cost": 10.0, "metric_value": 3000.0, "baseline": math.nan}
    assert "median: —)" in message("cost_spike", "x", no_base, CFG)


def test_a_window_of_days_is_told_as_one() -> None:
    # Issue 14: the numbers of a window are the window's, and the message says so.
    row = {"cost": 620.0, "metric_value": 0.25, "baseline": 1.25, "days": 3}
    assert message("roi_drop", "Brand", row, CFG) == (
        "ROI fell to 0.25 over 3 days on Brand (trailing 14-day: 1.25), spend $620.00 over them")
    none = {"cost": 450.0, "metric_value": 450.0, "baseline": 30.0, "conversions": 0.0,
            "days": 4}
    assert message("cpa_rise", "Leads", none, CFG) == (
        "No results over 4 days on Leads for $450.00 of spend (trailing 14-day CPA: $30.00)")
    one_day = {**row, "days": 1}
    assert message("roi_drop", "Brand", one_day, CFG).endswith("spend $620.00 that day")


def test_detection_writes_the_reporting_currency(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_euros001", "facebook", 41, bad={40: BROKEN}),
           campaign("TIKTOK_euros0002", "tiktok", 41, bad={40: BAD_DAYS["cost_spike"]}))
    with engine.begin() as conn:
        conn.execute(sa.insert(AppSetting).values(key=CURRENCY_KEY, value={"code": "EUR"}))
    detect(engine, since=FAR_PAST)
    texts = {a["alert_type"]: a["message"] for a in alerts(engine) if a["campaign_id"]}
    assert set(texts) == {"roi_drop", "cost_spike"}
    assert "Spend jumped to €3,000" in texts["cost_spike"]
    assert "spend €" in texts["roi_drop"]
    assert not any("$" in t for t in texts.values())

"""The Alerts page through the entry script: detection from the page, filters, mark read,
the unread count in the navigation, settings validation."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from demetra import alerts
from demetra.app import pages
from demetra.db.models import Alert
from tests.app.helpers import start

PAGE = pages.ALERTS.path


def nav_title(engine: sa.Engine) -> str:
    """The Alerts page's title in the navigation."""
    return pages.nav_title(pages.ALERTS, engine)


def _unread(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM alerts WHERE is_read = :f"),
                            {"f": False}).scalar_one()


def test_run_detection_filters_and_mark_read(seeded_engine: sa.Engine, db_url: str) -> None:
    at = start(db_url)
    at.switch_page(PAGE).run()
    assert not at.exception
    assert any(i.value.startswith("No alerts.") for i in at.info)

    at.button(key="alr_run").click().run()
    assert not at.exception and not at.error
    with seeded_engine.connect() as conn:
        raised = conn.execute(sa.text("SELECT COUNT(*) FROM alerts")).scalar_one()
    assert raised > 0
    assert nav_title(seeded_engine) == f"Alerts ({raised})"  # the navigation's title

    at.toggle(key="alr_period").set_value(False)
    at.toggle(key="alr_leads").set_value(True).run()
    table = at.dataframe[0].value
    assert len(table) == raised
    # Unread first, then the most severe.
    order = ["critical", "high", "medium", "low"]
    ranks = [order.index(s.lower()) for s in table["Severity"]]
    assert ranks == sorted(ranks)

    at.multiselect(key="alr_sev").set_value(["low"]).run()
    low = at.dataframe[0].value if at.dataframe else None
    with seeded_engine.connect() as conn:
        n_low = conn.execute(sa.text("SELECT COUNT(*) FROM alerts WHERE severity = 'low'")).scalar_one()
    assert (0 if low is None else len(low)) == n_low
    at.multiselect(key="alr_sev").set_value([]).run()

    at.button(key="alr_mark_read").click().run()
    assert _unread(seeded_engine) == 0
    at.toggle(key="alr_unread").set_value(True).run()
    assert not at.dataframe
    assert any("No alerts match" in i.value for i in at.info)
    assert nav_title(seeded_engine) == "Alerts"

    at.toggle(key="alr_unread").set_value(False).run()
    at.button(key="alr_mark_unread").click().run()
    assert _unread(seeded_engine) == raised


def _add_alert(engine: sa.Engine, n: int, severity: str, alert_type: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(Alert).values(
            alert_type=alert_type, severity=severity, channel="facebook", message=f"alert {n}",
            is_read=False, status="open", alert_key=f"test:{n}", date=dt.date(2026, 6, n),
            last_seen=dt.date(2026, 6, n)))


def test_leads_are_hidden_until_asked_for(engine: sa.Engine, db_url: str) -> None:
    _add_alert(engine, 1, "high", "roi_drop")
    _add_alert(engine, 2, "medium", "cost_spike")
    for n in (3, 4, 5):
        _add_alert(engine, n, "low", "low_conversion")
    at = start(db_url)
    at.switch_page(PAGE).run()
    assert not at.exception
    assert list(at.dataframe[0].value["Severity"]) == ["High", "Medium"]
    assert any(" · 3 leads (severity low) hidden · " in c.value for c in at.caption), \
        [c.value for c in at.caption]

    at.toggle(key="alr_leads").set_value(True).run()
    assert list(at.dataframe[0].value["Severity"]) == ["High", "Medium", "Low", "Low", "Low"]
    assert not any("hidden" in c.value for c in at.caption)

    # A filter that only leads match says they are there, behind the toggle.
    at.toggle(key="alr_leads").set_value(False)
    at.multiselect(key="alr_type").set_value(["low_conversion"]).run()
    assert not at.dataframe
    assert any("3 leads (severity low) are hidden: turn on Show leads" in i.value
               for i in at.info), [i.value for i in at.info]
    # Low picked by hand is shown as picked.
    at.multiselect(key="alr_sev").set_value(["low"]).run()
    assert len(at.dataframe[0].value) == 3


def test_settings_refuse_values_out_of_range(seeded_engine: sa.Engine, db_url: str) -> None:
    at = start(db_url)
    at.switch_page(PAGE).run()
    # Form widgets are sent with the submit click, in the same run.
    at.number_input(key="alr_set_baseline_days").set_value(3)
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert any("between 7 and 60" in e.value for e in at.error)
    assert alerts.load_alert_settings(seeded_engine).baseline_days == 14

    at.number_input(key="alr_set_baseline_days").set_value(21)
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.error
    assert alerts.load_alert_settings(seeded_engine).baseline_days == 21


def test_a_failed_detection_run_shows_on_the_page(seeded_engine: sa.Engine, db_url: str) -> None:
    with seeded_engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO alerts (alert_type, severity, message, alert_key, status,"
                             " is_read) VALUES ('system', 'high', 'Alert detection failed: "
                             "database error (disk full)', 'system:x', 'open', :f)"), {"f": False})
    at = start(db_url)
    at.switch_page(PAGE).run()
    assert any("disk full" in e.value for e in at.error)

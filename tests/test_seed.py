"""Loading the demo world into the database: sizes, determinism, refusal, truth, rollups."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from demetra.seed import SeedRefused, load_truth, seed_database
from tests.databases import fresh_database_url

END = dt.date(2026, 3, 31)

SNAPSHOT = ("SELECT campaign_id, campaign_name, channel, date, cost, clicks, impressions, "
            "engagement, conversions, revenue FROM campaigns ORDER BY campaign_id, date")


def _rows(engine: sa.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(str(v) if isinstance(v, dt.date) else v for v in r)
                for r in conn.execute(sa.text(SNAPSHOT))]


def test_seed_writes_the_declared_world(engine: sa.Engine) -> None:
    report = seed_database(engine, campaigns=30, days=60, seed=3, end_date=END)
    truth = load_truth(engine)
    assert truth is not None and len(truth["campaigns"]) == 30
    expected_rows = sum(
        (dt.date.fromisoformat(c["end"]) - dt.date.fromisoformat(c["start"])).days + 1
        for c in truth["campaigns"].values())
    with engine.connect() as conn:
        n, ids, first, last, channels = conn.execute(sa.text(
            "SELECT COUNT(*), COUNT(DISTINCT campaign_id), MIN(date), MAX(date), "
            "COUNT(DISTINCT channel) FROM campaigns")).one()
    assert n == report.rows == expected_rows
    assert ids == 30 and channels == 6
    assert str(first) == str(END - dt.timedelta(days=59)) and str(last) == str(END)


def test_stored_ratios_equal_the_stored_sums(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=20, days=40, seed=5, end_date=END)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT cost, revenue, clicks, conversions, roi, conversion_rate FROM campaigns")).all()
    zero_conv = 0
    for cost, revenue, clicks, conversions, roi, cr in rows:
        assert (roi is None) == (cost == 0)
        if roi is not None:
            assert roi == pytest.approx(revenue / cost, rel=1e-12)
        assert (cr is None) == (clicks == 0)
        if cr is not None:
            assert cr == pytest.approx(conversions / clicks, rel=1e-12)
        zero_conv += conversions == 0
    assert zero_conv > 0, "quiet days should sometimes have no conversions"


def test_same_seed_gives_identical_rows_in_another_database(engine: sa.Engine, tmp_path) -> None:
    from demetra.db.engine import make_engine

    seed_database(engine, campaigns=12, days=30, seed=11, end_date=END)
    other_url, cleanup = fresh_database_url("sqlite", tmp_path / "other")
    (tmp_path / "other").mkdir()
    other = make_engine(other_url)
    try:
        seed_database(other, campaigns=12, days=30, seed=11, end_date=END)
        assert _rows(engine) == _rows(other)
        seed_database(other, campaigns=12, days=30, seed=12, end_date=END, replace=True)
        assert _rows(engine) != _rows(other)
    finally:
        other.dispose()
        cleanup()


def test_seeding_a_non_empty_database_refuses_unless_replace(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=8, days=20, seed=1, end_date=END)
    before = _rows(engine)
    with pytest.raises(SeedRefused, match="--replace"):
        seed_database(engine, campaigns=8, days=20, seed=2, end_date=END)
    assert _rows(engine) == before
    seed_database(engine, campaigns=9, days=20, seed=2, end_date=END, replace=True)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(DISTINCT campaign_id) FROM campaigns")).scalar() == 9
        assert conn.execute(sa.text("SELECT COUNT(*) FROM seed_truth")).scalar() == 1


def test_incidents_are_on_their_dates_and_visible(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=60, days=90, seed=7, end_date=END)
    truth = load_truth(engine)
    incidents = truth["incidents"]
    assert {i["kind"] for i in incidents} == {"roi_drop", "cost_spike", "low_conversion"}
    with engine.connect() as conn:
        for inc in incidents:
            day = conn.execute(sa.text(
                "SELECT cost, roi FROM campaigns WHERE campaign_id = :c AND date = :d"),
                {"c": inc["campaign_id"], "d": dt.date.fromisoformat(inc["date"])}).one_or_none()
            assert day is not None, f"no row on the incident day {inc}"
            med_cost, med_roi = conn.execute(sa.text(
                "SELECT AVG(cost), SUM(revenue) / SUM(cost) FROM campaigns WHERE campaign_id = :c"),
                {"c": inc["campaign_id"]}).one()
            if inc["kind"] == "cost_spike":
                assert day.cost > 1.8 * med_cost
            elif inc["kind"] == "roi_drop":
                assert day.roi < 0.6 * med_roi


def test_rollups_equal_the_raw_rows_after_seeding(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=15, days=75, seed=4, end_date=END)
    with engine.connect() as conn:
        raw = conn.execute(sa.text(
            "SELECT channel, SUM(cost), SUM(revenue), SUM(clicks), SUM(conversions), COUNT(*) "
            "FROM campaigns GROUP BY channel ORDER BY channel")).all()
        daily = conn.execute(sa.text(
            "SELECT channel, SUM(cost), SUM(revenue), SUM(clicks), SUM(conversions), "
            "SUM(campaign_days) FROM channel_days GROUP BY channel ORDER BY channel")).all()
        monthly = conn.execute(sa.text(
            "SELECT channel, SUM(cost), SUM(revenue), SUM(clicks), SUM(conversions), SUM(days) "
            "FROM campaign_months GROUP BY channel ORDER BY channel")).all()
    for a, b, c in zip(raw, daily, monthly, strict=True):
        assert a[0] == b[0] == c[0] and a[3] == b[3] == c[3] and a[5] == b[5] == c[5]
        for i in (1, 2, 4):
            assert b[i] == pytest.approx(a[i], rel=1e-9) and c[i] == pytest.approx(a[i], rel=1e-9)


# ---- options: a lead-generation account, a small account ----------------------------------

def _rollups_equal_raw(engine: sa.Engine) -> None:
    """channel_days and campaign_months hold the raw rows' sums, NULL where no row tracks one."""
    with engine.connect() as conn:
        raw = conn.execute(sa.text(
            "SELECT channel, SUM(cost), SUM(revenue), SUM(clicks), SUM(conversions), COUNT(*) "
            "FROM campaigns GROUP BY channel ORDER BY channel")).all()
        daily = conn.execute(sa.text(
            "SELECT channel, SUM(cost), SUM(revenue), SUM(clicks), SUM(conversions), "
            "SUM(campaign_days) FROM channel_days GROUP BY channel ORDER BY channel")).all()
        monthly = conn.execute(sa.text(
            "SELECT channel, SUM(cost), SUM(revenue), SUM(clicks), SUM(conversions), SUM(days) "
            "FROM campaign_months GROUP BY channel ORDER BY channel")).all()
        by_day = conn.execute(sa.text(
            "SELECT date, channel, SUM(cost), COUNT(*) FROM campaigns GROUP BY date, channel "
            "ORDER BY date, channel")).all()
        rolled = conn.execute(sa.text(
            "SELECT date, channel, cost, campaign_days FROM channel_days ORDER BY date, channel"
        )).all()
    assert raw and len(raw) == len(daily) == len(monthly)
    for a, b, c in zip(raw, daily, monthly, strict=True):
        assert a[0] == b[0] == c[0] and a[3] == b[3] == c[3] and a[5] == b[5] == c[5]
        for i in (1, 2, 4):
            if a[i] is None:
                assert b[i] is None and c[i] is None, (a[0], i)
            else:
                assert b[i] == pytest.approx(a[i], rel=1e-9)
                assert c[i] == pytest.approx(a[i], rel=1e-9)
    assert len(by_day) == len(rolled)
    for (d1, ch1, cost1, n1), (d2, ch2, cost2, n2) in zip(by_day, rolled, strict=True):
        assert (str(d1), ch1, n1) == (str(d2), ch2, n2)
        assert cost2 == pytest.approx(cost1, rel=1e-9)


def test_a_lead_generation_world_stores_no_revenue(engine: sa.Engine) -> None:
    from demetra.queries import Filters, kpis

    report = seed_database(engine, campaigns=20, days=60, seed=5, end_date=END,
                           outcome="results")
    assert report.outcome == "results" and report.channels == 6
    truth = load_truth(engine)
    assert truth["outcome"] == "results"
    assert all(c["expected_cpa"] > 0 for c in truth["campaigns"].values())
    with engine.connect() as conn:
        n, revenue, roi, conversions, cost = conn.execute(sa.text(
            "SELECT COUNT(*), COUNT(revenue), COUNT(roi), SUM(conversions), SUM(cost) "
            "FROM campaigns")).one()
        assert n == report.rows and revenue == 0 and roi == 0     # NULL: not tracked, never 0
        assert conversions > 0
        assert conn.execute(sa.text(
            "SELECT COUNT(revenue) FROM channel_days")).scalar_one() == 0
        assert conn.execute(sa.text(
            "SELECT COUNT(revenue) FROM campaign_months")).scalar_one() == 0
    k = kpis(engine, Filters(END - dt.timedelta(days=59), END))
    assert k["revenue"] is None and k["roi"] is None
    assert k["conversions"] == pytest.approx(conversions)
    assert k["cpa"] == pytest.approx(cost / conversions, rel=1e-9)
    assert 10 < k["cpa"] < 200
    _rollups_equal_raw(engine)


def test_a_small_world_in_the_database(engine: sa.Engine) -> None:
    report = seed_database(engine, days=120, seed=2, end_date=END, small=True)
    truth = load_truth(engine)
    assert 3 <= report.campaigns == len(truth["campaigns"]) <= 8
    assert report.pauses == len(truth["pauses"]) >= 1 and report.channels <= 2
    with engine.connect() as conn:
        n, ids, channels = conn.execute(sa.text(
            "SELECT COUNT(*), COUNT(DISTINCT campaign_id), COUNT(DISTINCT channel) "
            "FROM campaigns")).one()
        assert n == report.rows == sum(c["active_days"] for c in truth["campaigns"].values())
        assert ids == report.campaigns and 1 <= channels <= 2
        for p in truth["pauses"]:
            inside = conn.execute(sa.text(
                "SELECT COUNT(*) FROM campaigns WHERE campaign_id = :c AND date BETWEEN :a AND :b"),
                {"c": p["campaign_id"], "a": dt.date.fromisoformat(p["start"]),
                 "b": dt.date.fromisoformat(p["end"])}).scalar_one()
            after = conn.execute(sa.text(
                "SELECT COUNT(*) FROM campaigns WHERE campaign_id = :c AND date > :b"),
                {"c": p["campaign_id"], "b": dt.date.fromisoformat(p["end"])}).scalar_one()
            assert inside == 0 and after >= 7               # no rows while paused, then back
    _rollups_equal_raw(engine)


def test_a_small_lead_generation_world_replaces_a_default_one(engine: sa.Engine) -> None:
    from demetra.queries import Filters, kpis

    seed_database(engine, campaigns=10, days=30, seed=1, end_date=END)
    report = seed_database(engine, days=90, seed=3, end_date=END, small=True,
                           outcome="results", channels=["facebook"], replace=True)
    assert report.channels == 1 and report.outcome == "results"
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT COUNT(DISTINCT channel), COUNT(revenue) FROM campaigns")).one() == (1, 0)
        assert conn.execute(sa.text("SELECT COUNT(*) FROM seed_truth")).scalar_one() == 1
    k = kpis(engine, Filters(END - dt.timedelta(days=89), END))
    assert k["revenue"] is None and k["roi"] is None and k["cpa"] > 0
    _rollups_equal_raw(engine)


def test_seed_options_refuse_bad_input(engine: sa.Engine) -> None:
    from demetra.errors import BadInput

    with pytest.raises(BadInput, match="outcome"):
        seed_database(engine, outcome="leads")
    with pytest.raises(BadInput, match="channels"):
        seed_database(engine, channels=["myspace"], days=10)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM campaigns")).scalar_one() == 0


def test_the_seed_command_takes_the_options(db_url: str, capsys) -> None:
    from demetra.cli import main

    assert main(["--database-url", db_url, "seed", "--small", "--outcome", "results",
                 "--days", "60", "--seed", "4", "--end-date", "2026-03-31"]) == 0
    out = capsys.readouterr().out
    assert "lead-generation" in out and "pauses" in out
    assert main(["--database-url", db_url, "seed", "--campaigns", "5", "--small", "--channels",
                 "facebook,google_ads", "--replace", "--end-date", "2026-03-31"]) == 0
    assert "5 campaigns on 2 channels" in capsys.readouterr().out
    assert main(["--database-url", db_url, "seed", "--replace", "--channels", "1",
                 "--campaigns", "4", "--no-pauses", "--days", "20"]) == 0
    out = capsys.readouterr().out
    assert "4 campaigns on 1 channel," in out and "pauses" not in out

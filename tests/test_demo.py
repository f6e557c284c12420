"""``demetra.demo.load_demo`` on both backends: one call leaves a trained model, its forecasts,
the alerts of the injected incidents and a rules-engine recommendation, under one progress bar;
a world too short to train on still loads, saying what it skipped; an extra step runs too."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra import demo
from demetra.charts.kinds import CHART_TYPES
from demetra.config import Settings
from demetra.errors import SeedRefused

END = dt.date(2026, 6, 30)


def _count(engine: sa.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def test_the_demo_fills_every_table_a_page_reads(engine: sa.Engine, tmp_path: Path) -> None:
    seen: list[tuple[float, str]] = []
    report = demo.load_demo(engine, Settings(model_dir=str(tmp_path / "models")), campaigns=16,
                            days=90, end_date=END, progress=lambda f, t: seen.append((f, t)))

    assert [s.label for s in report.steps] == ["Train", "Predict", "Alerts", "Recommend", "Charts"]
    assert all(s.done for s in report.steps), report.lines()
    assert _count(engine, "SELECT COUNT(*) FROM model_runs WHERE status = 'ok'") == 1
    spending = _count(engine, "SELECT COUNT(DISTINCT campaign_id) FROM campaigns "
                              "WHERE cost > 0 AND date >= '2026-06-24'")
    assert _count(engine, "SELECT COUNT(*) FROM predictions WHERE metric = 'roi'") == spending > 0
    assert _count(engine, "SELECT COUNT(*) FROM alerts WHERE alert_type <> 'system'") > 0
    assert _count(engine, "SELECT COUNT(*) FROM alerts WHERE alert_type = 'system'") == 0
    # The alerts were looked for over the whole history, not only the last week.
    assert _count(engine, "SELECT COUNT(*) FROM alerts WHERE date < '2026-06-24'") > 0
    with engine.connect() as conn:
        source, reason, period_end = conn.execute(sa.text(
            "SELECT source, fallback_reason, period_end FROM recommendations")).one()
    assert (source, reason) == ("rules", demo.DEMO_RULES_REASON)
    assert str(period_end)[:10] == END.isoformat()
    # One chart of each type, so the Charts page opens on a gallery.
    with engine.connect() as conn:
        kinds = sorted(r[0] for r in conn.execute(sa.text("SELECT dashboard_type FROM ml_dashboards")))
    assert kinds == sorted(CHART_TYPES)

    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 <= fractions[0] < 0.1
    texts = [t for _, t in seen]
    assert all(f"{s.label}…" in texts for s in report.steps)
    lines = report.lines()
    assert len(lines) == 6 and lines[0].startswith(f"Seed: {report.seeded.rows:,} rows")
    assert report.summary().startswith(f"Demo world loaded: {report.seeded.rows:,} rows")


def test_a_short_world_loads_and_says_what_it_skipped(engine: sa.Engine, tmp_path: Path) -> None:
    report = demo.load_demo(engine, Settings(model_dir=str(tmp_path / "models")), campaigns=5,
                            days=10, end_date=END)
    done = {s.label: s.done for s in report.steps}
    assert done == {"Train": False, "Predict": False, "Alerts": True, "Recommend": True,
                    "Charts": True}
    train = report.steps[0]
    assert train.summary.startswith("skipped:") and "days" in train.summary
    assert "skipped: train (" in report.summary()
    assert _count(engine, "SELECT COUNT(*) FROM campaigns") == report.seeded.rows > 0
    assert _count(engine, "SELECT COUNT(*) FROM predictions") == 0
    assert _count(engine, "SELECT COUNT(*) FROM recommendations") == 1


def test_an_extra_step_runs_after_the_core_steps(engine: sa.Engine, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[int] = []

    def count_rows(d: demo.Demo, progress: demo.Progress) -> str:
        progress(0.5, "halfway")
        ran.append(_count(d.engine, "SELECT COUNT(*) FROM recommendations"))
        return f"{d.seeded.rows} rows seen"

    monkeypatch.setattr(demo, "EXTRA_STEPS", [demo.DemoStep("Count", count_rows)])
    seen: list[tuple[float, str]] = []
    report = demo.load_demo(engine, Settings(model_dir=str(tmp_path / "models")), campaigns=5,
                            days=10, end_date=END, progress=lambda f, t: seen.append((f, t)))
    assert ran == [1]  # after the recommendation was written
    assert report.steps[-1] == demo.StepResult("Count", f"{report.seeded.rows} rows seen",
                                               report.steps[-1].seconds)
    halfway = next(f for f, t in seen if t == "halfway")
    assert 0.5 < halfway < 1.0


def test_a_database_with_data_is_refused_unless_replaced(engine: sa.Engine,
                                                         tmp_path: Path) -> None:
    settings = Settings(model_dir=str(tmp_path / "models"))
    demo.load_demo(engine, settings, campaigns=5, days=10, end_date=END)
    with pytest.raises(SeedRefused):
        demo.load_demo(engine, settings, campaigns=6, days=10, end_date=END)
    report = demo.load_demo(engine, settings, replace=True, campaigns=6, days=10, end_date=END)
    assert _count(engine, "SELECT COUNT(DISTINCT campaign_id) FROM campaigns") == 6
    assert _count(engine, "SELECT COUNT(*) FROM recommendations") == 1
    assert report.seeded.campaigns == 6

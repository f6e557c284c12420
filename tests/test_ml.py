"""ROI forecasting (``demetra.ml``) on real databases: features, backtest, predictions, risk,
settings, the model file, and the ``train`` / ``predict`` commands.

One small seeded world is trained once per backend (module scope) and shared by the tests
that only read it; the tests that break something get a database of their own.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra.config import Settings, SettingsError
from demetra.db.engine import make_engine
from demetra.db.models import ModelRun, Prediction
from demetra.ml import (
    FEATURES,
    ModelSettings,
    NotEnoughData,
    RetrainNeeded,
    build_features,
    latest_predictions,
    load_latest_model,
    load_model_settings,
    predict,
    risk_level,
    save_model_settings,
    train,
)
from demetra.ml.backtest import origins, training_days
from demetra.ml.features import LOOKBACK_DAYS, Panel, features_at, load_panel
from demetra.seed import seed_database
from tests.conftest import BACKENDS, fresh_database_url

ROOT = Path(__file__).resolve().parents[1]
END = dt.date(2026, 6, 30)
# Small enough to train in seconds, big enough that the backtest means something.
WORLD = dict(campaigns=40, days=120, seed=3, end_date=END)


@pytest.fixture(scope="module", params=BACKENDS)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A seeded small world on each backend, trained once, with one batch of predictions."""
    tmp = tmp_path_factory.mktemp(f"ml-{request.param}")
    url, cleanup = fresh_database_url(request.param, tmp)
    engine = make_engine(url)
    seed_database(engine, **WORLD)
    settings = Settings(database_url=url, model_dir=str(tmp / "models"))
    stages: list[tuple[float, str]] = []
    result = train(engine, settings, progress=lambda f, text: stages.append((f, text)))
    predicted = predict(engine, settings)
    yield {"engine": engine, "url": url, "settings": settings, "result": result,
           "predicted": predicted, "stages": stages, "tmp": tmp}
    engine.dispose()
    cleanup()


# -- features -------------------------------------------------------------------------------

def test_features_at_t_ignore_everything_after_t(engine: sa.Engine) -> None:
    seed_database(engine, campaigns=25, days=LOOKBACK_DAYS + 30, seed=5, end_date=END)
    t = END - dt.timedelta(days=12)
    before = build_features(engine, t)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE campaigns SET cost = cost * 3 + 1, revenue = revenue * 0.1, "
                             "clicks = clicks + 7, conversions = 0 WHERE date > :t"), {"t": t})
    after = build_features(engine, t)
    assert len(before) >= 20
    pd.testing.assert_frame_equal(before, after)

    # The training path holds later days in the same grid: they must not reach day t either.
    panel = load_panel(engine, END - dt.timedelta(days=LOOKBACK_DAYS + 29), END)
    ti = panel.day_index(t)
    grid = {m: v.copy() for m, v in panel.grid.items()}
    for m in grid:
        grid[m][:, ti + 1:] = grid[m][:, ti + 1:] * 5 + 3
    perturbed = Panel(panel.campaign_ids, panel.channels, panel.start, panel.days, grid)
    pd.testing.assert_frame_equal(features_at(panel, ti), features_at(perturbed, ti))
    # ... and the features at t are the ones a forecast made on day t sees (which reads only
    # spend and revenue before the last 28 days).
    pd.testing.assert_frame_equal(features_at(panel, ti).loc[before.index], before)


def test_training_labels_end_before_each_origin() -> None:
    grid = {m: np.ones((30, 200)) for m in ("cost", "revenue", "clicks", "impressions", "conversions")}
    panel = Panel(np.array([f"c{i}" for i in range(30)], dtype=object),
                  np.array(["facebook"] * 30, dtype=object), END, 200, grid)
    starts = origins(199, 7, 4)
    assert starts == [192, 185, 178, 171]
    for o in starts:
        days = training_days(panel, o, 7)
        assert days and max(days) + 7 <= o


# -- training and the backtest ----------------------------------------------------------------

def test_backtest_beats_the_trailing_28_day_roi(trained: dict) -> None:
    result = trained["result"]
    model = result.metrics["model"]
    base = result.metrics["baselines"]
    assert set(base) == {"trailing_28d_roi", "trailing_7d_roi", "channel_28d_roi"}
    assert len(result.metrics["origins"]) == 4
    assert model["n"] > 100
    assert model["wmae"] < base["trailing_28d_roi"]["wmae"]
    assert model["wmae"] < min(b["wmae"] for b in base.values())
    assert 0.6 <= model["coverage"] <= 0.95
    assert 0 <= model["brier"] < 0.25
    assert set(result.importance) == set(FEATURES)
    assert result.train_start < result.train_end == END
    assert result.seconds > 0
    fractions = [f for f, _ in trained["stages"]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_a_model_run_is_recorded_with_its_artifact(trained: dict) -> None:
    result = trained["result"]
    with trained["engine"].connect() as conn:
        row = conn.execute(sa.select(ModelRun.__table__).where(ModelRun.id == result.run_id)).one()
    assert row.status == "ok" and row.version == result.version
    assert row.parameters["horizon_days"] == 7
    assert row.metrics["model"]["wmae"] == pytest.approx(result.metrics["model"]["wmae"])
    assert "trailing_28d_roi" in row.metrics["baselines"] and row.metrics["importance"]
    assert Path(row.artifact_path).is_file() and row.duration_seconds > 0
    run_id, model = load_latest_model(trained["engine"], trained["settings"])
    assert run_id == result.run_id and model.horizon_days == 7
    assert model.features and model.train_end == END


# -- predictions ------------------------------------------------------------------------------

def test_predictions_are_one_consistent_row_per_recently_spending_campaign(trained: dict) -> None:
    engine, done = trained["engine"], trained["predicted"]
    with engine.connect() as conn:
        spending = {r[0] for r in conn.execute(sa.text(
            "SELECT DISTINCT campaign_id FROM campaigns WHERE date > :d AND cost > 0"),
            {"d": END - dt.timedelta(days=7)})}
        everyone = conn.execute(sa.text("SELECT COUNT(DISTINCT campaign_id) FROM campaigns "
                                        "WHERE date > :d"), {"d": END - dt.timedelta(days=LOOKBACK_DAYS)}
                                ).scalar_one()
        rows = conn.execute(sa.select(Prediction.__table__)).all()
    assert done.written == len(spending) == len(rows)
    assert done.skipped_no_spend == everyone - len(spending) and done.skipped_invalid == 0
    assert {r.campaign_id for r in rows} == spending
    for r in rows:
        values = (r.predicted_roi, r.predicted_roi_low, r.predicted_roi_high, r.prob_loss)
        assert all(v is not None and math.isfinite(v) for v in values)
        assert 0 <= r.predicted_roi_low <= r.predicted_roi <= r.predicted_roi_high
        assert 0 <= r.prob_loss <= 1
        assert r.risk_level == risk_level(r.prob_loss)
        assert r.model_run_id == trained["result"].run_id and r.horizon_days == 7
        assert r.as_of == END
    latest = latest_predictions(engine)
    assert len(latest) == len(spending)
    assert latest["prob_loss"].is_monotonic_decreasing


def test_predicting_again_replaces_the_batch(trained: dict) -> None:
    engine = trained["engine"]
    again = predict(engine, trained["settings"])
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(Prediction)).scalar_one()
    assert count == again.written == trained["predicted"].written


# -- risk -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("p", "level"), [(0.0, "low"), (0.1999, "low"), (0.2, "medium"),
                                          (0.4999, "medium"), (0.5, "high"), (1.0, "high")])
def test_risk_levels_at_the_default_boundaries(p: float, level: str) -> None:
    assert risk_level(p) == level


def test_risk_levels_follow_the_thresholds() -> None:
    levels = risk_level(np.array([0.29, 0.3, 0.69, 0.7]), (0.7, 0.3))
    assert list(levels) == ["low", "medium", "medium", "high"]


# -- settings ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "expected"), [
    ({"horizon_days": 0}, "between 1 and 28"),
    ({"horizon_days": 29}, "between 1 and 28"),
    ({"horizon_days": 7.5}, "whole number"),
    ({"high_risk_threshold": 1.5}, "between 0.01 and 1"),
    ({"medium_risk_threshold": -0.1}, "between 0 and 0.99"),
    ({"high_risk_threshold": 0.3, "medium_risk_threshold": 0.4}, "below the high-risk threshold"),
    ({"high_risk_threshold": float("nan")}, "between"),
])
def test_invalid_model_settings_are_refused(engine: sa.Engine, change: dict, expected: str) -> None:
    with pytest.raises(SettingsError, match=expected):
        save_model_settings(engine, ModelSettings(**change))
    assert load_model_settings(engine) == ModelSettings()


def test_changing_the_horizon_asks_for_a_retrain(engine: sa.Engine, tmp_path: Path) -> None:
    save_model_settings(engine, ModelSettings(high_risk_threshold=0.6, medium_risk_threshold=0.3))
    assert load_model_settings(engine).thresholds == (0.6, 0.3)
    with engine.begin() as conn:
        conn.execute(sa.insert(ModelRun).values(version="roi-hgb-1", status="ok",
                                                artifact_path=str(tmp_path / "m.joblib")))
    save_model_settings(engine, ModelSettings(horizon_days=7, high_risk_threshold=0.7,
                                              medium_risk_threshold=0.3))
    with engine.connect() as conn:
        assert conn.execute(sa.select(ModelRun.status)).scalar_one() == "ok"
    save_model_settings(engine, ModelSettings(horizon_days=14))
    with engine.connect() as conn:
        assert conn.execute(sa.select(ModelRun.status)).scalar_one() == "stale"
    with pytest.raises(RetrainNeeded, match="settings changed"):
        load_latest_model(engine, Settings(model_dir=str(tmp_path)))


# -- the model file ---------------------------------------------------------------------------

def test_no_model_asks_for_a_retrain(engine: sa.Engine, tmp_path: Path) -> None:
    with pytest.raises(RetrainNeeded, match="no trained ROI model"):
        predict(engine, Settings(model_dir=str(tmp_path)))


@pytest.mark.parametrize("damage", ["missing", "corrupt", "not a model"])
def test_a_missing_or_corrupt_artifact_asks_for_a_retrain(engine: sa.Engine, tmp_path: Path,
                                                          damage: str) -> None:
    path = tmp_path / "roi_model_1.joblib"
    if damage == "corrupt":
        path.write_bytes(b"\x80\x04 this is not a pickle")
    elif damage == "not a model":
        import joblib

        joblib.dump({"hello": "world"}, path)
    with engine.begin() as conn:
        conn.execute(sa.insert(ModelRun).values(version="roi-hgb-1", status="ok",
                                                artifact_path=str(path)))
    with pytest.raises(RetrainNeeded, match="python -m demetra train"):
        load_latest_model(engine, Settings(model_dir=str(tmp_path)))
    with pytest.raises(RetrainNeeded):
        predict(engine, Settings(model_dir=str(tmp_path)))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(Prediction)).scalar_one() == 0


# -- too little data --------------------------------------------------------------------------

def test_too_short_a_history_is_refused_with_what_is_needed(engine: sa.Engine, tmp_path: Path) -> None:
    settings = Settings(model_dir=str(tmp_path / "models"))
    with pytest.raises(NotEnoughData, match="no campaign data"):
        train(engine, settings)
    seed_database(engine, campaigns=30, days=30, seed=1, end_date=END)
    with pytest.raises(NotEnoughData, match=r"only 30 days.*at least 49 days"):
        train(engine, settings)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ModelRun)).scalar_one() == 0
    assert not (tmp_path / "models").exists()


def test_too_few_campaigns_are_refused(engine: sa.Engine, tmp_path: Path) -> None:
    seed_database(engine, campaigns=12, days=80, seed=1, end_date=END)
    with pytest.raises(NotEnoughData, match="only 1[0-2] campaigns.*at least 20"):
        train(engine, Settings(model_dir=str(tmp_path)))


# -- the commands -----------------------------------------------------------------------------

def run_cli(*args: str, url: str, model_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATABASE_URL=url, MODEL_DIR=str(model_dir))
    return subprocess.run([sys.executable, "-m", "demetra", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_train_then_predict(tmp_path: Path) -> None:
    # SQLite only: the commands are the same code the module fixture trains on both backends.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    seed_database(engine, campaigns=24, days=60, seed=11, end_date=END)
    engine.dispose()
    model_dir = tmp_path / "models"
    done = run_cli("train", url=url, model_dir=model_dir)
    assert done.returncode == 0, done.stderr
    assert "Trained model run 1" in done.stdout and "examples" in done.stdout and " s." in done.stdout
    assert len(list(model_dir.glob("roi_model_*.joblib"))) == 1
    out = run_cli("predict", url=url, model_dir=model_dir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Wrote ") and "model run 1" in out.stdout and "skipped" in out.stdout
    written = int(out.stdout.split()[1])
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(Prediction)).scalar_one()
    assert count == written > 0
    engine.dispose()


def test_cli_on_an_empty_database_fails_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for command, expected in (("train", "no campaign data"), ("predict", "no trained ROI model")):
        out = run_cli(command, url=url, model_dir=tmp_path / "models")
        assert out.returncode != 0
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
        assert "Traceback" not in out.stderr

"""Training: backtest, fit on the whole window, save the artifact, record a ``model_runs`` row.

The artifact is one joblib file in ``Settings.model_dir`` holding the ``RoiModel`` (its four
scikit-learn models, version, feature list, training window, horizon and backtest metrics).
``load_latest_model`` loads the newest good run's file, or raises ``RetrainNeeded``.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import sqlalchemy as sa

from demetra.config import Settings
from demetra.db.models import ModelRun
from demetra.errors import NotEnoughData, RetrainNeeded, StorageError
from demetra.ml.backtest import backtest, fit_model, origins
from demetra.ml.features import (
    FEATURES,
    LOOKBACK_DAYS,
    MIN_CAMPAIGNS,
    MIN_HISTORY_DAYS,
    RECENT_DAYS,
    data_range,
    load_panel,
)
from demetra.ml.model import MODEL_VERSION, RoiModel
from demetra.ml.settings import ModelSettings, load_model_settings

Progress = Callable[[float, str], None]
TRAIN_DAYS = 365 + LOOKBACK_DAYS   # history read for training: a year of forecast dates
BACKTEST_ORIGINS = 4


@dataclass
class TrainResult:
    run_id: int
    version: str
    horizon_days: int
    train_start: dt.date
    train_end: dt.date
    rows: int
    campaigns: int
    examples: int
    metrics: dict[str, Any]            # "model", "baselines", "origins", "per_origin"
    importance: dict[str, float]
    artifact_path: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        m = self.metrics["model"]
        best = min(b["wmae"] for b in self.metrics["baselines"].values())
        return (f"Trained model run {self.run_id} ({self.version}, {self.horizon_days}-day horizon) on "
                f"{self.rows:,} rows of {self.campaigns} campaigns, {self.train_start} to "
                f"{self.train_end}, {self.examples:,} examples, in {self.seconds:.1f} s. Backtest over "
                f"{len(self.metrics['origins'])} origins: spend-weighted MAE {m['wmae']:.3f} "
                f"(best baseline {best:.3f}), P10–P90 coverage {m['coverage']:.0%}, "
                f"Brier {m['brier']:.3f}.")


def min_training_days(horizon: int) -> int:
    """Features need 28 days; then a label horizon for training and one for a backtest origin."""
    return MIN_HISTORY_DAYS + 3 * horizon


def _check_history(engine: sa.Engine, horizon: int) -> tuple[dt.date, dt.date]:
    first, last = data_range(engine)
    need = min_training_days(horizon)
    if last is None:
        raise NotEnoughData(
            f"no campaign data to train on: the model needs at least {need} days of daily rows "
            f"for at least {MIN_CAMPAIGNS} campaigns (import data or run `python -m demetra seed`)")
    days = (last - first).days + 1
    if days < need:
        raise NotEnoughData(
            f"only {days} days of campaign data ({first} to {last}); training a {horizon}-day "
            f"forecast needs at least {need} days ({MIN_HISTORY_DAYS} of history plus room for "
            "labels and a backtest)")
    start = max(first, last - dt.timedelta(days=TRAIN_DAYS - 1))
    with engine.connect() as conn:
        spending = conn.execute(sa.text(
            "SELECT COUNT(DISTINCT campaign_id) FROM campaigns WHERE date > :s AND cost > 0"),
            {"s": last - dt.timedelta(days=RECENT_DAYS)}).scalar_one()
    if spending < MIN_CAMPAIGNS:
        raise NotEnoughData(
            f"only {spending} campaigns spent in the last {RECENT_DAYS} days of data (to {last}); "
            f"training needs at least {MIN_CAMPAIGNS}")
    return start, last


def train(engine: sa.Engine, settings: Settings | None = None, *,
          model_settings: ModelSettings | None = None,
          progress: Progress | None = None) -> TrainResult:
    """Backtest, fit on the whole training window, save the artifact and a ``model_runs`` row.

    Raises ``NotEnoughData`` (nothing written) when the history is too short or too few
    campaigns spend. A failure while fitting is recorded as a ``failed`` run and re-raised.
    """
    settings = settings or Settings()
    ms = (model_settings or load_model_settings(engine)).validated()
    horizon = int(ms.horizon_days)
    report = progress or (lambda _f, _t: None)
    t0 = time.perf_counter()
    start, end = _check_history(engine, horizon)
    report(0.0, f"Reading {start} to {end}")
    panel = load_panel(engine, start, end)
    timings = {"read": time.perf_counter() - t0}
    params = {"horizon_days": horizon, "risk_thresholds": list(ms.thresholds),
              "backtest_origins": BACKTEST_ORIGINS, "lookback_days": LOOKBACK_DAYS}
    try:
        t1 = time.perf_counter()
        n_origins = BACKTEST_ORIGINS if origins(panel.days - 1, horizon, BACKTEST_ORIGINS) else 0
        if n_origins == 0:
            raise NotEnoughData(
                f"{panel.days} days are too few for a backtest at a {horizon}-day horizon")
        bt = backtest(panel, horizon, ms.thresholds, n_origins=n_origins,
                      progress=lambda f, text: report(0.05 + 0.7 * f, text))
        timings["backtest"] = time.perf_counter() - t1
        report(0.8, "Training on the whole window")
        t2 = time.perf_counter()
        model, ex = fit_model(panel, panel.days - 1, horizon)
        timings["fit"] = time.perf_counter() - t2
    except NotEnoughData:
        raise
    except Exception as exc:
        _record_failure(engine, params, start, end, exc, time.perf_counter() - t0)
        raise
    importance = bt.pop("importance")
    model.train_start, model.train_end = start, end
    model.metrics = _finite(bt)
    seconds = time.perf_counter() - t0
    report(0.95, "Saving the model")
    with engine.begin() as conn:
        run_id = conn.execute(sa.insert(ModelRun).values(
            version=model.version, status="training", parameters=params, train_start=start,
            train_end=end, metrics={}, duration_seconds=None).returning(ModelRun.id)).scalar_one()
    # Absolute: the app and a cron job may run from different working directories.
    path = Path(settings.model_dir).expanduser().resolve() / f"roi_model_{run_id}.joblib"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        joblib.dump(model, tmp)
        tmp.replace(path)
    except OSError as exc:
        with engine.begin() as conn:
            conn.execute(sa.update(ModelRun).where(ModelRun.id == run_id).values(
                status="failed", metrics={"error": f"cannot write {path}: {exc.strerror}"}))
        raise StorageError(f"cannot write the model to {path}: {exc.strerror}") from None
    seconds = time.perf_counter() - t0
    timings["total"] = seconds
    metrics = _finite({**bt, "importance": importance, "timings": timings,
                       "examples": len(ex), "rows": panel.rows})
    with engine.begin() as conn:
        conn.execute(sa.update(ModelRun).where(ModelRun.id == run_id).values(
            status="ok", metrics=metrics, artifact_path=str(path), duration_seconds=seconds))
    report(1.0, f"Model run {run_id} saved")
    return TrainResult(run_id=run_id, version=model.version, horizon_days=horizon,
                       train_start=start, train_end=end, rows=panel.rows,
                       campaigns=len(panel.campaign_ids), examples=len(ex), metrics=bt,
                       importance=importance, artifact_path=str(path), seconds=seconds,
                       timings=timings)


def _record_failure(engine: sa.Engine, params: dict, start: dt.date, end: dt.date,
                    exc: Exception, seconds: float) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(ModelRun).values(
                version=MODEL_VERSION, status="failed", parameters=params, train_start=start,
                train_end=end, metrics={"error": f"{type(exc).__name__}: {str(exc)[:300]}"},
                duration_seconds=seconds))
    except sa.exc.SQLAlchemyError:
        pass  # the database is down: the caller reports the original error


def _finite(value: Any) -> Any:
    """JSON-safe: NaN and inf become None, numpy scalars plain numbers."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def load_latest_model(engine: sa.Engine, settings: Settings | None = None,
                      model_settings: ModelSettings | None = None) -> tuple[int, RoiModel]:
    """The newest good run's id and model; ``RetrainNeeded`` when there is none, its file is
    missing or unreadable, or it was trained for another horizon than the current setting."""
    ms = model_settings or load_model_settings(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(ModelRun.id, ModelRun.artifact_path, ModelRun.status)
                           .where(ModelRun.status.in_(("ok", "stale")))
                           .order_by(ModelRun.id.desc()).limit(1)).first()
    hint = "run `python -m demetra train` (or Retrain on the Predictions page)"
    if row is None:
        raise RetrainNeeded(f"no trained ROI model yet: {hint}")
    run_id, path, status = row
    if path and not Path(path).exists():
        # The model folder moved (a new volume, MODEL_DIR changed): look for the file there.
        moved = Path((settings or Settings()).model_dir).expanduser() / Path(path).name
        path = str(moved) if moved.exists() else path
    if status == "stale":
        raise RetrainNeeded(f"the model settings changed since model run {run_id} was trained: {hint}")
    try:
        model = joblib.load(path)
    except FileNotFoundError:
        raise RetrainNeeded(f"the file of model run {run_id} ({path}) is missing: {hint}") from None
    except Exception as exc:  # noqa: BLE001 - any unreadable file means the same thing
        raise RetrainNeeded(f"the file of model run {run_id} ({path}) cannot be read "
                            f"({type(exc).__name__}): {hint}") from None
    if not isinstance(model, RoiModel):
        raise RetrainNeeded(
            f"the file of model run {run_id} ({path}) is not a Demetra ROI model: {hint}")
    if model.version != MODEL_VERSION:
        # Same feature names can mean different things across versions (roi_ref did change).
        raise RetrainNeeded(f"model run {run_id} was made by model version {model.version}, "
                            f"this is {MODEL_VERSION}: {hint}")
    if not set(model.features) <= set(FEATURES):
        raise RetrainNeeded(f"model run {run_id} was trained on other features than this version "
                            f"computes: {hint}")
    if int(model.horizon_days) != int(ms.horizon_days):
        raise RetrainNeeded(f"model run {run_id} forecasts {model.horizon_days} days ahead but the "
                            f"horizon is now {ms.horizon_days}: {hint}")
    return run_id, model

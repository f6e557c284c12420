"""Training: backtest, fit on the whole window, save the artifact, record a ``model_runs`` row.

The artifact is one joblib file in ``Settings.model_dir`` holding the ``RoiModel`` (its four
scikit-learn models, version, feature list, training window, horizon and backtest metrics), or,
when the pooled data are too small for it (fewer than ``MIN_CAMPAIGNS`` campaigns with revenue
spending, too short a history, too few examples), a ``SmallModel``: per-campaign forecasts made
at prediction time (``demetra.ml.small``: ROI, CPA or CPC by what the campaign tracks),
backtested the same way; a mixed account's campaigns without revenue are backtested on CPA
or CPC beside the tree's ROI. There is no minimum number of campaigns; a campaign needs
``MIN_CAMPAIGN_DAYS`` days with spend.
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

from demetra import queries
from demetra.config import Settings
from demetra.db.models import ModelRun
from demetra.errors import NotEnoughData, RetrainNeeded, StorageError
from demetra.ml.backtest import backtest, fit_model, origins
from demetra.ml.features import (
    FEATURES,
    LOOKBACK_DAYS,
    MIN_CAMPAIGN_DAYS,
    MIN_CAMPAIGNS,
    MIN_HISTORY_DAYS,
    data_range,
    load_panel,
)
from demetra.ml.model import MODEL_VERSION, RoiModel
from demetra.ml.settings import ModelSettings, load_model_settings
from demetra.ml.small import SMALL_VERSION, SmallModel, backtest_small, campaign_status

Progress = Callable[[float, str], None]
TRAIN_DAYS = 365 + LOOKBACK_DAYS   # history read for training: a year of forecast dates
BACKTEST_ORIGINS = 8     # the blend of demetra.ml.adapt weighs its candidates on these


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
    metrics: dict[str, Any]            # "model", "baselines", "origins", "per_origin", "cpa", "cpc"
    importance: dict[str, float]
    artifact_path: str
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    method: str = "tree"               # "tree" (pooled model) or "small" (per-campaign)
    method_reason: str = ""
    not_forecast: dict[str, str] = field(default_factory=dict)   # campaign id -> why not

    def summary(self) -> str:
        head = (f"Trained model run {self.run_id} ({self.version}, {self.horizon_days}-day horizon) on "
                f"{self.rows:,} rows of {self.campaigns} campaigns, {self.train_start} to "
                f"{self.train_end}, {self.examples:,} examples, in {self.seconds:.1f} s.")
        if self.method != "tree":
            head += f" Per-campaign forecasts, not the pooled tree model: {self.method_reason}."
        parts = [head]
        m = self.metrics.get("model") or {}
        origins = len(self.metrics.get("origins", []))
        if m.get("wmae") is not None:
            best = min(b["wmae"] for b in self.metrics["baselines"].values()
                       if b.get("wmae") is not None)
            coverage = "—" if m.get("coverage") is None else f"{m['coverage']:.0%}"
            brier = "—" if m.get("brier") is None else f"{m['brier']:.3f}"
            parts.append(f"ROI backtest over {origins} origins: spend-weighted MAE {m['wmae']:.3f} "
                         f"(best baseline {best:.3f}), P10–P90 coverage {coverage}, Brier {brier}.")
        for metric, who in (("cpa", "campaigns without revenue"),
                            ("cpc", "campaigns tracking neither revenue nor results")):
            c = (self.metrics.get(metric) or {}).get("model") or {}
            if c.get("wmae") is None:
                continue
            block = self.metrics[metric]
            base = block["baselines"][f"trailing_28d_{metric}"]["wmae"]
            n = len(block.get("origins") or []) or origins
            word = metric.upper()
            parts.append(f"{word} backtest ({who}) over {n} origins: spend-weighted MAE "
                         f"{c['wmae']:.2f} (trailing 28-day {word} {base:.2f}), P10–P90 "
                         f"coverage {c['coverage']:.0%}.")
        if self.not_forecast:
            listed = "; ".join(f"{cid}: {why}" for cid, why in list(self.not_forecast.items())[:10])
            more = len(self.not_forecast) - 10
            parts.append(f"Not forecast ({len(self.not_forecast)}): {listed}"
                         + (f"; and {more} more" if more > 0 else "") + ".")
        return " ".join(parts)


def min_training_days(horizon: int) -> int:
    """Features need 28 days; then a label horizon for training and one for a backtest origin."""
    return MIN_HISTORY_DAYS + 3 * horizon


def _check_history(engine: sa.Engine, horizon: int) -> tuple[dt.date, dt.date]:
    first, last = data_range(engine)
    need = MIN_CAMPAIGN_DAYS + horizon
    if last is None:
        raise NotEnoughData(
            f"no campaign data to train on: a forecast needs at least {MIN_CAMPAIGN_DAYS} days "
            "with spend of a campaign (import data or run `python -m demetra seed`)")
    days = (last - first).days + 1
    if days < need:
        raise NotEnoughData(
            f"only {days} days of campaign data ({first} to {last}); training a {horizon}-day "
            f"forecast needs at least {need} days ({MIN_CAMPAIGN_DAYS} days with spend plus "
            "one horizon to check a forecast against)")
    return max(first, last - dt.timedelta(days=TRAIN_DAYS - 1)), last


def _tree_refusal(panel: Any, status: Any, horizon: int) -> str | None:
    """Why the pooled tree model cannot be trained on ``panel`` (None when it can)."""
    with_revenue = int((status["recent"] & (status["metric"] == "roi")).sum())
    if with_revenue < MIN_CAMPAIGNS:
        return (f"{with_revenue} campaign{'s' if with_revenue != 1 else ''} with revenue spent "
                f"in the last 7 days; the pooled tree model needs {MIN_CAMPAIGNS}")
    if panel.days < min_training_days(horizon):
        return (f"{panel.days} days of data; the pooled tree model needs "
                f"{min_training_days(horizon)}")
    return None


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
              "backtest_origins": BACKTEST_ORIGINS, "lookback_days": LOOKBACK_DAYS,
              "min_campaign_days": MIN_CAMPAIGN_DAYS}
    status = campaign_status(panel, panel.days - 1)
    listed = status.loc[status["recent"] & ~status["eligible"], "reason"]
    names = queries.campaign_names(engine, listed.index) if len(listed) else {}
    not_forecast = {(names[k][0] if k in names and names[k][0] else str(k)): str(v)
                    for k, v in listed.items()}
    if not status["recent"].any():
        raise NotEnoughData(f"no campaign spent in the last 7 days of data (to {end}): there "
                            "is nothing to forecast")
    # Campaigns that cannot be forecast do not stop the training: they are listed.
    refusal = _tree_refusal(panel, status, horizon)
    if refusal is None:
        try:
            return _train_tree(engine, settings, ms, panel, start, end, params, timings, t0,
                               report, not_forecast)
        except NotEnoughData as exc:
            refusal = str(exc)
        except ValueError as exc:   # scikit-learn on too small a sample
            refusal = f"the pooled tree model could not be fitted ({exc})"
    return _train_small(engine, settings, ms, panel, start, end, params, timings, t0, report,
                        not_forecast, refusal)


def _train_small(engine: sa.Engine, settings: Settings, ms: ModelSettings, panel: Any,
                 start: dt.date, end: dt.date, params: dict, timings: dict, t0: float,
                 report: Progress, not_forecast: dict[str, str], reason: str) -> TrainResult:
    horizon = int(ms.horizon_days)
    params = {**params, "method": "small", "method_reason": reason}
    report(0.05, "Backtesting per-campaign forecasts")
    t1 = time.perf_counter()
    try:
        bt = backtest_small(panel, horizon, ms.thresholds)
        bt.pop("_forecasts")
    except Exception as exc:
        _record_failure(engine, params, start, end, exc, time.perf_counter() - t0, SMALL_VERSION)
        raise
    timings["backtest"] = time.perf_counter() - t1
    model = SmallModel(horizon_days=horizon, train_start=start, train_end=end, reason=reason,
                       metrics=_finite(bt))
    examples = sum(int((m or {}).get("n") or 0) for m in
                   (bt.get("model"), (bt.get("cpa") or {}).get("model"),
                    (bt.get("cpc") or {}).get("model")))
    bt = {**bt, "method": "small", "method_reason": reason, "not_forecast": not_forecast}
    return _save(engine, settings, model, params, bt, {}, panel, start, end, examples, timings,
                 t0, report, "small", reason, not_forecast)


def _train_tree(engine: sa.Engine, settings: Settings, ms: ModelSettings, panel: Any,
                start: dt.date, end: dt.date, params: dict, timings: dict, t0: float,
                report: Progress, not_forecast: dict[str, str]) -> TrainResult:
    horizon = int(ms.horizon_days)
    params = {**params, "method": "tree"}
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
    except (NotEnoughData, ValueError):
        raise   # too little for the pooled model: train() falls back to per-campaign forecasts
    except Exception as exc:
        _record_failure(engine, params, start, end, exc, time.perf_counter() - t0)
        raise
    importance = bt.pop("importance")
    bt.pop("_forecasts")
    model.blend = bt.pop("_blend")
    bt["blend"] = {"weights": model.blend.weights, "errors": model.blend.errors}
    if campaign_status(panel, panel.days - 1)["metric"].isin(["cpa", "cpc"]).any():
        # A mixed account: its campaigns without revenue are forecast per campaign, on CPA
        # (results tracked) or CPC (neither tracked).
        small = backtest_small(panel, horizon, ms.thresholds)
        bt |= {m: small[m] for m in ("cpa", "cpc") if small.get(m)}
    model.train_start, model.train_end = start, end
    model.metrics = _finite(bt)
    bt = {**bt, "method": "tree", "not_forecast": not_forecast}
    return _save(engine, settings, model, params, bt, importance, panel, start, end, len(ex),
                 timings, t0, report, "tree", "", not_forecast)


def _save(engine: sa.Engine, settings: Settings, model: Any, params: dict, bt: dict,
          importance: dict, panel: Any, start: dt.date, end: dt.date, examples: int,
          timings: dict, t0: float, report: Progress, method: str, reason: str,
          not_forecast: dict[str, str]) -> TrainResult:
    horizon = int(params["horizon_days"])
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
                       "examples": examples, "rows": panel.rows})
    with engine.begin() as conn:
        conn.execute(sa.update(ModelRun).where(ModelRun.id == run_id).values(
            status="ok", metrics=metrics, artifact_path=str(path), duration_seconds=seconds))
    report(1.0, f"Model run {run_id} saved")
    return TrainResult(run_id=run_id, version=model.version, horizon_days=horizon,
                       train_start=start, train_end=end, rows=panel.rows,
                       campaigns=len(panel.campaign_ids), examples=examples, metrics=bt,
                       importance=importance, artifact_path=str(path), seconds=seconds,
                       timings=timings, method=method, method_reason=reason,
                       not_forecast=not_forecast)


def _record_failure(engine: sa.Engine, params: dict, start: dt.date, end: dt.date,
                    exc: Exception, seconds: float, version: str = MODEL_VERSION) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(ModelRun).values(
                version=version, status="failed", parameters=params, train_start=start,
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
                      model_settings: ModelSettings | None = None
                      ) -> tuple[int, RoiModel | SmallModel]:
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
    if isinstance(model, SmallModel):
        if model.version != SMALL_VERSION:
            raise RetrainNeeded(f"model run {run_id} was made by version {model.version}, "
                                f"this is {SMALL_VERSION}: {hint}")
        if int(model.horizon_days) != int(ms.horizon_days):
            raise RetrainNeeded(f"model run {run_id} forecasts {model.horizon_days} days ahead "
                                f"but the horizon is now {ms.horizon_days}: {hint}")
        return run_id, model
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

"""Predictions: forecast every campaign that spent in the last 7 days of data, write them.

One batch per (as-of day, horizon): re-running on the same data replaces the batch instead of
adding to it, so a cron job can run ``python -m demetra predict`` as often as it likes.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.config import Settings
from demetra.db.models import Prediction
from demetra.errors import NotEnoughData
from demetra.ml.features import (
    FULL_METRIC_DAYS,
    LOOKBACK_DAYS,
    data_range,
    features_at,
    load_panel,
    recent_spend,
)
from demetra.ml.risk import risk_level
from demetra.ml.settings import ModelSettings, load_model_settings
from demetra.ml.train import load_latest_model

_BATCH = 1000


@dataclass
class PredictResult:
    model_run_id: int
    as_of: dt.date
    horizon_days: int
    written: int
    skipped_no_spend: int       # campaigns in the lookback window without spend in the last 7 days
    skipped_invalid: int        # forecasts that were not finite numbers (never written)
    risk_counts: dict[str, int]
    seconds: float

    def summary(self) -> str:
        risks = ", ".join(f"{self.risk_counts.get(k, 0)} {k}" for k in ("high", "medium", "low"))
        return (f"Wrote {self.written} predictions (as of {self.as_of}, {self.horizon_days}-day "
                f"horizon, model run {self.model_run_id}): {risks} risk; skipped "
                f"{self.skipped_no_spend} campaigns without spend in the last 7 days and "
                f"{self.skipped_invalid} invalid forecasts, in {self.seconds:.2f} s.")


def predict(engine: sa.Engine, settings: Settings | None = None, *,
            model_settings: ModelSettings | None = None,
            progress: Callable[[float, str], None] | None = None) -> PredictResult:
    """Forecast ROI over the next ``horizon`` days after the newest day of data for every
    campaign that spent in the 7 days up to it, and write the predictions.

    Raises ``RetrainNeeded`` without a usable model and ``NotEnoughData`` without data.
    """
    report = progress or (lambda _f, _t: None)
    t0 = time.perf_counter()
    ms = (model_settings or load_model_settings(engine)).validated()
    run_id, model = load_latest_model(engine, settings, ms)
    _, last = data_range(engine)
    if last is None:
        raise NotEnoughData("no campaign data to forecast: import data or run `python -m demetra seed`")
    report(0.1, f"Reading the {LOOKBACK_DAYS} days up to {last}")
    panel = load_panel(engine, last - dt.timedelta(days=LOOKBACK_DAYS - 1), last,
                       full_days=FULL_METRIC_DAYS)
    t = panel.day_index(last)
    X = features_at(panel, t)
    spent = recent_spend(panel, t) > 0
    report(0.4, f"Forecasting {int(spent.sum())} campaigns")
    fc = model.predict(X[spent]) if spent.any() else pd.DataFrame(
        columns=["predicted_roi", "predicted_roi_low", "predicted_roi_high", "prob_loss"])
    values = fc.to_numpy(float)
    ok = np.isfinite(values).all(axis=1) if len(values) else np.zeros(0, bool)
    fc = fc[ok]
    risk = risk_level(fc["prob_loss"].to_numpy(float), ms.thresholds) if len(fc) else np.array([])
    rows = [{"campaign_id": str(cid), "predicted_roi": float(r.predicted_roi),
             "predicted_roi_low": float(r.predicted_roi_low),
             "predicted_roi_high": float(r.predicted_roi_high), "prob_loss": float(r.prob_loss),
             "risk_level": str(level), "horizon_days": int(ms.horizon_days), "as_of": last,
             "model_run_id": run_id}
            for cid, r, level in zip(fc.index, fc.itertuples(index=False), risk, strict=True)]
    report(0.7, f"Writing {len(rows)} predictions")
    with engine.begin() as conn:
        conn.execute(sa.delete(Prediction).where(Prediction.as_of == last,
                                                 Prediction.horizon_days == int(ms.horizon_days)))
        for i in range(0, len(rows), _BATCH):
            conn.execute(sa.insert(Prediction), rows[i:i + _BATCH])
    counts = pd.Series(risk, dtype=object).value_counts().to_dict() if len(risk) else {}
    report(1.0, f"Wrote {len(rows)} predictions")
    return PredictResult(model_run_id=run_id, as_of=last, horizon_days=int(ms.horizon_days),
                         written=len(rows), skipped_no_spend=int((~spent).sum()),
                         skipped_invalid=int((~ok).sum()),
                         risk_counts={str(k): int(v) for k, v in counts.items()},
                         seconds=time.perf_counter() - t0)


def latest_predictions(engine: sa.Engine, *, limit: int = 10_000) -> pd.DataFrame:
    """The newest prediction of each campaign (of the newest as-of day), riskiest first."""
    p = Prediction.__table__.c
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(p.as_of))).scalar()
        columns = ["campaign_id", "predicted_roi", "predicted_roi_low", "predicted_roi_high",
                   "prob_loss", "risk_level", "horizon_days", "as_of", "model_run_id", "created_at"]
        if newest is None:
            return pd.DataFrame(columns=columns)
        latest = (sa.select(sa.func.max(p.id).label("id")).where(p.as_of == newest)
                  .group_by(p.campaign_id).subquery())
        q = (sa.select(*(p[c] for c in columns)).join(latest, latest.c.id == p.id)
             .order_by(p.prob_loss.desc().nulls_last(), p.campaign_id).limit(limit))
        rows = conn.execute(q).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=columns)

"""Predictions: forecast every campaign that spent in the last 7 days of data, write them.

ROI where a campaign tracks revenue, CPA (cost per result) where it tracks results only, CPC
(cost per click) where it tracks neither; by the pooled tree model where it was trained (ROI),
else per campaign (``demetra.ml.small``). CPA and CPC share the cost-per-outcome columns, told
apart by ``metric``. Each row names its method and why; a campaign that cannot be forecast is
listed with its reason.

One batch per (as-of day, horizon): re-running on the same data replaces the batch instead of
adding to it, so a cron job can run ``python -m demetra predict`` as often as it likes.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra import queries
from demetra.config import Settings
from demetra.db.models import Prediction
from demetra.errors import NotEnoughData
from demetra.ml.adapt import roi_candidates
from demetra.ml.features import (
    FULL_METRIC_DAYS,
    LOOKBACK_DAYS,
    Panel,
    data_range,
    features_at,
    load_panel,
    recent_spend,
)
from demetra.ml.model import RoiModel
from demetra.ml.risk import risk_level
from demetra.ml.settings import ModelSettings, load_model_settings
from demetra.ml.small import METHOD_LABELS, campaign_status, forecast
from demetra.ml.train import load_latest_model

_BATCH = 1000
METRIC_WORDS = {"roi": "ROI", "cpa": "CPA", "cpc": "CPC"}


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
    methods: dict[str, int] = field(default_factory=dict)        # method -> forecasts it served
    metrics: dict[str, int] = field(default_factory=dict)        # "roi" / "cpa" / "cpc" -> forecasts
    not_forecast: dict[str, str] = field(default_factory=dict)   # campaign -> why not (listed)

    def summary(self) -> str:
        risks = ", ".join(f"{self.risk_counts.get(k, 0)} {k}" for k in ("high", "medium", "low"))
        kinds = ", ".join(f"{n} {METRIC_WORDS.get(k, k)}" for k, n in self.metrics.items())
        methods = ", ".join(f"{n} by {METHOD_LABELS.get(k, k)}" for k, n in self.methods.items())
        text = (f"Wrote {self.written} predictions (as of {self.as_of}, {self.horizon_days}-day "
                f"horizon, model run {self.model_run_id})"
                + (f": {kinds}; {methods}" if kinds else "")
                + f"; {risks} risk; skipped {self.skipped_no_spend} campaigns without spend in "
                f"the last 7 days and {self.skipped_invalid} invalid forecasts, in "
                f"{self.seconds:.2f} s.")
        if self.not_forecast:
            listed = "; ".join(f"{c}: {why}" for c, why in list(self.not_forecast.items())[:10])
            more = len(self.not_forecast) - 10
            text += (f" Not forecast ({len(self.not_forecast)}): {listed}"
                     + (f"; and {more} more" if more > 0 else "") + ".")
        return text


_ROW_COLUMNS = ("predicted_roi", "predicted_roi_low", "predicted_roi_high", "prob_loss",
                "predicted_cpa", "predicted_cpa_low", "predicted_cpa_high", "cpa_target",
                "prob_cpa_above")


def _number(value: object) -> float | None:
    try:
        v = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _blended(model: RoiModel, panel: Panel, t: int, tree: np.ndarray,
             fc: pd.DataFrame) -> pd.DataFrame:
    """The trees' forecasts of the campaigns ``tree`` marks, blended with the simple ones by
    the account's backtest, with the blend's interval (the trees' where it has none)."""
    blend = model.blend
    full = np.full(len(tree), np.nan)
    full[tree] = fc["predicted_roi"].to_numpy(float)
    linear = model.linear.predict(panel, t) if getattr(model, "linear", None) else None
    point = blend.point(roi_candidates(panel, t, full, linear))[tree]
    low, high, prob = blend.interval(point)
    none = ~np.isfinite(low)
    return pd.DataFrame({
        "predicted_roi": point,
        "predicted_roi_low": np.where(none, fc["predicted_roi_low"].to_numpy(float), low),
        "predicted_roi_high": np.where(none, fc["predicted_roi_high"].to_numpy(float), high),
        "prob_loss": np.where(none, fc["prob_loss"].to_numpy(float), prob)}, index=fc.index)


def predict(engine: sa.Engine, settings: Settings | None = None, *,
            model_settings: ModelSettings | None = None,
            progress: Callable[[float, str], None] | None = None) -> PredictResult:
    """Forecast the next ``horizon`` days after the newest day of data for every campaign
    that spent in the 7 days up to it (ROI where it tracks revenue, else CPA where it tracks
    results, else CPC), and write the predictions. A campaign that cannot be forecast (too
    short a history, no outcome at all, not even clicks) is
    written as a ``metric = "none"`` row with its reason, so that it is listed, not lost.

    Raises ``RetrainNeeded`` without a usable model and ``NotEnoughData`` without data.
    """
    report = progress or (lambda _f, _t: None)
    t0 = time.perf_counter()
    ms = (model_settings or load_model_settings(engine)).validated()
    run_id, model = load_latest_model(engine, settings, ms)
    horizon = int(ms.horizon_days)
    _, last = data_range(engine)
    if last is None:
        raise NotEnoughData("no campaign data to forecast: import data or run `python -m demetra seed`")
    report(0.1, f"Reading the {LOOKBACK_DAYS} days up to {last}")
    panel = load_panel(engine, last - dt.timedelta(days=LOOKBACK_DAYS - 1), last,
                       full_days=FULL_METRIC_DAYS)
    t = panel.day_index(last)
    spent = recent_spend(panel, t) > 0
    status = campaign_status(panel, t)
    eligible = status["eligible"].to_numpy(bool)
    report(0.4, f"Forecasting {int(eligible.sum())} campaigns")
    out = pd.DataFrame(index=status.index)
    tree = np.zeros(len(status), bool)
    if isinstance(model, RoiModel):
        # The pooled model serves the campaigns it was trained on: those tracking revenue.
        tree = eligible & (status["metric"].to_numpy() == "roi")
        if tree.any():
            X = features_at(panel, t)
            fc = model.predict(X[tree])
            if model.blend is not None:
                fc = _blended(model, panel, t, tree, fc)
            out = out.join(fc)
    reason_tree = ("pooled tree model: trained on every campaign with revenue of the account"
                   if getattr(model, "blend", None) is None else
                   "pooled tree model, the account's regression and simple forecasts, "
                   f"{model.blend.describe()}")
    method_tree = "tree" if getattr(model, "blend", None) is None else "adaptive"
    targets = np.array([ms.cpa_target(str(c)) or np.nan for c in panel.channels], dtype=float)
    rest = status.assign(eligible=eligible & ~tree)
    small = forecast(panel, t, horizon, rest, targets) if rest["eligible"].any() else None
    rows, invalid = [], 0
    for i, cid in enumerate(status.index):
        if not spent[i]:
            continue
        base = {"campaign_id": str(cid), "horizon_days": horizon, "as_of": last,
                "model_run_id": run_id}
        if tree[i]:
            r = out.iloc[i]
            values = {c: _number(r.get(c)) for c in _ROW_COLUMNS}
            row = {**base, **values, "metric": "roi", "method": method_tree,
                   "method_reason": reason_tree}
        elif eligible[i] and small is not None and small["method"].iloc[i] is not None:
            r = small.iloc[i]
            values = {c: _number(r[c]) for c in _ROW_COLUMNS}
            row = {**base, **values, "metric": str(r["metric"]), "method": str(r["method"]),
                   "method_reason": str(r["method_reason"])}
        else:
            why = (status["reason"].iloc[i]
                   or (small["method_reason"].iloc[i] if small is not None else None)
                   or "no forecast could be made from its history")
            rows.append({**base, **dict.fromkeys(_ROW_COLUMNS), "metric": "none",
                         "method": None, "method_reason": why, "risk_level": "none"})
            continue
        prob = row["prob_loss"] if row["metric"] == "roi" else row["prob_cpa_above"]
        point = row["predicted_roi"] if row["metric"] == "roi" else row["predicted_cpa"]
        if prob is None or point is None:
            invalid += 1
            continue
        row["risk_level"] = str(risk_level(prob, ms.thresholds))
        rows.append(row)
    report(0.7, f"Writing {len(rows)} predictions")
    with engine.begin() as conn:
        conn.execute(sa.delete(Prediction).where(Prediction.as_of == last,
                                                 Prediction.horizon_days == horizon))
        for i in range(0, len(rows), _BATCH):
            conn.execute(sa.insert(Prediction), rows[i:i + _BATCH])
    served = [r for r in rows if r["metric"] != "none"]
    not_forecast = {r["campaign_id"]: r["method_reason"] for r in rows if r["metric"] == "none"}
    names = queries.campaign_names(engine, list(not_forecast)) if not_forecast else {}
    not_forecast = {(names[c][0] if c in names and names[c][0] else c): why
                    for c, why in not_forecast.items()}
    counts = pd.Series([r["risk_level"] for r in served], dtype=object).value_counts().to_dict()
    methods = pd.Series([r["method"] for r in served], dtype=object).value_counts().to_dict()
    metrics = pd.Series([r["metric"] for r in served], dtype=object).value_counts().to_dict()
    report(1.0, f"Wrote {len(served)} predictions")
    return PredictResult(model_run_id=run_id, as_of=last, horizon_days=horizon,
                         written=len(served), skipped_no_spend=int((~spent).sum()),
                         skipped_invalid=invalid,
                         risk_counts={str(k): int(v) for k, v in counts.items()},
                         seconds=time.perf_counter() - t0,
                         methods={str(k): int(v) for k, v in methods.items()},
                         metrics={str(k): int(v) for k, v in metrics.items()},
                         not_forecast=not_forecast)


PREDICTION_COLUMNS = ["campaign_id", "metric", "method", "method_reason", "predicted_roi",
                      "predicted_roi_low", "predicted_roi_high", "prob_loss", "predicted_cpa",
                      "predicted_cpa_low", "predicted_cpa_high", "cpa_target", "prob_cpa_above",
                      "risk_level", "horizon_days", "as_of", "model_run_id", "created_at"]


def latest_predictions(engine: sa.Engine, *, limit: int = 10_000,
                       not_forecast: bool = False) -> pd.DataFrame:
    """The newest forecast of each campaign (of the newest as-of day), riskiest first (by
    P(ROI < 1), or P(CPA > target) / P(CPC > target) for CPA and CPC forecasts). ``metric``
    is "roi", "cpa" or "cpc" (NULL on rows written before it existed: ROI). With
    ``not_forecast``, the campaigns listed as not forecast (``metric = "none"``, the reason
    in ``method_reason``) instead."""
    p = Prediction.__table__.c
    with engine.connect() as conn:
        newest = conn.execute(sa.select(sa.func.max(p.as_of))).scalar()
        if newest is None:
            return pd.DataFrame(columns=PREDICTION_COLUMNS)
        listed = p.metric == "none"
        latest = (sa.select(sa.func.max(p.id).label("id"))
                  .where(p.as_of == newest, listed if not_forecast
                         else sa.or_(p.metric.is_(None), p.metric != "none"))
                  .group_by(p.campaign_id).subquery())
        risk = sa.func.coalesce(p.prob_loss, p.prob_cpa_above)
        q = (sa.select(*(p[c] for c in PREDICTION_COLUMNS)).join(latest, latest.c.id == p.id)
             .order_by(risk.desc().nulls_last(), p.campaign_id).limit(limit))
        rows = conn.execute(q).all()
    df = pd.DataFrame([tuple(r) for r in rows], columns=PREDICTION_COLUMNS)
    if not not_forecast and len(df):
        df["metric"] = df["metric"].fillna("roi")
    return df

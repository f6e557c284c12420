"""Rolling-origin backtest of the ROI model against three naive baselines.

Origins are the last ``n`` forecast dates spaced ``horizon`` days apart, newest first, each
leaving a full horizon of realised data after it. At an origin o the model is trained only on
examples at t' with t' + horizon ≤ o (their labels are known by o) and forecasts ROI over
(o, o + horizon] for every campaign that spent in the 7 days up to o (and spent after it,
so that the realised ROI exists). Metrics are pooled over all origins (with ``warmup``, over the
scored ones: see ``backtest``).

Baselines (point = the ratio named; interval and prob_loss from the empirical distribution of
realised-over-baseline log ratios in the same training examples, so they are scored on every
metric): the campaign's trailing 28-day ROI, its trailing 7-day ROI, and its channel's
trailing 28-day ROI.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from demetra.errors import NotEnoughData
from demetra.ml.adapt import Blend, Record, fit_blend, roi_candidates, weights
from demetra.ml.features import MIN_HISTORY_DAYS, Panel, features_at, labels_at, recent_spend
from demetra.ml.linear import LinearYield, strided_days
from demetra.ml.model import HIGH_Q, LOW_Q, OFFSET, RoiModel, from_z
from demetra.ml.risk import risk_level

BASELINES = {"trailing_28d_roi": "roi_28", "trailing_7d_roi": "roi_7",
             "channel_28d_roi": "channel_roi_28"}
MAX_EXAMPLES = 40_000     # training examples per fit: dates are strided to stay under it
CALIBRATION_SHARE = 0.2   # the newest fifth of training dates conformalises the interval


@dataclass
class Examples:
    X: pd.DataFrame
    roi: np.ndarray          # realised ROI over the horizon
    spend: np.ndarray        # realised spend over the horizon
    weight: np.ndarray       # trailing 28-day spend (what is known at t)
    t: np.ndarray            # day index of the forecast date

    def __len__(self) -> int:
        return len(self.roi)

    def take(self, mask: np.ndarray) -> Examples:
        return Examples(self.X[mask], self.roi[mask], self.spend[mask], self.weight[mask], self.t[mask])


def examples(panel: Panel, days: list[int], horizon: int) -> Examples:
    """Examples at each day index in ``days``: campaigns that spent in the 7 days up to t and
    over the horizon after it."""
    parts, rois, spends, weights, ts = [], [], [], [], []
    for t in days:
        X = features_at(panel, t)
        roi, spend = labels_at(panel, t, horizon)
        # Only labels over rows that track revenue: an untracked week is not an ROI of 0.
        tracked = panel.ahead("revenue_cost", t, horizon) >= spend * (1 - 1e-9)
        keep = (recent_spend(panel, t) > 0) & (spend > 0) & np.isfinite(roi) & tracked
        parts.append(X[keep])
        rois.append(roi[keep])
        spends.append(spend[keep])
        weights.append(panel.window("cost", t, 28)[keep])
        ts.append(np.full(int(keep.sum()), t))
    if not parts:
        return Examples(features_at(panel, 0).iloc[:0], *(np.array([]) for _ in range(4)))
    return Examples(pd.concat(parts), np.concatenate(rois), np.concatenate(spends),
                    np.concatenate(weights), np.concatenate(ts))


def training_days(panel: Panel, last_label_day: int, horizon: int) -> list[int]:
    """Forecast dates whose label window ends by ``last_label_day``, strided to ``MAX_EXAMPLES``."""
    return strided_days(panel, last_label_day, horizon, MIN_HISTORY_DAYS - 1, MAX_EXAMPLES)


def fit_model(panel: Panel, last_label_day: int, horizon: int) -> tuple[RoiModel, Examples]:
    """A model trained on every example whose label is known by day ``last_label_day``, with
    the account's linear regression (:mod:`demetra.ml.linear`) fitted on the same days."""
    days = training_days(panel, last_label_day, horizon)
    ex = examples(panel, days, horizon)
    if len(ex) < 100:
        raise NotEnoughData(
            f"only {len(ex)} training examples (campaigns with spend before and after a forecast "
            f"date) up to {panel.date_of(last_label_day)}; training needs at least 100: load more "
            "days or more campaigns")
    dates = np.unique(ex.t)
    cut = dates[int(len(dates) * (1 - CALIBRATION_SHARE))] if len(dates) >= 5 else dates[-1] + 1
    model = RoiModel(horizon_days=horizon).fit(ex.X, ex.roi, ex.weight, calibration=ex.t >= cut)
    model.linear = LinearYield.fit(panel, days, horizon)
    return model, ex


def baseline_forecast(train: Examples, X: pd.DataFrame, column: str) -> pd.DataFrame:
    """Point = the baseline ratio; P10/P90 and prob_loss from the training examples' realised /
    baseline ratios."""
    def base(frame: pd.DataFrame) -> np.ndarray:
        b = frame[column].to_numpy(float)
        fallback = frame["channel_roi_28"].to_numpy(float)
        b = np.where(np.isfinite(b), b, fallback)
        return np.where(np.isfinite(b), b, 1.0)

    b_train = base(train.X)
    ratios = np.sort(np.log((train.roi + OFFSET) / (b_train + OFFSET)))
    b = base(X)
    lo, hi = np.quantile(ratios, [LOW_Q, HIGH_Q])
    # P(realised < 1) = P(log ratio < log((1 + c) / (b + c)))
    prob = np.searchsorted(ratios, np.log((1 + OFFSET) / (b + OFFSET))) / len(ratios)
    return pd.DataFrame({"predicted_roi": b,
                         "predicted_roi_low": np.maximum((b + OFFSET) * np.exp(lo) - OFFSET, 0),
                         "predicted_roi_high": np.maximum((b + OFFSET) * np.exp(hi) - OFFSET, 0),
                         "prob_loss": prob}, index=X.index)


def score(forecast: pd.DataFrame, roi: np.ndarray, spend: np.ndarray,
          thresholds: tuple[float, float]) -> dict[str, float | int | None]:
    """Spend-weighted and plain MAE, P10–P90 coverage, Brier score of prob_loss, and the
    precision / recall of "high" risk for a realised ROI < 1."""
    point = forecast["predicted_roi"].to_numpy(float)
    err = np.abs(point - roi)
    loss = roi < 1.0
    prob = forecast["prob_loss"].to_numpy(float)
    high = risk_level(prob, thresholds) == "high"
    inside = ((forecast["predicted_roi_low"].to_numpy(float) <= roi)
              & (roi <= forecast["predicted_roi_high"].to_numpy(float)))
    return {
        "n": int(len(roi)),
        "wmae": float(np.sum(err * spend) / np.sum(spend)) if spend.sum() > 0 else None,
        "mae": float(err.mean()) if len(err) else None,
        "coverage": float(inside.mean()) if len(err) else None,
        "brier": float(np.mean((prob - loss) ** 2)) if len(err) else None,
        "high_precision": float(loss[high].mean()) if high.any() else None,
        "high_recall": float(high[loss].mean()) if loss.any() else None,
        "high_count": int(high.sum()),
        "loss_count": int(loss.sum()),
    }


def origins(last_day: int, horizon: int, n: int) -> list[int]:
    """Up to ``n`` origins, newest first, each with ``horizon`` realised days after it and room
    for training before it."""
    out = [last_day - horizon * (k + 1) for k in range(n)]
    return [o for o in out if o - horizon >= MIN_HISTORY_DAYS - 1 + horizon]


def backtest(panel: Panel, horizon: int, thresholds: tuple[float, float], *, n_origins: int = 4,
             warmup: int = 0, progress: Callable[[float, str], None] | None = None) -> dict[str, Any]:
    """Backtest metrics of the served forecast (``model``: the blend of the trees and the simple
    forecasts, :mod:`demetra.ml.adapt`), of the trees alone (``tree``) and of the baselines,
    pooled over the origins, plus permutation importance of each feature (on the trees'
    forecasts). ``_blend`` (the blend to serve) and ``_forecasts`` (every forecast, for the
    benchmarks) are for the caller to pop: they are not JSON.

    ``warmup`` more origins before the ``n_origins`` scored ones are run for their records
    only, so that every scored origin is served as a trained model serves: by the blend of
    the ``n_origins`` origins before it (without them the first scored origin has no backtest
    to weigh by, the second one origin; benchmarks/bench_ml.py --zoo measures with them)."""
    last = panel.days - 1
    origin_days = origins(last, horizon, n_origins + warmup)
    if not origin_days:
        raise ValueError("not enough days for a backtest origin")
    forecasts: dict[str, list[pd.DataFrame]] = {"tree": [], **{b: [] for b in BASELINES}}
    rois, spends, evals, per_origin, records, kept = [], [], [], [], [], []
    position = {c: i for i, c in enumerate(panel.campaign_ids)}
    for k, o in enumerate(origin_days):
        if progress:
            progress(k / len(origin_days),
                     f"Backtest origin {panel.date_of(o)} ({k + 1}/{len(origin_days)})")
        model, train = fit_model(panel, o, horizon)
        test = examples(panel, [o], horizon)
        if len(test) == 0:
            continue
        fc = model.predict(test.X)
        forecasts["tree"].append(fc)
        for name, column in BASELINES.items():
            forecasts[name].append(baseline_forecast(train, test.X, column))
        rois.append(test.roi)
        spends.append(test.spend)
        evals.append((model, test))
        pos = np.array([position[c] for c in test.X.index], dtype=int)
        tree = np.full(len(panel.campaign_ids), np.nan)
        tree[pos] = fc["predicted_roi"].to_numpy(float)
        cands = roi_candidates(panel, o, tree, model.linear.predict(panel, o))
        records.append(Record({m: f[pos] for m, f in cands.items()}, test.roi, test.spend))
        kept.append((o, test.X.index))
        row = {"origin": panel.date_of(o).isoformat(), "train_examples": len(train),
               **score(fc, test.roi, test.spend, thresholds)}
        per_origin.append(row)
    # The served forecast at each origin is weighed on the origins before it only (their
    # labels are known by then), and so is its interval: the backtest scores what would have
    # served. Origins run newest first above; the blend needs them in time order.
    order = np.argsort([o for o, _ in kept])
    served, details = [None] * len(kept), []
    for rank, j in enumerate(order):
        before = [records[i] for i in order[max(0, rank - n_origins):rank]]
        blend = fit_blend(before) if before else Blend(weights({}))
        point = blend.point(records[j].fc)
        low, high, prob = blend.interval(point)
        tree_fc = forecasts["tree"][j]
        no_interval = ~np.isfinite(low)
        low = np.where(no_interval, tree_fc["predicted_roi_low"].to_numpy(float), low)
        high = np.where(no_interval, tree_fc["predicted_roi_high"].to_numpy(float), high)
        prob = np.where(no_interval, tree_fc["prob_loss"].to_numpy(float), prob)
        served[j] = pd.DataFrame({"predicted_roi": point, "predicted_roi_low": low,
                                  "predicted_roi_high": high, "prob_loss": prob},
                                 index=tree_fc.index)
        o, ids = kept[j]
        details.append(pd.DataFrame({"origin": o, "campaign_id": ids, "served": point,
                                     "real": records[j].real, "spend": records[j].spend,
                                     **records[j].fc}))
    newest = set(origin_days[:n_origins])
    sc = [i for i, (o, _) in enumerate(kept) if o in newest]   # the scored origins
    roi, spend = np.concatenate([rois[i] for i in sc]), np.concatenate([spends[i] for i in sc])
    result: dict[str, Any] = {
        "origins": [per_origin[i]["origin"] for i in sc],
        "per_origin": [per_origin[i] for i in sc],
        "model": score(pd.concat([served[i] for i in sc]), roi, spend, thresholds),
        "tree": score(pd.concat([forecasts["tree"][i] for i in sc]), roi, spend, thresholds),
        "baselines": {name: score(pd.concat([forecasts[name][i] for i in sc]), roi, spend,
                                  thresholds) for name in BASELINES},
        "_blend": fit_blend([records[i] for i in order][-n_origins:]),
        "_forecasts": pd.concat([d for d in details if d["origin"].iloc[0] in newest],
                                ignore_index=True),
    }
    # On the newest origin only: it costs a prediction per feature and repeat.
    result["importance"] = permutation_importance(evals[:1])
    return result


def permutation_importance(evals: list[tuple[RoiModel, Examples]], repeats: int = 2,
                           seed: int = 0) -> dict[str, float]:
    """Increase of the spend-weighted MAE when a feature is shuffled (within each origin given),
    averaged over ``repeats`` shuffles; sorted, largest first."""
    rng = np.random.default_rng(seed)

    def wmae(model: RoiModel, ex: Examples, X: pd.DataFrame) -> float:
        # The point model alone: the interval and loss models do not move the MAE.
        p = from_z(model.point_z(X), X["roi_ref"].to_numpy(float))
        return float(np.sum(np.abs(p - ex.roi) * ex.spend))

    total_spend = sum(float(ex.spend.sum()) for _, ex in evals) or 1.0
    base = sum(wmae(m, ex, ex.X) for m, ex in evals)
    out = {}
    for feature in evals[0][0].features:
        increase = 0.0
        for _ in range(repeats):
            for model, ex in evals:
                X = ex.X.copy()
                X[feature] = rng.permutation(X[feature].to_numpy())
                increase += wmae(model, ex, X)
        out[feature] = (increase / repeats - base) / total_spend
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))

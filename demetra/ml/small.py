"""Forecasts that need no pooled model: for small accounts and campaigns without revenue.

A campaign is forecast on what it tracks: ROI (revenue per unit of spend) when it tracks
revenue, else CPA (cost per result) when it tracks results, else nothing ("revenue and results
not tracked": listed with that reason, never an ROI of 0). It needs ``MIN_CAMPAIGN_DAYS`` days
with spend in the lookback; below that it is listed with the reason.

Everything is computed on the campaign's *yield*, outcome per unit of spend (revenue or
results per $; CPA = 1 / yield), from sums over the rows that track the outcome. Three
forecasters compete:

* ``shrinkage``: the campaign's yield over the last ``SHRINK_WINDOW`` days shrunk towards its
  channel's, itself shrunk towards the account's, with credibility n / (n + ``CREDIBILITY``),
  n the volume behind the yield (results or conversions; days with spend when there are none);
* ``trailing_28d`` and ``trailing_7d``: the campaign's own trailing yield.

A rolling-origin backtest (origins every horizon days back, labels known by the forecast date)
of every campaign of the account with the same metric picks the method: ``trailing_28d`` unless
another's pooled spend-weighted error is below ``SWITCH_MARGIN`` of it (chosen per campaign on
a few weeks, the pick was noise as often as skill: benchmarks/RESULTS.md, "Forecasts on small
accounts"); with no backtest at all, ``shrinkage``. The P10–P90 interval and the probabilities
come from the realised / forecast ratios of the chosen method in the campaign's own backtest
(when it has ``MIN_RATIOS``, else pooled; split-conformal order statistics, never narrower
than the counting noise of the volume expected over the horizon), or, without enough of them,
from a spread set by that volume. Every row says which method served it and
why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from demetra.ml.features import MIN_CAMPAIGN_DAYS, Panel, recent_spend

SMALL_VERSION = "small-shrink-1"
METHODS = ("shrinkage", "trailing_28d", "trailing_7d")
METHOD_LABELS = {"tree": "pooled tree model", "shrinkage": "shrinkage to channel and account",
                 "trailing_28d": "trailing 28 days", "trailing_7d": "trailing 7 days"}
OUTCOMES = {"roi": ("revenue", "revenue_cost"), "cpa": ("conversions", "result_cost")}
SHRINK_WINDOW = 56
CREDIBILITY = 20.0        # volume at which a campaign's own yield weighs half
OWN_ORIGINS = 12
MIN_OWN_ORIGINS = 3
MIN_RATIOS = 6
DEFAULT_METHOD = "trailing_28d"
SWITCH_MARGIN = 0.9       # another method serves when its backtest error is below this share
METRIC_DAYS = 91          # the window that decides what a campaign tracks
CPA_HIGH_CAP = 20.0       # P90 of CPA at most this many times the point (a week without results)
_Z90 = 1.2815515655446004


@dataclass
class SmallModel:
    """The artifact of a training that did not fit the pooled tree model: the forecasts are
    made at prediction time from each campaign's own history; this keeps why and the
    backtest."""

    horizon_days: int
    version: str = SMALL_VERSION
    features: list[str] = field(default_factory=list)
    train_start: Any = None
    train_end: Any = None
    reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


def campaign_status(panel: Panel, t: int) -> pd.DataFrame:
    """Per campaign at day ``t``: ``metric`` (roi, cpa or none), ``spend_days`` in the panel up
    to t, ``recent`` (spent in the last 7 days), ``eligible`` and, where not, ``reason``."""
    lo = max(t + 1 - METRIC_DAYS, 0)
    cost = panel.grid["cost"][:, lo:t + 1].sum(axis=1)
    rev_cost = panel.grid["revenue_cost"][:, lo:t + 1].sum(axis=1)
    res_cost = panel.grid["result_cost"][:, lo:t + 1].sum(axis=1)
    results = panel.grid["conversions"][:, lo:t + 1].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rev_share = np.where(cost > 0, rev_cost / cost, 0.0)
        res_share = np.where(cost > 0, res_cost / cost, 0.0)
    metric = np.where(rev_share >= 0.5, "roi", np.where(res_share >= 0.5, "cpa", "none"))
    days = (panel.grid["cost"][:, :t + 1] > 0).sum(axis=1)
    recent = recent_spend(panel, t) > 0
    reason = np.full(len(metric), "", dtype=object)
    no_results = (metric == "cpa") & (results <= 0)
    reason[metric == "none"] = "nothing to forecast: revenue and results not tracked"
    reason[no_results] = f"no results in the last {METRIC_DAYS} days: CPA cannot be forecast"
    short = (days < MIN_CAMPAIGN_DAYS) & (metric != "none") & ~no_results
    reason[short] = [f"only {d} days with spend (a forecast needs {MIN_CAMPAIGN_DAYS})"
                     for d in days[short]]
    metric = np.where(no_results, "none", metric)
    return pd.DataFrame({"metric": metric, "spend_days": days, "recent": recent,
                         "eligible": recent & (reason == ""), "reason": reason},
                        index=pd.Index(panel.campaign_ids, name="campaign_id"))


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def candidates(panel: Panel, t: int, metric: str) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each method's yield forecast at ``t`` for every campaign (NaN where it has none), and
    the volume behind the shrinkage (per campaign)."""
    out_m, cost_m = OUTCOMES[metric]
    c = {w: panel.window(cost_m, t, w) for w in (7, 28, SHRINK_WINDOW)}
    o = {w: panel.window(out_m, t, w) for w in (7, 28, SHRINK_WINDOW)}
    cw, ow = c[SHRINK_WINDOW], o[SHRINK_WINDOW]
    lo = max(t + 1 - SHRINK_WINDOW, 0)
    days = (panel.grid[cost_m][:, lo:t + 1] > 0).sum(axis=1).astype(float)
    conv = panel.window("conversions", t, SHRINK_WINDOW)
    volume = ow if metric == "cpa" else np.where(conv > 0, conv, days)
    # Campaigns that do not track this metric must not move its channel's or account's yield.
    tracks = panel.window(cost_m, t, 91) >= 0.5 * np.maximum(panel.window("cost", t, 91), 1e-9)
    codes = np.where(np.isnan(panel.channel_codes), -1, panel.channel_codes).astype(int) + 1
    n_ch = int(codes.max()) + 1 if len(codes) else 1
    use = tracks & (cw > 0)
    ch_c = np.bincount(codes[use], weights=cw[use], minlength=n_ch)
    ch_o = np.bincount(codes[use], weights=ow[use], minlength=n_ch)
    ch_v = np.bincount(codes[use], weights=volume[use], minlength=n_ch)
    acct = ch_o.sum() / ch_c.sum() if ch_c.sum() > 0 else np.nan
    z_ch = ch_v / (ch_v + CREDIBILITY)
    ch_y = np.where(ch_c > 0, z_ch * _div(ch_o, ch_c) + (1 - z_ch) * acct, acct)
    prior = ch_y[codes]
    z = volume / (volume + CREDIBILITY)
    own = _div(ow, cw)
    shrunk = np.where(np.isfinite(own), z * own + (1 - z) * prior, prior)
    y28 = _div(o[28], c[28])
    y7 = _div(o[7], c[7])
    if metric == "cpa":   # no result in the window: its CPA is undefined, not a forecast
        y28 = np.where(y28 > 0, y28, np.nan)
        y7 = np.where(y7 > 0, y7, np.nan)
    return ({"shrinkage": shrunk, "trailing_28d": np.where(np.isfinite(y28), y28, shrunk),
             "trailing_7d": np.where(np.isfinite(y7), y7, np.where(np.isfinite(y28), y28, shrunk))},
            volume)


def _value(y: np.ndarray, metric: str) -> np.ndarray:
    """Yield to the metric shown: ROI itself, CPA its inverse."""
    if metric == "roi":
        return y
    with np.errstate(divide="ignore"):
        return np.where(y > 0, 1.0 / np.where(y > 0, y, 1.0), np.nan)


def _offset(fc: Any, metric: str) -> Any:
    """Keeps a log ratio finite for a week without outcome: ROI's 0.01 (as the tree model's);
    for results per $ (tiny numbers) a hundredth of the forecast, which is then positive."""
    return 0.01 if metric == "roi" else 0.01 * fc


def _log_ratio(real: np.ndarray, fc: np.ndarray, metric: str) -> np.ndarray:
    c = _offset(fc, metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log((real + c) / (fc + c))


@dataclass
class _OwnBacktest:
    err: dict[str, np.ndarray]      # method -> (N, J) |error| × spend, NaN where not scored
    spend: np.ndarray               # (N, J) realised spend, NaN where not scored
    ratio: dict[str, np.ndarray]    # method -> (N, J) log realised / forecast yield


def own_backtest(panel: Panel, t: int, horizon: int, metric: str) -> _OwnBacktest:
    """Every method's forecasts at origins t - horizon, t - 2·horizon, … (labels known by t)
    against what followed them."""
    out_m, cost_m = OUTCOMES[metric]
    n = len(panel.campaign_ids)
    origins = [t - horizon * j for j in range(1, OWN_ORIGINS + 1)
               if t - horizon * j >= MIN_CAMPAIGN_DAYS - 1]
    err = {m: np.full((n, len(origins)), np.nan) for m in METHODS}
    ratio = {m: np.full((n, len(origins)), np.nan) for m in METHODS}
    spend = np.full((n, len(origins)), np.nan)
    for j, o in enumerate(origins):
        fc, _ = candidates(panel, o, metric)
        cost = panel.ahead(cost_m, o, horizon)
        real = _div(panel.ahead(out_m, o, horizon), cost)
        history = (panel.grid["cost"][:, :o + 1] > 0).sum(axis=1) >= MIN_CAMPAIGN_DAYS
        ok = history & (recent_spend(panel, o) > 0) & np.isfinite(real)
        for m in METHODS:
            f = fc[m]
            good = ok & np.isfinite(f) & ((f > 0) | (metric == "roi") & (f >= 0))
            e = np.abs(_value(f, metric) - _value(real, metric))
            scored = good & np.isfinite(e)
            err[m][scored, j] = (e * cost)[scored]
            ratio[m][good, j] = _log_ratio(real, f, metric)[good]
        spend[ok, j] = cost[ok]
    return _OwnBacktest(err, spend, ratio)


def _label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def forecast(panel: Panel, t: int, horizon: int, status: pd.DataFrame,
             cpa_targets: np.ndarray | None = None) -> pd.DataFrame:
    """A forecast for every campaign ``status`` marks eligible (rows in panel order; others
    NaN). Columns: metric, method, method_reason, predicted_roi / _low / _high and prob_loss
    (ROI campaigns), predicted_cpa / _low / _high, cpa_target and prob_cpa_above (CPA
    campaigns), and baseline (the trailing 28-day value, for the backtest)."""
    n = len(panel.campaign_ids)
    cols = ["predicted_roi", "predicted_roi_low", "predicted_roi_high", "prob_loss",
            "predicted_cpa", "predicted_cpa_low", "predicted_cpa_high", "cpa_target",
            "prob_cpa_above", "baseline"]
    out = pd.DataFrame({c: np.full(n, np.nan) for c in cols},
                       index=pd.Index(panel.campaign_ids, name="campaign_id"))
    out.insert(0, "metric", status["metric"].to_numpy())
    out.insert(1, "method", np.full(n, None, dtype=object))
    out.insert(2, "method_reason", np.full(n, None, dtype=object))
    eligible = status["eligible"].to_numpy(bool)
    for metric in ("roi", "cpa"):
        rows = np.flatnonzero(eligible & (status["metric"].to_numpy() == metric))
        if not len(rows):
            continue
        fc, volume = candidates(panel, t, metric)
        bt = own_backtest(panel, t, horizon, metric)
        peers = status["metric"].to_numpy() == metric
        pooled = {m: np.nansum(bt.err[m][peers]) for m in METHODS}
        pooled_n = int(np.isfinite(bt.err["shrinkage"][peers]).sum())
        pooled_spend = np.nansum(np.where(np.isfinite(bt.err["shrinkage"][peers]),
                                          bt.spend[peers], np.nan))
        daily = panel.window(OUTCOMES[metric][1], t, 28) / 28
        for i in rows:
            try:
                _forecast_one(out, i, metric, fc, volume, bt, peers, pooled, pooled_n,
                              pooled_spend, daily, horizon, cpa_targets)
            except (ArithmeticError, ValueError) as exc:   # one campaign never stops the run
                out.iloc[i, 1] = None
                out.iloc[i, 2] = f"its forecast failed ({type(exc).__name__}: {exc})"
    return out


def _choose(errs: dict[str, float]) -> str:
    """The default method unless another's backtest error is clearly lower (by
    ``SWITCH_MARGIN``): a few weeks of backtest pick noise as often as skill."""
    best = min(METHODS, key=lambda m: errs[m])
    return best if errs[best] < SWITCH_MARGIN * errs[DEFAULT_METHOD] else DEFAULT_METHOD


def _forecast_one(out: pd.DataFrame, i: int, metric: str, fc: dict[str, np.ndarray],
                  volume: np.ndarray, bt: _OwnBacktest, peers: np.ndarray,
                  pooled: dict[str, float], pooled_n: int, pooled_spend: float,
                  daily: np.ndarray, horizon: int, cpa_targets: np.ndarray | None) -> None:
    if pooled_n >= MIN_OWN_ORIGINS and pooled_spend > 0:
        errs = {m: pooled[m] / pooled_spend for m in METHODS}
        method = _choose(errs)
        why = (f"the account's backtest ({pooled_n} forecasts of its {metric.upper()} "
               "campaigns; spend-weighted error "
               + ", ".join(f"{_label(m)} {errs[m]:.3g}" for m in METHODS)
               + f"): {_label(DEFAULT_METHOD)} unless another is clearly better")
    else:
        method = "shrinkage"
        why = ("too little history for any backtest: its yield shrunk towards its "
               "channel and the account")
    f = float(fc[method][i])
    own = bt.ratio[method][i]
    own = own[np.isfinite(own)]
    if len(own) >= MIN_RATIOS:
        ratios, source = np.sort(own), "its own backtest"
    else:
        pool = bt.ratio[method][peers]
        pool = pool[np.isfinite(pool)]
        ratios, source = (np.sort(pool), "the pooled backtest") if len(pool) >= MIN_RATIOS \
            else (None, "the volume expected over the horizon")
    out.iloc[i, 1] = method
    out.iloc[i, 2] = f"{_label(method)}: {why}; interval from {source}"
    out.loc[out.index[i], "baseline"] = _value(np.array([fc["trailing_28d"][i]]), metric)[0]
    if not (math.isfinite(f) and f > 0) and metric == "cpa" or not math.isfinite(f):
        out.iloc[i, 1] = None
        out.iloc[i, 2] = f"no finite {metric.upper()} forecast from its history"
        return
    c = _offset(f, metric)
    expected = max(float(f * daily[i] * horizon) if metric == "cpa"
                   else float(volume[i]) * horizon / SHRINK_WINDOW, 1.0)
    if ratios is not None:
        # Order statistics that cover a new week about 80 % of the time (the split
        # conformal rule: with few ratios, the extremes), never narrower than the
        # counting noise of the volume expected over the horizon.
        k = len(ratios)
        qlo = ratios[max(int(np.floor((k + 1) * 0.1)) - 1, 0)]
        qhi = ratios[min(int(np.ceil((k + 1) * 0.9)) - 1, k - 1)]
        floor = _Z90 * math.sqrt(1.0 / expected)
        qlo, qhi = min(qlo, -floor), max(qhi, floor)

        def below(y: float, ratios: np.ndarray = ratios, f: float = f, c: float = c) -> float:
            return float(np.searchsorted(ratios, math.log((y + c) / (f + c))) / len(ratios))
    else:
        sd = math.sqrt(1.0 / expected + 0.05)
        qlo, qhi = -_Z90 * sd, _Z90 * sd

        def below(y: float, sd: float = sd, f: float = f, c: float = c) -> float:
            x = math.log(max(y + c, 1e-300) / (f + c)) / sd
            return 0.5 * (1 + math.erf(x / math.sqrt(2)))
    ylo = max((f + c) * math.exp(qlo) - c, 0.0)
    yhi = max((f + c) * math.exp(qhi) - c, f)
    ylo = min(ylo, f)
    key = out.index[i]
    if metric == "roi":
        out.loc[key, ["predicted_roi", "predicted_roi_low", "predicted_roi_high",
                      "prob_loss"]] = [f, ylo, yhi, below(1.0)]
    else:
        own_cpa = _value(np.array([fc["trailing_28d"][i]]), "cpa")[0]
        target = (float(cpa_targets[i]) if cpa_targets is not None
                  and math.isfinite(cpa_targets[i]) and cpa_targets[i] > 0 else own_cpa)
        out.loc[key, ["predicted_cpa", "predicted_cpa_low", "predicted_cpa_high",
                      "cpa_target", "prob_cpa_above"]] = [
            1.0 / f, 1.0 / yhi, min(1.0 / max(ylo, 1e-300), CPA_HIGH_CAP / f), target,
            below(1.0 / target) if target and math.isfinite(target) else np.nan]


def _point_scores(point: np.ndarray, real: np.ndarray, spend: np.ndarray) -> dict[str, Any]:
    err = np.abs(point - real)
    return {"n": int(len(real)),
            "wmae": float(np.sum(err * spend) / np.sum(spend)) if spend.sum() > 0 else None,
            "mae": float(err.mean()) if len(err) else None}


def backtest_small(panel: Panel, horizon: int, thresholds: tuple[float, float], *,
                   n_origins: int = 8) -> dict[str, Any]:
    """Rolling-origin backtest of ``forecast`` (each origin sees only the days up to it)
    against the campaign's trailing 28-day value: ROI campaigns scored on ROI (``model``,
    ``baselines``), CPA campaigns on CPA (``cpa``), pooled over the origins."""
    from demetra.ml.backtest import score  # backtest imports the tree model; only here

    last = panel.days - 1
    origin_days = [last - horizon * k for k in range(1, n_origins + 1)
                   if last - horizon * k >= MIN_CAMPAIGN_DAYS - 1]
    parts: dict[str, list[pd.DataFrame]] = {"roi": [], "cpa": []}
    for o in origin_days:
        status = campaign_status(panel, o)
        fc = forecast(panel, o, horizon, status)
        for metric, (out_m, cost_m) in OUTCOMES.items():
            cost = panel.ahead(cost_m, o, horizon)
            outcome = panel.ahead(out_m, o, horizon)
            real = _div(outcome, cost) if metric == "roi" else _div(cost, outcome)
            keep = ((fc["metric"].to_numpy() == metric) & fc["method"].notna().to_numpy()
                    & np.isfinite(real) & (cost > 0))
            # Scored where the baseline exists too: the model and it on the same forecasts.
            keep &= np.isfinite(fc["baseline"].to_numpy(float))
            if keep.any():
                parts[metric].append(fc[keep].assign(real=real[keep], spend=cost[keep]))
    result: dict[str, Any] = {"origins": [panel.date_of(o).isoformat() for o in origin_days]}
    if parts["roi"]:
        roi = pd.concat(parts["roi"])
        result["model"] = score(roi, roi["real"].to_numpy(float), roi["spend"].to_numpy(float),
                                thresholds)
        result["baselines"] = {"trailing_28d_roi": _point_scores(
            roi["baseline"].to_numpy(float), roi["real"].to_numpy(float),
            roi["spend"].to_numpy(float))}
    if parts["cpa"]:
        cpa = pd.concat(parts["cpa"])
        real, spend = cpa["real"].to_numpy(float), cpa["spend"].to_numpy(float)
        model = _point_scores(cpa["predicted_cpa"].to_numpy(float), real, spend)
        inside = ((cpa["predicted_cpa_low"].to_numpy(float) <= real)
                  & (real <= cpa["predicted_cpa_high"].to_numpy(float)))
        prob = cpa["prob_cpa_above"].to_numpy(float)
        above = real > cpa["cpa_target"].to_numpy(float)
        ok = np.isfinite(prob)
        model["coverage"] = float(inside.mean())
        model["brier"] = float(np.mean((prob[ok] - above[ok]) ** 2)) if ok.any() else None
        result["cpa"] = {"origins": result["origins"], "model": model,
                         "baselines": {"trailing_28d_cpa": _point_scores(
            cpa["baseline"].to_numpy(float), real, spend)}}
    methods = pd.concat([*parts["roi"], *parts["cpa"]])["method"] if (parts["roi"] or parts["cpa"]) \
        else pd.Series(dtype=object)
    result["methods"] = {str(k): int(v) for k, v in methods.value_counts().items()}
    return result

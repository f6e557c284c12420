"""Forecasts that need no pooled model: for small accounts and campaigns without revenue.

A campaign is forecast on what it tracks: ROI (revenue per unit of spend) when it tracks
revenue, else CPA (cost per result) when it tracks results, else CPC (cost per click: every
ad platform counts clicks); a campaign without any of them in ``METRIC_DAYS`` days is listed
with that reason, never given an ROI of 0. It needs ``MIN_CAMPAIGN_DAYS`` days with spend in
the lookback; below that it is listed with the reason.

Everything is computed on the campaign's *yield*, outcome per unit of spend (revenue, results
or clicks per $; CPA and CPC = 1 / yield), from sums over the rows that track the outcome. The
methods:

* ``trailing_28d`` (the baseline): the campaign's own trailing 28-day yield;
* ``shrinkage``: its yield over the last ``SHRINK_WINDOW`` days shrunk towards its channel's,
  itself shrunk towards the account's, with credibility n / (n + ``CREDIBILITY``), n the
  volume behind the yield (results, clicks or conversions; days with spend when there are
  none);
* ``blend_7_56``: half its trailing 7 days' yield, half its trailing 56 days';
* ``ewm_14d`` and ``ewm_28d``: exponentially weighted yields at those half-lives;
* ``structural`` (ROI and CPA): the pooled model's reference (``demetra.ml.features``,
  ``roi_reference`` and ``results_reference``), the campaign's quality over a year against its
  channel's times the channel's yield moved along its diminishing returns to the coming spend.
  In the ensemble it took the seeded small accounts from 0.945 to 0.925 of the trailing 28
  days' error (geometric mean over 96 accounts; worse on 10 instead of 14) and the small
  accounts of the zoo's worlds from 0.958 to 0.954 (90 accounts of five structures; each
  world's mean at or under its former one).

The forecast served (``combined``) weighs the trailing 28 days against the equal-weight
ensemble of all of them (``combine``): half each without evidence, moved towards the one that
did better in a rolling-origin backtest of every campaign of the account with the same metric
(origins every horizon days back, labels known by the forecast date; the ensemble has no
fitted weights, so every origin scores it out of sample) by the positive-part James–Stein
factor 1 − 1/t² of their per-origin error difference: a thin or noisy backtest moves nothing,
and only a clear one serves either (nearly) alone (benchmarks/RESULTS.md, "Forecasts on small
accounts"). The account's regression of what followed on its recent history
(:mod:`demetra.ml.linear`, refitted at each origin of the backtest on the days before it) then
challenges that combination and takes 1 − 1/t² of the weight only where the backtest clearly
favours it: a three-campaign account keeps what it had. In an account of the pooled model's
size (``MIN_CAMPAIGNS``) it is weighed as the pooled model's blend weighs it
(:mod:`demetra.ml.adapt`: per-origin errors relative to the better one's, to the power −8):
a lead-generation account with drifting campaigns gains. The P10–P90 interval and the
probabilities come from the realised / forecast ratios of the served combination in the
campaign's own backtest (when it has ``MIN_RATIOS``, else pooled; quantiles at the plotting
positions i / (k + 1), never narrower than the counting noise of the volume expected over the
horizon), or, without enough of them, from a spread set by that volume. Every row says which
method served it, with the weights, and why.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from demetra.ml.features import (
    MIN_CAMPAIGN_DAYS,
    MIN_CAMPAIGNS,
    Panel,
    recent_spend,
    results_reference,
    roi_reference,
)
from demetra.ml.linear import LinearYield, strided_days

SMALL_VERSION = "small-combine-5"   # 4: the regression weighed in big accounts; 5: structural
HALF_LIVES = {"ewm_14d": 14, "ewm_28d": 28}
# The candidates: the baseline and forecasts that average away more of a week's noise.
METHODS = ("trailing_28d", "shrinkage", "blend_7_56", *HALF_LIVES)
STRUCTURAL = "structural"   # the pooled model's reference (demetra.ml.features): ROI and CPA
LINEAR = "linear"       # the account's regression (demetra.ml.linear): serves on evidence only
# Examples the regression is fitted on at each origin of the backtest: strided days beyond.
LINEAR_EXAMPLES = 20_000
# Labels of every method a stored row may name (trailing_7d: rows of earlier versions).
METHOD_LABELS = {"tree": "pooled tree model",
                 "linear": "the account's regression on its recent history",
                 "simple": "equal-weight ensemble of the simple forecasts",
                 "adaptive": "pooled tree model, the account's regression and the simple "
                             "forecasts, weighed by the backtest",
                 "shrinkage": "shrinkage to channel and account",
                 "trailing_28d": "trailing 28 days", "trailing_7d": "trailing 7 days",
                 "blend_7_56": "half trailing 7, half trailing 56 days",
                 "ewm_14d": "exponentially weighted, 14-day half-life",
                 "ewm_28d": "exponentially weighted, 28-day half-life",
                 "structural": "the campaign's quality over a year times its channel's "
                               "yield at the coming spend",
                 "combined": "trailing 28 days weighed against the ensemble of all methods"}
# metric -> (outcome, the spend it is over): ROI revenue per $, CPA results, CPC clicks.
OUTCOMES = {"roi": ("revenue", "revenue_cost"), "cpa": ("conversions", "result_cost"),
            "cpc": ("clicks", "cost")}
SHRINK_WINDOW = 56
EWM_SPAN = 4              # half-lives of history an exponentially weighted yield reads
CREDIBILITY = 20.0        # volume at which a campaign's own yield weighs half
OWN_ORIGINS = 12
MIN_RATIOS = 6
DEFAULT_METHOD = "trailing_28d"
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
    """Per campaign at day ``t``: ``metric`` (roi, cpa, cpc or none), ``spend_days`` in the
    panel up to t, ``recent`` (spent in the last 7 days), ``eligible`` and, where not,
    ``reason``."""
    lo = max(t + 1 - METRIC_DAYS, 0)
    cost = panel.grid["cost"][:, lo:t + 1].sum(axis=1)
    rev_cost = panel.grid["revenue_cost"][:, lo:t + 1].sum(axis=1)
    res_cost = panel.grid["result_cost"][:, lo:t + 1].sum(axis=1)
    results = panel.grid["conversions"][:, lo:t + 1].sum(axis=1)
    clicks = panel.grid["clicks"][:, lo:t + 1].sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rev_share = np.where(cost > 0, rev_cost / cost, 0.0)
        res_share = np.where(cost > 0, res_cost / cost, 0.0)
    metric = np.where(rev_share >= 0.5, "roi", np.where(res_share >= 0.5, "cpa", "cpc"))
    days = (panel.grid["cost"][:, :t + 1] > 0).sum(axis=1)
    recent = recent_spend(panel, t) > 0
    reason = np.full(len(metric), "", dtype=object)
    no_results = (metric == "cpa") & (results <= 0)
    no_clicks = (metric == "cpc") & (clicks <= 0)
    reason[no_clicks] = ("nothing to forecast: revenue and results not tracked, and no clicks "
                         f"in the last {METRIC_DAYS} days for a CPC")
    reason[no_results] = f"no results in the last {METRIC_DAYS} days: CPA cannot be forecast"
    short = (days < MIN_CAMPAIGN_DAYS) & ~no_clicks & ~no_results
    reason[short] = [f"only {d} days with spend (a forecast needs {MIN_CAMPAIGN_DAYS})"
                     for d in days[short]]
    metric = np.where(no_results | no_clicks, "none", metric)
    return pd.DataFrame({"metric": metric, "spend_days": days, "recent": recent,
                         "eligible": recent & (reason == ""), "reason": reason},
                        index=pd.Index(panel.campaign_ids, name="campaign_id"))


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _ewm(panel: Panel, metric: str, t: int, half_life: int) -> np.ndarray:
    """Σ metric over the ``EWM_SPAN`` half-lives up to t, each day weighted 0.5^(age / half-life)."""
    lo = max(t + 1 - EWM_SPAN * half_life, 0)
    decay = 0.5 ** ((t - np.arange(lo, t + 1)) / half_life)
    return panel.grid[metric][:, lo:t + 1] @ decay


def methods_of(metric: str) -> tuple[str, ...]:
    """The candidates the ensemble averages for a metric: with revenue or results, the
    structural reference too (clicks have no curve of their own to read)."""
    return (*METHODS, STRUCTURAL) if metric in ("roi", "cpa") else METHODS


def candidates(panel: Panel, t: int, metric: str, linear: np.ndarray | None = None
               ) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each method's yield forecast at ``t`` for every campaign (NaN where it has none), with
    the regression's (``linear``) where given, and the volume behind the shrinkage (per
    campaign)."""
    out_m, cost_m = OUTCOMES[metric]
    c = {w: panel.window(cost_m, t, w) for w in (7, 28, SHRINK_WINDOW)}
    o = {w: panel.window(out_m, t, w) for w in (7, 28, SHRINK_WINDOW)}
    cw, ow = c[SHRINK_WINDOW], o[SHRINK_WINDOW]
    lo = max(t + 1 - SHRINK_WINDOW, 0)
    days = (panel.grid[cost_m][:, lo:t + 1] > 0).sum(axis=1).astype(float)
    volume = _volume(panel, t, metric, ow, days)
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
    own_y = {"trailing_7d": _div(o[7], c[7]), "trailing_28d": _div(o[28], c[28]),
             "trailing_56d": own}
    own_y |= {m: _div(_ewm(panel, out_m, t, h), _ewm(panel, cost_m, t, h))
              for m, h in HALF_LIVES.items()}
    if metric != "roi":   # no outcome in the window: its CPA or CPC is undefined, not a forecast
        own_y = {m: np.where(y > 0, y, np.nan) for m, y in own_y.items()}
    # A window without a defined yield falls back to the longer one, then to the shrinkage.
    y28 = np.where(np.isfinite(own_y["trailing_28d"]), own_y["trailing_28d"], shrunk)
    y56 = np.where(np.isfinite(own_y["trailing_56d"]), own_y["trailing_56d"], y28)
    y7 = np.where(np.isfinite(own_y["trailing_7d"]), own_y["trailing_7d"], y28)
    fc = {"shrinkage": shrunk, "trailing_28d": y28, "blend_7_56": 0.5 * y7 + 0.5 * y56}
    fc |= {m: np.where(np.isfinite(own_y[m]), own_y[m], y28) for m in HALF_LIVES}
    if STRUCTURAL in methods_of(metric):
        # Where the reference has no channel curve to read (a channel outside
        # demetra.config.CHANNELS, or none of its outcome in half a year) it would be a
        # constant: the campaign reads its own trailing 28 days there.
        if metric == "roi":
            parts = roi_reference(panel, t)
            ref, ok = parts["roi_ref"], parts["defined"]
        else:
            ref = results_reference(panel, t)
            ok = np.isfinite(ref) & (ref > 0)
        fc[STRUCTURAL] = np.where(ok, ref, y28)
    if linear is not None:
        ok = np.isfinite(linear) & ((linear > 0) | (metric == "roi"))
        fc[LINEAR] = np.where(ok, linear, y28)
    return fc, volume


def _volume(panel: Panel, t: int, metric: str, outcome: np.ndarray,
            days: np.ndarray) -> np.ndarray:
    """The count behind a yield over ``SHRINK_WINDOW`` days: results or clicks themselves,
    for ROI the conversions behind the revenue (days with spend when there are none)."""
    if metric != "roi":
        return outcome
    conv = panel.window("conversions", t, SHRINK_WINDOW)
    return np.where(conv > 0, conv, days)


def _value(y: np.ndarray, metric: str) -> np.ndarray:
    """Yield to the metric shown: ROI itself, CPA and CPC its inverse."""
    if metric == "roi":
        return y
    with np.errstate(divide="ignore"):
        return np.where(y > 0, 1.0 / np.where(y > 0, y, 1.0), np.nan)


def _offset(fc: Any, metric: str) -> Any:
    """Keeps a log ratio finite for a week without outcome: ROI's 0.01 (as the tree model's);
    for results or clicks per $ (tiny numbers) a hundredth of the forecast, which is then positive."""
    return 0.01 if metric == "roi" else 0.01 * fc


def _log_ratio(real: np.ndarray, fc: np.ndarray, metric: str) -> np.ndarray:
    c = _offset(fc, metric)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log((real + c) / (fc + c))


@dataclass
class _OwnBacktest:
    forecast: dict[str, np.ndarray]  # method -> (N, J) yield forecast, NaN where not scored
    real: np.ndarray                 # (N, J) realised yield, NaN where not scored
    spend: np.ndarray                # (N, J) realised spend, NaN where not scored


def linear_forecast(panel: Panel, t: int, horizon: int, metric: str,
                    rows: np.ndarray) -> np.ndarray:
    """The account's regression of what followed on its recent history (its campaigns of
    ``rows``, on the labels known by ``t``): each campaign's yield over the horizon after t."""
    days = strided_days(panel, t, horizon, MIN_CAMPAIGN_DAYS - 1, LINEAR_EXAMPLES)
    model = LinearYield.fit(panel, days, horizon, OUTCOMES[metric], rows=rows)
    return model.predict(panel, t)


def own_backtest(panel: Panel, t: int, horizon: int, metric: str,
                 rows: np.ndarray | None = None) -> _OwnBacktest:
    """Every method's forecasts at origins t - horizon, t - 2·horizon, … (labels known by t)
    and what followed them, on the forecasts where every method has one; the regression is
    fitted at each origin on the campaigns of ``rows`` (default: all)."""
    out_m, cost_m = OUTCOMES[metric]
    n = len(panel.campaign_ids)
    rows = np.ones(n, bool) if rows is None else rows
    origins = [t - horizon * j for j in range(1, OWN_ORIGINS + 1)
               if t - horizon * j >= MIN_CAMPAIGN_DAYS - 1]
    fcs = {m: np.full((n, len(origins)), np.nan) for m in (*methods_of(metric), LINEAR)}
    real = np.full((n, len(origins)), np.nan)
    spend = np.full((n, len(origins)), np.nan)
    for j, o in enumerate(origins):
        fc, _ = candidates(panel, o, metric, linear_forecast(panel, o, horizon, metric, rows))
        cost = panel.ahead(cost_m, o, horizon)
        y = _div(panel.ahead(out_m, o, horizon), cost)
        history = (panel.grid["cost"][:, :o + 1] > 0).sum(axis=1) >= MIN_CAMPAIGN_DAYS
        ok = history & (recent_spend(panel, o) > 0) & np.isfinite(y)
        for f in fc.values():
            ok &= np.isfinite(f) & ((f > 0) | (metric == "roi") & (f >= 0))
        for m in fcs:
            fcs[m][ok, j] = fc[m][ok]
        real[ok, j] = y[ok]
        spend[ok, j] = cost[ok]
    return _OwnBacktest(fcs, real, spend)


def _error(bt: _OwnBacktest, f: np.ndarray, metric: str) -> np.ndarray:
    """|forecast − realised| of the metric shown, times the realised spend (NaN: not scored)."""
    return np.abs(_value(f, metric) - _value(bt.real, metric)) * bt.spend


def combine(bt: _OwnBacktest, peers: np.ndarray, metric: str) -> tuple[dict[str, float], str]:
    """The account's weights of the methods (summing to 1) from its own backtest, and why.

    Two forecasts compete: the trailing 28 days, and the equal-weight ensemble of every method
    (the trailing 28 days among them), which averages away part of a small campaign's noise
    at the cost of following a drift more slowly. The ensemble has no fitted weights, so every
    origin of the backtest scores it out of sample. Without evidence they weigh half each; the
    error difference summed per origin (t: its mean over its standard error) moves the weight
    towards the better one by the positive-part James–Stein factor 1 − 1/t², so only a
    backtest that clearly favours one serves it (nearly) alone.
    """
    scored = np.isfinite(bt.spend[peers]) & np.isfinite(_value(bt.real[peers], metric))
    ensemble = {m: 1.0 / len(methods_of(metric)) for m in methods_of(metric)}
    origins = scored.any(axis=0)
    # Errors summed per origin: the campaigns of one week share its shocks, so they are one
    # sample of the difference, not several.
    base = np.where(scored, _error(bt, bt.forecast[DEFAULT_METHOD], metric)[peers], 0.0)
    mixed = np.where(scored, _error(bt, _blend(bt.forecast, ensemble), metric)[peers], 0.0)
    t = _t_statistic(base, mixed, origins)
    toward = math.copysign(1.0 - 1.0 / t ** 2, t) if abs(t) > 1 else 0.0
    share = 0.5 + 0.5 * toward
    weights = {m: share * w for m, w in ensemble.items()}
    weights[DEFAULT_METHOD] += 1.0 - share
    if not origins.any():
        return weights, "no backtest yet: half the trailing 28 days, half the ensemble"
    spend = float(np.where(scored, bt.spend[peers], 0.0).sum())
    why = (f"the account's backtest ({int(scored.sum())} forecasts of its {metric.upper()} "
           f"campaigns at {int(origins.sum())} origins; spend-weighted error: trailing 28 days "
           f"{base.sum() / spend:.3g}, the equal-weight ensemble of all methods "
           f"{mixed.sum() / spend:.3g}; t = {t:.2f} in the ensemble's favour): the ensemble "
           f"weighs {share:.0%}, the trailing 28 days the rest")
    if LINEAR not in bt.forecast:
        return weights, why
    # The regression has fitted weights of its own, so in a small account it only takes a share
    # from the combination above when the backtest clearly favours it (1 − 1/t², t > 1), never
    # by default. An account of the pooled model's size fits it on enough campaigns to weigh it
    # as that model's blend does (ml.adapt): by per-origin relative errors. The same weighing
    # of a 3–8 campaign account's regression was worse than the trailing 28 days on 30 of 96
    # accounts instead of 14.
    combined = np.where(scored, _error(bt, _blend(bt.forecast, weights), metric)[peers], 0.0)
    challenger = np.where(scored, _error(bt, bt.forecast[LINEAR], metric)[peers], 0.0)
    t_linear = _t_statistic(combined, challenger, origins)
    if peers.sum() >= MIN_CAMPAIGNS:
        linear = _relative_share(combined.sum(axis=0)[origins], challenger.sum(axis=0)[origins])
    else:
        linear = 1.0 - 1.0 / t_linear ** 2 if t_linear > 1 else 0.0
    weights = {m: (1.0 - linear) * w for m, w in weights.items()} | {LINEAR: linear}
    why += (f"; the account's regression on its recent history {challenger.sum() / spend:.3g} "
            f"against that combination's {combined.sum() / spend:.3g} (t = {t_linear:.2f}): it "
            f"weighs {linear:.0%}")
    if peers.sum() >= MIN_CAMPAIGNS:
        why += ", weighed by its error origin by origin against the combination's"
    elif not linear:
        why += ", as it did not clearly do better"
    return weights, why


def _relative_share(errors: np.ndarray, others: np.ndarray) -> float:
    """The weight of ``others`` against ``errors`` (per-origin error sums) in the pooled
    model's blend: each origin's error over the better one's, averaged geometrically, to the
    power −POWER (:func:`demetra.ml.adapt.weights`); 0 without an origin to judge by."""
    from demetra.ml.adapt import POWER  # adapt imports this module

    best = np.minimum(errors, others)
    good = best > 0
    if not good.any():
        return 0.0
    score = {k: float(np.exp(np.mean(np.log(e[good] / best[good])))) ** -POWER
             for k, e in (("own", errors), ("others", others))}
    return score["others"] / (score["own"] + score["others"])


def _t_statistic(errors: np.ndarray, others: np.ndarray, origins: np.ndarray) -> float:
    """How clearly ``others`` beat ``errors`` (campaigns × origins): the mean over origins of
    the summed difference over its standard error (0 with fewer than two origins)."""
    ahead = (errors - others).sum(axis=0)[origins]
    sd = float(ahead.std(ddof=1)) if len(ahead) > 1 else 0.0
    return float(ahead.mean()) / sd * math.sqrt(len(ahead)) if sd > 0 else 0.0


def _blend(fc: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    return sum(w * fc[m] for m, w in weights.items())


def _label(method: str) -> str:
    return METHOD_LABELS.get(method, method)


def _served(weights: dict[str, float]) -> str:
    """The method a row names: the one method that carries all the weight, else ``combined``."""
    top = max(weights, key=lambda m: weights[m])
    return top if weights[top] >= 0.995 else "combined"


def forecast(panel: Panel, t: int, horizon: int, status: pd.DataFrame,
             cpa_targets: np.ndarray | None = None) -> pd.DataFrame:
    """A forecast for every campaign ``status`` marks eligible (rows in panel order; others
    NaN). Columns: metric, method, method_reason, predicted_roi / _low / _high and prob_loss
    (ROI campaigns), predicted_cpa / _low / _high, cpa_target and prob_cpa_above (CPA and CPC
    campaigns: the cost per result or per click, its target and P(above it)), and baseline
    (the trailing 28-day value, for the backtest)."""
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
    for metric in OUTCOMES:
        rows = np.flatnonzero(eligible & (status["metric"].to_numpy() == metric))
        if not len(rows):
            continue
        peers = status["metric"].to_numpy() == metric
        fc, volume = candidates(panel, t, metric, linear_forecast(panel, t, horizon, metric, peers))
        bt = own_backtest(panel, t, horizon, metric, peers)
        weights, why = combine(bt, peers, metric)
        point = _blend(fc, weights)
        past = _blend(bt.forecast, weights)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = _log_ratio(bt.real, past, metric)
        daily = panel.window(OUTCOMES[metric][1], t, 28) / 28
        targets = cpa_targets if metric == "cpa" else None   # a CPC's target is its own
        for i in rows:
            try:
                _forecast_one(out, i, metric, point[i], fc["trailing_28d"][i], volume[i],
                              ratios, peers, weights, why, daily[i], horizon,
                              None if targets is None else targets[i])
            except (ArithmeticError, ValueError) as exc:   # one campaign never stops the run
                out.iloc[i, 1] = None
                out.iloc[i, 2] = f"its forecast failed ({type(exc).__name__}: {exc})"
    return out


def _forecast_one(out: pd.DataFrame, i: int, metric: str, f: float, base: float,
                  volume: float, ratios: np.ndarray, peers: np.ndarray,
                  weights: dict[str, float], why: str, daily: float, horizon: int,
                  target: float | None) -> None:
    method = _served(weights)
    if method == "combined":
        mix = ", ".join(f"{_label(m)} {w:.0%}" for m, w in
                        sorted(weights.items(), key=lambda kv: -kv[1]) if w >= 0.005)
        served = f"{_label(method)} ({mix}): {why}"
    else:
        served = f"{_label(method)}: {why}"
    own = ratios[i][np.isfinite(ratios[i])]
    if len(own) >= MIN_RATIOS:
        ratios, source = np.sort(own), "its own backtest"
    else:
        pool = ratios[peers]
        pool = pool[np.isfinite(pool)]
        ratios, source = (np.sort(pool), "the pooled backtest") if len(pool) >= MIN_RATIOS \
            else (None, "the volume expected over the horizon")
    out.iloc[i, 1] = method
    out.iloc[i, 2] = f"{served}; interval from {source}"
    out.loc[out.index[i], "baseline"] = _value(np.array([base]), metric)[0]
    f = float(f)
    if not math.isfinite(f) or metric != "roi" and f <= 0:
        out.iloc[i, 1] = None
        out.iloc[i, 2] = f"no finite {metric.upper()} forecast from its history"
        return
    c = _offset(f, metric)
    expected = max(float(f * daily * horizon) if metric != "roi"
                   else float(volume) * horizon / SHRINK_WINDOW, 1.0)
    if ratios is not None:
        # A new week falls below the i-th of k exchangeable ratios with probability
        # i / (k + 1): quantiles at those positions (Weibull's) cover 80 % on average (the
        # split-conformal order statistics, the extremes of 12 ratios, covered 85-88 %);
        # with fewer than 9 ratios, the extremes. Never narrower than the counting noise
        # of the volume expected over the horizon.
        qlo, qhi = np.quantile(ratios, [0.1, 0.9], method="weibull")
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
        return
    own_cost = _value(np.array([base]), metric)[0]
    if target is None or not (math.isfinite(target) and target > 0):
        target = own_cost
    out.loc[key, ["predicted_cpa", "predicted_cpa_low", "predicted_cpa_high",
                  "cpa_target", "prob_cpa_above"]] = [
        1.0 / f, 1.0 / yhi, min(1.0 / max(ylo, 1e-300), CPA_HIGH_CAP / f), target,
        below(1.0 / target) if target and math.isfinite(target) else np.nan]


def _point_scores(point: np.ndarray, real: np.ndarray, spend: np.ndarray) -> dict[str, Any]:
    err = np.abs(point - real)
    return {"n": int(len(real)),
            "wmae": float(np.sum(err * spend) / np.sum(spend)) if spend.sum() > 0 else None,
            "mae": float(err.mean()) if len(err) else None}


def _origin_t(df: pd.DataFrame, column: str) -> float:
    """How clearly the forecasts of ``column`` beat the baseline, origin by origin: the paired
    t statistic of their spend-weighted error sums (positive: the forecasts did better; 0
    with fewer than two origins). A ratio of errors over a few small campaigns is mostly
    luck; this says how much of it is not."""
    real, spend = df["real"].to_numpy(float), df["spend"].to_numpy(float)
    gap = (np.abs(df["baseline"].to_numpy(float) - real)
           - np.abs(df[column].to_numpy(float) - real)) * spend
    ahead = pd.Series(gap).groupby(df["origin"].to_numpy()).sum().to_numpy()
    sd = float(ahead.std(ddof=1)) if len(ahead) > 1 else 0.0
    return float(ahead.mean()) / sd * math.sqrt(len(ahead)) if sd > 0 else 0.0


def backtest_small(panel: Panel, horizon: int, thresholds: tuple[float, float], *,
                   n_origins: int = 8) -> dict[str, Any]:
    """Rolling-origin backtest of ``forecast`` (each origin sees only the days up to it)
    against the campaign's trailing 28-day value: ROI campaigns scored on ROI (``model``,
    ``baselines``), CPA campaigns on CPA (``cpa``), CPC campaigns on CPC (``cpc``), pooled
    over the origins; ``_forecasts``: the scored rows of each metric (not stored)."""
    from demetra.ml.backtest import score  # backtest imports the tree model; only here

    last = panel.days - 1
    origin_days = [last - horizon * k for k in range(1, n_origins + 1)
                   if last - horizon * k >= MIN_CAMPAIGN_DAYS - 1]
    parts: dict[str, list[pd.DataFrame]] = {m: [] for m in OUTCOMES}
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
                parts[metric].append(fc[keep].assign(real=real[keep], spend=cost[keep],
                                                     origin=o))
    result: dict[str, Any] = {"origins": [panel.date_of(o).isoformat() for o in origin_days]}
    if parts["roi"]:
        roi = pd.concat(parts["roi"])
        result["model"] = score(roi, roi["real"].to_numpy(float), roi["spend"].to_numpy(float),
                                thresholds)
        result["baselines"] = {"trailing_28d_roi": _point_scores(
            roi["baseline"].to_numpy(float), roi["real"].to_numpy(float),
            roi["spend"].to_numpy(float))}
        result["model"]["t_vs_baseline"] = _origin_t(roi, "predicted_roi")
    for metric in ("cpa", "cpc"):
        if parts[metric]:
            result[metric] = _cost_scores(pd.concat(parts[metric]), metric, result["origins"])
    served = [p for ps in parts.values() for p in ps]
    methods = pd.concat(served)["method"] if served else pd.Series(dtype=object)
    result["methods"] = {str(k): int(v) for k, v in methods.value_counts().items()}
    # The scored forecasts themselves, for benchmarks that judge them against a world's truth.
    result["_forecasts"] = {m: pd.concat(ps) for m, ps in parts.items() if ps}
    return result


def _cost_scores(df: pd.DataFrame, metric: str, origins: list[str]) -> dict[str, Any]:
    """A cost per outcome's backtest block: the forecasts' errors, P10–P90 coverage and the
    Brier score of P(above target), beside the trailing 28-day value's errors."""
    real, spend = df["real"].to_numpy(float), df["spend"].to_numpy(float)
    model = _point_scores(df["predicted_cpa"].to_numpy(float), real, spend)
    inside = ((df["predicted_cpa_low"].to_numpy(float) <= real)
              & (real <= df["predicted_cpa_high"].to_numpy(float)))
    prob = df["prob_cpa_above"].to_numpy(float)
    above = real > df["cpa_target"].to_numpy(float)
    ok = np.isfinite(prob)
    model["coverage"] = float(inside.mean())
    model["t_vs_baseline"] = _origin_t(df, "predicted_cpa")
    model["brier"] = float(np.mean((prob[ok] - above[ok]) ** 2)) if ok.any() else None
    return {"origins": origins, "model": model, "baselines": {
        f"trailing_28d_{metric}": _point_scores(df["baseline"].to_numpy(float), real, spend)}}

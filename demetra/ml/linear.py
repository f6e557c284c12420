"""A forecast fitted to how the account in front of it behaves: what followed each day of its
history, regressed on that day's recent yields and spend.

The pooled trees start from a structural reference (a year of campaign quality times the
channel's response to spend), right for worlds built that way and wrong elsewhere. This model
assumes no structure. It works on a campaign's *yield*, outcome per unit of the spend that
tracks it: revenue per $ (ROI) or results per $ (1 / CPA). At every training day t it takes,
per campaign, a few log ratios to the campaign's exponentially weighted 28-day yield (the
base): its yield over shorter and longer windows and its median day, its yield relative to
its channel on the same days times the channel's recent yield, the channel's and the
account's recent yield against their longer run, its own and the account's spend over the
last days against the last 56, and the short-window ratios again gated by the conversions
behind them (v / (v + ``GATE``), so a big campaign's last days say more than a small one's).
It fits, by least absolute deviations (the spend-weighted MAE the forecasts are judged on),
the log ratio of the yield over the following horizon to the base, pooled over the account's
campaigns of that metric.

Days the whole account was out of its ordinary (a promotion, a holiday, a tracking outage) are
read at the account's ordinary level (``account_days``): the account's yield of each day is
judged against the median of its ordinary days of the previous ``ORDINARY_WINDOW``, with their
own spread (``ABNORMAL_Z`` robust deviations), and every outcome of an abnormal day is scaled
to that median before any feature is taken, so a week of sales does not lift every trailing
yield for a month after it. How far above its ordinary level the account is today and over the
last three days are features of their own: whether a sale that has started goes on is the
account's history to say. On the promotions world this took the regression alone from 0.74–1.11
to 0.52–0.91 of the best baseline, and left the other worlds within ±0.005.

The coefficients are what the account's data says: whether a dip reverts within days
(drifting states) or persists (creative fatigue, a channel's slow walk), how much yield a budget
step costs (saturation), how far a campaign follows its channel. With no signal they fall to
zero and the forecast is the base. Features are clipped to the range they were fitted on, so an
unheard-of budget step is not extrapolated. Benchmarks: benchmarks/RESULTS.md, "Forecasts
across the zoo".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from demetra.ml.features import Panel, recent_spend

OFFSET = 0.01        # ROI units: keeps a log ratio finite for a week without revenue
GATE = 30.0          # conversions over 7 days at which the gated terms count half
RIDGE = 1.0          # on coefficients (not the intercept), against collinear windows
CLIP = (0.005, 0.995)
ORDINARY_WINDOW = 56  # days of the account's history an abnormal day is judged against
ORDINARY_MIN = 14     # ordinary days that window needs before it judges anything
ABNORMAL_Z = 3.0      # robust deviations (1.4826 MAD) from their median that make a day abnormal
_IRLS_STEPS = 30
FEATURES = ("yield_7", "ewm_3", "ewm_7", "ewm_14", "yield_91", "yield_182", "channel_relative",
            "spend_3", "spend_7", "channel_trend", "gated_ewm_3", "gated_yield_7",
            "account_3", "account_spend_3", "median_28", "surge_1", "surge_3")
ROI = ("revenue", "revenue_cost")   # (outcome, the spend it is over): ROI's yield


def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _offset(outcome: str, base: np.ndarray) -> np.ndarray | float:
    """ROI's 0.01; for results per $ (tiny numbers) a hundredth of the base."""
    return OFFSET if outcome == "revenue" else 0.01 * base


def _decay(t: int, half_life: float) -> tuple[int, np.ndarray]:
    lo = max(t + 1 - int(4 * half_life), 0)
    return lo, 0.5 ** ((t - np.arange(lo, t + 1)) / half_life)


def _ewm(outcome: np.ndarray, cost: np.ndarray, t: int, half_life: float) -> np.ndarray:
    lo, w = _decay(t, half_life)
    return _div(outcome[:, lo:t + 1] @ w, cost[:, lo:t + 1] @ w)


def account_days(panel: Panel, metric: tuple[str, str] = ROI) -> np.ndarray:
    """Per day, the factor that brings the account's yield of ``metric`` to its ordinary level:
    1 on an ordinary day, median / yield on an abnormal one (see the module's docstring). Each
    day is judged on the days before it only (and the verdicts on them), so a forecast at t
    reads nothing after t. Kept in ``panel.derived``, as the designs."""
    cache = panel.derived.setdefault("linear_account_days", {})
    if metric not in cache:
        out, cost = panel.grid[metric[0]].sum(axis=0), panel.grid[metric[1]].sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            level = np.where((out > 0) & (cost > 0), np.log(out / cost), np.nan)
        factor, ordinary = np.ones(panel.days), np.isfinite(level)
        for d in np.flatnonzero(ordinary):
            lo = max(d - ORDINARY_WINDOW, 0)
            past = level[lo:d][ordinary[lo:d]]
            if len(past) < ORDINARY_MIN:
                continue
            median = np.median(past)
            spread = 1.4826 * np.median(np.abs(past - median))
            if spread > 0 and abs(level[d] - median) > ABNORMAL_Z * spread:
                ordinary[d] = False
                factor[d] = np.exp(median - level[d])
        cache[metric] = factor
    return cache[metric]


def design(panel: Panel, t: int, metric: tuple[str, str] = ROI) -> tuple[np.ndarray, np.ndarray]:
    """The features at day ``t`` (campaigns × ``FEATURES``, 0 where a window has no yield:
    the base stands in) and the base, each campaign's exponentially weighted 28-day yield of
    ``metric`` (outcome, cost) on the account's ordinary level. Kept in ``panel.derived``: a
    backtest refits on the same days at every origin."""
    cache = panel.derived.setdefault("linear_designs", {})
    if (t, metric) not in cache:
        cache[(t, metric)] = _design(panel, t, metric)
    return cache[(t, metric)]


def _design(panel: Panel, t: int, metric: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
    out_m, cost_m = metric
    factor = account_days(panel, metric)
    outcome, cumulative = _ordinary(panel, metric, factor)
    cost = panel.grid[cost_m]
    base = _ewm(outcome, cost, t, 28)
    c = _offset(out_m, base)

    def log_ratio(y: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(np.isfinite(y) & np.isfinite(base) & (base + c > 0),
                            np.log((y + c) / (base + c)), 0.0)

    def window(w: int) -> np.ndarray:
        return _div(_sum(cumulative, t, w), panel.window(cost_m, t, w))

    def spend_ratio(w: int) -> np.ndarray:
        short, long = panel.window("cost", t, w) / w, panel.window("cost", t, 56) / 56
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(long > 0, np.log(np.maximum(short, 0.01 * long) / long), 0.0)

    codes = np.where(np.isnan(panel.channel_codes), 0, panel.channel_codes).astype(int)
    known = np.isfinite(panel.channel_codes)
    ch_outcome = _channel_daily(panel, out_m, codes) * factor[None, :]
    ch_cost = _channel_daily(panel, cost_m, codes)
    lo = max(t + 1 - 56, 0)
    # What the campaign would have brought at its channel's yield of the same days.
    expected = (cost[:, lo:t + 1] * _div(ch_outcome, ch_cost)[codes, lo:t + 1]).sum(axis=1)
    relative = _div(_sum(cumulative, t, 56), expected)
    channel = {h: _ewm(ch_outcome, ch_cost, t, h)[codes] for h in (7, 14, 56)}
    conversions = panel.window("conversions", t, 7)
    gate = conversions / (conversions + GATE)
    ewm3, short = log_ratio(_ewm(outcome, cost, t, 3)), log_ratio(window(7))
    account_yield, account_spend = _account(panel, ch_outcome, ch_cost, codes, t)
    surge = np.maximum(-np.log(factor[max(t - 2, 0):t + 1]), 0.0)
    X = np.column_stack([
        short, ewm3, log_ratio(_ewm(outcome, cost, t, 7)), log_ratio(_ewm(outcome, cost, t, 14)),
        log_ratio(window(91)), log_ratio(window(182)),
        log_ratio(np.where(known, relative * channel[14], np.nan)),
        spend_ratio(3), spend_ratio(7), _log_trend(channel[7], channel[56], known),
        gate * ewm3, gate * short,
        np.full(len(base), account_yield), np.full(len(base), account_spend),
        log_ratio(_median(outcome, cost, t, 28)),
        np.full(len(base), surge[-1]), np.full(len(base), surge.mean())])
    return X, base


def _ordinary(panel: Panel, metric: tuple[str, str],
              factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The grid of the outcome of ``metric`` with each day at the account's ordinary level,
    and its cumulative sums over days (column k: the days before k)."""
    cache = panel.derived.setdefault("linear_ordinary", {})
    if metric not in cache:
        grid = panel.grid[metric[0]] * factor[None, :]
        cache[metric] = grid, np.concatenate([np.zeros((len(grid), 1)),
                                              np.cumsum(grid, axis=1)], axis=1)
    return cache[metric]


def _sum(cumulative: np.ndarray, t: int, w: int) -> np.ndarray:
    """Σ over the ``w`` days up to t of the grid ``cumulative`` sums."""
    return cumulative[:, t + 1] - cumulative[:, max(t + 1 - w, 0)]


def _channel_daily(panel: Panel, metric: str, codes: np.ndarray) -> np.ndarray:
    """Channels × days: Σ ``metric`` of the campaigns of a known channel (kept in ``panel.derived``:
    every training day reads it)."""
    cache = panel.derived.setdefault("linear_channel_daily", {})
    if metric not in cache:
        total = np.zeros((int(codes.max(initial=0)) + 1, panel.days))
        known = np.isfinite(panel.channel_codes)
        np.add.at(total, codes[known], panel.grid[metric][known])
        cache[metric] = total
    return cache[metric]


def _log_trend(short: np.ndarray, long: np.ndarray, known: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(known & (short > 0) & (long > 0), np.log(short / long), 0.0)


def _account(panel: Panel, outcome: np.ndarray, cost: np.ndarray, codes: np.ndarray,
             t: int) -> tuple[float, float]:
    """The account's yield over its last 3 days against its last 28, and its daily spend over
    the last 3 days against the last 56 (log ratios; 0 where undefined): promotions and
    holidays move every campaign at once, and how long they last is the account's own."""
    out, tracked = outcome.sum(axis=0), cost.sum(axis=0)
    spend = _channel_daily(panel, "cost", codes).sum(axis=0)

    def total(values: np.ndarray, days: int) -> float:
        return float(values[max(t + 1 - days, 0):t + 1].sum())

    o3, o28, c3, c28 = total(out, 3), total(out, 28), total(tracked, 3), total(tracked, 28)
    level = np.log((o3 / c3) / (o28 / c28)) if min(o3, o28, c3, c28) > 0 else 0.0
    s3, s56 = total(spend, 3), total(spend, 56)
    step = np.log((s3 / 3) / (s56 / 56)) if s3 > 0 and s56 > 0 else 0.0
    return float(level), float(step)


def _median(outcome: np.ndarray, cost: np.ndarray, t: int, w: int) -> np.ndarray:
    """The median of a campaign's daily yields over ``w`` days (days it spent): a trailing
    level that a few days of promotion do not move."""
    lo = max(t + 1 - w, 0)
    c = cost[:, lo:t + 1]
    spent = c > 0
    # Days without spend sort last (inf), so the median is over the first ``days`` values.
    daily = np.where(spent, outcome[:, lo:t + 1] / np.where(spent, c, 1.0), np.inf)
    ordered, days, rows = np.sort(daily, axis=1), spent.sum(axis=1), np.arange(len(c))
    middle = ordered[rows, np.maximum((days - 1) // 2, 0)] + ordered[rows, np.maximum(days // 2, 0)]
    return np.where(days > 0, 0.5 * middle, np.nan)


@dataclass
class LinearYield:
    """Coefficients (intercept first) of the log ratio to the base, and the feature range."""

    horizon_days: int
    metric: tuple[str, str] = ROI
    coef: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES) + 1))
    low: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))
    high: np.ndarray = field(default_factory=lambda: np.zeros(len(FEATURES)))
    examples: int = 0

    @classmethod
    def fit(cls, panel: Panel, days: Iterable[int], horizon: int, metric: tuple[str, str] = ROI,
            rows: np.ndarray | None = None) -> LinearYield:
        """Fitted on the campaigns (of ``rows``, default all) that spent in the 7 days up to
        each day of ``days`` and over the horizon after it, where the horizon tracks the
        outcome (a week not tracked is no yield of 0)."""
        out_m, cost_m = metric
        parts, labels, weights = [], [], []
        for t in days:
            cost = panel.ahead(cost_m, t, horizon)
            real = _div(panel.ahead(out_m, t, horizon), cost)
            X, base = design(panel, t, metric)
            c = _offset(out_m, base)
            keep = ((recent_spend(panel, t) > 0) & np.isfinite(real) & np.isfinite(base)
                    & (base + c > 0) & (cost >= panel.ahead("cost", t, horizon) * (1 - 1e-9))
                    & (cost > 0))
            if rows is not None:
                keep &= rows
            parts.append(X[keep])
            with np.errstate(divide="ignore", invalid="ignore"):
                labels.append(np.log((real + c) / (base + c))[keep])
            weights.append(cost[keep])
        model = cls(horizon_days=horizon, metric=metric)
        if not parts or sum(len(y) for y in labels) < 2 * len(FEATURES):
            return model
        X, y, w = np.vstack(parts), np.concatenate(labels), np.concatenate(weights)
        model.low, model.high = np.quantile(X, CLIP, axis=0)
        model.coef = _lad(np.column_stack([np.ones(len(y)), np.clip(X, model.low, model.high)]),
                          y, w / w.mean())
        model.examples = len(y)
        return model

    def predict(self, panel: Panel, t: int) -> np.ndarray:
        """The yield over the horizon after ``t`` for every campaign of the panel (NaN without
        a base): ROI, or results per $."""
        X, base = design(panel, t, self.metric)
        c = _offset(self.metric[0], base)
        z = self.coef[0] + np.clip(X, self.low, self.high) @ self.coef[1:]
        with np.errstate(invalid="ignore"):
            return np.maximum((base + c) * np.exp(z) - c, 0.0)


def strided_days(panel: Panel, last_label_day: int, horizon: int, first: int,
                 max_examples: int = 40_000) -> list[int]:
    """Forecast dates from ``first`` whose label window ends by ``last_label_day``, strided so
    that the campaigns active at the end give at most ``max_examples`` examples."""
    last = last_label_day - horizon
    if last < first:
        return []
    active = max(int((panel.grid["cost"][:, max(last - 27, 0):last + 1] > 0).any(axis=1).sum()), 1)
    stride = max(1, int(np.ceil((last - first + 1) * active / max_examples)))
    return list(range(last, first - 1, -stride))[::-1]


def _lad(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least absolute deviations by iteratively reweighted least squares, with
    ``RIDGE`` on every coefficient but the intercept."""
    penalty = RIDGE * np.diag([0.0] + [1.0] * (X.shape[1] - 1))
    beta = np.zeros(X.shape[1])
    for _ in range(_IRLS_STEPS):
        ww = w / np.maximum(np.abs(y - X @ beta), 1e-3)
        beta = np.linalg.solve(X.T @ (X * ww[:, None]) + penalty, X.T @ (ww * y))
    return beta

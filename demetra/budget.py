"""Budget allocation: a response curve per channel, fitted from the data, and the split of a
daily budget that earns the most by those curves — within the user's guardrails.

Curves
------
Expected daily revenue as a function of daily spend, fitted per channel to the days of a
window in the ``channel_days`` rollup (one row per channel per day, aggregated in SQL):

* ``hill``: ``vmax·sⁿ/(Kⁿ+sⁿ)`` — diminishing returns, S-shaped when n > 1;
* ``log``: ``a·log(1 + s/b)`` — concave everywhere (used by tests and by hand).

A channel's daily spend usually moves only ±10-20 % around its level, which pins down the
revenue there and the marginal ROI (the slope) but hardly the curvature: left free, a Hill
shape of 3 fits the noise as well as 1.3 and turns the channel into a cliff the allocator
jumps off. The fit is therefore a maximum a posteriori estimate: robust least squares
(soft-L1, so incident days do not drag the curve) plus a prior, in log space, that the account
sits near half-saturation (K / median spend ~ lognormal, sd 0.5) with a shape near 1 (sd 0.3);
the data override it where they carry information (a clearly S-shaped channel keeps its
shape). The widths were chosen on the benchmark's seeds 1-5 and checked on other seeds
(``benchmarks/bench_budget.py``). The band comes from the fit's covariance: parameter draws
from the Laplace approximation, pushed through the curve.

A channel with fewer than ``MIN_DAYS`` days with spend, or whose spend did not vary (coefficient
of variation below ``MIN_SPEND_CV``), is skipped; ``fit_curves`` returns a :class:`CurveSet` — a
dict of curves with a ``skipped`` dict (channel -> why) beside it.

Allocator
---------
Maximise Σ revenue_c(s_c) subject to Σ s_c = total and lo_c ≤ s_c ≤ hi_c (guardrails: min/max
per channel, locked channels at their current spend, a ±% cap on the change). Separable but not
necessarily concave (Hill curves with n > 1 are convex at low spend), so gradient methods can
stick at zero for a channel. Instead: exact dynamic programming over a grid of the budget
(global optimum on the grid whatever the curves' shape), then SLSQP with analytic gradients
from that point for the last digits, keeping the better of the two. Impossible guardrails give
``feasible=False`` and a message naming the conflict, never a silently wrong split.

Amounts are daily spend in the account's currency; ROI is revenue / spend (ratio of sums).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy.optimize import least_squares, minimize

from demetra.queries import as_date

__all__ = [
    "Allocation", "Curve", "CurveSet", "Guardrails", "MIN_DAYS", "MIN_SPEND_CV", "Proof",
    "allocate", "campaign_split_table", "curves_figure", "evaluate_split", "fit_campaign_curves",
    "fit_curve", "fit_curves", "guardrails_from_rows", "marginal_figure", "min_budget_for",
    "proof", "recommend", "split_figure", "split_table", "true_curves",
]

MIN_DAYS = 14          # days with spend a channel needs before its curve means anything
MIN_SPEND_CV = 0.02    # below this day-to-day spread the slope cannot be told from noise
BAND_DRAWS = 300
_GRID = 800            # budget steps of the dynamic programme
_PRIOR_SD = 0.5        # log-space sd of the weak prior on K / typical spend
_SHAPE_PRIOR_SD = 0.3  # log-space sd of the prior on the shape around 1
_SHAPE_BOUNDS = (0.5, 3.5)


# --------------------------------------------------------------------------------------------
# Curves


def _hill(s: np.ndarray, vmax: Any, k: Any, n: Any) -> np.ndarray:
    s = np.maximum(np.asarray(s, dtype=float), 0.0)
    # vmax / (1 + (K/s)^n) is the same curve without overflow for large s^n.
    with np.errstate(divide="ignore", over="ignore"):
        return np.where(s > 0, vmax / (1.0 + (k / np.where(s > 0, s, 1.0)) ** n), 0.0)


def _hill_slope(s: np.ndarray, vmax: Any, k: Any, n: Any) -> np.ndarray:
    s = np.maximum(np.asarray(s, dtype=float), 1e-9)
    with np.errstate(over="ignore", invalid="ignore"):
        r = (k / s) ** n
        out = vmax * n * r / (s * (1.0 + r) ** 2)
    return np.nan_to_num(out, nan=0.0, posinf=0.0)


def _log(s: np.ndarray, a: Any, b: Any) -> np.ndarray:
    return a * np.log1p(np.maximum(np.asarray(s, dtype=float), 0.0) / b)


def _log_slope(s: np.ndarray, a: Any, b: Any) -> np.ndarray:
    return a / (b + np.maximum(np.asarray(s, dtype=float), 0.0))


def _scalar_or_array(x: Any, out: np.ndarray) -> np.ndarray | float:
    return float(out) if np.ndim(x) == 0 else out


@dataclass(frozen=True)
class Curve:
    """One channel's (or campaign's) response curve: expected daily revenue vs daily spend.

    ``params``: ``vmax``, ``half_saturation``, ``shape`` (hill) or ``a``, ``b`` (log).
    ``current_spend``: average daily spend over the window; ``days``: days with spend used;
    ``spend_min``/``spend_max``: the observed daily range (outside it the curve extrapolates).
    ``draws``: parameter draws (rows, in ``params`` order) for the band; None = no band.
    """

    channel: str
    kind: str
    params: dict[str, float]
    current_spend: float
    days: int
    spend_min: float
    spend_max: float
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in ("hill", "log"):
            raise ValueError(f"curve kind must be 'hill' or 'log', not {self.kind!r}")
        need = ("vmax", "half_saturation", "shape") if self.kind == "hill" else ("a", "b")
        missing = [p for p in need if p not in self.params]
        if missing:
            raise ValueError(f"{self.kind} curve of {self.channel!r} lacks {', '.join(missing)}")

    def _args(self) -> tuple[float, ...]:
        p = self.params
        if self.kind == "hill":
            return p["vmax"], p["half_saturation"], p["shape"]
        return p["a"], p["b"]

    def revenue(self, spend: Any) -> np.ndarray | float:
        f = _hill if self.kind == "hill" else _log
        return _scalar_or_array(spend, f(spend, *self._args()))

    def marginal_roi(self, spend: Any) -> np.ndarray | float:
        f = _hill_slope if self.kind == "hill" else _log_slope
        return _scalar_or_array(spend, f(spend, *self._args()))

    def draw_revenue(self, spend: Any) -> np.ndarray | None:
        """Revenue at ``spend`` under each parameter draw: shape (draws, *spend.shape)."""
        if self.draws is None or len(self.draws) == 0:
            return None
        s = np.asarray(spend, dtype=float)[None, ...]
        shape = (-1,) + (1,) * (s.ndim - 1)
        cols = [self.draws[:, i].reshape(shape) for i in range(self.draws.shape[1])]
        f = _hill if self.kind == "hill" else _log
        return f(s, *cols)

    def band(self, spend: Any, level: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
        """Central ``level`` interval of the expected revenue at ``spend`` (the curve itself
        on both sides when the curve has no draws)."""
        if not 0 < level < 1:
            raise ValueError(f"band level must be between 0 and 1, not {level!r}")
        sims = self.draw_revenue(spend)
        if sims is None:
            mid = np.asarray(self.revenue(spend), dtype=float)
            return mid, mid
        q = (1 - level) / 2
        return np.quantile(sims, q, axis=0), np.quantile(sims, 1 - q, axis=0)


class CurveSet(dict[str, Curve]):
    """``fit_curves``' result: channel -> Curve, plus ``skipped`` (channel -> reason) and the
    window (``start``, ``end``, ``days``: days in the window with any spend); for campaign
    curves (``fit_campaign_curves``) keys are campaign ids and ``labels`` their names."""

    def __init__(self, curves: Mapping[str, Curve] | None = None, *,
                 skipped: Mapping[str, str] | None = None, start: dt.date | None = None,
                 end: dt.date | None = None, days: int = 0,
                 labels: Mapping[str, str] | None = None) -> None:
        super().__init__(curves or {})
        self.skipped: dict[str, str] = dict(skipped or {})
        self.start, self.end, self.days = start, end, days
        self.labels: dict[str, str] = dict(labels or {})


def fit_curve(channel: str, spend: Sequence[float], revenue: Sequence[float], *,
              current_spend: float | None = None, draws: int = BAND_DRAWS,
              seed: int = 0) -> Curve:
    """Fit a Hill curve to daily (spend, revenue) pairs of one channel; see the module notes.

    Raises ValueError naming the problem when the data cannot carry a curve.
    """
    x = np.asarray(spend, dtype=float)
    y = np.asarray(revenue, dtype=float)
    if x.shape != y.shape:
        raise ValueError(f"{channel}: spend and revenue differ in length ({x.size} vs {y.size})")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[keep], y[keep]
    if x.size < MIN_DAYS:
        raise ValueError(f"{channel}: only {x.size} days with spend (at least {MIN_DAYS} needed)")
    cv = float(x.std() / x.mean())
    if cv < MIN_SPEND_CV:
        raise ValueError(f"{channel}: daily spend hardly varied (${x.min():,.2f}–${x.max():,.2f}, "
                         f"spread {cv:.1%}), so its response to spend cannot be measured")
    typical = float(np.median(x))
    xs = x / typical
    scale = max(float(np.median(np.abs(y))), 1e-9)
    ys = y / scale

    def curve(theta: np.ndarray) -> np.ndarray:
        return _hill(xs, math.exp(theta[0]), math.exp(theta[1]), math.exp(theta[2]))

    # Start from the best of a small grid of (K, n), with vmax solved linearly for each.
    best = (math.inf, np.zeros(3))
    for n in (0.7, 1.0, 1.5, 2.2):
        for k in (0.3, 1.0, 3.0):
            g = _hill(xs, 1.0, k, n)
            vmax = max(float(g @ ys / (g @ g)), 1e-6)
            sse = float(np.sum((ys - vmax * g) ** 2))
            if sse < best[0]:
                best = (sse, np.log([vmax, k, n]))
    theta0 = best[1]
    resid0 = ys - curve(theta0)
    f_scale = max(1.4826 * float(np.median(np.abs(resid0 - np.median(resid0)))), 1e-6)

    # The prior's rows are in units of the data's noise, so its weight does not depend on scale.
    def residuals(theta: np.ndarray) -> np.ndarray:
        return np.concatenate([ys - curve(theta), [f_scale * theta[1] / _PRIOR_SD,
                                                   f_scale * theta[2] / _SHAPE_PRIOR_SD]])

    lo = [-np.inf, math.log(0.02), math.log(_SHAPE_BOUNDS[0])]
    hi = [np.inf, math.log(50.0), math.log(_SHAPE_BOUNDS[1])]
    theta0 = np.clip(theta0, np.array(lo) + 1e-9, np.array(hi) - 1e-9)
    fit = least_squares(residuals, theta0, bounds=(lo, hi), loss="soft_l1", f_scale=f_scale,
                        x_scale=1.0, max_nfev=2000)
    theta = fit.x
    sample = None
    if draws > 0:
        sample = _draws(fit, theta, x.size, draws, seed)
    vmax, k, n = math.exp(theta[0]) * scale, math.exp(theta[1]) * typical, math.exp(theta[2])
    table = None
    if sample is not None:
        table = np.column_stack([np.exp(sample[:, 0]) * scale, np.exp(sample[:, 1]) * typical,
                                 np.exp(sample[:, 2])])
    return Curve(channel=channel, kind="hill",
                 params={"vmax": vmax, "half_saturation": k, "shape": n},
                 current_spend=float(x.mean() if current_spend is None else current_spend),
                 days=int(x.size), spend_min=float(x.min()), spend_max=float(x.max()),
                 draws=table)


def _draws(fit: Any, theta: np.ndarray, n_obs: int, draws: int, seed: int) -> np.ndarray | None:
    """Parameter draws from the Laplace approximation of the fit. The noise level is the
    residuals' MAD, so that the few incident days do not widen the band for all the others."""
    jac = fit.jac
    resid = fit.fun[:n_obs]
    mad = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
    sigma2 = mad**2 * n_obs / max(n_obs - len(theta), 1)
    try:
        cov = np.linalg.pinv(jac.T @ jac) * sigma2
    except np.linalg.LinAlgError:
        return None
    cov = (cov + cov.T) / 2
    rng = np.random.default_rng(seed)
    try:
        out = rng.multivariate_normal(theta, cov, size=draws, method="eigh")
    except (np.linalg.LinAlgError, ValueError):
        return None
    out[:, 2] = np.clip(out[:, 2], math.log(0.2), math.log(6.0))
    return out


def _window_rows(engine: sa.Engine, end: dt.date | None, window_days: int,
                 channels: Sequence[str] | None) -> tuple[dt.date | None, dt.date | None, list]:
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"

        def bind(d: dt.date) -> Any:
            return d.isoformat() if sqlite else d

        if end is None:
            end = as_date(conn.execute(sa.text("SELECT MAX(date) FROM channel_days")).scalar())
            if end is None:
                return None, None, []
        start = end - dt.timedelta(days=window_days - 1)
        params: dict[str, Any] = {"s": bind(start), "e": bind(end)}
        where = ""
        if channels:
            names = [f":c{i}" for i in range(len(channels))]
            params.update({f"c{i}": c for i, c in enumerate(channels)})
            where = f" AND channel IN ({', '.join(names)})"
        rows = conn.execute(sa.text(
            "SELECT channel, date, SUM(cost), SUM(revenue) FROM channel_days "
            f"WHERE date BETWEEN :s AND :e{where} GROUP BY channel, date "
            "ORDER BY channel, date"), params).all()
    return start, end, rows


def fit_curves(engine: sa.Engine, *, end: dt.date | None = None, window_days: int = 90,
               channels: Sequence[str] | None = None) -> CurveSet:
    """A curve per channel from the ``window_days`` days ending at ``end`` (default: the last
    day with data). Channels that cannot carry a curve are in ``result.skipped`` with why.

    ``current_spend`` is the channel's spend over the window divided by the days of the window
    on which the account spent anything (a channel that paused for a week averages it in).
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ValueError(f"the window must be a positive number of days, not {window_days!r}")
    start, end, rows = _window_rows(engine, as_date(end), window_days, channels)
    if not rows:
        return CurveSet(start=start, end=end)
    by_channel: dict[str, tuple[list[float], list[float]]] = {}
    active_days: set[dt.date | None] = set()
    for channel, day, cost, revenue in rows:
        if (cost or 0) > 0:
            active_days.add(as_date(day))
        xs, ys = by_channel.setdefault(channel, ([], []))
        xs.append(float(cost or 0.0))
        ys.append(float(revenue or 0.0))
    days = len(active_days)
    curves: dict[str, Curve] = {}
    skipped: dict[str, str] = {}
    for ch, (xs, ys) in sorted(by_channel.items()):
        current = sum(xs) / days if days else 0.0
        try:
            curves[ch] = fit_curve(ch, xs, ys, current_spend=current)
        except ValueError as exc:
            skipped[ch] = str(exc).split(": ", 1)[-1]
    for ch in channels or ():
        if ch not in by_channel:
            skipped[ch] = "no data in the window"
    return CurveSet(curves, skipped=skipped, start=start, end=end, days=days)


def fit_campaign_curves(engine: sa.Engine, channel: str, *, end: dt.date | None = None,
                        window_days: int = 90, limit: int = 30,
                        min_spend_cv: float = 0.1) -> CurveSet:
    """A curve per campaign of ``channel`` where its own daily spend varied enough.

    The ``limit`` biggest campaigns by spend in the window are considered. Their count of days
    with spend, total spend and spread of daily spend are aggregated in SQL; only campaigns
    with at least ``MIN_DAYS`` such days and a coefficient of variation of at least
    ``min_spend_cv`` have their daily rows read (one window, one channel), the others are in
    ``skipped`` with why. A campaign's revenue also moves with its channel's other campaigns,
    so these curves rank where an extra dollar works best inside a channel; the split across
    channels comes from the channel curves. ``current_spend``: the average over the campaign's
    days with spend.
    """
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise ValueError(f"the window must be a positive number of days, not {window_days!r}")
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"

        def bind(d: dt.date) -> Any:
            return d.isoformat() if sqlite else d

        end = as_date(end) or as_date(conn.execute(sa.text(
            "SELECT MAX(date) FROM channel_days WHERE channel = :c"), {"c": channel}).scalar())
        if end is None:
            return CurveSet()
        start = end - dt.timedelta(days=window_days - 1)
        p = {"c": channel, "s": bind(start), "e": bind(end), "n": int(limit)}
        stats = conn.execute(sa.text(
            "SELECT campaign_id, MAX(campaign_name), COUNT(*), SUM(cost), SUM(cost * cost) "
            "FROM campaigns WHERE channel = :c AND date BETWEEN :s AND :e AND cost > 0 "
            "GROUP BY campaign_id ORDER BY SUM(cost) DESC, campaign_id LIMIT :n"), p).all()
        labels = {cid: name or cid for cid, name, *_ in stats}
        skipped: dict[str, str] = {}
        fit_ids = []
        for cid, _, n, total, squares in stats:
            mean = total / n
            cv = math.sqrt(max(squares / n - mean * mean, 0.0)) / mean if mean > 0 else 0.0
            if n < MIN_DAYS:
                skipped[cid] = f"only {n} days with spend (at least {MIN_DAYS} needed)"
            elif cv < min_spend_cv:
                skipped[cid] = (f"daily spend hardly varied (spread {cv:.1%}, at least "
                                f"{min_spend_cv:.0%} needed)")
            else:
                fit_ids.append(cid)
        rows: list[Any] = []
        if fit_ids:
            names = ", ".join(f":id{i}" for i in range(len(fit_ids)))
            rows = conn.execute(sa.text(
                "SELECT campaign_id, cost, revenue FROM campaigns WHERE channel = :c AND date "
                f"BETWEEN :s AND :e AND cost > 0 AND campaign_id IN ({names}) "
                "ORDER BY campaign_id, date"),
                {**p, **{f"id{i}": cid for i, cid in enumerate(fit_ids)}}).all()
    series: dict[str, tuple[list[float], list[float]]] = {}
    for cid, cost, revenue in rows:
        xs, ys = series.setdefault(cid, ([], []))
        xs.append(float(cost))
        ys.append(float(revenue or 0.0))
    curves: dict[str, Curve] = {}
    for cid in fit_ids:
        xs, ys = series.get(cid, ([], []))
        try:
            curves[cid] = fit_curve(cid, xs, ys)
        except ValueError as exc:
            skipped[cid] = str(exc).split(": ", 1)[-1]
    return CurveSet(curves, skipped=skipped, start=start, end=end, days=window_days,
                    labels=labels)


# --------------------------------------------------------------------------------------------
# Allocation


@dataclass(frozen=True)
class Guardrails:
    """Limits on the split. ``min_spend``/``max_spend``: daily spend per channel; ``locked``:
    channels kept at their current spend; ``max_change_pct``: no channel moves by more than
    this many percent of its current spend (e.g. 20 = ±20 %)."""

    min_spend: Mapping[str, float] = field(default_factory=dict)
    max_spend: Mapping[str, float] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()
    max_change_pct: float | None = None


@dataclass(frozen=True)
class Allocation:
    """The recommended daily split and what the curves expect of it.

    When ``feasible`` is False, ``allocation`` is empty, the expected figures are NaN (None in
    JSON) and ``message`` says why. ``revenue_low``/``revenue_high``: the central 80 % of the
    expected revenue over the curves' parameter draws. ``marginal_roi``: d revenue / d spend
    of each channel at its recommended spend — equal across the channels that no guardrail
    holds, when the split is optimal.
    """

    allocation: dict[str, float]
    current: dict[str, float]
    expected_revenue: float
    expected_roi: float | None
    current_revenue: float
    current_roi: float | None
    revenue_low: float
    revenue_high: float
    marginal_roi: dict[str, float]
    total: float
    feasible: bool
    message: str
    current_marginal_roi: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def revenue_change(self) -> float:
        return self.expected_revenue - self.current_revenue

    def to_json(self) -> dict[str, Any]:
        def num(v: float | None, digits: int = 2) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), digits)

        return {
            "allocation": {c: num(v) for c, v in self.allocation.items()},
            "current": {c: num(v) for c, v in self.current.items()},
            "expected_revenue": num(self.expected_revenue),
            "expected_roi": num(self.expected_roi, 4),
            "current_revenue": num(self.current_revenue),
            "current_roi": num(self.current_roi, 4),
            "revenue_low": num(self.revenue_low),
            "revenue_high": num(self.revenue_high),
            "marginal_roi": {c: num(v, 4) for c, v in self.marginal_roi.items()},
            "total": num(self.total),
            "feasible": self.feasible,
            "message": self.message,
            "skipped": dict(self.skipped),
        }


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 or not math.isfinite(num) else num / den


def _bounds(curves: Mapping[str, Curve], total: float,
            g: Guardrails) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-channel [lo, hi] from the guardrails (hi also capped by what the total leaves once
    every minimum is met), and the conflicts found on the way."""
    names = list(curves)
    unknown = sorted((set(g.min_spend) | set(g.max_spend) | set(g.locked)) - set(names))
    problems = [f"guardrails name unknown channels: {', '.join(unknown)}"] if unknown else []
    lo = np.zeros(len(names))
    hi = np.full(len(names), np.inf)
    for i, ch in enumerate(names):
        cur = curves[ch].current_spend
        user_lo, user_hi = float(g.min_spend.get(ch, 0.0)), float(g.max_spend.get(ch, np.inf))
        if user_lo > user_hi:
            problems.append(f"{ch}: minimum ${user_lo:,.2f} is above maximum ${user_hi:,.2f}")
        if ch in g.locked:
            if not user_lo <= cur <= user_hi:
                problems.append(f"{ch} is locked at its current ${cur:,.2f}/day, outside its "
                                f"own min ${user_lo:,.2f} / max ${user_hi:,.2f}")
            lo[i] = hi[i] = cur
            continue
        lo[i], hi[i] = user_lo, user_hi
        if g.max_change_pct is not None:
            cap_lo = cur * (1 - g.max_change_pct / 100)
            cap_hi = cur * (1 + g.max_change_pct / 100)
            if user_lo > cap_hi or user_hi < cap_lo:
                problems.append(f"{ch}: min/max ${user_lo:,.2f}–${user_hi:,.2f} lies outside "
                                f"the ±{g.max_change_pct:g}% cap around its current "
                                f"${cur:,.2f}/day")
            lo[i], hi[i] = max(lo[i], cap_lo), min(hi[i], cap_hi)
    hi = np.minimum(hi, np.maximum(lo + max(total - lo.sum(), 0.0), lo))
    return lo, hi, problems


def _check(curves: Mapping[str, Curve], total: float, g: Guardrails) -> str | None:
    if not curves:
        return "no channel has a fitted curve to allocate over"
    if not math.isfinite(total) or total < 0:
        return f"the total must be a non-negative daily amount, not {total!r}"
    if g.max_change_pct is not None and not 0 <= g.max_change_pct:
        return f"the change cap must be a non-negative percentage, not {g.max_change_pct!r}"
    bad = [f"{c} {v!r}" for c, v in {**g.min_spend, **g.max_spend}.items()
           if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0)]
    if bad:
        return f"min/max spend must be non-negative amounts: {', '.join(bad)}"
    lo, hi, problems = _bounds(curves, total, g)
    if problems:
        return "; ".join(problems)
    names = list(curves)
    locked = [c for c in names if c in g.locked]
    if lo.sum() > total + 1e-6 * max(total, 1):
        parts = [f"{c} ≥ ${v:,.2f}" for c, v in zip(names, lo, strict=True) if v > 0]
        why = ("locked channels and minimums" if locked else "the minimums")
        return (f"{why} add up to ${lo.sum():,.2f}/day, more than the total ${total:,.2f}/day "
                f"({'; '.join(parts)})")
    if hi.sum() < total - 1e-6 * max(total, 1):
        parts = [f"{c} ≤ ${v:,.2f}" for c, v in zip(names, hi, strict=True)]
        why = ("locked channels, maximums and the change cap" if locked
               else "the maximums and the change cap")
        return (f"{why} allow at most ${hi.sum():,.2f}/day, less than the total "
                f"${total:,.2f}/day ({'; '.join(parts)})")
    return None


def _dp(fs: list[Curve], lo: np.ndarray, hi: np.ndarray, total: float, grid: int) -> np.ndarray:
    """Exact maximum of Σ r_c over a grid of the budget above the minimums (any curve shape)."""
    extra = total - lo.sum()
    if extra <= 0:
        return lo.copy()
    h = extra / grid
    steps = np.arange(grid + 1)
    best = np.zeros(grid + 1)   # best revenue of the channels so far using j steps
    best[1:] = -np.inf
    choice = []
    jj, kk = np.meshgrid(steps, steps, indexing="ij")   # j total steps, k of them to this channel
    valid = kk <= jj
    for c, curve in enumerate(fs):
        cap = int(math.floor((hi[c] - lo[c]) / h + 1e-9))
        value = np.asarray(curve.revenue(lo[c] + steps * h), dtype=float)
        value[steps > cap] = -np.inf
        cand = np.where(valid, best[np.clip(jj - kk, 0, grid)] + value[kk], -np.inf)
        pick = np.argmax(cand, axis=1)
        best = cand[steps, pick]
        choice.append(pick)
    if not np.isfinite(best[grid]):
        # The caps are so tight that the grid cannot land on the total: spread proportionally.
        room = hi - lo
        return lo + room * (extra / room.sum())
    out = lo.copy()
    j = grid
    for c in range(len(fs) - 1, -1, -1):
        k = choice[c][j]
        out[c] += k * h
        j -= k
    return out


def _polish(fs: list[Curve], lo: np.ndarray, hi: np.ndarray, total: float,
            x0: np.ndarray) -> np.ndarray:
    scale = max(total, 1.0)

    def neg(z: np.ndarray) -> float:
        return -sum(float(f.revenue(v * scale)) for f, v in zip(fs, z, strict=True)) / scale

    def grad(z: np.ndarray) -> np.ndarray:
        return -np.array([float(f.marginal_roi(v * scale)) for f, v in zip(fs, z, strict=True)])

    res = minimize(neg, x0 / scale, jac=grad, method="SLSQP",
                   bounds=list(zip(lo / scale, hi / scale, strict=True)),
                   constraints=[{"type": "eq", "fun": lambda z: z.sum() - total / scale,
                                 "jac": lambda z: np.ones_like(z)}],
                   options={"maxiter": 200, "ftol": 1e-12})
    x = _repair(np.asarray(res.x) * scale, lo, hi, total)
    return x if _value(fs, x) >= _value(fs, x0) else x0


def _repair(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float) -> np.ndarray:
    """Clip into the bounds and put any rounding residue where there is room, so the split
    sums to the total exactly and never leaves its bounds."""
    x = np.clip(x, lo, hi)
    for _ in range(3):
        gap = total - x.sum()
        if abs(gap) <= 1e-9 * max(total, 1):
            break
        room = (hi - x) if gap > 0 else (x - lo)
        if room.sum() <= 0:
            break
        x = np.clip(x + np.sign(gap) * room * min(abs(gap) / room.sum(), 1.0), lo, hi)
    return x


def _value(fs: list[Curve], x: np.ndarray) -> float:
    return float(sum(float(f.revenue(v)) for f, v in zip(fs, x, strict=True)))


def _revenue_interval(fs: list[Curve], x: np.ndarray, level: float = 0.8) -> tuple[float, float]:
    sims = [f.draw_revenue(np.asarray(v)) for f, v in zip(fs, x, strict=True)]
    if any(s is None for s in sims):
        mid = _value(fs, x)
        return mid, mid
    n = min(len(s) for s in sims)  # type: ignore[arg-type]
    total = np.sum([np.asarray(s)[:n] for s in sims], axis=0)
    q = (1 - level) / 2
    return float(np.quantile(total, q)), float(np.quantile(total, 1 - q))


def _infeasible(curves: Mapping[str, Curve], total: float, message: str) -> Allocation:
    current = {c: f.current_spend for c, f in curves.items()}
    cur_rev = float(sum(float(f.revenue(f.current_spend)) for f in curves.values()))
    return Allocation(allocation={}, current=current, expected_revenue=math.nan,
                      expected_roi=None, current_revenue=cur_rev,
                      current_roi=_ratio(cur_rev, sum(current.values())),
                      revenue_low=math.nan, revenue_high=math.nan, marginal_roi={},
                      total=float(total), feasible=False, message=message)


def allocate(curves: Mapping[str, Curve], total: float,
             guardrails: Guardrails | None = None, *, grid: int = _GRID) -> Allocation:
    """The split of ``total`` (daily) over ``curves`` that maximises expected revenue within
    ``guardrails``; see the module notes. Infeasible guardrails -> ``feasible=False``."""
    g = guardrails or Guardrails()
    total = float(total)
    problem = _check(curves, total, g)
    if problem:
        return _infeasible(curves, total, f"Cannot allocate ${total:,.2f}/day: {problem}.")
    names = list(curves)
    fs = [curves[c] for c in names]
    lo, hi, _ = _bounds(curves, total, g)
    x = _repair(_dp(fs, lo, hi, total, grid), lo, hi, total)
    x = _polish(fs, lo, hi, total, x)
    current = {c: f.current_spend for c, f in curves.items()}
    cur_x = np.array([f.current_spend for f in fs])
    cur_rev = _value(fs, cur_x)
    rev = _value(fs, x)
    low, high = _revenue_interval(fs, x)
    held = [c for c, a, b in zip(names, lo, hi, strict=True) if b - a <= 1e-9]
    message = (f"Best split of ${total:,.2f}/day: expected revenue ${rev:,.2f}/day vs "
               f"${cur_rev:,.2f}/day at the current split")
    if held:
        message += f"; held by guardrails: {', '.join(held)}"
    return Allocation(
        allocation={c: float(v) for c, v in zip(names, x, strict=True)},
        current=current, expected_revenue=rev, expected_roi=_ratio(rev, total),
        current_revenue=cur_rev, current_roi=_ratio(cur_rev, float(cur_x.sum())),
        revenue_low=low, revenue_high=high,
        marginal_roi={c: float(f.marginal_roi(v)) for c, f, v in zip(names, fs, x, strict=True)},
        total=total, feasible=True, message=message + ".",
        current_marginal_roi={c: float(f.marginal_roi(f.current_spend)) for c, f in curves.items()},
        bounds={c: (float(a), float(b)) for c, a, b in zip(names, lo, hi, strict=True)})


def min_budget_for(curves: Mapping[str, Curve], *, revenue: float | None = None,
                   roi: float | None = None, guardrails: Guardrails | None = None) -> Allocation:
    """The reverse question, with exactly one target.

    ``revenue``: the smallest daily total whose best split is expected to earn that much a
    day (best-split revenue never falls as the total grows: a scan, then bisection).
    ``roi``: expected ROI falls as the budget grows past the most efficient spend, so the
    smallest budget reaching an ROI is usually next to nothing; the useful answer is the
    *largest* daily total whose best split still keeps the ROI at or above the target, and
    that is what is returned (the message gives the whole range).
    Either way the search stops at the guardrails' maximum or 20× the current total, beyond
    which any fitted curve is pure extrapolation; not reaching the target -> ``feasible=False``.
    """
    if (revenue is None) == (roi is None):
        raise ValueError("give exactly one target: revenue or roi")
    g = guardrails or Guardrails()
    target = float(revenue if revenue is not None else roi)  # type: ignore[arg-type]
    what = f"revenue ${target:,.2f}/day" if revenue is not None else f"ROI {target:.2f}"
    if not math.isfinite(target) or target <= 0:
        return _infeasible(curves, 0.0, f"The {what} target must be a positive number.")
    if not curves:
        return _infeasible(curves, 0.0, "No channel has a fitted curve to allocate over.")
    lows, highs, problems = _bounds(curves, math.inf, g)
    if problems:
        return _infeasible(curves, 0.0, f"Cannot answer: {'; '.join(problems)}.")
    floor, ceiling = float(lows.sum()), float(highs.sum())
    current_total = sum(f.current_spend for f in curves.values())
    top = min(ceiling, max(current_total, floor, 1.0) * 20)

    def reaches(total: float) -> bool:
        a = allocate(curves, total, g, grid=200)
        value = a.expected_revenue if revenue is not None else a.expected_roi
        return a.feasible and value is not None and value >= target

    totals = np.linspace(floor, top, 61)
    ok = [reaches(float(t)) for t in totals]
    if not any(ok):
        limit = "the guardrails' maximum" if top == ceiling else "20× the current total"
        return _infeasible(curves, float(top), (
            f"No daily budget up to {limit} (${top:,.2f}) is expected to reach {what} with "
            "these curves and guardrails."))

    def edge(good: float, bad: float) -> float:
        for _ in range(40):
            if abs(bad - good) <= 1e-5 * max(abs(good), 1.0):
                break
            mid = (good + bad) / 2
            good, bad = (mid, bad) if reaches(mid) else (good, mid)
        return good

    first = ok.index(True)
    smallest = (float(totals[0]) if first == 0
                else edge(float(totals[first]), float(totals[first - 1])))
    if revenue is not None:
        result = allocate(curves, smallest, g)
        return replace(result, message=f"Smallest daily budget expected to reach {what}: "
                                       f"${smallest:,.2f}.")
    last = len(ok) - 1 - ok[::-1].index(True)
    largest = (float(totals[last]) if last == len(ok) - 1
               else edge(float(totals[last]), float(totals[last + 1])))
    result = allocate(curves, largest, g)
    beyond = " (the search limit; maybe more)" if last == len(ok) - 1 else ""
    return replace(result, message=(
        f"Largest daily budget whose best split keeps {what} or better: ${largest:,.2f}{beyond}; "
        f"the ROI reaches the target from ${smallest:,.2f}/day."))


def recommend(engine: sa.Engine, *, total: float | None = None, window_days: int = 90,
              end: dt.date | None = None, guardrails: Guardrails | None = None) -> Allocation:
    """Fit the channels' curves over the window and allocate ``total`` (default: the current
    average daily spend of the fitted channels). Skipped channels keep their spend outside
    the total and are listed in ``skipped``."""
    curves = fit_curves(engine, end=end, window_days=window_days)
    if total is None:
        total = sum(c.current_spend for c in curves.values())
    if not curves:
        why = ("; ".join(f"{c}: {r}" for c, r in curves.skipped.items())
               or "there is no spend in the window")
        out = _infeasible(curves, float(total), f"No channel has enough data for a curve ({why}).")
    else:
        out = allocate(curves, float(total), guardrails)
    return replace(out, skipped=dict(curves.skipped))


def evaluate_split(curves: Mapping[str, Curve], split: Mapping[str, float]) -> float:
    """Σ revenue of ``split`` by ``curves`` (channels missing from ``curves`` earn nothing)."""
    return float(sum(float(curves[c].revenue(v)) for c, v in split.items() if c in curves))


# --------------------------------------------------------------------------------------------
# The seeded world's proof


def true_curves(truth: Mapping[str, Any]) -> dict[str, Curve]:
    """The seeded world's true Hill curves (``seed_truth``), as Curves without a band."""
    out = {}
    for ch, p in truth["channels"].items():
        out[ch] = Curve(channel=ch, kind="hill",
                        params={"vmax": float(p["vmax"]), "half_saturation": float(p["half_saturation"]),
                                "shape": float(p["shape"])},
                        current_spend=float(p["current_daily_spend"]), days=int(truth["days"]),
                        spend_min=0.0, spend_max=math.inf)
    return out


@dataclass(frozen=True)
class Proof:
    """How the recommendation fares by the seeded world's true curves.

    ``share_of_optimum``: true revenue of the recommended split / true revenue of the true
    optimal split of the same total (within the same guardrails); ``current_share``: the same
    for the current split.
    """

    truth: dict[str, Curve]
    true_optimum: Allocation
    recommended_true_revenue: float
    current_true_revenue: float
    share_of_optimum: float | None
    current_share: float | None


def proof(truth: Mapping[str, Any], curves: Mapping[str, Curve], allocation: Allocation,
          guardrails: Guardrails | None = None) -> Proof | None:
    """Evaluate ``allocation`` with the true curves of the channels it allocates over; None
    when it is infeasible or allocates channels the truth does not know."""
    if not allocation.feasible or not allocation.allocation:
        return None
    known = true_curves(truth)
    if not set(allocation.allocation) <= set(known):
        return None
    # The truth's curves sit at the fitted channels' current spend, so locks and caps mean
    # the same to both allocations.
    truth_c = {c: replace(known[c], current_spend=curves[c].current_spend)
               for c in allocation.allocation}
    optimum = allocate(truth_c, allocation.total, guardrails)
    rec = evaluate_split(truth_c, allocation.allocation)
    cur = evaluate_split(truth_c, allocation.current)
    best = optimum.expected_revenue if optimum.feasible else math.nan
    return Proof(truth=truth_c, true_optimum=optimum, recommended_true_revenue=rec,
                 current_true_revenue=cur,
                 share_of_optimum=_ratio(rec, best) if math.isfinite(best) else None,
                 current_share=_ratio(cur, best) if math.isfinite(best) else None)


# --------------------------------------------------------------------------------------------
# What the Budget page shows (figures and tables; the page only lays them out)


def guardrails_from_rows(rows: Sequence[Mapping[str, Any]],
                         max_change_pct: float | None = None) -> Guardrails:
    """Guardrails from the page's editor rows: ``channel``, ``min`` and ``max`` (daily spend,
    empty/NaN = none), ``locked`` (bool). A cap of 0 or None means no cap."""
    def amount(v: Any) -> float | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return float(v)

    mins, maxs, locked = {}, {}, set()
    for r in rows:
        ch = str(r["channel"])
        lo, hi = amount(r.get("min")), amount(r.get("max"))
        if lo is not None:
            mins[ch] = lo
        if hi is not None:
            maxs[ch] = hi
        if bool(r.get("locked")):
            locked.add(ch)
    return Guardrails(min_spend=mins, max_spend=maxs, locked=frozenset(locked),
                      max_change_pct=max_change_pct or None)


def split_table(a: Allocation) -> pd.DataFrame:
    """Per channel: current and recommended daily spend, the change, and the marginal ROI
    before and after (what one more dollar a day earns there)."""
    rows = []
    for ch, now in a.current.items():
        rec = a.allocation.get(ch, math.nan)
        rows.append({"channel": ch, "current": now, "recommended": rec, "change": rec - now,
                     "change_pct": (rec / now - 1) if now > 0 else math.nan,
                     "marginal_roi_now": a.current_marginal_roi.get(ch, math.nan),
                     "marginal_roi_after": a.marginal_roi.get(ch, math.nan)})
    return pd.DataFrame(rows, columns=["channel", "current", "recommended", "change",
                                       "change_pct", "marginal_roi_now", "marginal_roi_after"])


def campaign_split_table(curves: CurveSet) -> pd.DataFrame:
    """Per fitted campaign of one channel: days, current daily spend, ROI and marginal ROI at
    it, and the best split of the same combined spend among these campaigns."""
    cols = ["campaign_id", "campaign_name", "days", "current", "roi_now", "marginal_roi_now",
            "recommended", "marginal_roi_after"]
    if not curves:
        return pd.DataFrame(columns=cols)
    a = allocate(curves, sum(c.current_spend for c in curves.values()))
    rows = []
    for cid, c in curves.items():
        now = c.current_spend
        rows.append({"campaign_id": cid, "campaign_name": curves.labels.get(cid, cid),
                     "days": c.days, "current": now,
                     "roi_now": _ratio(float(c.revenue(now)), now),
                     "marginal_roi_now": float(c.marginal_roi(now)),
                     "recommended": a.allocation.get(cid, math.nan),
                     "marginal_roi_after": a.marginal_roi.get(cid, math.nan)})
    return pd.DataFrame(rows, columns=cols).sort_values("marginal_roi_now", ascending=False,
                                                        ignore_index=True)


def _figure_layout(fig: Any, height: int) -> Any:
    from demetra.charts import FONT

    fig.update_layout(height=height, margin={"l": 8, "r": 8, "t": 40, "b": 8},
                      font={"family": FONT, "size": 13, "color": "#1F2937"},
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)",
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.04, "x": 0})
    fig.update_xaxes(showgrid=False, linecolor="#E5E7EB", tickprefix="$", tickformat=",.0f")
    fig.update_yaxes(gridcolor="#F1F5F9", zeroline=False, rangemode="tozero")
    return fig


def curves_figure(curves: Mapping[str, Curve], allocation: Allocation | None = None, *,
                  truth: Mapping[str, Curve] | None = None, level: float = 0.8) -> Any:
    """One panel per channel: the fitted curve with its band over 0 to well past the observed
    range (shaded), the current spend marked with its marginal ROI, the recommended spend,
    and, on a seeded world, the true curve dashed beside it."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from demetra.charts import channel_color, channel_label

    names = list(curves)
    cols = min(3, max(len(names), 1))
    rows = max(1, math.ceil(len(names) / cols))
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[channel_label(c) for c in names],
                        horizontal_spacing=0.06, vertical_spacing=0.14)
    for i, ch in enumerate(names):
        c = curves[ch]
        r, k = i // cols + 1, i % cols + 1
        rec = allocation.allocation.get(ch) if allocation and allocation.feasible else None
        right = max(c.spend_max * 1.6, (rec or 0) * 1.15, c.current_spend * 1.6, 1.0)
        xs = np.linspace(0, right, 120)
        color = channel_color(ch)
        first = i == 0
        low, high = c.band(xs, level)
        fig.add_trace(go.Scatter(x=np.concatenate([xs, xs[::-1]]),
                                 y=np.concatenate([high, low[::-1]]), fill="toself",
                                 fillcolor=color, opacity=0.18, line={"width": 0},
                                 hoverinfo="skip", name=f"{level:.0%} band", legendgroup="band",
                                 showlegend=first), row=r, col=k)
        fig.add_trace(go.Scatter(x=xs, y=c.revenue(xs), line={"color": color, "width": 2.5},
                                 name="fitted", legendgroup="fit", showlegend=first,
                                 hovertemplate="spend $%{x:,.0f} → revenue $%{y:,.0f}"
                                               "<extra>fitted</extra>"), row=r, col=k)
        if truth and ch in truth:
            fig.add_trace(go.Scatter(x=xs, y=truth[ch].revenue(xs),
                                     line={"color": "#374151", "width": 1.5, "dash": "dash"},
                                     name="true curve", legendgroup="true", showlegend=first,
                                     hovertemplate="spend $%{x:,.0f} → revenue $%{y:,.0f}"
                                                   "<extra>true</extra>"), row=r, col=k)
        fig.add_vrect(x0=c.spend_min, x1=c.spend_max, fillcolor="#94A3B8", opacity=0.12,
                      line_width=0, row=r, col=k)
        now = c.current_spend
        fig.add_trace(go.Scatter(
            x=[now], y=[c.revenue(now)], mode="markers",
            marker={"color": "#1F2937", "size": 10, "symbol": "circle"},
            name="current spend", legendgroup="now", showlegend=first,
            hovertemplate=(f"current ${now:,.0f}/day<br>marginal ROI "
                           f"{float(c.marginal_roi(now)):.2f}<extra></extra>")), row=r, col=k)
        fig.add_annotation(x=now, y=float(c.revenue(now)), text=f"mROI {float(c.marginal_roi(now)):.2f}",
                           showarrow=True, arrowhead=0, ax=0, ay=-28, font={"size": 11},
                           row=r, col=k)
        if rec is not None:
            fig.add_trace(go.Scatter(
                x=[rec], y=[c.revenue(rec)], mode="markers",
                marker={"color": color, "size": 12, "symbol": "star",
                        "line": {"color": "#1F2937", "width": 1}},
                name="recommended", legendgroup="rec", showlegend=first,
                hovertemplate=(f"recommended ${rec:,.0f}/day<br>marginal ROI "
                               f"{float(c.marginal_roi(rec)):.2f}<extra></extra>")), row=r, col=k)
    fig.update_yaxes(tickprefix="$", tickformat="~s")
    return _figure_layout(fig, height=300 * rows + 60)


def split_figure(a: Allocation) -> Any:
    """Current vs recommended daily spend per channel."""
    import plotly.graph_objects as go

    from demetra.charts import COST_COLOR, REVENUE_COLOR, channel_label

    names = list(a.current)
    labels = [channel_label(c) for c in names]
    fig = go.Figure([
        go.Bar(x=labels, y=[a.current[c] for c in names], name="current",
               marker_color=COST_COLOR, hovertemplate="$%{y:,.0f}/day<extra>current</extra>"),
        go.Bar(x=labels, y=[a.allocation.get(c, 0.0) for c in names], name="recommended",
               marker_color=REVENUE_COLOR,
               hovertemplate="$%{y:,.0f}/day<extra>recommended</extra>"),
    ])
    fig.update_layout(barmode="group")
    fig = _figure_layout(fig, height=340)
    fig.update_xaxes(tickprefix="", tickformat="")
    fig.update_yaxes(tickprefix="$", tickformat=",.0f", title="daily spend")
    return fig


def marginal_figure(a: Allocation) -> Any:
    """Marginal ROI per channel now and at the recommended split, with break-even at 1: an
    optimal split leaves the channels no guardrail holds on one level."""
    import plotly.graph_objects as go

    from demetra.charts import BREAK_EVEN_COLOR, COST_COLOR, ROI_COLOR, channel_label

    names = list(a.current)
    labels = [channel_label(c) for c in names]
    fig = go.Figure([
        go.Bar(x=labels, y=[a.current_marginal_roi.get(c) for c in names], name="now",
               marker_color=COST_COLOR, hovertemplate="%{y:.2f}<extra>now</extra>"),
        go.Bar(x=labels, y=[a.marginal_roi.get(c) for c in names], name="after",
               marker_color=ROI_COLOR, hovertemplate="%{y:.2f}<extra>after</extra>"),
    ])
    fig.add_hline(y=1.0, line={"color": BREAK_EVEN_COLOR, "dash": "dot"},
                  annotation_text="break-even", annotation_position="top left")
    fig.update_layout(barmode="group")
    fig = _figure_layout(fig, height=340)
    fig.update_xaxes(tickprefix="", tickformat="")
    fig.update_yaxes(tickformat=".2f", title="revenue per extra $1")
    return fig

"""Response curves: expected daily revenue as a function of daily spend, per channel (or per
campaign of one channel), fitted to the days of a window.

The channel curves read the ``channel_days`` rollup (one row per channel per day, aggregated
in SQL); the campaign curves read ``campaigns`` for one channel, after SQL has picked the
campaigns worth fitting.

* ``hill``: ``vmax·sⁿ/(Kⁿ+sⁿ)`` — diminishing returns, S-shaped when n > 1;
* ``log``: ``a·log(1 + s/b)`` — concave everywhere (used by tests and by hand).

Why a prior
-----------
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
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sqlalchemy as sa
from scipy.optimize import least_squares

from demetra.errors import BadInput, NotEnoughData
from demetra.format import DEFAULT_CURRENCY, money, pct
from demetra.queries import as_date, reporting_currency

__all__ = ["BAND_DRAWS", "MIN_DAYS", "MIN_SPEND_CV", "Curve", "CurveSet", "fit_campaign_curves",
           "fit_curve", "fit_curves"]

MIN_DAYS = 14          # days with spend a channel needs before its curve means anything
MIN_SPEND_CV = 0.02    # below this day-to-day spread the slope cannot be told from noise
BAND_DRAWS = 300
_PRIOR_SD = 0.5        # log-space sd of the weak prior on K / typical spend
_SHAPE_PRIOR_SD = 0.3  # log-space sd of the prior on the shape around 1
_SHAPE_BOUNDS = (0.5, 3.5)


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
              current_spend: float | None = None, draws: int = BAND_DRAWS, seed: int = 0,
              currency: str | None = DEFAULT_CURRENCY) -> Curve:
    """Fit a Hill curve to daily (spend, revenue) pairs of one channel; see the module notes.

    Raises NotEnoughData (a ValueError) naming the problem when the data cannot carry a curve;
    ``currency`` is the one its message writes amounts in.
    """
    x = np.asarray(spend, dtype=float)
    y = np.asarray(revenue, dtype=float)
    if x.shape != y.shape:
        raise BadInput(f"{channel}: spend and revenue differ in length ({x.size} vs {y.size})")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[keep], y[keep]
    if x.size < MIN_DAYS:
        raise NotEnoughData(f"{channel}: only {x.size} days with spend (at least {MIN_DAYS} needed)")
    cv = float(x.std() / x.mean())
    if cv < MIN_SPEND_CV:
        raise NotEnoughData(
            f"{channel}: daily spend hardly varied ({money(x.min(), currency)}–"
            f"{money(x.max(), currency)}, spread {pct(cv, 1)}), so its response to spend cannot "
            "be measured")
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


# --------------------------------------------------------------------------------------------
# Reading a window


def _check_window(window_days: Any) -> None:
    if isinstance(window_days, bool) or not isinstance(window_days, int) or window_days < 1:
        raise BadInput(f"the window must be a positive number of days, not {window_days!r}")


def _binder(conn: sa.Connection) -> Callable[[dt.date], Any]:
    """Dates as the driver binds them: ISO text on SQLite (its dates are text), dates elsewhere."""
    if conn.dialect.name == "sqlite":
        return lambda d: d.isoformat()
    return lambda d: d


def _fit_each(series: Mapping[str, tuple[list[float], list[float]]], keys: Sequence[str],
              skipped: dict[str, str], current: Callable[[list[float]], float | None],
              currency: str | None) -> dict[str, Curve]:
    """A curve per key; a key whose data cannot carry one goes to ``skipped`` with why."""
    curves: dict[str, Curve] = {}
    for key in keys:
        xs, ys = series.get(key, ([], []))
        try:
            curves[key] = fit_curve(key, xs, ys, current_spend=current(xs), currency=currency)
        except NotEnoughData as exc:
            skipped[key] = str(exc).split(": ", 1)[-1]
    return curves


def _window_rows(engine: sa.Engine, end: dt.date | None, window_days: int,
                 channels: Sequence[str] | None) -> tuple[dt.date | None, dt.date | None, list]:
    with engine.connect() as conn:
        bind = _binder(conn)
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
               channels: Sequence[str] | None = None,
               currency: str | None = None) -> CurveSet:
    """A curve per channel from the ``window_days`` days ending at ``end`` (default: the last
    day with data). Channels that cannot carry a curve are in ``result.skipped`` with why.

    ``current_spend`` is the channel's spend over the window divided by the days of the window
    on which the account spent anything (a channel that paused for a week averages it in).
    """
    currency = currency or reporting_currency(engine)
    _check_window(window_days)
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
    skipped: dict[str, str] = {}
    curves = _fit_each(by_channel, sorted(by_channel), skipped,
                       lambda xs: sum(xs) / days if days else 0.0, currency)
    for ch in channels or ():
        if ch not in by_channel:
            skipped[ch] = "no data in the window"
    return CurveSet(curves, skipped=skipped, start=start, end=end, days=days)


def fit_campaign_curves(engine: sa.Engine, channel: str, *, end: dt.date | None = None,
                        window_days: int = 90, limit: int = 30, min_spend_cv: float = 0.1,
                        currency: str | None = None) -> CurveSet:
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
    currency = currency or reporting_currency(engine)
    _check_window(window_days)
    with engine.connect() as conn:
        bind = _binder(conn)
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
                skipped[cid] = (f"daily spend hardly varied (spread {pct(cv, 1)}, at least "
                                f"{pct(min_spend_cv, 0)} needed)")
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
    curves = _fit_each(series, fit_ids, skipped, lambda _xs: None, currency)
    return CurveSet(curves, skipped=skipped, start=start, end=end, days=window_days,
                    labels=labels)

"""Response curves: the expected daily outcome — revenue, or results (conversions) where revenue
is not tracked — as a function of daily spend, per channel (or per campaign of one channel),
fitted to the days of a window.

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

The outcome
-----------
A revenue or a conversions value an import had no column for is NULL ("not tracked"), never 0,
and the rollup keeps the spend of the rows that track each (``revenue_cost``, ``result_cost``).
A channel tracks an outcome in the window when rows tracking it carry at least
``TRACKED_SHARE`` of its spend. ``fit_curves`` chooses one outcome for the whole split (curves
of revenue and of results cannot be added up): revenue when every channel that spent in the
window tracks it; otherwise results when some channel tracks them; otherwise revenue for the
channels that do track it. Channels that do not track the chosen outcome are skipped with why
("revenue and results not tracked", ...) and keep their spend outside the split. A day on
which no row tracked the outcome is left out of the fit, never read as a zero.
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

from demetra.channels import channel_label
from demetra.errors import BadInput, NotEnoughData
from demetra.format import DEFAULT_CURRENCY, money, pct
from demetra.queries import as_date, reporting_currency

__all__ = ["BAND_DRAWS", "MIN_DAYS", "MIN_SPEND_CV", "NOT_TRACKED", "OUTCOMES", "TRACKED_SHARE",
           "Curve", "CurveSet", "choose_outcome", "fit_campaign_curves", "fit_curve", "fit_curves"]

MIN_DAYS = 14          # days with spend a channel needs before its curve means anything
MIN_SPEND_CV = 0.02    # below this day-to-day spread the slope cannot be told from noise
BAND_DRAWS = 300
_PRIOR_SD = 0.5        # log-space sd of the weak prior on K / typical spend
_SHAPE_PRIOR_SD = 0.3  # log-space sd of the prior on the shape around 1
_SHAPE_BOUNDS = (0.5, 3.5)

OUTCOMES = ("revenue", "results")
# The column of ``campaigns`` each outcome is read from, and the rollup's spend that tracks it.
_COLUMN = {"revenue": "revenue", "results": "conversions"}
_TRACKED_COST = {"revenue": "revenue_cost", "results": "result_cost"}
TRACKED_SHARE = 0.99   # share of a channel's spend its tracked rows must carry
NOT_TRACKED = "revenue and results not tracked"


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
    """One channel's (or campaign's) response curve: the expected daily ``outcome`` (revenue,
    or results) vs daily spend.

    ``params``: ``vmax``, ``half_saturation``, ``shape`` (hill) or ``a``, ``b`` (log).
    ``current_spend``: average daily spend over the window; ``days``: days with spend used;
    ``spend_min``/``spend_max``: the observed daily range (outside it the curve extrapolates).
    ``draws``: parameter draws (rows, in ``params`` order) for the band; None = no band.
    ``revenue``/``marginal_roi`` are the outcome and its slope whatever the outcome is (the
    names are the revenue curve's); ``value``/``marginal`` say the same without the word.
    """

    channel: str
    kind: str
    params: dict[str, float]
    current_spend: float
    days: int
    spend_min: float
    spend_max: float
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)
    outcome: str = "revenue"

    def __post_init__(self) -> None:
        if self.kind not in ("hill", "log"):
            raise ValueError(f"curve kind must be 'hill' or 'log', not {self.kind!r}")
        if self.outcome not in OUTCOMES:
            raise ValueError(f"curve outcome must be 'revenue' or 'results', not {self.outcome!r}")
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

    def value(self, spend: Any) -> np.ndarray | float:
        """The expected daily outcome (revenue or results) at ``spend``."""
        return self.revenue(spend)

    def marginal(self, spend: Any) -> np.ndarray | float:
        """d outcome / d spend at ``spend``: revenue or results per extra unit of spend."""
        return self.marginal_roi(spend)

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
    curves (``fit_campaign_curves``) keys are campaign ids and ``labels`` their names.
    ``outcome``: what the curves are of ("revenue", "results"; None when nothing in the window
    tracks either); ``note``: why that outcome, when it is not plain revenue."""

    def __init__(self, curves: Mapping[str, Curve] | None = None, *,
                 skipped: Mapping[str, str] | None = None, start: dt.date | None = None,
                 end: dt.date | None = None, days: int = 0,
                 labels: Mapping[str, str] | None = None, outcome: str | None = "revenue",
                 note: str = "") -> None:
        super().__init__(curves or {})
        self.skipped: dict[str, str] = dict(skipped or {})
        self.start, self.end, self.days = start, end, days
        self.labels: dict[str, str] = dict(labels or {})
        self.outcome = outcome
        self.note = note


def fit_curve(channel: str, spend: Sequence[float], revenue: Sequence[float], *,
              current_spend: float | None = None, draws: int = BAND_DRAWS, seed: int = 0,
              currency: str | None = DEFAULT_CURRENCY, outcome: str = "revenue") -> Curve:
    """Fit a Hill curve to daily (spend, outcome) pairs of one channel — ``revenue`` holds the
    daily ``outcome``, revenue or results; NaN marks a day that did not track it (left out).
    See the module notes.

    Raises NotEnoughData (a ValueError) naming the problem when the data cannot carry a curve;
    ``currency`` is the one its message writes amounts in.
    """
    if outcome not in OUTCOMES:
        raise BadInput(f"the outcome must be 'revenue' or 'results', not {outcome!r}")
    x = np.asarray(spend, dtype=float)
    y = np.asarray(revenue, dtype=float)
    if x.shape != y.shape:
        raise BadInput(f"{channel}: spend and {outcome} differ in length ({x.size} vs {y.size})")
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    x, y = x[keep], y[keep]
    if x.size < MIN_DAYS:
        raise NotEnoughData(f"{channel}: only {x.size} days with spend (at least {MIN_DAYS} needed)")
    if not (y > 0).any():
        raise NotEnoughData(f"{channel}: no {outcome} on any of its {x.size} days with spend, so "
                            "there is no response to spend to measure")
    cv = float(x.std() / x.mean())
    if cv < MIN_SPEND_CV:
        raise NotEnoughData(
            f"{channel}: daily spend hardly varied ({money(x.min(), currency)}–"
            f"{money(x.max(), currency)}, spread {pct(cv, 1)}), so its response to spend cannot "
            "be measured")
    typical = float(np.median(x))
    xs = x / typical
    # Results may be small counts, zero on most days: then the mean sets the scale.
    scale = float(np.median(np.abs(y)))
    if scale <= 0:
        scale = float(np.mean(np.abs(y)))
    scale = max(scale, 1e-9)
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
                 draws=table, outcome=outcome)


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
              currency: str | None, outcome: str = "revenue") -> dict[str, Curve]:
    """A curve per key; a key whose data cannot carry one goes to ``skipped`` with why."""
    curves: dict[str, Curve] = {}
    for key in keys:
        xs, ys = series.get(key, ([], []))
        try:
            curves[key] = fit_curve(key, xs, ys, current_spend=current(xs), currency=currency,
                                    outcome=outcome)
        except NotEnoughData as exc:
            skipped[key] = str(exc).split(": ", 1)[-1]
    return curves


def _check_outcome(outcome: str | None) -> None:
    if outcome is not None and outcome not in OUTCOMES:
        raise BadInput(f"the outcome must be 'revenue' or 'results', not {outcome!r}")


def _shares(cost: float, revenue_cost: float, result_cost: float) -> dict[str, float]:
    return {"revenue": min(revenue_cost / cost, 1.0), "results": min(result_cost / cost, 1.0)}


def choose_outcome(shares: Mapping[str, Mapping[str, float]]) -> str | None:
    """The outcome a split is made on, from each spending key's share of spend that tracks
    ``revenue`` and ``results``: revenue when all track it, else results when any does, else
    revenue when any does; None when none tracks either."""
    def full(outcome: str) -> int:
        return sum(s[outcome] >= TRACKED_SHARE for s in shares.values())

    if full("revenue") == len(shares):
        return "revenue"
    if full("results"):
        return "results"
    if full("revenue"):
        return "revenue"
    return None


def _untracked(shares: Mapping[str, float], outcome: str | None) -> str:
    """Why a key that spent stays out of a split on ``outcome``."""
    if outcome is None or (shares["revenue"] == 0 and shares["results"] == 0):
        return NOT_TRACKED
    own = shares[outcome]
    why = (f"{outcome} not tracked" if own == 0
           else f"{outcome} tracked on only {pct(own, 0)} of its spend")
    other = "results" if outcome == "revenue" else "revenue"
    if shares[other] >= TRACKED_SHARE:
        why += (f" (it tracks {other}, which cannot be added to the {outcome} the split is "
                "made on)")
    return why


def _outcome_note(outcome: str | None, skipped: Mapping[str, str], what: str,
                  name: Callable[[str], str], shares: Mapping[str, Mapping[str, float]]) -> str:
    untracked = [name(k) for k, why in skipped.items() if "tracked" in why]
    if outcome is None:
        return (f"Neither revenue nor results are tracked by any {what} in the window: there is "
                "no outcome to split the budget on.")
    if outcome == "results":
        without = [name(k) for k, s in shares.items() if s["revenue"] < TRACKED_SHARE]
        where = ("in the window" if len(without) == len(shares)
                 else f"by every {what} in the window (not by {', '.join(without)})")
        return (f"Revenue is not tracked {where}, so the split is made for the most results "
                "(conversions), read with cost per result (CPA)."
                + (f" Left out, keeping their spend: {', '.join(untracked)}." if untracked
                   else ""))
    if untracked:
        return (f"The split is made on revenue among the {what}s that track it; left out, "
                f"keeping their spend: {', '.join(untracked)}.")
    return ""


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
        # SUM over one row per (channel, day) keeps a NULL (not tracked) a NULL.
        rows = conn.execute(sa.text(
            "SELECT channel, date, SUM(cost), SUM(revenue), SUM(conversions), "
            "SUM(revenue_cost), SUM(result_cost) FROM channel_days "
            f"WHERE date BETWEEN :s AND :e{where} GROUP BY channel, date "
            "ORDER BY channel, date"), params).all()
    return start, end, rows


def _value(v: Any) -> float:
    return math.nan if v is None else float(v)


def _with_some(shares: Mapping[str, Mapping[str, float]],
               values: Mapping[str, Mapping[str, list[float]]]) -> dict[str, dict[str, float]]:
    """``shares`` for choosing the outcome: an outcome that is zero on every day of a channel
    (zeros stored before "not tracked" existed, or none at all) cannot carry its curve, so it
    does not count as tracked there — an account whose revenue is all zeros is split on its
    results rather than refused."""
    out = {}
    for ch, s in shares.items():
        v = values[ch]
        out[ch] = {o: (s[o] if np.nansum(np.asarray(v[o], dtype=float)) > 0 else 0.0)
                   for o in OUTCOMES}
    return out


def fit_curves(engine: sa.Engine, *, end: dt.date | None = None, window_days: int = 90,
               channels: Sequence[str] | None = None, currency: str | None = None,
               outcome: str | None = None) -> CurveSet:
    """A curve per channel from the ``window_days`` days ending at ``end`` (default: the last
    day with data). Channels that cannot carry a curve are in ``result.skipped`` with why.

    ``outcome``: "revenue" or "results"; None chooses (see the module notes) and the choice is
    ``result.outcome``. ``current_spend`` is the channel's spend over the window divided by the
    days of the window on which the account spent anything (a channel that paused for a week
    averages it in).
    """
    currency = currency or reporting_currency(engine)
    _check_window(window_days)
    _check_outcome(outcome)
    start, end, rows = _window_rows(engine, as_date(end), window_days, channels)
    if not rows:
        return CurveSet(start=start, end=end, outcome=outcome or "revenue")
    costs: dict[str, list[float]] = {}
    values: dict[str, dict[str, list[float]]] = {}
    totals: dict[str, list[float]] = {}
    active_days: set[dt.date | None] = set()
    for channel, day, cost, revenue, conversions, revenue_cost, result_cost in rows:
        cost = float(cost or 0.0)
        if cost > 0:
            active_days.add(as_date(day))
        costs.setdefault(channel, []).append(cost)
        v = values.setdefault(channel, {"revenue": [], "results": []})
        v["revenue"].append(_value(revenue))
        v["results"].append(_value(conversions))
        t = totals.setdefault(channel, [0.0, 0.0, 0.0])
        t[0] += cost
        t[1] += float(revenue_cost or 0.0)
        t[2] += float(result_cost or 0.0)
    days = len(active_days)
    shares = {ch: _shares(*t) for ch, t in totals.items() if t[0] > 0}
    chosen = outcome or choose_outcome(_with_some(shares, values))
    skipped: dict[str, str] = {}
    keys = []
    for ch in sorted(costs):
        if ch in shares and (chosen is None or shares[ch][chosen] < TRACKED_SHARE):
            skipped[ch] = _untracked(shares[ch], chosen)
        else:
            keys.append(ch)
    series = {ch: (costs[ch], values[ch][chosen or "revenue"]) for ch in costs}
    curves = _fit_each(series, keys, skipped, lambda xs: sum(xs) / days if days else 0.0,
                       currency, chosen or "revenue")
    for ch in channels or ():
        if ch not in costs:
            skipped[ch] = "no data in the window"
    return CurveSet(curves, skipped=skipped, start=start, end=end, days=days, outcome=chosen,
                    note=_outcome_note(chosen, skipped, "channel", channel_label, shares))


def fit_campaign_curves(engine: sa.Engine, channel: str, *, end: dt.date | None = None,
                        window_days: int = 90, limit: int = 30, min_spend_cv: float = 0.1,
                        currency: str | None = None, outcome: str | None = None,
                        active_days: int | None = None) -> CurveSet:
    """A curve per campaign of ``channel`` where its own daily spend varied enough.

    The ``limit`` biggest campaigns by spend in the window are considered. Their count of days
    with spend, total spend, spread of daily spend and spend that tracks revenue and results
    are aggregated in SQL; only campaigns with at least ``MIN_DAYS`` such days and a
    coefficient of variation of at least ``min_spend_cv`` have their daily rows read (one
    window, one channel), the others are in ``skipped`` with why. ``outcome`` as in
    ``fit_curves`` (None: chosen among these campaigns); ``active_days``: a campaign without
    spend in the window's last that many days (paused or ended) is skipped too. A campaign's
    outcome also moves with its channel's other campaigns, so these curves rank where an extra
    dollar works best inside a channel; the split across channels comes from the channel
    curves. ``current_spend``: the average over the campaign's days with spend.
    """
    currency = currency or reporting_currency(engine)
    _check_window(window_days)
    _check_outcome(outcome)
    with engine.connect() as conn:
        bind = _binder(conn)
        end = as_date(end) or as_date(conn.execute(sa.text(
            "SELECT MAX(date) FROM channel_days WHERE channel = :c"), {"c": channel}).scalar())
        if end is None:
            return CurveSet(outcome=outcome or "revenue")
        start = end - dt.timedelta(days=window_days - 1)
        p = {"c": channel, "s": bind(start), "e": bind(end), "n": int(limit)}
        stats = conn.execute(sa.text(
            "SELECT campaign_id, MAX(campaign_name), COUNT(*), SUM(cost), SUM(cost * cost), "
            "SUM(CASE WHEN revenue IS NOT NULL THEN cost END), "
            "SUM(CASE WHEN conversions IS NOT NULL THEN cost END), MAX(date) "
            "FROM campaigns WHERE channel = :c AND date BETWEEN :s AND :e AND cost > 0 "
            "GROUP BY campaign_id ORDER BY SUM(cost) DESC, campaign_id LIMIT :n"), p).all()
        labels = {cid: name or cid for cid, name, *_ in stats}
        shares = {cid: _shares(total, revenue_cost or 0.0, result_cost or 0.0)
                  for cid, _, _, total, _, revenue_cost, result_cost, _ in stats}
        chosen = outcome or choose_outcome(shares)
        skipped: dict[str, str] = {}
        fit_ids = []
        recent = None if active_days is None else end - dt.timedelta(days=active_days - 1)
        for cid, _, n, total, squares, _, _, last in stats:
            mean = total / n
            cv = math.sqrt(max(squares / n - mean * mean, 0.0)) / mean if mean > 0 else 0.0
            if chosen is None or shares[cid][chosen] < TRACKED_SHARE:
                skipped[cid] = _untracked(shares[cid], chosen)
            elif n < MIN_DAYS:
                skipped[cid] = f"only {n} days with spend (at least {MIN_DAYS} needed)"
            elif cv < min_spend_cv:
                skipped[cid] = (f"daily spend hardly varied (spread {pct(cv, 1)}, at least "
                                f"{pct(min_spend_cv, 0)} needed)")
            elif recent is not None and (as_date(last) or start) < recent:
                skipped[cid] = (f"no spend in the window's last {active_days} days (paused or "
                                "ended)")
            else:
                fit_ids.append(cid)
        rows: list[Any] = []
        column = _COLUMN[chosen or "revenue"]
        if fit_ids:
            names = ", ".join(f":id{i}" for i in range(len(fit_ids)))
            # Days that did not track the outcome are left out, never read as zeros.
            rows = conn.execute(sa.text(
                f"SELECT campaign_id, cost, {column} FROM campaigns WHERE channel = :c AND date "
                f"BETWEEN :s AND :e AND cost > 0 AND {column} IS NOT NULL "
                f"AND campaign_id IN ({names}) ORDER BY campaign_id, date"),
                {**p, **{f"id{i}": cid for i, cid in enumerate(fit_ids)}}).all()
    series: dict[str, tuple[list[float], list[float]]] = {}
    for cid, cost, value in rows:
        xs, ys = series.setdefault(cid, ([], []))
        xs.append(float(cost))
        ys.append(float(value))
    curves = _fit_each(series, fit_ids, skipped, lambda _xs: None, currency, chosen or "revenue")
    return CurveSet(curves, skipped=skipped, start=start, end=end, days=window_days,
                    labels=labels, outcome=chosen,
                    note=_outcome_note(chosen, skipped, "campaign",
                                       lambda cid: labels.get(cid, cid), shares))

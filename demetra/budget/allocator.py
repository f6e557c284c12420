"""The allocator: the split of a daily budget that earns the most by the curves, within the
user's guardrails, and the reverse question (what budget reaches a target).

The curves are of one outcome (``Curve.outcome``): revenue, or results (conversions) on an
account that does not track revenue everywhere. The maths is the same — the most of the
outcome for the budget — and the :class:`Allocation` says which it is (``outcome``) and speaks
of it: expected revenue, ROI and marginal ROI; or expected results, cost per result (CPA) and
marginal CPA (the cost of one more result at the margin). A results split never has a revenue.

Maximise Σ revenue_c(s_c) subject to Σ s_c = total and lo_c ≤ s_c ≤ hi_c (guardrails: min/max
per channel, locked channels at their current spend, a ±% cap on the change). Separable but not
necessarily concave (Hill curves with n > 1 are convex at low spend), so gradient methods can
stick at zero for a channel. Instead: exact dynamic programming over a grid of the budget
(global optimum on the grid whatever the curves' shape), then SLSQP with analytic gradients
from that point for the last digits, keeping the better of the two. Impossible guardrails give
``feasible=False`` and a message naming the conflict, never a silently wrong split.

Amounts are daily spend in the account's currency (``currency``: the one messages write them
in); ROI is revenue / spend and CPA spend / results (ratios of sums).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import sqlalchemy as sa
from scipy.optimize import minimize

from demetra.budget.curves import Curve, CurveSet, fit_campaign_curves, fit_curves
from demetra.channels import channel_label
from demetra.errors import BadInput
from demetra.format import DEFAULT_CURRENCY, money
from demetra.format import roi as roi_text

__all__ = ["CAMPAIGN_ACTIVE_DAYS", "Allocation", "Guardrails", "allocate", "cost_per",
           "evaluate_split", "min_budget_for", "recommend", "safe_ratio"]

_GRID = 800            # budget steps of the dynamic programme


@dataclass(frozen=True)
class Guardrails:
    """Limits on the split. ``min_spend``/``max_spend``: daily spend per channel; ``locked``:
    channels kept at their current spend; ``max_change_pct``: no channel moves by more than
    this many percent of its current spend (e.g. 20 = ±20 %)."""

    min_spend: Mapping[str, float] = field(default_factory=dict)
    max_spend: Mapping[str, float] = field(default_factory=dict)
    locked: frozenset[str] = frozenset()
    max_change_pct: float | None = None


def _only(outcome: str, figure: str) -> Any:
    """A property: the field ``figure`` on a split of ``outcome``, NaN on a split of another
    (a results split has no expected revenue, and the reverse)."""
    def read(self: Allocation) -> float:
        return getattr(self, figure) if self.outcome == outcome else math.nan

    return property(read)


@dataclass(frozen=True)
class Allocation:
    """The recommended daily split and what the curves expect of it.

    ``outcome`` is what the curves are of: "revenue", "results", or None when nothing in the
    window tracks either. ``expected``/``current_expected``: the outcome per day at the
    recommended and at the current split; ``low``/``high``: the central 80 % of ``expected``
    over the curves' parameter draws; ``marginal``: d outcome / d spend of each key at its
    recommended spend — equal across the keys that no guardrail holds, when the split is
    optimal — and ``current_marginal`` the same at the current spend.

    The revenue names (``expected_revenue``, ``expected_roi``, ``marginal_roi``, ...) hold
    figures only for a revenue split (NaN, None or empty otherwise); the results names
    (``expected_results``, ``expected_cpa``, ``marginal_cpa``, ...) only for a results split.
    When ``feasible`` is False, ``allocation`` is empty, the expected figures are NaN (None in
    JSON) and ``message`` says why. ``note``: what the reader should know beside the figures
    (only one channel to split, the outcome chosen); ``campaigns``: with a single channel, the
    best split of its budget among its campaigns (``labels``: their names).
    """

    allocation: dict[str, float]
    current: dict[str, float]
    expected: float
    current_expected: float
    low: float
    high: float
    marginal: dict[str, float]
    total: float
    feasible: bool
    message: str
    outcome: str | None = "revenue"
    current_marginal: dict[str, float] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    note: str = ""
    campaigns: Allocation | None = None
    labels: dict[str, str] = field(default_factory=dict)

    # -- revenue ------------------------------------------------------------------------------

    @property
    def _revenue(self) -> bool:
        return self.outcome == "revenue"

    @property
    def current_total(self) -> float:
        return float(sum(self.current.values()))

    expected_revenue = _only("revenue", "expected")
    current_revenue = _only("revenue", "current_expected")
    revenue_low = _only("revenue", "low")
    revenue_high = _only("revenue", "high")

    @property
    def expected_roi(self) -> float | None:
        return safe_ratio(self.expected, self.total) if self._revenue else None

    @property
    def current_roi(self) -> float | None:
        return safe_ratio(self.current_expected, self.current_total) if self._revenue else None

    @property
    def marginal_roi(self) -> dict[str, float]:
        return dict(self.marginal) if self._revenue else {}

    @property
    def current_marginal_roi(self) -> dict[str, float]:
        return dict(self.current_marginal) if self._revenue else {}

    @property
    def revenue_change(self) -> float:
        return self.expected_revenue - self.current_revenue

    # -- results ------------------------------------------------------------------------------

    @property
    def _results(self) -> bool:
        return self.outcome == "results"

    expected_results = _only("results", "expected")
    current_results = _only("results", "current_expected")
    results_low = _only("results", "low")
    results_high = _only("results", "high")

    @property
    def results_change(self) -> float:
        return self.expected_results - self.current_results

    @property
    def expected_cpa(self) -> float | None:
        return cost_per(self.total, self.expected) if self._results else None

    @property
    def current_cpa(self) -> float | None:
        return cost_per(self.current_total, self.current_expected) if self._results else None

    @property
    def marginal_cpa(self) -> dict[str, float | None]:
        """The cost of one more result at each key's recommended spend (1 / marginal)."""
        return {c: cost_per(1.0, m) for c, m in self.marginal.items()} if self._results else {}

    @property
    def current_marginal_cpa(self) -> dict[str, float | None]:
        return ({c: cost_per(1.0, m) for c, m in self.current_marginal.items()}
                if self._results else {})

    # -- JSON ---------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        """The split as JSON: ``outcome`` and the keys of that outcome only (a results split
        carries no revenue, ROI or marginal ROI, not even as null)."""
        def num(v: float | None, digits: int = 2) -> float | None:
            return None if v is None or not math.isfinite(v) else round(float(v), digits)

        out: dict[str, Any] = {
            "outcome": self.outcome,
            "allocation": {c: num(v) for c, v in self.allocation.items()},
            "current": {c: num(v) for c, v in self.current.items()},
        }
        if self._revenue:
            out.update({
                "expected_revenue": num(self.expected_revenue),
                "expected_roi": num(self.expected_roi, 4),
                "current_revenue": num(self.current_revenue),
                "current_roi": num(self.current_roi, 4),
                "revenue_low": num(self.revenue_low),
                "revenue_high": num(self.revenue_high),
                "marginal_roi": {c: num(v, 4) for c, v in self.marginal_roi.items()},
            })
        elif self._results:
            out.update({
                "expected_results": num(self.expected_results),
                "expected_cpa": num(self.expected_cpa),
                "current_results": num(self.current_results),
                "current_cpa": num(self.current_cpa),
                "results_low": num(self.results_low),
                "results_high": num(self.results_high),
                "marginal_cpa": {c: num(v) for c, v in self.marginal_cpa.items()},
                "current_marginal_cpa": {c: num(v) for c, v in self.current_marginal_cpa.items()},
            })
        out.update({"total": num(self.total), "feasible": self.feasible,
                    "message": self.message, "skipped": dict(self.skipped)})
        if self.note:
            out["note"] = self.note
        if self.labels:
            out["names"] = dict(self.labels)
        if self.campaigns is not None:
            out["campaigns"] = self.campaigns.to_json()
        return out


def safe_ratio(num: float, den: float) -> float | None:
    """``num / den``, or None when the denominator is zero or the numerator not finite."""
    return None if den == 0 or not math.isfinite(num) else num / den


def cost_per(cost: float, results: float) -> float | None:
    """``cost / results`` (a CPA), or None when there are no results to divide by."""
    if not (math.isfinite(cost) and math.isfinite(results)) or results <= 0:
        return None
    return cost / results


def _outcome_of(curves: Mapping[str, Curve]) -> str:
    kinds = {c.outcome for c in curves.values()}
    if len(kinds) > 1:
        raise BadInput("the curves mix revenue and results, which cannot be added up: allocate "
                       "over curves of one outcome")
    return kinds.pop() if kinds else getattr(curves, "outcome", None) or "revenue"


def _amount(outcome: str, value: float, currency: str | None) -> str:
    """An outcome per day as a message writes it: "$1,234.00" or "12.3 results"."""
    if outcome == "revenue":
        return money(value, currency)
    return "—" if not math.isfinite(value) else f"{value:,.1f} results"


def _cpa_text(total: float, results: float, currency: str | None) -> str:
    cpa = cost_per(total, results)
    return "no CPA" if cpa is None else f"CPA {money(cpa, currency)}"


def _bounds(curves: Mapping[str, Curve], total: float, g: Guardrails,
            currency: str | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Per-channel [lo, hi] from the guardrails (hi also capped by what the total leaves once
    every minimum is met), and the conflicts found on the way."""
    def m(v: float) -> str:
        return money(v, currency)

    names = list(curves)
    unknown = sorted((set(g.min_spend) | set(g.max_spend) | set(g.locked)) - set(names))
    problems = [f"guardrails name unknown channels: {', '.join(unknown)}"] if unknown else []
    lo = np.zeros(len(names))
    hi = np.full(len(names), np.inf)
    for i, ch in enumerate(names):
        cur = curves[ch].current_spend
        user_lo, user_hi = float(g.min_spend.get(ch, 0.0)), float(g.max_spend.get(ch, np.inf))
        if user_lo > user_hi:
            problems.append(f"{ch}: minimum {m(user_lo)} is above maximum {m(user_hi)}")
        if ch in g.locked:
            if not user_lo <= cur <= user_hi:
                problems.append(f"{ch} is locked at its current {m(cur)}/day, outside its "
                                f"own min {m(user_lo)} / max {m(user_hi)}")
            lo[i] = hi[i] = cur
            continue
        lo[i], hi[i] = user_lo, user_hi
        if g.max_change_pct is not None:
            cap_lo = cur * (1 - g.max_change_pct / 100)
            cap_hi = cur * (1 + g.max_change_pct / 100)
            if user_lo > cap_hi or user_hi < cap_lo:
                problems.append(f"{ch}: min/max {m(user_lo)}–{m(user_hi)} lies outside "
                                f"the ±{g.max_change_pct:g}% cap around its current "
                                f"{m(cur)}/day")
            lo[i], hi[i] = max(lo[i], cap_lo), min(hi[i], cap_hi)
    hi = np.minimum(hi, np.maximum(lo + max(total - lo.sum(), 0.0), lo))
    return lo, hi, problems


def _check(curves: Mapping[str, Curve], total: float, g: Guardrails,
           currency: str | None) -> str | None:
    def m(v: float) -> str:
        return money(v, currency)

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
    lo, hi, problems = _bounds(curves, total, g, currency)
    if problems:
        return "; ".join(problems)
    names = list(curves)
    locked = [c for c in names if c in g.locked]
    if lo.sum() > total + 1e-6 * max(total, 1):
        parts = [f"{c} ≥ {m(v)}" for c, v in zip(names, lo, strict=True) if v > 0]
        why = ("locked channels and minimums" if locked else "the minimums")
        return (f"{why} add up to {m(lo.sum())}/day, more than the total {m(total)}/day "
                f"({'; '.join(parts)})")
    if hi.sum() < total - 1e-6 * max(total, 1):
        parts = [f"{c} ≤ {m(v)}" for c, v in zip(names, hi, strict=True)]
        why = ("locked channels, maximums and the change cap" if locked
               else "the maximums and the change cap")
        return (f"{why} allow at most {m(hi.sum())}/day, less than the total "
                f"{m(total)}/day ({'; '.join(parts)})")
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


def _infeasible(curves: Mapping[str, Curve], total: float, message: str,
                outcome: str | None = None) -> Allocation:
    current = {c: f.current_spend for c, f in curves.items()}
    cur = float(sum(float(f.revenue(f.current_spend)) for f in curves.values()))
    if outcome is None and curves:
        outcome = _outcome_of(curves)
    elif outcome is None:
        outcome = getattr(curves, "outcome", "revenue")
    return Allocation(allocation={}, current=current, expected=math.nan, current_expected=cur,
                      low=math.nan, high=math.nan, marginal={}, total=float(total),
                      feasible=False, message=message, outcome=outcome)


def allocate(curves: Mapping[str, Curve], total: float,
             guardrails: Guardrails | None = None, *, grid: int = _GRID,
             currency: str | None = DEFAULT_CURRENCY) -> Allocation:
    """The split of ``total`` (daily) over ``curves`` that maximises the expected outcome
    (revenue, or results: the curves say which) within ``guardrails``; see the module notes.
    Infeasible guardrails -> ``feasible=False``."""
    g = guardrails or Guardrails()
    total = float(total)
    problem = _check(curves, total, g, currency)
    if problem:
        return _infeasible(curves, total,
                           f"Cannot allocate {money(total, currency)}/day: {problem}.")
    outcome = _outcome_of(curves)
    names = list(curves)
    fs = [curves[c] for c in names]
    lo, hi, _ = _bounds(curves, total, g, currency)
    x = _repair(_dp(fs, lo, hi, total, grid), lo, hi, total)
    x = _polish(fs, lo, hi, total, x)
    current = {c: f.current_spend for c, f in curves.items()}
    cur_x = np.array([f.current_spend for f in fs])
    cur_value = _value(fs, cur_x)
    value = _value(fs, x)
    low, high = _revenue_interval(fs, x)
    held = [c for c, a, b in zip(names, lo, hi, strict=True) if b - a <= 1e-9]
    if outcome == "revenue":
        message = (f"Best split of {money(total, currency)}/day: expected revenue "
                   f"{money(value, currency)}/day vs {money(cur_value, currency)}/day at the "
                   "current split")
    else:
        message = (f"Best split of {money(total, currency)}/day: expected "
                   f"{_amount(outcome, value, currency)}/day ({_cpa_text(total, value, currency)})"
                   f" vs {_amount(outcome, cur_value, currency)}/day "
                   f"({_cpa_text(float(cur_x.sum()), cur_value, currency)}) at the current split")
    if held:
        message += f"; held by guardrails: {', '.join(held)}"
    note = ""
    if len(names) == 1:
        note = (f"Only {_name(curves, names[0])} has a response curve, so there is no split to "
                f"choose: it gets the whole {money(total, currency)}/day.")
    return Allocation(
        allocation={c: float(v) for c, v in zip(names, x, strict=True)},
        current=current, expected=value, current_expected=cur_value, low=low, high=high,
        marginal={c: float(f.marginal_roi(v)) for c, f, v in zip(names, fs, x, strict=True)},
        total=total, feasible=True, message=message + ".", outcome=outcome,
        current_marginal={c: float(f.marginal_roi(f.current_spend)) for c, f in curves.items()},
        bounds={c: (float(a), float(b)) for c, a, b in zip(names, lo, hi, strict=True)},
        note=note)


def _name(curves: Mapping[str, Curve], key: str) -> str:
    labels = getattr(curves, "labels", None) or {}
    return labels.get(key) or channel_label(key)


_TARGETS = {"revenue": ("revenue", False), "roi": ("revenue", True),
            "results": ("results", False), "cpa": ("results", True)}


def min_budget_for(curves: Mapping[str, Curve], *, revenue: float | None = None,
                   roi: float | None = None, results: float | None = None,
                   cpa: float | None = None, guardrails: Guardrails | None = None,
                   currency: str | None = DEFAULT_CURRENCY) -> Allocation:
    """The reverse question, with exactly one target: ``revenue`` (a day) or ``roi`` for
    revenue curves, ``results`` (a day) or ``cpa`` for results curves.

    An amount (``revenue``, ``results``): the smallest daily total whose best split is
    expected to reach that much a day (the best split's outcome never falls as the total
    grows: a scan, then bisection).
    An efficiency (``roi``, ``cpa``): ROI falls (and CPA rises) as the budget grows past the
    most efficient spend, so the smallest budget reaching it is usually next to nothing; the
    useful answer is the *largest* daily total whose best split still keeps the ROI at or above
    (the CPA at or below) the target, and that is what is returned (the message gives the
    whole range).
    Either way the search stops at the guardrails' maximum or 20× the current total, beyond
    which any fitted curve is pure extrapolation; not reaching the target -> ``feasible=False``.
    """
    given = {k: v for k, v in (("revenue", revenue), ("roi", roi), ("results", results),
                               ("cpa", cpa)) if v is not None}
    if len(given) != 1:
        raise ValueError("give exactly one target: revenue or roi (revenue curves), results or "
                         "cpa (results curves)")
    (kind, raw), = given.items()
    need, efficiency = _TARGETS[kind]
    g = guardrails or Guardrails()
    target = float(raw)
    what = {"revenue": lambda: f"revenue {money(target, currency)}/day",
            "roi": lambda: f"ROI {roi_text(target)}",
            "results": lambda: f"{target:,.1f} results/day",
            "cpa": lambda: f"CPA {money(target, currency)}"}[kind]()
    if not math.isfinite(target) or target <= 0:
        return _infeasible(curves, 0.0, f"The {what} target must be a positive number.")
    if not curves:
        return _infeasible(curves, 0.0, "No channel has a fitted curve to allocate over.")
    outcome = _outcome_of(curves)
    if outcome != need:
        other = "revenue or an ROI" if outcome == "revenue" else "results or a CPA"
        return _infeasible(curves, 0.0, (
            f"A {kind if kind != 'roi' else 'ROI'} target needs curves of {need}, and these "
            f"curves are of {outcome}: give a target of {other}."))
    lows, highs, problems = _bounds(curves, math.inf, g, currency)
    if problems:
        return _infeasible(curves, 0.0, f"Cannot answer: {'; '.join(problems)}.")
    floor, ceiling = float(lows.sum()), float(highs.sum())
    current_total = sum(f.current_spend for f in curves.values())
    top = min(ceiling, max(current_total, floor, 1.0) * 20)
    # Both efficiencies as "outcome per unit of spend at least": a CPA of c is 1/c per dollar.
    bar = (1.0 / target if kind == "cpa" else target)

    def reaches(total: float) -> bool:
        a = allocate(curves, total, g, grid=200, currency=currency)
        if not a.feasible:
            return False
        value = safe_ratio(a.expected, a.total) if efficiency else a.expected
        return value is not None and value >= bar

    totals = np.linspace(floor, top, 61)
    ok = [reaches(float(t)) for t in totals]
    if not any(ok):
        limit = "the guardrails' maximum" if top == ceiling else "20× the current total"
        return _infeasible(curves, float(top), (
            f"No daily budget up to {limit} ({money(top, currency)}) is expected to reach "
            f"{what} with these curves and guardrails."))

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
    if not efficiency:
        result = allocate(curves, smallest, g, currency=currency)
        return replace(result, message=f"Smallest daily budget expected to reach {what}: "
                                       f"{money(smallest, currency)}.")
    last = len(ok) - 1 - ok[::-1].index(True)
    largest = (float(totals[last]) if last == len(ok) - 1
               else edge(float(totals[last]), float(totals[last + 1])))
    result = allocate(curves, largest, g, currency=currency)
    beyond = " (the search limit; maybe more)" if last == len(ok) - 1 else ""
    name = "ROI" if kind == "roi" else "CPA"
    return replace(result, message=(
        f"Largest daily budget whose best split keeps {what} or better: "
        f"{money(largest, currency)}{beyond}; the {name} reaches the target from "
        f"{money(smallest, currency)}/day."))


CAMPAIGN_ACTIVE_DAYS = 14   # a campaign without spend in the window's last 14 days is not split


def recommend(engine: sa.Engine, *, total: float | None = None, window_days: int = 90,
              end: dt.date | None = None, guardrails: Guardrails | None = None,
              currency: str | None = None, channels: tuple[str, ...] | None = None,
              outcome: str | None = None, campaigns: bool = True) -> Allocation:
    """Fit the channels' curves over the window and allocate ``total`` (default: the current
    average daily spend of the fitted channels). Skipped channels keep their spend outside
    the total and are listed in ``skipped``. Messages name amounts in ``currency`` (default:
    the database's reporting currency).

    ``outcome``: revenue or results (None: chosen by ``fit_curves`` from what the channels
    track). ``channels``: only these. When a single channel has a curve there is nothing to
    split across channels: the allocation says so (``note``) and, with ``campaigns``, carries
    the best split of that channel's budget among its campaigns that have curves of their own
    and spent in the window's last ``CAMPAIGN_ACTIVE_DAYS`` days (``campaigns``)."""
    from demetra.queries import reporting_currency

    currency = currency or reporting_currency(engine)
    curves = fit_curves(engine, end=end, window_days=window_days, currency=currency,
                        channels=list(channels) if channels else None, outcome=outcome)
    if total is None:
        total = sum(c.current_spend for c in curves.values())
    if not curves:
        why = ("; ".join(f"{c}: {r}" for c, r in curves.skipped.items())
               or "there is no spend in the window")
        if curves.outcome is None:
            message = (f"Nothing to split the budget on: no channel tracks revenue or results "
                       f"in the window ({why}); import a file with a revenue (conversion value) "
                       "or a results (conversions) column.")
        else:
            message = f"No channel has enough data for a curve ({why})."
        out = _infeasible(curves, float(total), message, outcome=curves.outcome)
    else:
        out = allocate(curves, float(total), guardrails, currency=currency)
    note = " ".join(n for n in (curves.note, out.note) if n)
    out = replace(out, skipped=dict(curves.skipped), note=note)
    if campaigns and out.feasible and len(out.allocation) == 1:
        out = _inside(engine, curves, out, guardrails, window_days, currency)
    return out


def _inside(engine: sa.Engine, curves: CurveSet, out: Allocation, g: Guardrails | None,
            window_days: int, currency: str) -> Allocation:
    """The single channel's budget split among its campaigns, on the channel's outcome."""
    (channel, spend), = out.allocation.items()
    inside = fit_campaign_curves(engine, channel, end=curves.end, window_days=window_days,
                                 currency=currency, outcome=curves.outcome,
                                 active_days=CAMPAIGN_ACTIVE_DAYS)
    if len(inside) < 2:
        why = ("; ".join(f"{inside.labels.get(c, c)}: {r}" for c, r in inside.skipped.items())
               or "no campaign spent in the window")
        return replace(out, note=out.note + (
            " Nor can its budget be split among its campaigns: fewer than two of them have a "
            f"response curve of their own ({why})."))
    now = out.current.get(channel, 0.0)
    combined = sum(c.current_spend for c in inside.values())
    # The campaigns' own spend moves with the channel's total, in proportion.
    camp_total = combined * (spend / now if now > 0 else 1.0)
    rails = Guardrails(max_change_pct=g.max_change_pct) if g else None
    camp = allocate(inside, camp_total, rails, currency=currency)
    camp = replace(camp, skipped=dict(inside.skipped), labels=dict(inside.labels), note="")
    return replace(out, campaigns=camp, note=out.note + (
        f" Inside it, {len(inside)} campaigns have response curves of their own: the best "
        f"split among them of their combined {money(camp_total, currency)}/day (what they "
        "spend on the days they run) is given per campaign."))


def evaluate_split(curves: Mapping[str, Curve], split: Mapping[str, float]) -> float:
    """Σ outcome of ``split`` by ``curves`` (channels missing from ``curves`` earn nothing)."""
    return float(sum(float(curves[c].revenue(v)) for c, v in split.items() if c in curves))

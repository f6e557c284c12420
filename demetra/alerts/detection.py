"""Alert detection: find what broke, once per incident, with the numbers.

Rules run per campaign and per channel over daily rows, each judged against the entity's own
trailing baseline (ratios of sums over the previous ``baseline_days`` days) and its own
day-to-day spread (median and IQR of those days), so a noisy small campaign needs a bigger
move than a steady large one.

The rules on outcomes that are counts accumulate evidence: each day and the windows of up to
seven days ending on it are judged against the baseline from before the window's first day
(``_windows``), with the guard on the conversions the window expects, not one day's, so a
small campaign is judged over more days instead of never. A window that proves a drop makes
each of its days a breach day, so the incident is dated from the window's first day:

* ``roi_drop``: revenue (in orders of the baseline order value) far under what the spend
  brings at the baseline ROI, or far under what the day's conversions bring at the baseline
  order value (order values that collapse while people still buy: free of the swings of the
  conversion count, so proved where revenue against spend cannot tell a collapse from a bad
  week; each order weighs as much as the campaign's own order values are steady,
  ``_order_spread``); or one day's ROI below the absolute threshold when the baseline was
  above it (severity low);
* ``cpa_rise``: results (accounts without revenue) far fewer than the spend buys at the
  trailing CPA;
* ``low_conversion``: conversions far fewer than the clicks and baseline rate make likely,
  or one day's rate under the floor (severity low);
* ``cost_spike``: one day's spend above ``cost_spike_factor`` × the trailing median of the
  days the entity spent (a pause is no baseline of 0: see ``evaluate``) and unusual against
  the campaign's own swings net of those its peers shared (``_own_log_cost``: a promotion's
  week of raised budgets widens no campaign's spread; nor does a budget step, as the spread of
  its day-to-day changes does not hold it); within one such swing under the line,
  and a spike against the last days' spend too, a lead, as is a day past the line of the last
  days' spend where a budget cut holds that under the median (which reaches the cut a week
  late; its swing is measured from that level too); when the outcome kept pace with the
  spend (``_pace_evidence``: likelier bought at the rate the campaign's own history shows
  for more spend, ``_elasticity``, than held at its usual level) it is a budget change,
  severity low, and so where its count is too small to show a runaway at all (a day of 2
  results); so is a spike no longer one without the rise its peers shared that day
  (``_peers_spend``: a promotion's budget, a raise of the whole channel), and one within the
  factor of the last days' spend (``_recent_spend``: a budget raised days ago, or yesterday
  when yesterday's outcome kept pace with it) whose outcome held its usual level;
* ``anomaly``: any of ROI, cost, CTR, conversion rate beyond the robust z limit on a day no
  rule above fired; severity low when the entity's peers moved the same way that day.

Each entity is judged beside its peers on the same days (``_peer_groups``: a campaign's
channel-mates, else the rest of the account; a channel's, the other channels): a window's
expectation is scaled by what the peers brought against their own baselines over its days
when that is under 1, so a drop every campaign of a channel shares (a holiday, the ordinary
days after a promotion inflated the baselines) is no incident of each campaign, while one
campaign collapsing among steady mates still is.

Evidence that reaches a lead but not proof (``_evidence_thresholds``) is an alert of severity
low. Proof (a graded alert) must also hold, for the window that weighs most (the largest
likelihood ratio) or for the shortest that reaches a lead, each on its own days,

* against the entity's own overdispersion (``_dispersion``: a negative-binomial α of each day
  against its own trailing baseline over ``_DISPERSION_WINDOWS`` baselines of days, at least
  its peers' pooled α, which a small campaign's own few counts cannot tell), by
  ``sensitivity`` spreads, in logs and in the tail of its counts about a lognormal state
  (``_state_tail``): a campaign whose state drifts by tens of percent for days proves only a
  collapse its swings cannot explain, and one with too little history for that spread
  proves nothing yet;
* with the spend beyond the usual day's, and the clicks it bought, bringing only what the
  campaign's own history shows more spend brings (``_elasticity``; nothing where its spend
  never moved enough to tell): a CPA or a conversion rate that worsens with a budget is
  diminishing returns, not a collapse, as far as its returns diminish;
* for a channel, as if the spend that changed hands in its days (``_mix_changes``: launches,
  restarts, pauses of its campaigns) had brought nothing: its totals move with its mix with no
  campaign at fault (and a channel's spike, without that spend, must still be one).

Revenue or conversions not tracked (NULL) are not zeros: the rules on them judge only the
rows that track them, and an entity that tracks neither is watched on its spend. A channel's
days are summed here from its campaigns' rows, with the spend and clicks of the tracked ones
beside. Campaigns are named in messages by their names (``campaign_labels``).

Consecutive breach days are one incident, but for days proved by a window that starts after
days of a lead (a dip, then a collapse; a spend ramp under the line, then a runaway): those
are an incident of their own, dated from the first day of the window that proved it, beside
the lead's (``_proved_apart``). ``detect`` hands the incidents of its window to
``demetra.alerts.store``, which keeps one alert per incident (see there). This module imports
scipy (the Poisson and normal tails): the package loads it only when detection runs.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import time
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from demetra.alerts import store
from demetra.alerts.messages import campaign_label
from demetra.alerts.settings import AlertSettings
from demetra.alerts.store import _SEVERITY_RANK, DetectionReport
from demetra.queries import as_date, campaign_names, reporting_currency

_MIN_HISTORY = 7           # days of history before baseline rules apply
_QUANTILE_BLOCK = 8192     # rows whose windows are sorted at once (~2 MB a block)
_RELATIVE_DROP = 0.6       # ROI below this share of its baseline counts as a drop
_CONVERSION_DROP = 0.5     # conversion rate below this share of baseline counts as a drop
# The rules that judge one day alone (the absolute ROI line, anomalies): below this many
# expected conversions a day, a bad day is indistinguishable from chance.
_MIN_EXPECTED_CONVERSIONS = 15.0
# The evidence rules (ROI, conversions, results: see ``_windows``) judge the windows of 1 to
# _MAX_WINDOW days ending on each day, each only when it expects at least _MIN_WINDOW_EXPECTED
# conversions (results, orders): a small campaign is judged over more days, never not at all.
_MAX_WINDOW = 7
_MIN_WINDOW_EXPECTED = 10.0
# The drop the likelihood ratio of a window weighs its counts against (a collapse to under a
# third of the usual); what an alert needs: see ``_evidence_threshold``.
_COLLAPSE = 0.3
# Revenue counted in orders of 90 % of the baseline order value: a drifting order value is
# not a lost order.
_ORDER_SLACK = 0.9
# No order's value is taken as steadier than this (relative spread): a history of near-equal
# order values is a few days' luck as often as a one-price shop (``_order_spread``).
_ORDER_CV_FLOOR = 0.2
_READ_CHUNK = 100_000      # rows fetched at a time from SQLite
# The overdispersion that proof must hold against is estimated over this many baselines of
# days before a window (``_dispersion``): a state that reverts in days needs weeks of them.
_DISPERSION_WINDOWS = 4
# The last days whose median spend is the campaign's current budget (``_recent_spend``).
_RECENT_DAYS = 3
# Nodes of the quadrature over a drifting state (``_state_tail``).
_TAIL_NODES = 24
# An outcome under its usual level by more than this z of its Poisson tail did not hold it
# (``_held_level``): one spread, the plainest reading of "about as usual".
_HELD_Z = 1.0
# A spend spike of an entity that tracks an outcome is graded only where the outcome could
# show a runaway: where, had it held its usual level, that would be this many times likelier
# than its rising in proportion to the spend (``_pace_evidence``). Odds of 10:1, as a Bayes
# factor of 10 is read: strong evidence. A day of 2 results where 6 would be proportional
# cannot (odds 6:1); 5 where 15 would, can.
_RUNAWAY_ODDS = 10.0


# -- the rules, on a frame of daily rows of one kind of entity ----------------------------

def _group_positions(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by key: each row's position within its group and its group's start."""
    n = len(keys)
    new = np.ones(n, dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new)
    group_start = np.repeat(starts, np.diff(np.append(starts, n)))
    return np.arange(n) - group_start, group_start


def _trailing_sum(values: np.ndarray, pos: np.ndarray, window: int) -> np.ndarray:
    """Sum over the previous ``window`` rows of the same group (not the row itself)."""
    cum = np.concatenate([[0.0], np.cumsum(values, dtype=float)])
    idx = np.arange(len(values))
    lo = idx - np.minimum(pos, window)
    return cum[idx] - cum[lo]


def _window_quantiles(frame: pd.DataFrame, column: str, window: int, qs: tuple[float, ...],
                      rows: np.ndarray | None = None) -> list[np.ndarray]:
    """Quantiles ``qs`` (linear interpolation, as pandas') of the finite values among
    the ``window`` rows of the same group before each row (all rows, or only ``rows``):
    NaN where fewer than _MIN_HISTORY.

    Each group's rows are laid out after ``window`` empty (NaN) slots, so a window never
    reaches into the previous group, and the windows are sorted a block of rows at a time:
    every quantile of a window from one sort, in a block that stays in cache: half the time
    of pandas' rolling median and quartiles (one pass per statistic), which were the largest
    part of an alert run on a million rows."""
    slot = np.arange(len(frame)) + (frame["_group"].to_numpy() + 1) * window
    padded = np.full(int(slot[-1]) + 1, np.nan)
    values = frame[column].to_numpy(float)
    padded[slot] = np.where(np.isinf(values), np.nan, values)  # as pandas: inf is no value
    # The window that ends one slot before a row holds the rows before it (only empty
    # slots for a group's first row): today's baseline is built from the days before it.
    starts = (slot if rows is None else slot[rows]) - window
    windows = np.lib.stride_tricks.sliding_window_view(padded, window)
    held_before = np.concatenate([[0], np.cumsum(~np.isnan(padded))])
    counts = held_before[starts + window] - held_before[starts]
    out = [np.full(len(starts), np.nan) for _ in qs]
    block = _QUANTILE_BLOCK
    at = np.arange(block)
    for lo in range(0, len(starts), block):
        held = windows[starts[lo:lo + block]]  # a copy: sorting it leaves padded alone
        held.sort(axis=1)                      # NaN last
        count = counts[lo:lo + block]
        last = np.maximum(count - 1, 0)
        r = at[:len(held)]
        for values, q in zip(out, qs, strict=True):
            position = last * q
            below = position.astype(np.intp)
            low = held[r, below]
            value = low + (position - below) * (held[r, np.minimum(below + 1, last)] - low)
            values[lo:lo + len(held)] = np.where(count >= _MIN_HISTORY, value, np.nan)
    return out


def _trailing_quantiles(frame: pd.DataFrame, column: str, window: int,
                        rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Median (over ``window`` rows) and IQR/1.349, a robust sigma (over twice as many: a
    spread from two weeks of days is itself too noisy), of the rows before each row (or
    each of ``rows``)."""
    (med,) = _window_quantiles(frame, column, window, (0.5,), rows)
    q1, q3 = _window_quantiles(frame, column, 2 * window, (0.25, 0.75), rows)
    return med, (q3 - q1) / 1.349


def _trailing_median(frame: pd.DataFrame, column: str, window: int) -> np.ndarray:
    """Median of the ``window`` rows before each row of its group (NaN with too few)."""
    return _window_quantiles(frame, column, window, (0.5,))[0]


def _evidence_thresholds(sensitivity: float) -> tuple[float, float, float, float]:
    """What a window needs, at a sensitivity (robust z) of the daily rules: the log likelihood
    ratio (a collapse to ``_COLLAPSE`` against the baseline) and the shortfall in spreads,
    for a lead (an alert of severity low) and for proof (a graded one).

    Calibrated, not derived: seven overlapping windows a day are far from seven independent
    tests, so a Bonferroni split (each at a seventh of the daily alpha) would be several times
    too strict and miss the collapses it is for. On simulated quiet months of Poisson noise
    (30 days after a 14-day baseline, every window of 1-7 days tested each day) at the
    default sensitivity 3.5, a campaign expecting 4 conversions a day raises about 0.08 leads
    a month (8 a day: 0.045; 20: 0.02) and 0.01 graded alerts (8: 0.005; 20: 0.002); three
    days at a quarter of 4.5 a day make a lead (log ratio 5.8 when they bring 1 each), and
    at 8 a day a graded alert most of the time. A step of sensitivity moves the ratios by
    one: about a factor e in the false-alarm rate. A lead also needs a shortfall of
    ``sensitivity`` spreads, proof 3 more: on accounts whose state drifts (the zoo's
    ``drift`` world, ~35 % a day) a dip of a few days is common, and only the spread tells
    it from a collapse."""
    return sensitivity + 2.0, sensitivity + 5.0, sensitivity, sensitivity + 3.0


def _windows(num: np.ndarray, den: np.ndarray, rate: np.ndarray, unit: np.ndarray,
             extra: np.ndarray, eligible: np.ndarray, pos: np.ndarray, *, history: int,
             drop: float, threshold: float, z_limit: float,
             slack: float = 1.0, peers: tuple[np.ndarray, np.ndarray] | None = None
             ) -> dict[str, np.ndarray]:
    """The evidence that a count fell, over the windows of 1 to ``_MAX_WINDOW`` days ending
    on each row (all rows of one group). A window starts ``history`` rows into its group: a
    whole baseline behind it, since a window's many tests would find the luck of a baseline
    of a few days.

    A row brings ``num`` (conversions, results, revenue) for ``den`` of exposure (clicks,
    spend); the baseline of the window's first day, ``rate`` per unit of ``den`` (NaN: none),
    makes its expectation. Dividing by ``unit`` makes both counts (orders of revenue; 1 for
    counts); what came in is counted in units of ``slack`` × ``unit``. ``extra``: the
    campaign's day-to-day spread of the log outcome beyond Poisson noise (a drifting state,
    order values), which no number of days averages away.

    A window proves a drop when it expects ≥ ``_MIN_WINDOW_EXPECTED``, brings under ``drop``
    of it, its log likelihood ratio of a collapse (to ``_COLLAPSE``) against the baseline is
    ≥ ``threshold`` (Poisson), its log shortfall is ≥ ``z_limit`` spreads (Poisson plus
    ``extra``), and its first and last days each bring under ``drop`` of theirs (a window is a
    run of bad days: no normal day dates an alert early or keeps it open late).

    ``peers``: per row, what the entity's peers (``_peers``: its channel-mates, else the rest
    of the account) brought and expected at their own baselines that day, in counts. Where
    they expected enough over the window's days, the expectation is scaled by their ratio
    when it is under 1: a drop every campaign of the channel shares (a holiday, the days
    after a promotion inflated the baselines) is the channel's, not the campaign's.

    Returns per row: ``proved`` (a window ending here proves a drop); ``start``, the first
    row of the shortest that does (its days are breach days: a longer one would take in the
    dips of a drifting campaign before an incident and date it days early; the days before
    it are breach days when an earlier window proved them); of the strongest (the largest
    likelihood ratio) ``observed``/``expected`` (its counts), ``llr`` (its log likelihood
    ratio), ``tail`` (its Poisson tail), ``z`` (its shortfall in spreads),
    ``strongest_start`` (its first row); and
    ``worst_start`` and ``worst_days`` of the one that fell furthest, whose numbers an alert
    shows."""
    n = len(num)
    idx = np.arange(n)
    cnum = np.concatenate([[0.0], np.cumsum(num)])
    cden = np.concatenate([[0.0], np.cumsum(den)])
    # Only a row whose own day is under ``drop`` of some window start's baseline can end a
    # window: the rest (most rows) are left out before any window is summed.
    top = rate.copy()
    for j in range(1, _MAX_WINDOW):
        earlier = np.concatenate([np.full(j, np.nan), rate[:-j]])
        top = np.fmax(top, np.where(pos >= j, earlier, np.nan))
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero(eligible & (num < drop * top * den))
    p, x_num, x_den = pos[rows], num[rows], den[rows]
    if peers is not None:
        c_po = np.concatenate([[0.0], np.cumsum(peers[0])])
        c_pe = np.concatenate([[0.0], np.cumsum(peers[1])])

        def shared(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            """The peers' ratio over rows lo..hi, capped at 1 (1: too few to tell)."""
            po, pe = c_po[hi + 1] - c_po[lo], c_pe[hi + 1] - c_pe[lo]
            return np.where(pe >= _MIN_WINDOW_EXPECTED, np.minimum(po / np.maximum(pe, 1e-9), 1.0),
                            1.0)
    else:
        def shared(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
            return np.ones(len(lo))
    day_factor = shared(rows, rows)
    best = np.full(len(rows), -np.inf)
    lowest = np.full(len(rows), np.inf)
    length = np.zeros(len(rows), dtype=np.int64)
    worst = np.zeros(len(rows), dtype=np.int64)
    strongest = np.zeros(len(rows), dtype=np.int64)
    observed, expected, spreads = (np.zeros(len(rows)) for _ in range(3))
    first_of = {name: np.zeros(len(rows)) for name in ("observed", "expected", "llr", "z")}
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(1, _MAX_WINDOW + 1):
            valid = p >= history + k - 1
            lo = np.where(valid, rows - (k - 1), rows)
            r, u = rate[lo], unit[lo]
            e = r * (cden[rows + 1] - cden[lo]) / u * shared(lo, rows)
            o = (cnum[rows + 1] - cnum[lo]) / (slack * u)
            llr = o * np.log(_COLLAPSE) + e * (1.0 - _COLLAPSE)
            z = np.log((o + 0.5) / (e + 0.5)) / np.sqrt(1.0 / e + extra[lo] ** 2)
            ok = (valid & (e >= _MIN_WINDOW_EXPECTED) & (o < drop * e) & (llr >= threshold)
                  & (z <= -z_limit) & (x_num < drop * r * x_den * day_factor)
                  & (num[lo] < drop * r * den[lo] * shared(lo, lo)))
            shortest = ok & (length == 0)
            length = np.where(shortest, k, length)
            for name, v in (("observed", o), ("expected", e), ("llr", llr), ("z", z)):
                first_of[name] = np.where(shortest, v, first_of[name])
            stronger = ok & (llr > best)
            best = np.where(stronger, llr, best)
            strongest = np.where(stronger, k, strongest)
            observed = np.where(stronger, o, observed)
            expected = np.where(stronger, e, expected)
            spreads = np.where(stronger, z, spreads)
            lower = ok & (o / e < lowest)
            lowest = np.where(lower, o / e, lowest)
            worst = np.where(lower, k, worst)

    def full(values: np.ndarray, fill: float) -> np.ndarray:
        out = np.full(n, fill, dtype=values.dtype)
        out[rows] = values
        return out

    hit = length > 0
    tail = np.ones(len(rows))
    tail[hit] = stats.poisson.cdf(np.floor(observed[hit]), expected[hit])
    length, worst, strongest = full(length, 0), full(worst, 0), full(strongest, 0)
    return {"proved": length > 0, "start": idx - np.maximum(length - 1, 0),
            "strongest_start": idx - np.maximum(strongest - 1, 0),
            "worst_start": idx - np.maximum(worst - 1, 0), "worst_days": worst,
            "observed": full(observed, 0.0), "expected": full(expected, 0.0),
            "z": full(spreads, 0.0), "llr": full(best, -np.inf), "tail": full(tail, 1.0),
            **{f"first_{name}": full(v, 0.0) for name, v in first_of.items()}}


def _peer_groups(codes: np.ndarray, ch_codes: np.ndarray, day_codes: np.ndarray) -> np.ndarray:
    """Each row's peer group: its channel's day when the channel has other entities, else the
    account's day (a channel's own rows, a campaign alone in its channel)."""
    # Rows are sorted by key: a key's channel is its first row's (a campaign keeps one).
    first = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    keys_per_channel = np.bincount(ch_codes[first], minlength=int(ch_codes.max()) + 1)
    alone = keys_per_channel[ch_codes] < 2
    days = int(day_codes.max()) + 1
    return np.where(alone, day_codes, (ch_codes.astype(np.int64) + 1) * days + day_codes)


def _peers(group: np.ndarray, observed: np.ndarray, expected: np.ndarray,
           valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the other rows of each row's peer group brought and expected that day (the row's
    own counts left out: a campaign's collapse is no evidence about its channel)."""
    o, e = np.where(valid, observed, 0.0), np.where(valid, expected, 0.0)
    o, e = np.nan_to_num(o), np.nan_to_num(e)
    # Group ids are small (channels x days): counted straight, no sort.
    so, se = np.bincount(group, weights=o), np.bincount(group, weights=e)
    return so[group] - o, se[group] - e


def _dispersion(observed: np.ndarray, expected: np.ndarray, valid: np.ndarray,
                pos: np.ndarray, window: int, group: np.ndarray | None = None) -> np.ndarray:
    """The overdispersion of each row's counts, from the ``window`` rows before it: α of a
    negative binomial (variance e + α e²), by moments, Σ((o - e)² - e) / Σe², of each day
    against its own trailing baseline (``expected``). So it holds what the Poisson test
    leaves out: a state that drifts for days, order values, the error of a baseline of two
    weeks of such days. Weighted by e², the days that say most about it count most; a
    spread of quantiles over four weeks of a state that reverts in days is mostly luck.

    ``group``: each row's peer group of the day (``_peer_groups``). A small campaign's own
    days say little about its α (their Poisson noise drowns it: by chance it comes out near
    0), while its peers' pooled days, weighted by e² as well, are led by the big ones that
    tell it well: a campaign is held to the larger of its own α and its peers'. Where the
    states of an account do not drift, the peers' α is small too and changes nothing."""
    o, e = np.where(valid, observed, 0.0), np.where(valid, expected, 0.0)
    o, e = np.nan_to_num(o), np.nan_to_num(e)
    num = _trailing_sum((o - e) ** 2 - e, pos, window)
    den = _trailing_sum(e ** 2, pos, window)
    days = _trailing_sum(valid.astype(float), pos, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(den > 0, np.clip(num / den, 0.0, None), 0.0)
        if group is not None:
            told = days >= window // 4
            g_num = np.bincount(group, weights=np.where(told, num, 0.0))
            g_den = np.bincount(group, weights=np.where(told, den, 0.0))
            pooled = np.where(g_den[group] > 0, np.clip(g_num[group] / g_den[group], 0.0, None),
                              0.0)
            alpha = np.maximum(alpha, pooled)
    # Fewer days than a quarter of the window tell no spread: nothing is proved against it
    # yet (infinite: leads only), as no baseline is made of fewer than _MIN_HISTORY days.
    return np.where(days >= window // 4, alpha, np.inf)


def _state_tail(observed: np.ndarray, expected: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """The lower tail, as a z, of ``observed`` counts whose mean is ``expected`` times the
    entity's state: lognormal, of mean 1 and relative variance ``alpha`` (``_dispersion``),
    with Poisson counts about it (Gauss-Hermite quadrature over the state, _TAIL_NODES
    nodes). A state that drifts on a log scale reaches a third of its usual far more often
    than a normal spread of the log count says, and a count of 1 against 11 is that; a
    drop no state of the entity's spread explains still is far in the tail."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(_TAIL_NODES)
    weights = weights / weights.sum()
    sigma = np.sqrt(np.log1p(alpha))[:, None]
    mean = expected[:, None] * np.exp(sigma * nodes[None, :] - sigma ** 2 / 2)
    tail = (stats.poisson.cdf(np.floor(observed)[:, None], mean) * weights).sum(axis=1)
    return stats.norm.ppf(np.clip(tail, 1e-300, 1.0))


def _order_spread(revenue: np.ndarray, orders: np.ndarray, pos: np.ndarray,
                  window: int) -> np.ndarray:
    """Each row's relative variance of one order's value, from the campaign's own days: the
    variance of a day's log order value (revenue over the conversions it came with) over the
    2 x ``window`` days before, times the orders of its usual day, in [_ORDER_CV_FLOOR², 1].
    The order-value rule counts revenue in units of the baseline order value times it, so a
    window's orders weigh as much as their values are steady: a shop whose orders are worth
    about the same each proves a collapse of value from a few of them, one whose baskets vary
    as much as a count's Poisson noise (1: what the unit of one order assumes) from as many
    as before. A day's spread that does not shrink with its orders (value noise of the whole
    day) only makes the estimate cautious for days of more orders than usual; so does a
    collapse among the days before (a variance, not a robust spread: running sums cost a
    fraction of a rolling quantile over a million rows)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        valued = (orders > 0) & np.isfinite(revenue) & (revenue > 0)
        x = np.log(np.divide(revenue, orders, out=np.ones(len(orders)), where=valued))
        k = _trailing_sum(valued.astype(float), pos, 2 * window)
        mean = _trailing_sum(x, pos, 2 * window) / k
        var = _trailing_sum(x * x, pos, 2 * window) / k - mean ** 2
        usual = _trailing_sum(np.where(valued, orders, 0.0), pos, window) / np.maximum(
            _trailing_sum(valued.astype(float), pos, window), 1.0)
        cv2 = np.where(k >= _MIN_HISTORY, np.maximum(var, 0.0) * usual, np.nan)
    return np.where(np.isfinite(cv2), np.clip(cv2, _ORDER_CV_FLOOR ** 2, 1.0), 1.0)


def _own_log_cost(frame: pd.DataFrame, cost: np.ndarray, peer_group: np.ndarray,
                  window: int) -> np.ndarray:
    """Each spending day's log spend less the move its peers shared that day: the median, over
    its peer group (``_peer_groups``; three or more spending rows), of log spend against each
    one's median of the 2 x ``window`` days before, a level a week of promotion does not move
    (NaN on days without spend). A promotion that raised every budget for a week is no swing
    of a campaign's own, and counted as one it widens the spread a spike weeks later is judged
    by."""
    level = _trailing_median(frame, "_spend", 2 * window)
    with np.errstate(divide="ignore", invalid="ignore"):
        moved = np.where((cost > 0) & (level > 0), np.log(cost / level), np.nan)
    grouped = pd.DataFrame({"g": peer_group, "m": moved}).groupby("g")["m"]
    shared = np.where(grouped.transform("count").to_numpy() >= 3,
                      grouped.transform("median").to_numpy(), 0.0)
    return frame["_log_cost"].to_numpy(float) - np.nan_to_num(shared)


def _column(frame: pd.DataFrame, name: str, default: np.ndarray) -> np.ndarray:
    return frame[name].to_numpy(float) if name in frame else default


def evaluate(frame: pd.DataFrame, cfg: AlertSettings) -> pd.DataFrame:
    """Breaches in ``frame`` (daily rows sorted by key then date; columns key, channel, date,
    cost, revenue, clicks, impressions, conversions), one row per rule, entity and day.

    Revenue and conversions may be NaN: not tracked, which is not 0. The rules on them (ROI,
    conversion rate, their anomalies) are judged on the spend and clicks of the rows that do
    track them: the optional columns ``revenue_cost``, ``result_clicks`` and
    ``valued_conversions`` (spend of rows with revenue, clicks of rows with conversions,
    conversions of rows with revenue; a channel's day sums them over its campaigns); without
    them, a row's own spend and clicks where it tracks the outcome, else 0. An entity that
    tracks neither is judged on its spend alone."""
    if frame.empty:
        return pd.DataFrame()
    frame = frame.reset_index(drop=True)
    w = int(cfg.baseline_days)
    # Keys and channels as codes: a million Python strings cost more than the rules.
    codes, key_names = pd.factorize(frame["key"])
    key_names = np.asarray(key_names, dtype=object)
    pos, _ = _group_positions(codes)
    frame["_pos"] = pos
    frame["_group"] = codes
    cost = frame["cost"].to_numpy(float)
    revenue = frame["revenue"].to_numpy(float)          # NaN: not tracked
    clicks = frame["clicks"].to_numpy(float)
    impressions = frame["impressions"].to_numpy(float)
    conversions = frame["conversions"].to_numpy(float)  # NaN: not tracked
    has_rev, has_conv = ~np.isnan(revenue), ~np.isnan(conversions)
    rev_cost = _column(frame, "revenue_cost", np.where(has_rev, cost, 0.0))
    res_cost = _column(frame, "result_cost", np.where(has_conv, cost, 0.0))
    res_clicks = _column(frame, "result_clicks", np.where(has_conv, clicks, 0.0))
    val_conv = _column(frame, "valued_conversions",
                       np.where(has_rev & has_conv, conversions, 0.0))
    rev0, conv0 = np.where(has_rev, revenue, 0.0), np.where(has_conv, conversions, 0.0)
    # Sums over the window of what was tracked (a NaN in a running sum would reach every
    # later row of every later campaign).
    p_rcost, p_rev = _trailing_sum(rev_cost, pos, w), _trailing_sum(rev0, pos, w)
    p_clicks, p_conv = _trailing_sum(res_clicks, pos, w), _trailing_sum(conv0, pos, w)
    p_vconv = _trailing_sum(val_conv, pos, w)
    p_res_cost = _trailing_sum(res_cost, pos, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(has_rev & (rev_cost > 0), revenue / rev_cost, np.nan)
        base_roi = np.where(p_rcost > 0, p_rev / p_rcost, np.nan)
        cr = np.where(has_conv & (res_clicks > 0), conversions / res_clicks, np.nan)
        base_cr = np.where(p_clicks > 0, p_conv / p_clicks, np.nan)
        aov = np.where(p_vconv > 0, p_rev / p_vconv, np.nan)
        base_cpa = np.where(p_conv > 0, p_res_cost / p_conv, np.nan)
        # Baselines of spend and ROI are made of the days the entity spent. A day without
        # spend (a pause, or before a launch) has no ROI, and its spend is not a level of 0:
        # counted as 0, a pause over half the window makes the median spend 0, and then any
        # restart is an "infinite" spike, when a campaign restarting at its old level is the
        # most normal thing there is. Left out (NaN, which a rolling window does not count),
        # a restart after a short pause is judged against the level the campaign had before
        # it; after a long one (fewer than _MIN_HISTORY spending days left in the window) it
        # is not judged at all until it has spent for a week again, like a new campaign. The
        # windows count rows, not days: where an export leaves the paused days out (most do),
        # a restart after any pause is judged against its level before it. Filling those days
        # with rows of no spend raised false alarms on restarts judged on a week of their own
        # (benchmarks/bench_alerts.py --paused, lead generation seed 1: precision 1.00 -> 0.79).
        # The rates (CTR, conversion rate) already leave such days out: no impressions, no
        # clicks, no rate. The trailing sums need nothing: a day of zeros adds nothing.
        spending = cost > 0
        frame["_log_roi"] = np.where(has_rev & (rev_cost > 0),
                                     np.log((revenue + 1.0) / (rev_cost + 1.0)), np.nan)
        frame["_log_cost"] = np.where(spending, np.log1p(cost), np.nan)
        frame["_spend"] = np.where(spending, cost, np.nan)
        frame["_ctr"] = np.where(impressions > 0, clicks / impressions, np.nan)
        frame["_cr"] = cr
    # Conversions the day should bring at the baseline: the Poisson noise of a count this
    # size is a floor under any spread estimated from a few days.
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_conv = np.where(aov > 0, base_roi * rev_cost / aov, np.nan)
    poisson_floor = 1.0 / np.sqrt(np.maximum(np.nan_to_num(expected_conv), 1.0))
    z = {}
    robust: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # median and spread, by metric
    # The spend baseline is the plain median of the spending days before (the z test below
    # works on log spend): "factor x median" means what it says, to the cent. Never 0: with
    # no spending day in the window it is NaN, and no rule compares with it.
    med_cost = _trailing_median(frame, "_spend", w)
    ch_codes, ch_names = pd.factorize(frame["channel"])
    day_codes = pd.factorize(frame["date"])[0]
    peer_group = _peer_groups(codes, ch_codes, day_codes)
    for name, column, floor in (("roi", "_log_roi", np.maximum(poisson_floor, 0.05)),
                                ("cost", "_log_cost", 0.05),
                                ("ctr", "_ctr", None), ("conversion rate", "_cr", None)):
        med, spread = robust[name] = _trailing_quantiles(frame, column, w)
        if floor is None:  # rates: a spread no smaller than 10 % of the level
            floor = np.maximum(np.abs(med) * 0.1, 1e-6)
        with np.errstate(invalid="ignore"):
            z[name] = (frame[column].to_numpy(float) - med) / np.maximum(spread, floor)
    sens = cfg.sensitivity
    enough = (pos >= _MIN_HISTORY) & (cost >= cfg.min_daily_spend)
    with np.errstate(invalid="ignore"):
        busy = enough & (expected_conv >= _MIN_EXPECTED_CONVERSIONS)
    # The share of a channel's spend that changed hands that day (``_mix_changes``: launches,
    # restarts, pauses): its totals move with the mix by up to that share with no campaign
    # at fault. What a breach still proves without it is graded, the rest are leads.
    mix_share = np.clip(_column(frame, "mix_change", np.zeros(len(frame))), 0.0, 1.0)
    thresholds = np.array([cfg.roi_threshold_for(c) for c in ch_names], dtype=float)[ch_codes]
    dates = frame["date"].to_numpy()
    n = len(cost)
    idx = np.arange(n)
    out: list[pd.DataFrame] = []

    def emit(rule: str, mask: np.ndarray, metric: np.ndarray, threshold: np.ndarray,
             money: np.ndarray, dev: np.ndarray, low_only: np.ndarray,
             metric_name: np.ndarray | None = None, *, baseline: np.ndarray | None = None,
             src: np.ndarray = idx, days: np.ndarray | None = None,
             spend: np.ndarray = cost, results: np.ndarray = conv0,
             proof_from: np.ndarray = idx) -> None:
        """Breach rows of ``rule`` where ``mask``; ``src``: the row whose data raised each
        (a later day for the days of a window), ``days``: the days the numbers cover."""
        mask = mask & np.isfinite(metric)
        if not mask.any():
            return
        base = _baseline_for(rule) if baseline is None else baseline
        out.append(pd.DataFrame({
            "metric": rule if metric_name is None else metric_name[mask],
            "rule": rule, "key": key_names[codes[mask]],
            "channel": np.asarray(ch_names, dtype=object)[ch_codes[mask]],
            "date": dates[mask], "seen": dates[src[mask]], "metric_value": metric[mask],
            "threshold_value": threshold[mask], "baseline": base[mask],
            "money": np.nan_to_num(money[mask]), "deviation": np.abs(dev[mask]),
            "low_only": low_only[mask], "cost": spend[mask], "conversions": results[mask],
            "days": 1 if days is None else days[mask],
            "proof_from": dates[proof_from[mask]]}))

    def _baseline_for(rule: str) -> np.ndarray:
        baselines = {"roi_drop": base_roi, "cost_spike": med_cost, "low_conversion": base_cr,
                     "cpa_rise": base_cpa}
        return baselines.get(rule, base_roi)

    spending_days = np.maximum(_trailing_sum(spending.astype(float), pos, w), 1.0)

    def beyond_poisson(spread: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """A daily spread of a log outcome less the Poisson part of a day's count."""
        with np.errstate(divide="ignore", invalid="ignore"):
            per_day = counts / spending_days
            extra = spread ** 2 - 1.0 / np.maximum(per_day, 0.5)
        return np.sqrt(np.clip(np.nan_to_num(extra), 0.0, None))

    def _outcome_and_usual() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's outcome (revenue in orders, else results), the spend that tracks it, and
        the usual level: what the median day's spend buys at the baseline rate."""
        with np.errstate(divide="ignore", invalid="ignore"):
            orders = np.where(aov > 0, rev0 / aov, np.nan)
            rate = np.where(has_rev, base_roi / aov, 1.0 / base_cpa)
            got = np.where(has_rev, orders, conv0)
            spent = np.where(has_rev, rev_cost, res_cost)
            return got, spent, rate * spent * med_cost / cost

    def _held_level() -> np.ndarray:
        """Rows whose outcome held its usual level (what the median day's spend buys at the
        baseline rate, as in ``_pace_evidence``): not under it by more than ``_HELD_Z`` of its
        Poisson tail (a day of 0 against 0.4 usual results held it; 6 against 13 did not);
        True where the entity tracks neither. Spend near the last days' that brings less
        than the usual day is no budget at work."""
        got, _, usual = _outcome_and_usual()
        with np.errstate(divide="ignore", invalid="ignore"):
            held = stats.norm.ppf(stats.poisson.cdf(np.floor(np.nan_to_num(got)),
                                                     np.nan_to_num(usual))) > -_HELD_Z
            return np.where(np.isfinite(usual) & np.isfinite(got), held, ~(has_rev | has_conv))

    def _pace_evidence() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Of the two explanations of the day's outcome (revenue in orders, else results),
        the spend buying more or the outcome staying at its usual level (what the median
        day's spend buys at the baseline rate): which is the likelier under Poisson counts,
        with "more" what the campaign has bought so far (the usual level times the spend's
        ratio to the median to the power of its own elasticity, ``_elasticity``, as a
        campaign that saturates gains less from each extra dollar): True where the outcome
        kept pace (a budget change). And where its count is too small to tell even a
        proportional rise from none by ``_RUNAWAY_ODDS``: a runaway not shown. And where it
        kept pace by those odds: a budget shown (``_recent_spend``). All False where the
        entity tracks neither or has no usual level (no results to a CPA): judged on its
        spend alone."""
        got, spent, usual = _outcome_and_usual()
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = cost / med_cost
            paced = usual * ratio ** np.where(np.isnan(elasticity), 1.0, elasticity)
            llr = got * np.log(paced / usual) - (paced - usual)
            full = got * np.log(ratio) - usual * (ratio - 1.0)
        kept = np.isfinite(llr) & (paced > usual) & (llr > 0)
        return (kept, np.isfinite(full) & (ratio > 1.0) & (full > -np.log(_RUNAWAY_ODDS)),
                kept & (llr > np.log(_RUNAWAY_ODDS)))

    def _elasticity(got: np.ndarray, spent: np.ndarray) -> np.ndarray:
        """How the outcome has followed the spend over the campaign's last
        ``_DISPERSION_WINDOWS`` baselines of days: the slope of log outcome on log spend, in
        [0, 1]; NaN where its spend hardly moved (under 10 % a day), for each use to read as
        is cautious there (proportional for a spike whose outcome kept pace, none for the
        proof of a drop)."""
        valid = spending & np.isfinite(got) & (spent > 0)
        x = np.where(valid, np.log(np.where(valid, spent, 1.0)), 0.0)
        y = np.where(valid, np.log(np.where(valid, got, 0.0) + 0.5), 0.0)
        span = _DISPERSION_WINDOWS * w
        k = _trailing_sum(valid.astype(float), pos, span)
        sx, sy = _trailing_sum(x, pos, span), _trailing_sum(y, pos, span)
        sxx, sxy = _trailing_sum(x * x, pos, span), _trailing_sum(x * y, pos, span)
        with np.errstate(divide="ignore", invalid="ignore"):
            var = sxx / k - (sx / k) ** 2
            slope = (sxy / k - sx * sy / k ** 2) / var
        return np.where((k >= _MIN_HISTORY) & (var > 0.01) & np.isfinite(slope),
                        np.clip(slope, 0.0, 1.0), np.nan)

    def _recent_spend(followed: np.ndarray) -> np.ndarray:
        """The median spend of the ``_RECENT_DAYS`` rows before each, where all of them spent
        (NaN otherwise): a budget raised a few days ago is the level its days are spent at,
        which the median of two weeks reaches only a week later. A day within the factor of
        it, whose outcome held its usual level (``_held_level``), is the new budget
        spent, not a runaway: the campaign's own drift of spend is no incident either."""
        spend = frame["_spend"].to_numpy(float)
        recent = _median_of_last(spend)
        # Yesterday's spend is the budget already when yesterday's outcome followed it by
        # odds of _RUNAWAY_ODDS (``_pace_evidence``): the second day of a raise its results
        # kept up with. Merely likelier (4 orders where 2 are usual, at twice the spend) is
        # no budget the next day's spend is judged against.
        budget = (pos >= 1) & np.concatenate([[False], followed[:-1]])
        yesterday = np.where(pos >= 1, np.concatenate([[np.nan], spend[:-1]]), np.nan)
        return np.fmax(recent, np.where(budget, yesterday, np.nan))

    def _median_of_last(values: np.ndarray) -> np.ndarray:
        """The median of the ``_RECENT_DAYS`` rows of the same group before each row, where
        all of them hold a value (NaN otherwise)."""
        stacked = np.vstack([np.where(pos >= j, np.concatenate([np.full(j, np.nan),
                                                                values[:-j]]), np.nan)
                             for j in range(1, _RECENT_DAYS + 1)])
        out = np.full(n, np.nan)
        full_rows = np.isfinite(stacked).all(axis=0)
        out[full_rows] = np.median(stacked[:, full_rows], axis=0)
        return out

    def _peers_spend(rows: np.ndarray) -> np.ndarray:
        """For ``rows``, how far their peers' spend stood above its own usual that day (the
        median over the other judged rows of the peer group, at least two of them, of spend
        against its trailing median; 1 when under 1 or too few): a promotion's budget, or
        any raise of a whole channel, is the account's decision, and a campaign's spend is a
        spike only beyond what its peers share."""
        out = np.ones(n)
        if not rows.any():
            return out
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = cost / med_cost
        mine = (np.isin(peer_group, np.unique(peer_group[rows])) & enough & (med_cost > 0)
                & np.isfinite(ratio))
        grouped = pd.DataFrame({"g": peer_group[mine], "r": ratio[mine],
                                "z": z["cost"][mine]}).groupby("g")
        med, count = grouped.median(), grouped["r"].count()
        g = peer_group[rows]
        shared = med["r"].reindex(g).to_numpy()
        # The group's median holds the row itself: with three or more peers it is close to
        # theirs, and a spike only pulls it its own way. Their move counts where it is
        # beyond their own day-to-day spread (the median of their z over one): a few
        # campaigns above their medians by chance are no decision of the account.
        moved = med["z"].reindex(g).to_numpy() > 1.0
        peers_n = count.reindex(g).to_numpy() - 1
        out[rows] = np.where((peers_n >= 2) & moved & (shared > 1.0), shared, 1.0)
        return out

    def _shared_move(odd: np.ndarray, worst: np.ndarray) -> np.ndarray:
        """Odd rows whose metric its peers moved with on the same day (the median z of the
        other busy rows of its peer group, at least two of them, is past ``sens`` the same
        way): a promotion, a holiday or a tracking change of the whole channel is no
        campaign's anomaly, and told once per entity it is no news (a lead, severity low)."""
        out = np.zeros(n, dtype=bool)
        for k, name in enumerate(z):
            rows = np.flatnonzero(odd & (worst == k))
            if not len(rows):
                continue
            # Only the groups of the odd rows: a median over every row costs a sort of all.
            mine = np.isin(peer_group, np.unique(peer_group[rows])) & busy
            table = pd.DataFrame({"g": peer_group[mine], "z": z[name][mine]})
            grouped = table.groupby("g")["z"]
            med, count = grouped.median(), grouped.count()
            # The peers' median without the row itself: the median of the group is close
            # enough with three or more peers, and the row's own z only pulls it its way.
            g = peer_group[rows]
            peer_med = med.reindex(g).to_numpy()
            peers_n = count.reindex(g).to_numpy() - 1
            same_way = np.sign(peer_med) == np.sign(z[name][rows])
            out[rows] = (peers_n >= 2) & same_way & (np.abs(peer_med) > sens)
        return out

    lead, proof, z_limit, z_proof = _evidence_thresholds(sens)
    # Against its own overdispersion a window needs the daily rules' sensitivity.
    z_dispersed = sens
    no_window = np.zeros(n, bool)

    def windowed(rule: str, num: np.ndarray, den: np.ndarray, rate: np.ndarray,
                 unit: np.ndarray, extra: np.ndarray, eligible: np.ndarray, drop: float,
                 value: Any, limit: Any, baseline: np.ndarray, shortfall: Any,
                 slack: float = 1.0, deviation: str = "tail",
                 shown_den: np.ndarray | None = None,
                 usual_den: np.ndarray | None = None) -> np.ndarray:
        """Emit the breach days of the windows that prove ``rule`` (``_windows``); each day
        of a window is a breach day, with the numbers of the earliest row whose window
        holds it. ``value`` maps the window's sums of num and den (``shown_den``, when the
        metric shown is not the one tested) to the metric; ``usual_den``: of each row's den,
        what the proof counts (beyond the usual day's spend, at the campaign's own returns:
        see the proof below); ``limit`` the
        window's first row and the metric to the threshold shown, ``shortfall`` the first
        row to the money of each row. The deviation that grades severity: the window's
        Poisson tail as a z (``tail``) or its shortfall in spreads (``z``)."""
        # The peers' counts, each row at its own baseline of the day (not the window's).
        with np.errstate(divide="ignore", invalid="ignore"):
            counted = eligible & np.isfinite(rate) & (unit > 0)
            peers = _peers(peer_group, num / unit, rate * den / unit, counted)
            dispersion = _dispersion(num / unit, rate * den / unit, counted & (pos >= w), pos,
                                     _DISPERSION_WINDOWS * w, peer_group)
        win = _windows(num, den, np.where(np.isfinite(rate), rate, np.nan), unit, extra,
                       eligible, pos, history=max(w, _MIN_HISTORY), drop=drop,
                       threshold=lead, z_limit=z_limit,
                       slack=slack, peers=peers)
        if not win["proved"].any():
            return no_window
        # The earliest proving row whose window holds each row (windows stay in a group):
        # for each distance j, from the farthest, the rows j before a proving row.
        proving = np.flatnonzero(win["proved"])
        days = win["start"][proving]
        src = np.full(n, -1)
        for j in range(_MAX_WINDOW - 1, -1, -1):
            holds = proving - j >= days
            src[proving[holds] - j] = proving[holds]
        covered = src >= 0
        rows = np.flatnonzero(covered)
        t = src[rows]
        # Money against the baseline of the window that made the day a breach day; the
        # numbers shown, those of the window that fell furthest.
        first, shown = win["start"][t], win["worst_start"][t]
        cnum = np.concatenate([[0.0], np.cumsum(num)])
        cden = np.concatenate([[0.0], np.cumsum(den if shown_den is None else shown_den)])
        cspend = np.concatenate([[0.0], np.cumsum(cost)])
        sums = (cnum[t + 1] - cnum[shown], cden[t + 1] - cden[shown])

        def full(values: np.ndarray, fill: Any = np.nan) -> np.ndarray:
            out = np.full(n, fill, dtype=np.asarray(values).dtype)
            out[rows] = values
            return out

        def _unproved(t: np.ndarray, lo: np.ndarray, o_s: np.ndarray, e: np.ndarray,
                      llr: np.ndarray, z: np.ndarray) -> np.ndarray:
            """Windows lo..t (their counts, likelihood ratio and shortfall in spreads) that
            prove no drop: evidence short of ``proof`` ..."""
            lead_only = (llr < proof) | (z > -z_proof)
            # ... or short of it as if the spend that changed hands in its days (a channel's
            # launches and pauses: ``mix_share``) brought nothing ...
            changed = mix_share[t].copy()
            for j in range(1, _MAX_WINDOW):
                inside = t - j >= lo
                changed[inside] = np.maximum(changed[inside], mix_share[t - j][inside])
            e_s = e * (1.0 - np.clip(changed, 0.0, 1.0))
            if usual_den is not None:
                # ... and with the spend beyond the usual day's (the median before each
                # day), and the clicks it bought, counted at the campaign's own returns
                # (``usual_den``): a campaign whose budget grew may gain less from each extra
                # dollar and reach people less likely to convert, and a CPA or a conversion
                # rate that worsens with the spend as much as its history shows is
                # diminishing returns, not a collapse; a collapse falls short of that too.
                capped = np.concatenate([[0.0], np.cumsum(usual_den)])
                c_den = np.concatenate([[0.0], np.cumsum(den)])
                usual = (capped[t + 1] - capped[lo]) / (c_den[t + 1] - c_den[lo])
                e_s = e_s * np.where(np.isfinite(usual), usual, 1.0)
            lead_only |= (o_s >= drop * e_s) & (changed > 0)
            lead_only |= o_s * np.log(_COLLAPSE) + e_s * (1.0 - _COLLAPSE) < proof
            # ... or against the campaign's own overdispersion (``_dispersion``): the
            # window's shortfall in its spreads, its state's beside Poisson.
            alpha = np.maximum(dispersion[lo], extra[lo] ** 2)
            spread = np.sqrt(1.0 / np.maximum(e_s, 1e-9) + alpha)
            lead_only |= np.log((o_s + 0.5) / (e_s + 0.5)) / spread > -z_dispersed
            # The spread in logs above overstates a shortfall of few counts (a log of 1.5 / 11.5
            # is no 4-spread event when the state alone may halve): where it proves, the tail
            # itself must too (``_state_tail``).
            test = np.flatnonzero(~lead_only & np.isfinite(alpha) & (alpha > 0))
            lead_only[test] |= _state_tail(o_s[test], e_s[test], alpha[test]) > -z_dispersed
            return lead_only

        with np.errstate(divide="ignore", invalid="ignore"):
            metric = value(*sums)
            dev = (win["z"][t] if deviation == "z"
                   else stats.norm.isf(np.clip(win["tail"][t], 1e-300, 1.0)))
            # Evidence short of proof is a lead: severity low, whatever the money. Proof holds
            # for the window that weighs most or for the shortest that proves a drop, whose
            # first day dates it: a collapse that follows days of a dip (a lead) is proved by
            # its own days, where the longer window that takes in the dip weighs more.
            by_shortest = ~_unproved(t, first, win["first_observed"][t],
                                     win["first_expected"][t], win["first_llr"][t],
                                     win["first_z"][t])
            by_strongest = ~_unproved(t, win["strongest_start"][t], win["observed"][t],
                                      win["expected"][t], win["llr"][t], win["z"][t])
            lead_only = ~(by_shortest | by_strongest)
            # The first day of the window that proved it (``_incidents``).
            proof_from = np.where(by_shortest, first, win["strongest_start"][t])
            emit(rule, covered, full(metric), full(limit(shown, metric, rows)),
                 full(shortfall(first, rows)), full(dev), full(lead_only, False),
                 baseline=full(baseline[shown]), src=np.where(covered, src, idx),
                 days=full(win["worst_days"][t], 1),
                 spend=full(cspend[t + 1] - cspend[shown]), results=full(sums[0]),
                 proof_from=np.where(covered, full(proof_from, 0), idx))
        return covered

    elasticity = _elasticity(*_outcome_and_usual()[:2])
    with np.errstate(invalid="ignore"):
        # Of each row's exposure (spend, and the clicks it bought), what the proof of a drop
        # counts (``windowed``): the spend beyond the usual day's (the median before the row)
        # at the campaign's own returns, ``_elasticity``, and as buying nothing where its
        # history does not show them (a budget tripled on a campaign that always spent the
        # same: its returns are unknown, and the cautious reading is that they diminish).
        returns = 1.0 - np.where(np.isnan(elasticity), 0.0, elasticity)
        usual_share = np.fmin(1.0, np.divide(med_cost, cost, out=np.ones(n),
                                             where=(cost > 0) & np.isfinite(med_cost)))
        bought = usual_share ** returns

        # ROI: revenue in orders of the baseline order value against the orders the spend
        # brings at the baseline ROI, over the windows ending on each day.
        roi_spread = robust["roi"][1]
        relative = windowed(
            "roi_drop", rev0, rev_cost, base_roi, aov,
            beyond_poisson(roi_spread, p_vconv), enough & has_rev & (rev_cost > 0),
            _RELATIVE_DROP, lambda r, c: r / c,
            # Under the absolute line too, the line is what the alert shows.
            lambda f, m, i: np.where(m < thresholds[i], thresholds[i], _RELATIVE_DROP * base_roi[f]),
            base_roi, lambda f, i: np.maximum(base_roi[f] * rev_cost[i] - rev0[i], 0),
            _ORDER_SLACK, "z", usual_den=rev_cost * bought)
        # Revenue against the conversions it came with, at the baseline order value: order
        # values that collapse while people still buy. Free of the swings of the conversion
        # count (a drifting state moves conversions, not what each is worth), so a collapse
        # of value is proved where revenue against spend cannot tell it from a bad week.
        value_drop = windowed(
            "roi_drop", rev0, val_conv, aov, aov * _order_spread(revenue, val_conv, pos, w),
            np.zeros(n),
            enough & has_rev & has_conv & (val_conv > 0), _RELATIVE_DROP, lambda r, c: r / c,
            lambda f, m, i: np.where(m < thresholds[i], thresholds[i], _RELATIVE_DROP * base_roi[f]),
            base_roi, lambda f, i: np.maximum(aov[f] * val_conv[i] - rev0[i], 0),
            _ORDER_SLACK, "z", shown_den=rev_cost)
        relative = relative | value_drop
        # The absolute line is a day's fact (its ROI under the threshold), not a test of
        # evidence: judged per day, on days that expect enough conversions to mean it.
        absolute = (busy & ~relative & (roi < thresholds) & (base_roi >= thresholds)
                    & (z["roi"] < -2.5))
        emit("roi_drop", absolute, roi, thresholds,
             np.maximum(base_roi * rev_cost - rev0, 0), z["roi"], absolute)

        # A positive baseline, explicitly: "above factor x 0" would be every restart. A spike
        # is unusual against the campaign's own swings of spend, net of the moves its peers
        # shared (``_own_log_cost``; anomalies of spend are judged against all its swings).
        # Within one such swing under a line (never below half of it) it is a lead: a 2.6x
        # day is news where the line is 2.8x, but no graded alert. Past the median's line a
        # day is a spike; under it, only within a swing of the last days' line where they all
        # spent (a budget ramped up over a week is no spike of its eighth day, and one cut
        # days ago is the level a spike rises from, which the median reaches only a week
        # later: a 2.3x day of the median may be 2.8x the budget the buyer set since).
        line = cfg.cost_spike_factor * med_cost
        # The outcome tells a budget change from a runaway bid: one whose outcome kept pace
        # with its spend is the budget at work, a lead; so is one whose outcome is too small
        # a count to tell.
        kept, unproved, followed = _pace_evidence()
        recent_line = cfg.cost_spike_factor * _recent_spend(followed)
        last_line = np.where(np.isfinite(recent_line), recent_line, line)
        frame["_log_cost_own"] = _own_log_cost(frame, cost, peer_group, w)
        # Judged only where a spike can be (``near`` is never under a half): a few rows in
        # a hundred, and the rolling quantiles are the dearest part of a run.
        maybe = np.flatnonzero(enough & (med_cost > 0) & (cost > np.fmin(line, last_line) / 2))
        own_med, own_spread = np.full(n, np.nan), np.full(n, np.nan)
        own_med[maybe], own_spread[maybe] = _trailing_quantiles(frame, "_log_cost_own", w, maybe)
        # A budget step inside the four weeks is counted by their spread as a swing (a step of
        # 2x makes it 0.5 in logs, where the days swing by 0.2), so a spike on the new budget
        # would need 6x to be unusual; the spread of the day-to-day changes (over the square
        # root of 2) holds a step as one change and a weekday pattern as several: the smaller
        # of the two is the campaign's own noise. On the zoo's held-out seeds, lead generation's
        # recall went from 103 to 108 of 126 (benchmarks/RESULTS.md, "Ninth round").
        log_own = frame["_log_cost_own"].to_numpy(float)
        change = np.full(n, np.nan)
        change[1:] = np.where(pos[1:] > 0, log_own[1:] - log_own[:-1], np.nan)
        frame["_log_cost_change"] = change
        own_spread[maybe] = np.fmin(own_spread[maybe], _trailing_quantiles(
            frame, "_log_cost_change", w, maybe)[1] / np.sqrt(2.0))
        own_spread = np.maximum(np.nan_to_num(own_spread, nan=np.inf), 0.05)
        # Against the level of the last days where a budget cut holds it under the median
        # (as the line above): the level a spike rises from is the budget set since.
        own_z = (log_own - np.fmin(own_med, _median_of_last(log_own))) / own_spread
        near = np.exp(-np.minimum(own_spread, np.log(2.0)))
        spike = (enough & (med_cost > 0) & (own_z > sens)
                 & (cost > np.fmin(line, last_line * near)))
        emit("cost_spike", spike, cost, line, np.maximum(cost - med_cost, 0), own_z,
             spike & ((cost <= line) | kept | unproved | (cost * (1.0 - mix_share) <= line)
                      | (cost / _peers_spend(spike) <= line)
                      | ((cost <= recent_line) & _held_level())))

        # Results without revenue: the results the spend buys at the trailing CPA, a CPA
        # ``cpa_rise_factor`` times the usual being results under 1/factor of them (a window
        # without any result is the plainest case: its CPA shown as the spend).
        with np.errstate(divide="ignore"):
            per_cost = np.where(base_cpa > 0, 1.0 / base_cpa, np.nan)
            frame["_log_yield"] = np.where(has_conv & ~has_rev & (res_cost > 0),
                                           np.log((conv0 + 0.5) / (res_cost + 1.0)), np.nan)
        yield_spread = (_trailing_quantiles(frame, "_log_yield", w)[1]
                        if (has_conv & ~has_rev).any() else np.zeros(n))
        rise = windowed(
            "cpa_rise", conv0, res_cost, per_cost, np.ones(n),
            beyond_poisson(yield_spread, p_conv), enough & has_conv & ~has_rev & (res_cost > 0),
            1.0 / cfg.cpa_rise_factor, lambda r, c: np.where(r > 0, c / r, c),
            lambda f, _, __: cfg.cpa_rise_factor * base_cpa[f], base_cpa,
            lambda f, i: np.maximum(res_cost[i] - conv0[i] * base_cpa[f], 0),
            usual_den=res_cost * bought)

        # Conversions against those the clicks bring at the trailing rate (a day already
        # told as too costly in results, cpa_rise, is not told again).
        cr_med, cr_spread = robust["conversion rate"]
        with np.errstate(divide="ignore"):
            cr_relative = cr_spread / cr_med
        low_rel = windowed(
            "low_conversion", conv0, res_clicks, base_cr, np.ones(n),
            beyond_poisson(cr_relative, p_conv), enough & ~rise & has_conv
            & (res_clicks > 0), _CONVERSION_DROP, lambda r, c: r / c,
            lambda f, _, __: _CONVERSION_DROP * base_cr[f], base_cr,
            lambda f, i: np.maximum(res_clicks[i] * base_cr[f] - conv0[i], 0)
            * np.nan_to_num(aov[f]),
            usual_den=res_clicks * bought)
        expected = res_clicks * base_cr
        tail = stats.poisson.cdf(conv0, np.where(np.isfinite(expected), expected, 0))
        floor_clicks = 3.0 / max(cfg.min_conversion_rate, 1e-9)
        low_floor = (enough & ~rise & ~low_rel & (cr < cfg.min_conversion_rate)
                     & (base_cr >= cfg.min_conversion_rate) & (res_clicks >= floor_clicks)
                     & (tail < stats.norm.sf(2.5)))
        emit("low_conversion", low_floor, cr, np.full(n, cfg.min_conversion_rate),
             np.maximum(expected - conv0, 0) * np.nan_to_num(aov),
             stats.norm.isf(np.clip(tail, 1e-300, 1.0)), low_floor)

        fired = relative | absolute | spike | low_rel | low_floor | rise
        stacked = np.vstack([np.nan_to_num(np.abs(z[k]), nan=0.0) for k in z])
        worst = stacked.argmax(axis=0)
        worst_z = stacked.max(axis=0)
        odd = busy & ~fired & (worst_z > sens + 2.5)
        if odd.any():
            metric_names = np.array(list(z))[worst]
            metrics = np.vstack([roi, cost, frame["_ctr"].to_numpy(float), cr])
            values = metrics[worst, idx]
            emit("anomaly", odd, values, np.full(n, np.nan), cost, worst_z,
                 (worst_z < 3 * sens) | _shared_move(odd, worst)
                 | (mix_share >= 1.0 - _RELATIVE_DROP), metric_names)
    if not out:
        return pd.DataFrame()
    breaches = pd.concat(out, ignore_index=True)
    breaches["severity"] = _severity(breaches, sens)
    # A day two tests of one rule proved (ROI against spend and against conversions) is one
    # breach day: the graver one's, the first test's when as grave, its money counted once.
    rank = breaches["severity"].map(_SEVERITY_RANK).to_numpy()
    order = np.argsort(-rank, kind="stable")
    breaches = breaches.take(order).drop_duplicates(["rule", "key", "date"])
    return breaches.sort_index().reset_index(drop=True)


def _severity(b: pd.DataFrame, sens: float) -> np.ndarray:
    money, dev = b["money"].to_numpy(), b["deviation"].to_numpy()
    sev = np.where((money >= 1000) & (dev >= 2 * sens), "critical",
                   np.where((money >= 250) | (dev >= 2 * sens), "high", "medium"))
    # An anomaly is a lead, not a diagnosis: never above medium.
    sev = np.where((b["rule"].to_numpy() == "anomaly") & (sev != "medium"), "medium", sev)
    return np.where(b["low_only"].to_numpy(), "low", sev)


# -- reading the data -----------------------------------------------------------------------

def _read(conn: sa.Connection, sql: str, start: dt.date, end: dt.date,
          columns: list[str]) -> pd.DataFrame:
    """The rows of ``sql`` (with :s and :e for the date range), straight from the driver on
    the same connection: on a million rows SQLAlchemy's per-row processing costs more than
    the query itself. Text columns (key, channel, date) as strings, the rest as floats."""
    text = ("key", "channel", "date")
    dtypes = {c: "str" if c in text else float for c in columns}
    cursor = conn.connection.driver_connection.cursor()
    try:
        if conn.dialect.name == "postgresql":
            # COPY to CSV, parsed by pandas' C reader: 3x faster than Python tuples. ISO
            # dates and shortest exact floats, whatever the server's defaults.
            cursor.execute("SET LOCAL DateStyle TO ISO; SET LOCAL extra_float_digits TO 3")
            query = cursor.mogrify(sql.replace(":s", "%(s)s").replace(":e", "%(e)s"),
                                   {"s": start, "e": end}).decode()
            buffer = io.BytesIO()
            cursor.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv)", buffer)
            if buffer.tell() == 0:
                return pd.DataFrame({c: pd.Series([], dtype=k) for c, k in dtypes.items()})
            buffer.seek(0)
            # An empty field is NULL (revenue or conversions not tracked) in a number
            # column, never anything else: the text columns are read as they are.
            return pd.read_csv(buffer, header=None, names=columns, dtype=dtypes,
                               keep_default_na=False,
                               na_values={c: [""] for c in columns if c not in text})
        cursor.execute(sql, {"s": start.isoformat(), "e": end.isoformat()})
        # In chunks through a structured array: several times faster than a DataFrame of
        # tuples, and a million rows are never all Python objects at once.
        layout = np.dtype([(c, object if c in text else float) for c in columns])
        chunks = []
        while rows := cursor.fetchmany(_READ_CHUNK):
            table = np.fromiter(rows, count=len(rows), dtype=layout)
            chunks.append(pd.DataFrame({c: pd.Series(table[c], dtype=k)
                                        for c, k in dtypes.items()}))
    finally:
        cursor.close()
    if not chunks:
        return pd.DataFrame({c: pd.Series([], dtype=k) for c, k in dtypes.items()})
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows sorted by key, then date. Sorted here rather than by ORDER BY: without it SQLite
    answers from the covering (date, channel, ...) index alone, several times faster."""
    if frame.empty:
        return frame
    key_codes = pd.factorize(frame["key"], sort=True)[0]
    day_codes = pd.factorize(frame["date"], sort=True)[0]
    return frame.take(np.lexsort((day_codes, key_codes))).reset_index(drop=True)


def _campaign_frame(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    frame = _read(conn, "SELECT campaign_id, channel, date, cost, revenue, clicks, impressions, "
                        "conversions FROM campaigns WHERE date BETWEEN :s AND :e", start, end,
                  ["key", "channel", "date", "cost", "revenue", "clicks", "impressions", "conversions"])
    frame["entity"] = frame["key"]
    return _sorted(frame)


# What a channel's day keeps of its campaigns' rows that track revenue or conversions.
_TRACKED = ("revenue_cost", "result_cost", "result_clicks", "valued_conversions")


def _mix_changes(keys: pd.Series, ch_codes: np.ndarray, day_codes: np.ndarray,
                 days: Any, cost: np.ndarray, baseline_days: int) -> np.ndarray:
    """(channel, day) -> the share of the channel's spend that changed hands that day: of
    campaigns spending without having spent on _MIN_HISTORY of the ``baseline_days`` days
    before (a launch, a restart: their spend), or having and not spending (a pause, a stop:
    their mean day over those days), against the channel's spend and those means. What its
    totals may move by with no campaign at fault. Over a grid of campaigns x calendar days:
    a million cells for the benchmark's rows."""
    key_codes, uniques = pd.factorize(keys)
    ordinal = np.array([as_date(d).toordinal() for d in days], dtype=np.int64)
    first = int(ordinal.min())
    span = int(ordinal.max()) - first + 1
    col = ordinal[day_codes] - first
    grid = np.zeros((len(uniques), span + 1))
    np.add.at(grid, (key_codes, col + 1), np.maximum(cost, 0.0))
    spent = np.cumsum(grid > 0, axis=1, dtype=np.int32)   # spending days before each day
    money = np.cumsum(grid, axis=1)
    today = grid[:, 1:]
    lo = np.maximum(np.arange(span) - baseline_days, 0)
    cols = np.arange(span)
    before = spent[:, cols] - spent[:, lo]
    established = before >= _MIN_HISTORY
    with np.errstate(divide="ignore", invalid="ignore"):
        usual = np.where(before > 0, (money[:, cols] - money[:, lo]) / before, 0.0)
    launched = np.where((today > 0) & ~established, today, 0.0)
    paused = np.where((today <= 0) & established, usual, 0.0)
    channel_of = np.zeros(len(uniques), dtype=np.int64)
    channel_of[key_codes] = ch_codes
    n_ch = int(ch_codes.max()) + 1

    def by_channel(values: np.ndarray) -> np.ndarray:
        out = np.zeros((n_ch, span))
        np.add.at(out, channel_of, values)
        return out

    changed = by_channel(launched) + by_channel(paused)
    total = by_channel(today) + by_channel(paused)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(total > 0, changed / total, 0.0)
    # Back from calendar days to the day codes of the frame.
    return share[:, ordinal - first]


def _channel_frame(campaigns: pd.DataFrame, baseline_days: int = 14) -> pd.DataFrame:
    """Each channel's days, summed from its campaigns' rows (what ``channel_days`` holds),
    with the spend, clicks and conversions of the rows that track revenue or conversions
    beside (see ``evaluate``): a channel mixing campaigns with and without revenue is
    judged on the ROI of the ones that have it, never on their revenue over all the
    spend. Revenue (conversions) is NaN on a day no campaign of the channel tracks it."""
    columns = ["key", "channel", "date", "cost", "revenue", "clicks", "impressions",
               "conversions", *_TRACKED, "mix_change", "entity"]
    if campaigns.empty:
        return pd.DataFrame({c: pd.Series([], dtype=object if c in ("key", "channel", "date",
                                                                    "entity") else float)
                             for c in columns})
    # One bincount per measure over (channel, day) codes, not a groupby over a million rows
    # of strings (0.3 s on the benchmark's million rows, all measures).
    ch_codes, channels = pd.factorize(campaigns["channel"])
    day_codes, days = pd.factorize(campaigns["date"])
    cell = ch_codes.astype(np.int64) * len(days) + day_codes
    cells, cell = np.unique(cell, return_inverse=True)
    revenue = campaigns["revenue"].to_numpy(float)
    conversions = campaigns["conversions"].to_numpy(float)
    cost = campaigns["cost"].to_numpy(float)
    clicks = campaigns["clicks"].to_numpy(float)
    has_rev, has_conv = ~np.isnan(revenue), ~np.isnan(conversions)
    mix = _mix_changes(campaigns["key"], ch_codes, day_codes, days, cost, baseline_days)
    parts = {"cost": cost, "clicks": clicks, "impressions": campaigns["impressions"].to_numpy(float),
             "revenue_cost": np.where(has_rev, cost, 0.0),
             "result_cost": np.where(has_conv, cost, 0.0),
             "result_clicks": np.where(has_conv, clicks, 0.0),
             "valued_conversions": np.where(has_rev & has_conv, conversions, 0.0)}

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(cell, weights=values, minlength=len(cells))

    def tracked(values: np.ndarray, has: np.ndarray) -> np.ndarray:
        return np.where(total(has.astype(float)) > 0, total(np.where(has, values, 0.0)), np.nan)

    channel_names = np.asarray(channels, dtype=object)[cells // len(days)]
    frame = pd.DataFrame({
        "key": "channel:" + pd.Series(channel_names, dtype=object).astype(str),
        "channel": channel_names,
        "date": np.asarray(days, dtype=object)[cells % len(days)],
        **{c: total(v) for c, v in parts.items()},
        "revenue": tracked(revenue, has_rev), "conversions": tracked(conversions, has_conv),
        "mix_change": mix[cells // len(days), cells % len(days)]})
    frame["entity"] = None
    return _sorted(frame[columns])


def _dates(values: pd.Series) -> np.ndarray:
    # Few distinct days over many rows: convert each once.
    codes, uniques = pd.factorize(values)
    return np.array([as_date(u) for u in uniques], dtype=object)[codes]


# -- how people name a campaign ---------------------------------------------------------------

_IN_CHUNK = 500  # values bound in one IN (...), well under any driver's limit


def campaign_labels(engine: sa.Engine, ids: Iterable[str]) -> dict[str, str]:
    """How the alerts name each campaign of ``ids``: its newest name, "name (id)" when any
    other campaign in the database has (or had) that name, the id when it has none."""
    ids = sorted({str(i) for i in ids})
    if not ids:
        return {}
    info: dict[str, tuple[str, str]] = {}
    for n in range(0, len(ids), _IN_CHUNK):
        info.update(campaign_names(engine, ids[n:n + _IN_CHUNK]))
    names = sorted({name for name, _ in info.values() if name})
    t = sa.table("campaign_months", sa.column("campaign_id"), sa.column("campaign_name"))
    holders: dict[str, int] = {}
    with engine.connect() as conn:
        for n in range(0, len(names), _IN_CHUNK):
            q = (sa.select(t.c.campaign_name, sa.func.count(sa.distinct(t.c.campaign_id)))
                 .where(t.c.campaign_name.in_(names[n:n + _IN_CHUNK]))
                 .group_by(t.c.campaign_name))
            holders.update((str(name), int(k)) for name, k in conn.execute(q))
    labels = {}
    for cid in ids:
        name = info.get(cid, ("", ""))[0]
        labels[cid] = campaign_label(cid, name, holders.get(name, 0) > 1)
    return labels


# -- incidents, and a run over a window of days ---------------------------------------------

def _incidents(breaches: pd.DataFrame) -> list[dict]:
    """Consecutive breach days of one rule on one entity, merged into incidents."""
    result = []
    # One to_dict for all rows: per group it costs seconds over a few thousand groups.
    records = breaches.sort_values(["rule", "key", "date"]).to_dict("records")
    for (rule, key), group in itertools.groupby(records, key=lambda r: (r["rule"], r["key"])):
        current: list[tuple[dt.date, dict]] = []
        for rec in group:
            day = as_date(rec["date"])
            if current and ((day - current[-1][0]).days > 1 or _proved_apart(rec, current)):
                result.append(_merge(rule, key, current))
                current = []
            current.append((day, rec))
        if current:
            result.append(_merge(rule, key, current))
    return result


def _proved_apart(rec: dict, current: list[tuple[dt.date, dict]]) -> bool:
    """A breach day proved (above severity low) by a window that starts after the leads
    before it (all of ``current``, low): a collapse that follows days of a dip is an
    incident of its own, dated from the first day of the window that proved it (the store
    keeps them apart alike: ``store._write_one``)."""
    return (rec["severity"] != "low" and as_date(rec["proof_from"]) > current[-1][0]
            and all(r["severity"] == "low" for _, r in current))


def _merge(rule: str, key: str, days: list[tuple[dt.date, dict]]) -> dict:
    # The worst day as the store judges a worse one (``store._is_worse``), so that daily runs
    # show the day one full run does; an anomaly's days may be of different metrics: the most
    # unusual.
    worse_low = rule in ("roi_drop", "low_conversion")
    pick = min if worse_low else max
    worst_day, worst = pick(days, key=lambda d: d[1]["deviation" if rule == "anomaly"
                                                  else "metric_value"])
    severity = max((r["severity"] for _, r in days), key=_SEVERITY_RANK.__getitem__)
    # The day whose data raised it: for the days of a window, the window's last day.
    seen = min(as_date(r.get("seen", d)) for d, r in days)
    graded = [r for _, r in days if r["severity"] != "low"]
    proof_from = as_date(graded[0]["proof_from"]) if graded else None
    return {"rule": rule, "key": key, "first": days[0][0], "last": days[-1][0], "worst": worst,
            "proof_from": proof_from,
            "worst_day": worst_day, "severity": severity, "seen": seen,
            "money": float(sum(r["money"] for _, r in days)),
            "days": {d: r["money"] for d, r in days}}


def detect(engine: sa.Engine, *, since: dt.date | None = None, until: dt.date | None = None,
           cfg: AlertSettings | None = None) -> DetectionReport:
    """Run every rule over [since, until] (default: the last 7 days of data) and write alerts."""
    t0 = time.perf_counter()
    cfg = (cfg or AlertSettings()).validated()
    report = DetectionReport()
    with engine.connect() as conn:
        span = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM campaigns")).one()
    if span[0] is None:
        return report
    first_day, last_day = as_date(span[0]), as_date(span[1])
    until = min(until or last_day, last_day)
    since = max(since or until - dt.timedelta(days=6), first_day)
    if since > until:
        report.since, report.until = since, until
        return report
    report.since, report.until = since, until
    # The spread of each day's baseline comes from the 2 x baseline_days before it, the
    # overdispersion from _DISPERSION_WINDOWS baselines of days, each judged against the
    # baseline before it, and a window ending on a day starts up to _MAX_WINDOW - 1 days
    # earlier: load them all, so that a day is judged the same in an incremental run as in
    # a full one.
    load_from = since - dt.timedelta(days=(_DISPERSION_WINDOWS + 1) * cfg.baseline_days
                                     + _MAX_WINDOW)
    with engine.connect() as conn:
        campaigns = _campaign_frame(conn, load_from, until)
    frames = [campaigns, _channel_frame(campaigns, cfg.baseline_days)]
    incidents: list[dict] = []
    entity_last: dict[str, dt.date] = {}
    for frame in frames:
        if frame.empty:
            continue
        report.rows_scanned += len(frame)
        frame["date"] = _dates(frame["date"])
        if frame["entity"].notna().any():
            in_window = frame[frame["date"] >= since]
            report.entities += in_window["key"].nunique()
            # History is days with spend (the baselines are made of them: see ``evaluate``):
            # a campaign with months of paused days and three days of spend has no baseline.
            active = in_window["key"].unique()
            counts = (frame.loc[frame["cost"].to_numpy(float) > 0, "key"].value_counts()
                      .reindex(active, fill_value=0))
            report.short_history += int((counts <= _MIN_HISTORY).sum())
        last = frame.groupby("key")["date"].max()
        entity_last.update(last.to_dict())
        breaches = evaluate(frame, cfg)
        if breaches.empty:
            continue
        breaches["date"] = _dates(breaches["date"])
        breaches["seen"] = _dates(breaches["seen"])
        breaches["proof_from"] = _dates(breaches["proof_from"])
        # The days of a window proved in [since, until] belong to this run, also those before
        # since: an incremental run dates an incident as a full run does.
        breaches = breaches[(breaches["date"] >= since) | (breaches["seen"] >= since)]
        entity_of = frame.drop_duplicates("key").set_index("key")["entity"]
        for inc in _incidents(breaches):
            inc["entity"] = entity_of.get(inc["key"])
            incidents.append(inc)
    labels = campaign_labels(engine, {inc["entity"] for inc in incidents if inc["entity"]})
    for inc in incidents:
        if inc["entity"]:
            inc["label"] = labels.get(inc["entity"], inc["entity"])
    currency = reporting_currency(engine)  # what the amounts are in, once for every message
    with engine.begin() as conn:
        # Through the module, so that the benchmark's timing wrapper of ``_write`` sees the call.
        store._write(conn, incidents, entity_last, since, cfg, report, currency=currency)
    report.seconds = time.perf_counter() - t0
    return report


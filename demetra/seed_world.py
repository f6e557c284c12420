"""The demo world: campaign-by-day rows that behave like a real ad account, with known truth.

Pure and vectorised (no database code): :func:`generate_world` builds a campaigns × days grid
with numpy and returns the active cells as a DataFrame, together with the parameters that
generated it (``World.truth``), so that tests can check what the model, the alerts and the
budget allocator find against what is really there.

How the world works
-------------------
* **Spend** is what varies by day: each campaign's daily budget × its channel's weekday
  pattern (weekends lower on LinkedIn / Google Ads, higher on TikTok / Instagram) × a slow
  per-campaign trend × daily noise (lognormal, σ≈0.2).
* **Revenue** follows each channel's Hill response curve *in expectation*: on every day
  without an injected incident, the expected revenue of a channel at total channel spend s is
  ``hill(s) = vmax·sⁿ/(Kⁿ+sⁿ)``, shared by its active campaigns in proportion to
  spend × quality (normalised, so the campaigns' expectations add up to ``hill(s)`` exactly).
  Conversion value has no seasonality of its own: all seasonality lives in spend.
* **Counts are drawn**: clicks ~ Poisson(cost / CPC); impressions = expected clicks / CTR with
  noise (never below clicks); conversions ~ Poisson(expected revenue / AOV); revenue =
  conversions × AOV × lognormal value noise with mean 1 — so E[revenue] is the expectation,
  while a small campaign's daily ROI swings by tens of percent and quiet days convert nothing.
* **Incidents** on known dates (``truth["incidents"]``, one record per day; a fifth of them
  last two days): ``roi_drop`` (order values collapse: revenue = 0.05–0.30 × its expectation,
  cost and conversions normal), ``cost_spike`` (cost = 3–5 × the planned budget, clicks and
  impressions follow, revenue does not), ``low_conversion`` (conversions = 0.05–0.25 × their
  expectation, rounded down; revenue follows). They fall on campaigns in the upper 70 % of
  budgets that convert at least ~3 times a day, never in a campaign's first 21 active days
  nor on the last day of the world. About one per nine campaigns, at least three of each kind
  from 30 campaigns on (given days ≥ ~25).

Options (each leaves the default world untouched: same arguments, same rows, byte for byte)
-------------------------------------------------------------------------------------------
* ``outcome="results"`` — a **lead-generation account**: no revenue is tracked (``revenue`` and
  ``roi`` are NaN on every row, stored as NULL, "not tracked"), and conversions are *results*
  (leads) whose expectation follows each channel's Hill curve of spend: ``results(s) =
  vmax·sⁿ/(Kⁿ+sⁿ)`` results a day at total channel spend s, placed so that today's typical
  spend costs ``current_cpa`` per result; campaigns share it in proportion to spend × quality as
  above, and the day's results are Poisson around it. The true CPA curve of a channel is
  ``s / results(s)``; each campaign's true expected CPA is in ``truth["campaigns"][id]
  ["expected_cpa"]``. Incidents are ``cost_spike`` and ``low_conversion`` only (an ROI cannot
  drop where there is none).
* ``small=True`` — a **small account**: 3–8 campaigns (unless ``campaigns`` is given) of one
  advertiser over one or two channels (unless ``channels`` is given), with pauses.
* ``channels`` — a count, or the channel names to use; only those channels are in the truth.
* ``pauses=True`` (the default with ``small``) — campaigns are paused for 4–28 days and
  restarted, about 45 % of them once and 20 % twice where their window has room (and at least
  one pause in every world whose longest-running campaign runs 21 days or more). A paused
  day has **no row**, as real exports omit days without delivery (no zero-spend rows); a
  pause begins after at least 10 active days and is followed by at least 7. A campaign's
  ``start``/``end`` are still its first and last active day; its ``paused`` spans and
  ``active_days`` are in its truth. ``truth["pauses"]`` lists them; incidents avoid them and the week
  after a restart.

A results world with the same seed has the same campaigns, activity windows and spend as the
revenue world (except on incident days); the counts are drawn anew.

2,000 campaigns × 730 days (≈1.4 M rows) generate in about a second on two cores (the
first call in a process takes up to a second more, loading Faker and Arrow).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from faker import Faker

from demetra.config import CHANNELS

__all__ = ["CHANNELS", "COLUMNS", "INCIDENT_KINDS", "OUTCOMES", "RESULTS_INCIDENT_KINDS", "World",
           "generate_world", "hill"]

COLUMNS = ("campaign_id", "campaign_name", "channel", "date", "cost", "clicks", "impressions",
           "engagement", "conversions", "revenue", "conversion_rate", "roi")
INCIDENT_KINDS = ("roi_drop", "cost_spike", "low_conversion")
RESULTS_INCIDENT_KINDS = ("cost_spike", "low_conversion")   # a world without revenue
OUTCOMES = ("revenue", "results")

# Per-channel character. cpc: cost per click ($); ctr: clicks per impression; aov: value per
# conversion ($); sat: typical daily channel spend / half-saturation K (where on the curve the
# account sits today); shape: Hill exponent n; roi: revenue / spend at today's spend; weight:
# share of campaigns; budget: typical campaign daily budget ($); eng: engagements per
# impression; weekend: weekend spend relative to weekdays.
_CHANNEL = {
    #              cpc   ctr    aov   sat   shape roi   weight budget eng    weekend
    "facebook":   (1.00, 0.012, 55.0, 1.00, 1.30, 2.60, 0.24, 380.0, 0.020, 1.00),
    "instagram":  (1.10, 0.010, 48.0, 0.45, 1.00, 2.60, 0.16, 300.0, 0.040, 1.15),
    "google_ads": (2.00, 0.045, 80.0, 2.40, 1.30, 3.40, 0.22, 520.0, 0.002, 0.80),
    "tiktok":     (0.60, 0.009, 35.0, 0.60, 0.90, 1.30, 0.14, 260.0, 0.060, 1.20),
    "youtube":    (0.35, 0.006, 60.0, 2.20, 1.60, 1.15, 0.10, 340.0, 0.015, 1.10),
    "linkedin":   (6.00, 0.005, 350., 0.60, 2.20, 2.20, 0.14, 450.0, 0.008, 0.70),
}
# Cost per result (a lead) at today's spend, $, for outcome="results".
_CPA = {"facebook": 28.0, "instagram": 32.0, "google_ads": 55.0, "tiktok": 22.0, "youtube": 40.0,
        "linkedin": 140.0}
_THEMES = ("Spring Sale", "Retargeting", "Brand Awareness", "Prospecting", "Black Friday",
           "Lead Gen", "App Installs", "Summer Promo", "Holiday Push", "Product Launch",
           "Always On", "Lookalikes", "Webinar Signups", "Clearance", "New Arrivals",
           "Back to School", "Free Trial", "Loyalty", "Cart Abandoners", "Video Views")

_VALUE_SIGMA = 0.12           # daily order-value noise (lognormal)
_QUALITY_SIGMA = 0.65          # spread of campaign quality (lognormal)
_PARTIAL_SHARE = 0.15          # campaigns that start late or stop early
_INCIDENT_MIN_HISTORY = 21     # an incident needs a baseline before it
_INCIDENT_MIN_CONVERSIONS = 25.0  # expected conversions a day that make an incident visible
_CAMPAIGNS_PER_INCIDENT = 9
_SMALL_CAMPAIGNS = (3, 8)      # a small account's campaigns, inclusive
_PAUSE_DAYS = (4, 28)          # length of a pause, inclusive
_PAUSE_BEFORE = 10             # active days before a pause (and between two)
_PAUSE_AFTER = 7               # active days after a restart (the campaign runs again)
_PAUSE_ONE, _PAUSE_TWO = 0.45, 0.20   # shares of campaigns paused once, twice
_NOTES = ("Seasonality and trends live in spend only; on days without an incident a channel's "
          "expected revenue is exactly hill(total channel spend that day), shared by its "
          "campaigns in proportion to spend x quality, and counts are drawn around it.")
_RESULTS_NOTES = ("Lead generation: no revenue is tracked (NULL). Seasonality and trends live in "
                  "spend only; on days without an incident a channel's expected results are "
                  "exactly hill(total channel spend that day) (channels[ch] vmax, "
                  "half_saturation, shape: results a day), shared by its campaigns in "
                  "proportion to spend x quality; results are Poisson around it. True CPA "
                  "curve: spend / hill(spend).")
_PAUSE_NOTES = (" Paused days have no row (exports omit days without delivery); truth['pauses'] "
                "lists each pause (first and last paused day).")


@dataclass(frozen=True)
class World:
    """A generated account.

    ``rows``: one row per campaign per *active* day (inactive days have no row), columns
    ``COLUMNS``, sorted by date then campaign_id; ``date`` is an object column of
    ``datetime.date``. ``truth``: the JSON-serialisable parameters that generated it.
    ``expected``: per row (aligned with ``rows``), the expected outcome the truth gives that
    campaign-day before any incident and noise — revenue ($) in a revenue world, results in a
    results world.
    """

    rows: pd.DataFrame
    truth: dict[str, Any]
    expected: np.ndarray | None = field(default=None, repr=False, compare=False)


def hill(spend: Any, vmax: Any, half_saturation: Any, shape: Any) -> Any:
    """Hill response: ``vmax·sⁿ/(Kⁿ+sⁿ)``, numpy-vectorised (broadcasts), 0 where s ≤ 0."""
    s = np.maximum(np.asarray(spend, dtype=float), 0.0)
    sn = s ** shape
    return vmax * sn / (np.asarray(half_saturation, dtype=float) ** shape + sn)


def generate_world(campaigns: int | None = None, days: int = 90, seed: int = 42,
                   end_date: dt.date | None = None, *, outcome: str = "revenue",
                   small: bool = False, channels: int | Sequence[str] | None = None,
                   pauses: bool | None = None) -> World:
    """Generate ``campaigns`` campaigns over the ``days`` days ending at ``end_date`` inclusive.

    ``end_date`` defaults to today. The same arguments always give the same world (rows and
    truth); another seed gives another one. ``campaigns`` defaults to 50 (3–8, drawn from the
    seed, with ``small``).

    ``outcome``: "revenue" (the default: every conversion has a value) or "results" (a
    lead-generation account: revenue NaN on every row, results with a known CPA curve).
    ``small``: a small account (3–8 campaigns of one advertiser, one or two channels, pauses).
    ``channels``: how many channels (drawn by their usual share), or which ones (names);
    default all six (one or two with ``small``). ``pauses``: pause and restart campaigns
    (default: with ``small``); paused days have no row. See the module's docstring.

    Columns and dtypes of ``rows``: campaign_id, campaign_name, channel (strings); date
    (object, ``datetime.date``); cost, revenue (float64, rounded to cents; revenue NaN in a
    results world); clicks, impressions, engagement (int64); conversions (float64,
    integer-valued); conversion_rate = conversions / clicks and roi = revenue / cost (float64,
    computed from the stored rounded values, NaN where the denominator is 0 or revenue is NaN).
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if isinstance(days, bool) or not isinstance(days, (int, np.integer)) or days < 1:
        raise ValueError(f"days must be a positive integer, not {days!r}")
    seed = int(seed)
    small = bool(small)
    pauses = small if pauses is None else bool(pauses)
    # Draws that only the options need come from a stream of their own, so that the main
    # stream -- and with it the default world -- is untouched by them.
    opt_rng = np.random.default_rng([abs(seed), 0x5EED, int(seed < 0)])
    if campaigns is None:
        lo, hi = _SMALL_CAMPAIGNS
        campaigns = int(opt_rng.integers(lo, hi + 1)) if small else 50
    if isinstance(campaigns, bool) or not isinstance(campaigns, (int, np.integer)) or campaigns < 1:
        raise ValueError(f"campaigns must be a positive integer, not {campaigns!r}")
    campaigns, days = int(campaigns), int(days)
    n_ch = len(CHANNELS)
    params = np.array([_CHANNEL[c] for c in CHANNELS])
    allowed = _pick_channels(opt_rng, channels, small, campaigns, params[:, 6])
    restricted = len(allowed) < n_ch
    results = outcome == "results"
    end_date = end_date or dt.date.today()
    if isinstance(end_date, dt.datetime):
        end_date = end_date.date()
    start_date = end_date - dt.timedelta(days=days - 1)
    rng = np.random.default_rng(seed)

    # ---- channels: the table above, with a little per-world variety --------------------
    jitter = rng.lognormal(0.0, 0.06, size=(n_ch, 4))
    cpc, ctr, aov = params[:, 0] * jitter[:, 0], params[:, 1] * jitter[:, 1], params[:, 2]
    sat, shape, roi_now = params[:, 3] * jitter[:, 2], params[:, 4], params[:, 5] * jitter[:, 3]
    weight, budget_level, eng_rate, weekend = params[:, 6], params[:, 7], params[:, 8], params[:, 9]
    cpa_now = np.array([_CPA[c] for c in CHANNELS]) * jitter[:, 3]

    # ---- campaigns: channel, quality, budget, prices, activity window -------------------
    if not restricted:
        first = rng.permutation(n_ch)[: min(campaigns, n_ch)]      # every channel at least once
        rest = rng.choice(n_ch, size=campaigns - len(first), p=weight / weight.sum())
    else:
        first = rng.permutation(allowed)[: min(campaigns, len(allowed))]
        rest = rng.choice(allowed, size=campaigns - len(first),
                          p=weight[allowed] / weight[allowed].sum())
    ch_idx = rng.permutation(np.concatenate([first, rest]).astype(np.int64))
    quality = rng.lognormal(0.0, _QUALITY_SIGMA, size=campaigns)
    budget = np.round(budget_level[ch_idx] * rng.lognormal(-0.5, 0.85, size=campaigns), 2)
    camp_cpc = cpc[ch_idx] * rng.lognormal(0.0, 0.10, size=campaigns)
    camp_ctr = ctr[ch_idx] * rng.lognormal(0.0, 0.20, size=campaigns)
    camp_aov = aov[ch_idx] * rng.lognormal(0.0, 0.15, size=campaigns)
    start = np.zeros(campaigns, dtype=np.int64)
    stop = np.full(campaigns, days - 1, dtype=np.int64)
    partial = rng.random(campaigns) < _PARTIAL_SHARE
    late = partial & (rng.random(campaigns) < 0.5)
    start[late] = rng.integers(1, max(days // 2, 2), size=int(late.sum()))
    early = partial & ~late
    stop[early] = rng.integers(days // 2, max(days - 1, days // 2 + 1), size=int(early.sum()))
    start = np.minimum(start, stop)

    ids = _campaign_ids(rng, ch_idx)
    names = _campaign_names(seed, rng, campaigns, one_brand=small)

    # ---- daily spend: budget × weekday pattern × slow trend × noise ---------------------
    t = np.arange(days)
    dow = (start_date.weekday() + t) % 7
    week = np.where(dow[None, :] >= 5, weekend[:, None], 1.0)           # (channel, day)
    week = week / week.mean(axis=1, keepdims=True)
    slope = rng.normal(0.0, 0.3, size=campaigns)                          # log-change over the period
    trend = np.exp(slope[:, None] * ((t[None, :] - (days - 1) / 2) / max(days, 60)))
    noise = rng.lognormal(-0.5 * 0.2**2, 0.2, size=(campaigns, days))
    active = (t[None, :] >= start[:, None]) & (t[None, :] <= stop[:, None])
    paused = _draw_pauses(opt_rng, start, stop) if pauses else []
    for i, a, b in paused:
        active[i, a:b + 1] = False                                        # no delivery, no row
    planned = budget[:, None] * week[ch_idx] * trend                      # the budget, before noise
    base_cost = np.where(active, np.maximum(np.round(planned * noise, 2), 1.0), 0.0)

    # ---- the truth: each channel's Hill curve, placed so that today's average spend sits
    # at `sat` half-saturations and earns `roi_now` per dollar there (or, for results,
    # costs `cpa_now` per result there). --------------------------------------------------
    ch_spend = np.zeros((n_ch, days))
    np.add.at(ch_spend, ch_idx, base_cost)                                # Σ over each channel
    typical = np.array([row[row > 0].mean() if (row > 0).any() else 1.0 for row in ch_spend])
    K = typical / sat
    per_dollar = 1.0 / cpa_now if results else roi_now                    # outcome per $ today
    vmax = per_dollar * (K**shape + typical**shape) / typical ** (shape - 1.0)
    ch_outcome = hill(ch_spend, vmax[:, None], K[:, None], shape[:, None])   # (channel, day)
    weight_cd = base_cost * quality[:, None]
    w_sum = np.zeros((n_ch, days))
    np.add.at(w_sum, ch_idx, weight_cd)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(w_sum[ch_idx] > 0, weight_cd / w_sum[ch_idx], 0.0)
    exp_outcome = ch_outcome[ch_idx] * share                              # Σ_campaigns = hill(s)
    exp_revenue = exp_outcome
    exp_conv = exp_outcome if results else exp_revenue / camp_aov[:, None]

    # ---- draws ------------------------------------------------------------------------
    cost = base_cost.copy()
    kinds = RESULTS_INCIDENT_KINDS if results else INCIDENT_KINDS
    incidents = _pick_incidents(rng, budget, exp_conv, start, stop, days, kinds=kinds,
                                active=active if paused else None)
    factors = rng.uniform(0.0, 1.0, size=len(incidents))
    for (i, day, kind), u in zip(incidents, factors, strict=True):
        if kind == "cost_spike":         # a runaway bid: clicks follow, revenue does not
            cost[i, day] = np.round(planned[i, day] * (3.0 + 2.0 * u), 2)

    clicks = rng.poisson(cost / camp_cpc[:, None]).astype(np.int64)
    view_noise = rng.lognormal(0.0, 0.12, size=(campaigns, days))
    impressions = np.maximum(
        clicks, np.round(cost / (camp_cpc * camp_ctr)[:, None] * view_noise)).astype(np.int64)
    engagement = rng.poisson(impressions * eng_rate[ch_idx][:, None]).astype(np.int64)
    conversions = rng.poisson(exp_conv).astype(float)
    if results:                          # leads: counted, never valued
        for (i, day, kind), u in zip(incidents, factors, strict=True):
            if kind == "low_conversion":
                conversions[i, day] = np.floor(exp_conv[i, day] * (0.05 + 0.20 * u))
        revenue = np.full((campaigns, days), np.nan)
    else:
        # Day-to-day order value drifts ~12 %: big campaigns are steady, small ones swing by
        # counts.
        value_noise = rng.lognormal(-0.5 * _VALUE_SIGMA**2, _VALUE_SIGMA, size=(campaigns, days))
        revenue = conversions * camp_aov[:, None] * value_noise
        for (i, day, kind), u in zip(incidents, factors, strict=True):
            # Set from the expectation, not from the day's draw, so that every incident shows.
            if kind == "roi_drop":           # order values collapse; people still buy
                revenue[i, day] = (exp_revenue[i, day] * (0.05 + 0.25 * u)
                                   if conversions[i, day] > 0 else 0.0)
            elif kind == "low_conversion":   # conversions collapse, revenue with them
                conversions[i, day] = np.floor(exp_conv[i, day] * (0.05 + 0.20 * u))
                revenue[i, day] = conversions[i, day] * camp_aov[i] * value_noise[i, day]
        revenue = np.round(revenue, 2)

    # ---- the active cells, sorted by date then campaign_id ----------------------------
    order = np.argsort(ids, kind="stable")
    day_idx, pos = np.nonzero(active[order].T)                            # day-major
    ci = order[pos]
    dates = np.array([start_date + dt.timedelta(days=int(d)) for d in range(days)], dtype=object)
    flat = ci * days + day_idx

    def take(grid: np.ndarray) -> np.ndarray:
        return grid.ravel()[flat]

    r_cost, r_clicks, r_conv, r_rev = take(cost), take(clicks), take(conversions), take(revenue)
    with np.errstate(divide="ignore", invalid="ignore"):
        conversion_rate = np.where(r_clicks > 0, r_conv / r_clicks, np.nan)
        roi = np.where(r_cost > 0, r_rev / r_cost, np.nan)
    rows = pd.DataFrame({
        # Strings are built once per campaign and taken per row: fast with Arrow strings.
        "campaign_id": pd.array(ids, dtype="str").take(ci),
        "campaign_name": pd.array(names, dtype="str").take(ci),
        "channel": pd.array(np.array(CHANNELS)[ch_idx], dtype="str").take(ci),
        "date": dates[day_idx],
        "cost": r_cost,
        "clicks": r_clicks,
        "impressions": take(impressions),
        "engagement": take(engagement),
        "conversions": r_conv,
        "revenue": r_rev,
        "conversion_rate": conversion_rate,
        "roi": roi,
    }, columns=list(COLUMNS))

    iso = [d.isoformat() for d in dates]
    used = sorted(set(ch_idx.tolist())) if restricted else range(n_ch)
    truth: dict[str, Any] = {
        "seed": seed,
        "campaigns_count": campaigns,
        "days": days,
        "start_date": iso[0],
        "end_date": iso[-1],
        "outcome": outcome,
        "small": small,
        "channels": {
            CHANNELS[c]: _channel_truth(c, results, vmax=vmax, K=K, shape=shape, cpc=cpc,
                                        aov=aov, ctr=ctr, weekend=weekend, typical=typical,
                                        roi_now=roi_now, cpa_now=cpa_now)
            for c in used
        },
        "campaigns": {},
        "incidents": sorted(
            ({"campaign_id": str(ids[i]), "date": iso[day], "kind": kind}
             for i, day, kind in incidents),
            key=lambda x: (x["date"], x["campaign_id"])),
        "pauses": sorted(
            ({"campaign_id": str(ids[i]), "start": iso[a], "end": iso[b], "days": b - a + 1}
             for i, a, b in paused),
            key=lambda x: (x["start"], x["campaign_id"])),
        "notes": (_RESULTS_NOTES if results else _NOTES) + (_PAUSE_NOTES if pauses else ""),
    }
    spans: dict[int, list[list[str]]] = {}
    for i, a, b in sorted(paused):
        spans.setdefault(i, []).append([iso[a], iso[b]])
    for i in order:
        rec: dict[str, Any] = {"channel": CHANNELS[ch_idx[i]], "name": str(names[i]),
                               "quality": float(quality[i]), "daily_budget": float(budget[i]),
                               "cpc": float(camp_cpc[i])}
        if results:
            spent, expect = float(base_cost[i].sum()), float(exp_conv[i].sum())
            rec["expected_results"] = expect
            rec["expected_cpa"] = spent / expect if expect > 0 else None
        else:
            rec["aov"] = float(camp_aov[i])
        rec["start"], rec["end"] = iso[start[i]], iso[stop[i]]
        if pauses:
            rec["paused"] = spans.get(int(i), [])
            rec["active_days"] = int(active[i].sum())
        truth["campaigns"][str(ids[i])] = rec
    return World(rows=rows, truth=truth, expected=take(exp_outcome))


def _channel_truth(c: int, results: bool, **p: np.ndarray) -> dict[str, float]:
    """The truth of channel ``c``: its Hill curve (of revenue, or of results) and its prices."""
    rec = {"vmax": float(p["vmax"][c]), "half_saturation": float(p["K"][c]),
           "shape": float(p["shape"][c]), "cpc": float(p["cpc"][c])}
    if not results:
        rec["aov"] = float(p["aov"][c])
    rec.update({"ctr": float(p["ctr"][c]), "weekend_factor": float(p["weekend"][c]),
                "current_daily_spend": float(p["typical"][c])})
    if results:
        rec["current_cpa"] = float(p["cpa_now"][c])
        rec["current_results"] = float(p["typical"][c] / p["cpa_now"][c])
    else:
        rec["current_roi"] = float(p["roi_now"][c])
    return rec


def _pick_channels(rng: np.random.Generator, channels: int | Sequence[str] | None, small: bool,
                   campaigns: int, weight: np.ndarray) -> np.ndarray:
    """The indices (sorted) of the channels the world may use."""
    n_ch = len(CHANNELS)
    if channels is None:
        if not small:
            return np.arange(n_ch)
        channels = 1 if rng.random() < 0.5 else 2
    if isinstance(channels, str):
        channels = [channels]
    if isinstance(channels, (int, np.integer)) and not isinstance(channels, bool):
        if not 1 <= channels <= n_ch:
            raise ValueError(f"channels must be between 1 and {n_ch}, not {channels}")
        if channels == n_ch:
            return np.arange(n_ch)
        k = min(int(channels), campaigns)
        return np.sort(rng.choice(n_ch, size=k, replace=False, p=weight / weight.sum()))
    names = [str(c) for c in channels]
    unknown = sorted(set(names) - set(CHANNELS))
    if unknown or not names:
        raise ValueError(f"channels must be among {', '.join(CHANNELS)}, not {names!r}")
    return np.array(sorted({CHANNELS.index(c) for c in names}), dtype=np.int64)


def _draw_pauses(rng: np.random.Generator, start: np.ndarray,
                 stop: np.ndarray) -> list[tuple[int, int, int]]:
    """(campaign index, first paused day, last paused day) of each pause.

    About 45 % of campaigns are paused once and 20 % twice, for 4–28 days, with at least 10
    active days before each pause and 7 after the last; when none is drawn, the longest
    running campaign is paused once (if it runs 21 days or more).
    """
    lo_len, hi_len = _PAUSE_DAYS
    out: list[tuple[int, int, int]] = []
    for i in range(len(start)):
        u = rng.random()
        k = 1 if u < _PAUSE_ONE else 2 if u < _PAUSE_ONE + _PAUSE_TWO else 0
        lo = int(start[i]) + _PAUSE_BEFORE
        for _ in range(k):
            length = int(rng.integers(lo_len, hi_len + 1))
            hi = int(stop[i]) - _PAUSE_AFTER - length + 1          # the last first paused day
            if hi < lo:
                break
            a = int(rng.integers(lo, hi + 1))
            out.append((i, a, a + length - 1))
            lo = a + length + _PAUSE_BEFORE
    if not out:
        window = stop - start + 1
        i = int(np.argmax(window))
        room = int(window[i]) - _PAUSE_BEFORE - _PAUSE_AFTER
        if room >= lo_len:
            length = int(rng.integers(lo_len, min(hi_len, room) + 1))
            a = int(rng.integers(start[i] + _PAUSE_BEFORE, start[i] + _PAUSE_BEFORE + room - length + 1))
            out.append((i, a, a + length - 1))
    return out


def _campaign_ids(rng: np.random.Generator, ch_idx: np.ndarray) -> np.ndarray:
    """``FACEBOOK_a1b2c3d4``: the channel in capitals and 8 hex digits, unique."""
    n = len(ch_idx)
    while True:
        tags = rng.integers(0, 2**32, size=n, dtype=np.uint64)
        if len(np.unique(tags)) == n:
            break
    upper = [c.upper() for c in CHANNELS]
    return np.array([f"{upper[c]}_{int(x):08x}" for c, x in zip(ch_idx, tags, strict=True)])


def _campaign_names(seed: int, rng: np.random.Generator, n: int, *,
                    one_brand: bool = False) -> np.ndarray:
    """"Acme Corp – Spring Sale": a seeded Faker company and a theme; repeats get " 2", " 3".

    ``one_brand``: a small account, one advertiser's campaigns (distinct themes while they last).
    """
    fake = Faker("en_US")
    fake.seed_instance(seed)
    if one_brand:
        company = fake.company()
        theme = np.resize(rng.permutation(len(_THEMES)), n)
        names = pd.Series([f"{company} – {_THEMES[t]}" for t in theme])
    else:
        # Several campaigns per brand, as in an agency's account; a few hundred Faker calls at
        # most.
        brands = [fake.company() for _ in range(max(1, min(n, 8 + n // 4, 300)))]
        brand = rng.integers(0, len(brands), size=n)
        theme = rng.integers(0, len(_THEMES), size=n)
        names = pd.Series([f"{brands[b]} – {_THEMES[t]}" for b, t in zip(brand, theme, strict=True)])
    repeat = names.groupby(names, sort=False).cumcount().to_numpy()
    suffix = np.where(repeat > 0, np.char.add(" ", (repeat + 1).astype(str)), "")
    return np.char.add(names.to_numpy(dtype=str), suffix).astype(object)


def _pick_incidents(rng: np.random.Generator, budget: np.ndarray, exp_conv: np.ndarray,
                    start: np.ndarray, stop: np.ndarray, days: int, *,
                    kinds: tuple[str, ...] = INCIDENT_KINDS,
                    active: np.ndarray | None = None) -> list[tuple[int, int, str]]:
    """(campaign index, day index, kind) for each incident day.

    About one incident per nine campaigns (at least three of each kind from 30 campaigns on),
    on campaigns in the upper 70 % of budgets that convert enough to make the incident
    visible, after 21 active days, never on the last day; a fifth of them last two days.
    ``active``: the (campaign, day) grid of delivery when campaigns pause; an incident then
    falls on an active day whose previous 7 days are active too (not just after a restart).
    """
    n = len(budget)
    events = round(n / _CAMPAIGNS_PER_INCIDENT)
    if n >= 30:
        events = max(events, 3 * len(kinds))
    ok = None
    if active is None:
        first_day = start + _INCIDENT_MIN_HISTORY
        active_days = np.maximum(stop - start + 1, 1)
    else:
        seen = np.concatenate([np.zeros((n, 1), dtype=np.int64),
                               np.cumsum(active, axis=1, dtype=np.int64)], axis=1)
        d = np.arange(days)
        ok = active & (seen[:, d] - seen[:, np.maximum(d - 7, 0)] == 7)   # a clean week before
        enough = seen[:, 1:] > _INCIDENT_MIN_HISTORY                      # the 22nd active day on
        first_day = np.where(enough.any(axis=1), np.argmax(enough, axis=1), days + 1)
        active_days = np.maximum(seen[:, -1], 1)
    last_day = np.minimum(stop, days - 2)
    fits = last_day >= first_day
    if events == 0 or not fits.any():
        return []
    volume = exp_conv.sum(axis=1) / active_days                    # expected conversions / day
    big = budget >= np.quantile(budget, 0.3)
    eligible = np.flatnonzero(fits & big & (volume >= _INCIDENT_MIN_CONVERSIONS))
    if len(eligible) < events:  # a small world: the busiest campaigns that fit will do
        by_volume = np.flatnonzero(fits & big)
        by_volume = by_volume[np.argsort(-volume[by_volume], kind="stable")]
        eligible = np.unique(np.concatenate([eligible, by_volume[: events]]))
    kind_of = rng.permutation(np.resize(np.arange(len(kinds)), events))
    # Distinct campaigns first; when there are too few, campaigns take turns again.
    picks = rng.permutation(eligible)
    picks = np.resize(picks, events)
    taken: dict[int, list[int]] = {}
    out: list[tuple[int, int, str]] = []
    for i, k in zip(picks.tolist(), kind_of.tolist(), strict=True):
        for _ in range(30):
            day = int(rng.integers(first_day[i], last_day[i] + 1))
            # Apart from other incidents of the campaign, so each has a clean baseline.
            if (all(abs(day - d) > 7 for d in taken.get(i, ()))
                    and (ok is None or ok[i, day])):
                break
        else:
            continue
        span = [day]
        if (rng.random() < 0.2 and day + 1 <= last_day[i]
                and (ok is None or ok[i, day + 1])):
            span.append(day + 1)
        taken.setdefault(i, []).extend(span)
        out.extend((i, d, kinds[k]) for d in span)
    return out

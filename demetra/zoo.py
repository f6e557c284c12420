"""A zoo of worlds: accounts whose structure differs from the seeded world's, each with its truth.

The seeded world (:mod:`demetra.seed_world`) shares a channel's Hill curve among its campaigns
by spend × a quality fixed for a year: a model that learns that structure is right there and
nowhere else. The worlds here are built differently, after what real exports show, so that the
forecasts and the alerts are judged on data they were not built for:

* ``drift`` — a campaign's quality is persistent, but its state drifts and reverts within days
  (an AR(1) of log yield, half-life ~2.5 days, stationary spread ~35 %); every campaign
  saturates on its own (yield per $ falls as its spend rises, a Hill curve of shape 1 around
  its first budget); the buyer steps budgets up or down every two to five weeks; conversion
  rates have a weekday pattern.
* ``fatigue`` — creative fatigue: yield decays from launch towards a floor (40–70 %) with a
  time constant of 15–45 days and resets when the creative is refreshed (every 25–60 days);
  launches are staggered and campaigns pause and restart.
* ``promo`` — promotions and holidays: account-wide windows of 3–7 days where spend rises
  1.3–1.8× and yield 1.4–2.2×, a few holiday days at 0.6× yield, and a slow random walk of each
  channel's yield (~2 % a day).
* ``leadgen`` — a lead-generation account (no revenue: results only) with drifting states,
  budget steps, campaign saturation and pauses.
* ``seeded`` — the seeded world itself, so that a loop over :data:`WORLDS` covers it too.

Counts are drawn as in real accounts: clicks ~ Poisson(cost / CPC), conversions (or results)
~ Poisson(expectation), revenue = conversions × order value × 12 % lognormal noise.

Incidents last 1–4 days (``truth["incident_spans"]``; ``truth["incidents"]`` has one record
per campaign-day, as the seeded world's): ``cost_spike`` (cost 2.5–5× the planned budget,
clicks follow, the outcome does not), ``roi_drop`` (revenue 0.05–0.3× its expectation) and
``low_conversion`` (conversions 0.05–0.3× theirs). They fall on any campaign with 21 active
days behind it and a clean week before, so some are too small to see: a span is
``detectable`` when it is a cost spike, or a collapse whose campaign expects ≥ 10 conversions
over its days.

``World.expected`` is the outcome (revenue or results) each row expects before incidents and
noise: the oracle a forecast is measured against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from demetra.config import CHANNELS
from demetra.seed import WORLDS
from demetra.seed_world import (
    COLUMNS,
    World,
    _campaign_ids,
    _campaign_names,
    _draw_pauses,
    generate_world,
)

__all__ = ["DETECTABLE_CONVERSIONS", "WORLDS", "make_world"]

DETECTABLE_CONVERSIONS = 10.0    # expected conversions over a collapse's days that make it visible
_MIN_HISTORY = 21
_CAMPAIGNS_PER_INCIDENT = 4
# channel -> (CPC $, CTR, order value $, revenue per $ at the first budget, cost per result $,
# typical daily budget $)
_PRICES = {
    "facebook": (1.00, 0.012, 55.0, 2.4, 28.0, 300.0),
    "instagram": (1.10, 0.010, 48.0, 2.2, 32.0, 250.0),
    "google_ads": (2.00, 0.045, 80.0, 3.0, 55.0, 420.0),
    "tiktok": (0.60, 0.009, 35.0, 1.4, 22.0, 220.0),
    "youtube": (0.35, 0.006, 60.0, 1.2, 40.0, 280.0),
    "linkedin": (6.00, 0.005, 350.0, 2.0, 140.0, 380.0),
}
_CHANNELS = {"drift": ("facebook", "instagram", "google_ads"),
             "fatigue": ("tiktok", "instagram", "facebook", "youtube"),
             "promo": CHANNELS,
             "leadgen": ("facebook", "linkedin", "google_ads")}
_NOTES = {
    "drift": "Persistent quality x an AR(1) state of log yield (phi 0.75, sd 0.35); campaign "
             "Hill saturation around the first budget; budget steps every 14-35 days; weekday "
             "pattern in conversion rate.",
    "fatigue": "Yield decays from launch (or the last refresh) towards a floor; refreshes every "
               "25-60 days; staggered launches; pauses (no rows).",
    "promo": "Account-wide promotions (spend 1.3-1.8x, yield 1.4-2.2x), holidays (yield 0.6x), "
             "a random walk of each channel's yield.",
    "leadgen": "Results only (revenue NULL): AR(1) states, budget steps, campaign saturation, "
               "pauses.",
}


def make_world(name: str, *, campaigns: int | None = None, days: int = 180, seed: int = 1,
               end_date: dt.date | None = None) -> World:
    """The world ``name`` of :data:`WORLDS` (same arguments, same world). ``campaigns``
    defaults to 40 (50 for ``seeded``)."""
    if name == "seeded":
        world = generate_world(campaigns=campaigns or 50, days=days, seed=seed, end_date=end_date)
        world.truth["world"] = "seeded"
        return world
    if name not in _CHANNELS:
        raise ValueError(f"world must be one of {', '.join(WORLDS)}, not {name!r}")
    if days < _MIN_HISTORY + 14:
        raise ValueError(f"days must be at least {_MIN_HISTORY + 14} for the world {name!r}")
    return _generate(name, campaigns or 40, int(days), int(seed), end_date or dt.date.today())


def _ar1(rng: np.random.Generator, n: int, days: int, phi: float, sd: float) -> np.ndarray:
    """Log states of n campaigns: AR(1) with coefficient phi and stationary deviation sd."""
    eps = rng.normal(0.0, sd * np.sqrt(1 - phi ** 2), size=(n, days))
    x = np.empty((n, days))
    x[:, 0] = rng.normal(0.0, sd, size=n)
    for d in range(1, days):
        x[:, d] = phi * x[:, d - 1] + eps[:, d]
    return x


def _steps(rng: np.random.Generator, n: int, days: int, lo: int, hi: int,
           sd: float) -> np.ndarray:
    """Budget multipliers that change in steps every lo-hi days (log-normal steps of sd)."""
    out = np.ones((n, days))
    for i in range(n):
        level, d = 1.0, int(rng.integers(lo, hi + 1))
        while d < days:
            level = float(np.clip(level * rng.lognormal(0.0, sd), 0.3, 3.0))
            out[i, d:] = level
            d += int(rng.integers(lo, hi + 1))
    return out


def _fatigue(rng: np.random.Generator, start: np.ndarray, days: int) -> np.ndarray:
    """Yield multipliers: decay since launch or the last refresh towards a floor."""
    n = len(start)
    tau = rng.uniform(15, 45, size=n)
    floor = rng.uniform(0.4, 0.7, size=n)
    out = np.ones((n, days))
    for i in range(n):
        age = np.zeros(days)
        refresh = int(start[i])
        nxt = refresh + int(rng.integers(25, 61))
        for d in range(days):
            if d >= nxt:
                refresh, nxt = d, d + int(rng.integers(25, 61))
            age[d] = max(d - refresh, 0)
        out[i] = floor[i] + (1 - floor[i]) * np.exp(-age / tau[i])
    return out


def _promotions(rng: np.random.Generator, days: int) -> tuple[np.ndarray, np.ndarray, list]:
    """Account-wide (spend, yield) multipliers per day, and the windows [(first, last, kind)]."""
    spend, yld, spans = np.ones(days), np.ones(days), []
    for _ in range(max(2, days // 40)):
        a = int(rng.integers(_MIN_HISTORY, days - 8))
        b = a + int(rng.integers(3, 8)) - 1
        spend[a:b + 1] *= rng.uniform(1.3, 1.8)
        yld[a:b + 1] *= rng.uniform(1.4, 2.2)
        spans.append((a, b, "promotion"))
    for _ in range(max(1, days // 90)):
        d = int(rng.integers(_MIN_HISTORY, days - 1))
        yld[d] *= 0.6
        spans.append((d, d, "holiday"))
    return spend, yld, sorted(spans)


def _generate(name: str, n: int, days: int, seed: int, end_date: dt.date) -> World:
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    results = name == "leadgen"
    names_ch = _CHANNELS[name]
    ch_of = np.array([CHANNELS.index(c) for c in names_ch])
    first = rng.permutation(len(ch_of))[:min(n, len(ch_of))]
    rest = rng.integers(0, len(ch_of), size=n - len(first))
    ch_idx = ch_of[rng.permutation(np.concatenate([first, rest]))]
    prices = np.array([_PRICES[CHANNELS[c]] for c in ch_idx])
    cpc = prices[:, 0] * rng.lognormal(0, 0.15, n)
    ctr = prices[:, 1] * rng.lognormal(0, 0.2, n)
    aov = prices[:, 2] * rng.lognormal(0, 0.15, n)
    quality = rng.lognormal(0.0, 0.5, n)
    per_dollar = (1.0 / prices[:, 4] if results else prices[:, 3]) * quality
    budget = np.round(prices[:, 5] * rng.lognormal(-0.4, 0.8, n), 2)

    start = np.zeros(n, dtype=np.int64)
    stop = np.full(n, days - 1, dtype=np.int64)
    if name == "fatigue":                      # staggered launches, some stop early
        start = rng.integers(0, max(days * 2 // 3, 1), size=n)
        early = rng.random(n) < 0.2
        stop[early] = np.minimum(days - 1, start[early] + rng.integers(45, 120, int(early.sum())))
    t = np.arange(days)
    active = (t[None, :] >= start[:, None]) & (t[None, :] <= stop[:, None])
    paused = _draw_pauses(rng, start, stop) if name in ("fatigue", "leadgen") else []
    for i, a, b in paused:
        active[i, a:b + 1] = False

    start_date = end_date - dt.timedelta(days=days - 1)
    dow = (start_date.weekday() + t) % 7
    weekly_spend = np.where(dow >= 5, 0.85, 1.04)
    level = np.ones((n, days))
    yld = np.ones((n, days))
    promo_spans: list = []
    if name in ("drift", "leadgen"):
        level = _steps(rng, n, days, 14, 35, 0.35)
        yld *= np.exp(_ar1(rng, n, days, 0.85 if results else 0.75, 0.35))
        amp = rng.uniform(0.10, 0.25, n)
        phase = rng.integers(0, 7, n)
        yld *= 1 + amp[:, None] * np.cos(2 * np.pi * (dow[None, :] - phase[:, None]) / 7)
    if name == "fatigue":
        yld *= _fatigue(rng, start, days)
    if name == "promo":
        p_spend, p_yield, promo_spans = _promotions(rng, days)
        level = level * p_spend[None, :]
        walk = np.cumsum(rng.normal(0, 0.02, size=(len(CHANNELS), days)), axis=1)
        yld *= p_yield[None, :] * np.exp(walk[ch_idx] - walk[ch_idx].mean(axis=1, keepdims=True))

    planned = budget[:, None] * level * weekly_spend[None, :]
    noise = rng.lognormal(-0.02, 0.2, size=(n, days))
    base_cost = np.where(active, np.maximum(np.round(planned * noise, 2), 1.0), 0.0)
    if name in ("drift", "leadgen"):
        # Each campaign saturates on its own: yield per $ equals per_dollar at its first budget
        # and falls as its spend rises (Hill of shape 1, half-saturation around that budget).
        k = budget * rng.uniform(0.6, 2.0, n)
        sat = (1 + budget / k)[:, None] / (1 + base_cost / k[:, None])
    else:
        sat = 1.0
    exp_outcome = np.where(active, base_cost * per_dollar[:, None] * yld * sat, 0.0)
    exp_conv = exp_outcome if results else exp_outcome / aov[:, None]

    cost = base_cost.copy()
    kinds = ("cost_spike", "low_conversion") if results else ("roi_drop", "cost_spike",
                                                              "low_conversion")
    spans = _incidents(rng, active, exp_conv, n, days, kinds)
    conv_factor = np.ones((n, days))
    rev_factor = np.ones((n, days))
    for i, a, b, kind, f in spans:
        if kind == "cost_spike":
            cost[i, a:b + 1] = np.round(planned[i, a:b + 1] * f, 2)
        elif kind == "low_conversion":
            conv_factor[i, a:b + 1] = f
        else:
            rev_factor[i, a:b + 1] = f
    clicks = rng.poisson(cost / cpc[:, None]).astype(np.int64)
    impressions = np.maximum(clicks, np.round(cost / (cpc * ctr)[:, None]
                                              * rng.lognormal(0, 0.12, (n, days)))).astype(np.int64)
    engagement = rng.poisson(impressions * 0.02).astype(np.int64)
    conversions = rng.poisson(exp_conv * conv_factor).astype(float)
    if results:
        revenue = np.full((n, days), np.nan)
    else:
        value = rng.lognormal(-0.5 * 0.12 ** 2, 0.12, size=(n, days))
        revenue = np.round(conversions * aov[:, None] * value * rev_factor, 2)

    ids = _campaign_ids(rng, ch_idx)
    names = _campaign_names(seed, rng, n)
    rows, flat = _rows(ids, names, ch_idx, start_date, days, active,
                       dict(cost=cost, clicks=clicks, impressions=impressions,
                            engagement=engagement, conversions=conversions, revenue=revenue))
    iso = [(start_date + dt.timedelta(days=d)).isoformat() for d in range(days)]
    truth = _truth(name, seed, n, days, iso, results, ids, names, ch_idx, quality, budget, cpc,
                   aov, base_cost, exp_outcome, exp_conv, spans, paused, promo_spans)
    return World(rows=rows, truth=truth, expected=exp_outcome.ravel()[flat])


def _incidents(rng: np.random.Generator, active: np.ndarray, exp_conv: np.ndarray, n: int,
               days: int, kinds: tuple[str, ...]) -> list[tuple[int, int, int, str, float]]:
    """(campaign, first day, last day, kind, factor) of each incident: on any campaign after
    21 active days with a clean week before, apart from its other incidents."""
    seen = np.concatenate([np.zeros((n, 1), np.int64), np.cumsum(active, axis=1)], axis=1)
    d = np.arange(days)
    clean = active & (seen[:, d] - seen[:, np.maximum(d - 7, 0)] == 7) & (seen[:, d] >= _MIN_HISTORY)
    clean[:, days - 5:] = False
    out: list[tuple[int, int, int, str, float]] = []
    taken: dict[int, list[int]] = {}
    want = max(len(kinds), round(n / _CAMPAIGNS_PER_INCIDENT * days / 180))
    kind_of = rng.permutation(np.resize(np.arange(len(kinds)), want))
    for k in kind_of:
        kind = kinds[int(k)]
        for _ in range(40):
            i = int(rng.integers(0, n))
            ok = np.flatnonzero(clean[i])
            if not len(ok):
                continue
            a = int(rng.choice(ok))
            length = int(rng.integers(1, 3)) if kind == "cost_spike" else int(rng.integers(2, 5))
            b = a + length - 1
            if b >= days or not active[i, a:b + 1].all():
                continue
            if any(abs(a - x) < 21 for x in taken.get(i, ())):
                continue
            f = float(rng.uniform(2.5, 5.0) if kind == "cost_spike" else rng.uniform(0.05, 0.3))
            taken.setdefault(i, []).append(a)
            out.append((i, a, b, kind, f))
            break
    return sorted(out, key=lambda s: (s[1], s[0]))


def _rows(ids: np.ndarray, names: np.ndarray, ch_idx: np.ndarray, start_date: dt.date,
          days: int, active: np.ndarray, grids: dict[str, np.ndarray]) -> tuple[pd.DataFrame,
                                                                             np.ndarray]:
    """The active cells as rows sorted by date then campaign id, and their flat grid index."""
    order = np.argsort(ids, kind="stable")
    day_idx, pos = np.nonzero(active[order].T)
    ci = order[pos]
    flat = ci * days + day_idx
    dates = np.array([start_date + dt.timedelta(days=int(d)) for d in range(days)], dtype=object)
    take: Callable[[np.ndarray], np.ndarray] = lambda g: g.ravel()[flat]  # noqa: E731
    cost, clicks, conv, rev = (take(grids[k]) for k in ("cost", "clicks", "conversions",
                                                         "revenue"))
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(clicks > 0, conv / clicks, np.nan)
        roi = np.where(cost > 0, rev / cost, np.nan)
    rows = pd.DataFrame({
        "campaign_id": pd.array(ids, dtype="str").take(ci),
        "campaign_name": pd.array(names, dtype="str").take(ci),
        "channel": pd.array(np.array(CHANNELS)[ch_idx], dtype="str").take(ci),
        "date": dates[day_idx], "cost": cost, "clicks": clicks,
        "impressions": take(grids["impressions"]), "engagement": take(grids["engagement"]),
        "conversions": conv, "revenue": rev, "conversion_rate": rate, "roi": roi,
    }, columns=list(COLUMNS))
    return rows, flat


def _truth(name: str, seed: int, n: int, days: int, iso: list[str], results: bool,
           ids: np.ndarray, names: np.ndarray, ch_idx: np.ndarray, quality: np.ndarray,
           budget: np.ndarray, cpc: np.ndarray, aov: np.ndarray, base_cost: np.ndarray,
           exp_outcome: np.ndarray, exp_conv: np.ndarray, spans: list, paused: list,
           promo_spans: list) -> dict[str, Any]:
    span_recs = []
    for i, a, b, kind, f in spans:
        expect = float(exp_conv[i, a:b + 1].sum())
        span_recs.append({"campaign_id": str(ids[i]), "start": iso[a], "end": iso[b],
                          "days": b - a + 1, "kind": kind, "factor": round(f, 3),
                          "expected_conversions": round(expect, 2),
                          "detectable": kind == "cost_spike" or expect >= DETECTABLE_CONVERSIONS})
    campaigns: dict[str, Any] = {}
    for i in np.argsort(ids, kind="stable"):
        spent, expect = float(base_cost[i].sum()), float(exp_outcome[i].sum())
        rec: dict[str, Any] = {"channel": CHANNELS[ch_idx[i]], "name": str(names[i]),
                               "quality": float(quality[i]), "daily_budget": float(budget[i]),
                               "cpc": float(cpc[i]),
                               "paused": [[iso[a], iso[b]] for j, a, b in paused if j == i]}
        if results:
            rec["expected_results"] = expect
            rec["expected_cpa"] = spent / expect if expect > 0 else None
        else:
            rec["aov"] = float(aov[i])
            rec["expected_roi"] = expect / spent if spent > 0 else None
        campaigns[str(ids[i])] = rec
    used = sorted(set(ch_idx.tolist()))
    return {
        "world": name, "seed": seed, "campaigns_count": n, "days": days,
        "start_date": iso[0], "end_date": iso[-1],
        "outcome": "results" if results else "revenue", "small": False,
        "channels": {CHANNELS[c]: {"cpc": _PRICES[CHANNELS[c]][0]} for c in used},
        "campaigns": campaigns,
        "incidents": sorted(({"campaign_id": str(ids[i]), "date": iso[d], "kind": kind}
                             for i, a, b, kind, _ in spans for d in range(a, b + 1)),
                            key=lambda x: (x["date"], x["campaign_id"])),
        "incident_spans": span_recs,
        "events": [{"start": iso[a], "end": iso[b], "kind": k} for a, b, k in promo_spans],
        "pauses": sorted(({"campaign_id": str(ids[i]), "start": iso[a], "end": iso[b],
                           "days": b - a + 1} for i, a, b in paused),
                         key=lambda x: (x["start"], x["campaign_id"])),
        "notes": _NOTES[name],
    }

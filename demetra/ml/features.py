"""Features of each campaign's trailing history at a forecast date, and the labels after it.

The daily rows of a bounded date range are read once (``load_panel``: only the columns the
model needs, ``WHERE date BETWEEN``) into a campaigns × days grid; every feature at a day t is
a ratio of sums over a window ending at t (t included), taken from cumulative sums, so nothing
after t can reach it. The label at t is ROI over (t, t + horizon]: Σrevenue / Σcost.

Revenue and conversions an account does not track are NULL in ``campaigns``: they are read as 0
in the sums but the spend of the rows that do track them is kept apart (``revenue_cost``,
``result_cost``), so that an ROI or a CPA is only ever a ratio over tracked rows and a campaign
without revenue is never a campaign with an ROI of 0.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa

from demetra.config import CHANNELS
from demetra.queries import as_date

WINDOWS = (7, 14, 28, 56, 91, 182)
QUALITY_DAYS = 364                 # history a campaign's quality is estimated from
QUALITY_HALF_LIFE = 240.0          # days: older days count less, so drifting quality is followed
CHANNEL_DAYS = 182                 # history of a channel's ROI (moved to today's spend)
ELASTICITY_DAYS = 91               # history of a channel's ROI-to-spend slope
LOOKBACK_DAYS = max(*WINDOWS, QUALITY_DAYS)   # days of history a forecast reads
RECENT_DAYS = 7                    # a campaign is forecast when it spent in these days
FULL_METRIC_DAYS = 28              # longest window of a feature on clicks/impressions/conversions
MIN_HISTORY_DAYS = 28
MIN_CAMPAIGNS = 20                 # campaigns with revenue the pooled tree model needs
MIN_CAMPAIGN_DAYS = 14             # days with spend in the lookback a campaign needs a forecast
QUALITY_PRIOR = 100.0              # $ of pseudo-revenue at the channel's ROI (new campaigns)
QUALITY_PRIOR_RESULTS = 5.0        # the same in results: a few before a campaign's own count
_METRICS = ("cost", "revenue", "clicks", "impressions", "conversions")
_LONG_METRICS = ("cost", "revenue", "conversions", "clicks")   # read over the whole lookback
TRACKED = {"revenue": "revenue_cost", "conversions": "result_cost"}  # metric -> its tracked spend

FEATURES = [
    *(f"roi_{w}" for w in WINDOWS),
    "log_spend_7", "log_spend_28", "spend_trend", "roi_trend",
    "ctr_7", "ctr_28", "cvr_7", "cvr_28", "aov_28", "log_conversions_28",
    "active_days_28", "age_days", "spend_share_28",
    "channel", "channel_roi_7", "channel_roi_28", "channel_spend_trend",
    "rel_7", "rel_28", "rel_91", "rel_182", "quality", "channel_spend_adj", "channel_mix",
    "roi_ref",
]
CATEGORICAL = ["channel"]


@dataclass
class Panel:
    """Daily sums on a campaigns × days grid, from ``start`` (day 0) on."""

    campaign_ids: np.ndarray         # (N,) str
    channels: np.ndarray             # (N,) str
    start: dt.date
    days: int
    grid: dict[str, np.ndarray]      # metric -> (N, days) float
    rows: int = 0
    # Arrays a model derives from the grid and reads at every day of a backtest (the
    # regression's designs, demetra.ml.linear; a channel's results by day), keyed by what they
    # are: the grid never changes.
    derived: dict[str, dict] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        # cum[m][:, k] = Σ metric over days < k: a window sum is two lookups.
        for tracked in TRACKED.values():   # built by hand (tests): everything tracked
            self.grid.setdefault(tracked, self.grid["cost"])
        self.cum = {m: _cumulative(v) for m, v in self.grid.items()}
        codes = pd.Categorical(self.channels, categories=list(CHANNELS)).codes
        self.channel_codes = codes.astype(float)
        self.channel_codes[codes < 0] = np.nan
        n_ch = len(CHANNELS)
        self.channel_cum: dict[str, np.ndarray] = {}
        known = codes >= 0
        # A channel's ROI is over the spend of the rows that track revenue only.
        for m, source in (("cost", "revenue_cost"), ("revenue", "revenue")):
            total = np.zeros((n_ch, self.days))
            np.add.at(total, codes[known], self.grid[source][known])
            self.channel_cum[m] = _cumulative(total)
        # What each campaign would have earned at its channel's ROI of the same day: the
        # campaign's revenue over it is its quality relative to the channel, with the
        # channel's day-to-day and seasonal swings taken out.
        ch_cost = np.diff(self.channel_cum["cost"], axis=1)
        ch_rev = np.diff(self.channel_cum["revenue"], axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ch_roi = np.where(ch_cost > 0, ch_rev / ch_cost, 0.0)
        self.channel_daily_cost, self.channel_daily_roi = ch_cost, ch_roi
        self.channel_daily_revenue = ch_rev
        expected = self.grid["cost"] * np.where(known[:, None], ch_roi[np.maximum(codes, 0)], 1.0)
        self.cum["expected"] = _cumulative(expected)
        # Diminishing returns: how a channel's daily ROI moves with its daily spend.
        self.elasticity_cum = _slope_sums(ch_cost, ch_roi)
        spent = self.grid["cost"] > 0
        first = np.where(spent.any(axis=1), spent.argmax(axis=1), self.days)
        self.first_day = first

    def day_index(self, day: dt.date) -> int:
        return (day - self.start).days

    def date_of(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=int(index))

    def window(self, metric: str, t: int, w: int, channel: bool = False) -> np.ndarray:
        """Σ metric over days (t - w, t] for every campaign (or channel)."""
        cum = self.channel_cum[metric] if channel else self.cum[metric]
        return cum[:, t + 1] - cum[:, max(t + 1 - w, 0)]

    def ahead(self, metric: str, t: int, horizon: int) -> np.ndarray:
        """Σ metric over days (t, t + horizon]."""
        return self.cum[metric][:, t + 1 + horizon] - self.cum[metric][:, t + 1]


def _slope_sums(ch_cost: np.ndarray, ch_yield: np.ndarray) -> dict[str, np.ndarray]:
    """Sums for the least-squares slope of a channel's log daily yield on its log daily spend
    (weekday swings in spend give it something to fit), cumulated over days (``_slope``)."""
    ok = (ch_cost > 0) & (ch_yield > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.where(ok, np.log(ch_cost), 0.0)
        y = np.where(ok, np.log(ch_yield), 0.0)
    return {k: _cumulative(v) for k, v in (("n", ok.astype(float)), ("x", x), ("y", y),
                                           ("xy", x * y), ("xx", x * x))}


def _slope(sums: dict[str, np.ndarray], t: int, w: int = ELASTICITY_DAYS) -> np.ndarray:
    """Per channel: d log(daily yield) / d log(daily spend) over days (t - w, t], clipped to
    [-1, 1]; 0 where there are too few days or no spread in spend."""
    lo = max(t + 1 - w, 0)
    n, sx, sy, sxy, sxx = (sums[k][:, t + 1] - sums[k][:, lo] for k in ("n", "x", "y", "xy", "xx"))
    den = n * sxx - sx * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = np.where((n >= 14) & (den > 1e-9 * np.maximum(n * n, 1)),
                        (n * sxy - sx * sy) / den, 0.0)
    return np.clip(beta, -1.0, 1.0)


def _cumulative(values: np.ndarray) -> np.ndarray:
    out = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(values, axis=1, out=out[:, 1:])
    return out


def data_range(engine: sa.Engine) -> tuple[dt.date | None, dt.date | None]:
    """First and last day of campaign data (None, None when there is none)."""
    with engine.connect() as conn:
        lo, hi = conn.execute(sa.text("SELECT MIN(date), MAX(date) FROM campaigns")).one()
    return (None if lo is None else as_date(lo)), (None if hi is None else as_date(hi))


def load_panel(engine: sa.Engine, start: dt.date, end: dt.date, *,
               full_days: int | None = None) -> Panel:
    """The daily rows with ``start <= date <= end`` as a grid. With ``full_days``, days before
    the last ``full_days`` are read for spend, revenue, results and clicks only (the other
    metrics' features look back 28 days at most; the per-campaign forecasts backtest ROI, CPA
    and CPC over months): what a forecast at ``end`` needs, at a fraction of the reading."""
    days = (end - start).days + 1
    split = start if full_days is None else max(start, end - dt.timedelta(days=full_days - 1))
    reads = [(split, end, _METRICS)]
    if split > start:
        reads.insert(0, (start, split - dt.timedelta(days=1), _LONG_METRICS))
    with engine.connect() as conn:
        parts = [_read_rows(conn, lo, hi, metrics, start) for lo, hi, metrics in reads]
    n = sum(len(p["day"]) for p in parts)
    if n == 0:
        empty = {m: np.zeros((0, days)) for m in (*_METRICS, *TRACKED.values())}
        return Panel(np.array([], dtype=object), np.array([], dtype=object), start, days, empty)
    ci, ids = pd.factorize(np.concatenate([p["campaign_id"] for p in parts]), sort=True)
    di = np.concatenate([p["day"] for p in parts])
    grid = {}
    for m in (*_METRICS, *TRACKED.values()):
        g = np.zeros((len(ids), days))
        for p, (lo, hi) in zip(parts, _offsets(parts, ci), strict=True):
            if m in TRACKED.values():   # the spend of the rows where the outcome is not NULL
                source = next(k for k, v in TRACKED.items() if v == m)
                g[ci[lo:hi], di[lo:hi]] = np.where(np.isnan(p[source]), 0.0, p["cost"])
            elif m in p:
                g[ci[lo:hi], di[lo:hi]] = np.nan_to_num(p[m], nan=0.0)
        grid[m] = g
    channels = np.empty(len(ids), dtype=object)
    channels[ci] = np.concatenate([p["channel"] for p in parts])
    return Panel(np.asarray(ids, dtype=object), channels, start, days, grid, rows=n)


def _offsets(parts: list[dict[str, np.ndarray]], ci: np.ndarray) -> list[tuple[int, int]]:
    bounds, at = [], 0
    for p in parts:
        bounds.append((at, at + len(p["day"])))
        at += len(p["day"])
    return bounds


def _read_rows(conn: sa.Connection, lo: dt.date, hi: dt.date, metrics: tuple[str, ...],
               origin: dt.date) -> dict[str, np.ndarray]:
    """Rows of ``lo..hi`` as columns, the date as a day index from ``origin``. Straight from the
    driver: on a million rows SQLAlchemy's per-row processing costs more than the query, and
    on PostgreSQL a CSV COPY parsed by pandas costs a third of fetching tuples."""
    names = ["campaign_id", "channel", "day", *metrics]
    # Dates are formatted by Python, never user text: safe to inline in the COPY statement.
    if conn.dialect.name == "postgresql":
        sql = (f"COPY (SELECT campaign_id, channel, date - DATE '{origin}', "
               f"{', '.join(metrics)} FROM campaigns WHERE date BETWEEN DATE '{lo}' AND "
               f"DATE '{hi}') TO STDOUT WITH (FORMAT csv)")
        buf = io.BytesIO()
        cursor = conn.connection.driver_connection.cursor()
        try:
            cursor.copy_expert(sql, buf)
        finally:
            cursor.close()
        buf.seek(0)
        frame = pd.read_csv(buf, header=None, names=names, keep_default_na=False,
                            na_values={m: [""] for m in metrics},
                            dtype={"campaign_id": object, "channel": object, "day": np.int64})
        out = {c: frame[c].to_numpy() for c in ("campaign_id", "channel")}
        out["day"] = frame["day"].to_numpy(np.int64)
        for m in metrics:   # NULL (not tracked) stays NaN: load_panel tells it from 0
            out[m] = frame[m].to_numpy(float)
        return out
    sql = ("SELECT campaign_id, channel, CAST(julianday(date) - julianday(?) AS INTEGER), "
           + ", ".join(metrics)
           + " FROM campaigns WHERE date BETWEEN ? AND ?")
    cursor = conn.connection.driver_connection.cursor()
    try:
        cursor.execute(sql, (origin.isoformat(), lo.isoformat(), hi.isoformat()))
        rows = cursor.fetchall()
    finally:
        cursor.close()
    # A structured array is filled from the tuples in C: five times faster than zip(*rows).
    table = np.array(rows, dtype=[("campaign_id", object), ("channel", object),
                                  ("day", np.int64), *((m, np.float64) for m in metrics)])
    return {name: table[name] for name in names}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def features_at(panel: Panel, t: int) -> pd.DataFrame:
    """One row per campaign of ``panel``: the features at day index ``t`` (data up to t only)."""
    cost = {w: panel.window("cost", t, w) for w in WINDOWS}
    rev = {w: panel.window("revenue", t, w) for w in WINDOWS}
    out: dict[str, np.ndarray] = {f"roi_{w}": _ratio(rev[w], cost[w]) for w in WINDOWS}
    out["log_spend_7"] = np.log1p(cost[7] / 7)
    out["log_spend_28"] = np.log1p(cost[28] / 28)
    out["spend_trend"] = out["log_spend_7"] - out["log_spend_28"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["roi_trend"] = np.log((out["roi_7"] + 0.05) / (out["roi_28"] + 0.05))
    clicks7, clicks28 = panel.window("clicks", t, 7), panel.window("clicks", t, 28)
    conv7, conv28 = panel.window("conversions", t, 7), panel.window("conversions", t, 28)
    out["ctr_7"] = _ratio(clicks7, panel.window("impressions", t, 7))
    out["ctr_28"] = _ratio(clicks28, panel.window("impressions", t, 28))
    out["cvr_7"] = _ratio(conv7, clicks7)
    out["cvr_28"] = _ratio(conv28, clicks28)
    out["aov_28"] = _ratio(rev[28], conv28)
    out["log_conversions_28"] = np.log1p(conv28)
    lo = max(t + 1 - 28, 0)
    out["active_days_28"] = (panel.grid["cost"][:, lo:t + 1] > 0).sum(axis=1).astype(float)
    out["age_days"] = np.clip(t - panel.first_day + 1, 0, LOOKBACK_DAYS).astype(float)
    codes = panel.channel_codes
    known = ~np.isnan(codes)
    idx = np.where(known, codes, 0).astype(int)
    ch_cost = {w: panel.window("cost", t, w, channel=True) for w in (7, 28)}
    ch_rev = {w: panel.window("revenue", t, w, channel=True) for w in (7, 28)}
    ch_roi7, ch_roi28 = _ratio(ch_rev[7], ch_cost[7]), _ratio(ch_rev[28], ch_cost[28])
    out["spend_share_28"] = np.where(known, _ratio(cost[28], ch_cost[28][idx]), np.nan)
    out["channel"] = codes
    out["channel_roi_7"] = np.where(known, ch_roi7[idx], np.nan)
    out["channel_roi_28"] = np.where(known, ch_roi28[idx], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        trend = np.log((ch_cost[7] / 7 + 1.0) / (ch_cost[28] / 28 + 1.0))
    out["channel_spend_trend"] = np.where(known, trend[idx], np.nan)
    for w in (7, 28, 91, 182):
        out[f"rel_{w}"] = _ratio(rev[w], panel.window("expected", t, w))
    out |= roi_reference(panel, t)
    frame = pd.DataFrame(out, columns=FEATURES)
    frame.index = pd.Index(panel.campaign_ids, name="campaign_id")
    return frame


def roi_reference(panel: Panel, t: int) -> dict[str, np.ndarray]:
    """The structural reference (``roi_ref``) per campaign and the parts it is made of: its
    quality over its channel's spend-weighted quality, times its channel's ROI moved along
    its spend elasticity to the coming spend (data up to t only)."""
    return _reference(panel, t, "revenue")


def results_reference(panel: Panel, t: int) -> np.ndarray:
    """The same reference for results (conversions per $ of the spend that tracks them): what
    a campaign without revenue yields on its channel's results curve, by its own quality (NaN
    where its channel is unknown or tracked no results in CHANNEL_DAYS)."""
    return _reference(panel, t, "conversions")["roi_ref"]


def _reference(panel: Panel, t: int, outcome: str) -> dict[str, np.ndarray]:
    codes = panel.channel_codes
    known = ~np.isnan(codes)
    idx = np.where(known, codes, 0).astype(int)
    days = channel_days(panel, outcome)
    ch_cost = days["cost"]
    quality = campaign_quality(panel, t, outcome)
    # The channel's yield over CHANNEL_DAYS, moved along its spend elasticity to the daily
    # spend of the last 7 days (the best guess of the coming days'): diminishing returns.
    lo, lo7 = max(t + 1 - CHANNEL_DAYS, 0), max(t + 1 - 7, 0)
    ch_long_cost = ch_cost[:, lo:t + 1].sum(axis=1)
    ch_long = _ratio(days["got"][:, lo:t + 1].sum(axis=1), ch_long_cost)
    elasticity = _slope(days["slope"], t)
    with np.errstate(divide="ignore", invalid="ignore"):
        shift = (np.log(ch_cost[:, lo7:t + 1].sum(axis=1) / 7)
                 - np.log(ch_long_cost / min(CHANNEL_DAYS, t + 1)))
        spend_adj = np.exp(elasticity * np.where(np.isfinite(shift), shift, 0.0))
    channel = np.where(np.isfinite(ch_long), ch_long * spend_adj, 1.0)
    # A campaign earns its quality over the spend-weighted quality of its channel's campaigns
    # (their outcome is the channel's curve, shared): the campaigns spending now set that mix,
    # by the spend that tracks the outcome (a mixed channel's other campaigns are no part of it).
    mix = _spend_weighted(quality, panel.window(TRACKED[outcome], t, 7), idx, known)
    relative = np.where(known, quality / mix[idx], 1.0)
    # Without a known channel or its outcome in CHANNEL_DAYS the reference is a constant: the
    # tree model's feature keeps it (the trees correct it), a forecast of its own must not.
    defined = known & np.isfinite(ch_long)[idx]
    ref = (np.maximum(relative * np.where(known, channel[idx], 1.0), 0.05) if outcome == "revenue"
           else np.where(defined, relative * channel[idx], np.nan))
    return {"quality": np.where(known, quality, np.nan),
            "channel_spend_adj": np.where(known, spend_adj[idx], np.nan),
            "channel_mix": np.where(known, mix[idx], np.nan), "roi_ref": ref,
            "defined": defined}


def channel_days(panel: Panel, outcome: str) -> dict[str, np.ndarray]:
    """Per channel and day: the spend of the rows that track ``outcome`` (``cost``), the
    outcome (``got``), the outcome per unit of that spend (``yield``, 0 without spend) and the
    sums of its slope on spend (``slope``); revenue's from the panel, others derived once."""
    if outcome == "revenue":
        return {"cost": panel.channel_daily_cost, "got": panel.channel_daily_revenue,
                "yield": panel.channel_daily_roi, "slope": panel.elasticity_cum}
    key = f"channel_days_{outcome}"
    if key not in panel.derived:
        known = ~np.isnan(panel.channel_codes)
        codes = panel.channel_codes[known].astype(int)
        cost = np.zeros((len(CHANNELS), panel.days))
        got = np.zeros_like(cost)
        np.add.at(cost, codes, panel.grid[TRACKED[outcome]][known])
        np.add.at(got, codes, panel.grid[outcome][known])
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.where(cost > 0, got / cost, 0.0)
        panel.derived[key] = {"cost": cost, "got": got, "yield": rate,
                              "slope": _slope_sums(cost, rate)}
    return panel.derived[key]


def campaign_quality(panel: Panel, t: int, outcome: str = "revenue") -> np.ndarray:
    """Each campaign's quality: its revenue (or ``outcome``) over what its spend would have
    earned at its channel's yield of the same days, corrected for that day's campaign mix (a
    day when weaker campaigns spent raises everyone's share), over QUALITY_DAYS up to t with
    older days discounted by QUALITY_HALF_LIFE and shrunk to 1 by QUALITY_PRIOR (in results,
    QUALITY_PRIOR_RESULTS). In the units of the channel's mix, so only ratios within a
    channel mean anything."""
    lo = max(t + 1 - QUALITY_DAYS, 0)
    decay = 0.5 ** ((t - np.arange(lo, t + 1)) / QUALITY_HALF_LIFE)
    # Over the spend that tracks the outcome: a campaign's days without it are no evidence.
    cost = panel.grid[TRACKED[outcome]][:, lo:t + 1]
    codes = panel.channel_codes
    known = ~np.isnan(codes)
    idx = np.where(known, codes, 0).astype(int)
    days = channel_days(panel, outcome)
    ch_roi = np.where(known[:, None], days["yield"][idx, lo:t + 1], 1.0)
    ch_cost = days["cost"][:, lo:t + 1]
    prior = QUALITY_PRIOR if outcome == "revenue" else QUALITY_PRIOR_RESULTS
    revenue = panel.grid[outcome][:, lo:t + 1] @ decay
    at_channel = cost * ch_roi
    quality = (revenue + prior) / (at_channel @ decay + prior)
    # One fixed-point step: each day's mix from the first estimate (a second step changes
    # the forecasts by well under 0.1 %).
    weighted = np.zeros_like(ch_cost)
    np.add.at(weighted, idx[known], cost[known] * quality[known, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        mix = np.where(ch_cost > 0, weighted / ch_cost, 1.0)
    expected = (at_channel / np.where(mix[idx] > 0, mix[idx], 1.0)) @ decay
    return (revenue + prior) / (expected + prior)


def _spend_weighted(values: np.ndarray, weights: np.ndarray, idx: np.ndarray,
                    known: np.ndarray) -> np.ndarray:
    """Per channel: the ``weights``-weighted mean of ``values`` (1 where nothing weighs)."""
    n_ch = len(CHANNELS)
    use = known & np.isfinite(values) & (weights > 0)
    num = np.bincount(idx[use], weights=(weights * values)[use], minlength=n_ch)
    den = np.bincount(idx[use], weights=weights[use], minlength=n_ch)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 1.0)


def recent_spend(panel: Panel, t: int) -> np.ndarray:
    """Spend in the ``RECENT_DAYS`` days up to t: who gets a forecast."""
    return panel.window("cost", t, RECENT_DAYS)


def labels_at(panel: Panel, t: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """ROI over (t, t + horizon] and the spend it is over (NaN ROI where nothing was spent)."""
    cost = panel.ahead("cost", t, horizon)
    return _ratio(panel.ahead("revenue", t, horizon), cost), cost


def build_features(engine: sa.Engine, as_of: dt.date) -> pd.DataFrame:
    """Features at ``as_of`` of every campaign that spent in the 7 days up to it, read from the
    ``LOOKBACK_DAYS`` days up to ``as_of`` (nothing after it), as a forecast reads them."""
    start = as_of - dt.timedelta(days=LOOKBACK_DAYS - 1)
    panel = load_panel(engine, start, as_of, full_days=FULL_METRIC_DAYS)
    t = panel.day_index(as_of)
    frame = features_at(panel, t)
    return frame[recent_spend(panel, t) > 0]


"""Alert detection: find what broke, once per incident, with the numbers.

Rules run per campaign and per channel over daily rows, each judged against the entity's own
trailing baseline (ratios of sums over the previous ``baseline_days`` days) and its own
day-to-day spread (median and IQR of those days), so a noisy small campaign needs a bigger
move than a steady large one:

* ``roi_drop``: ROI far below the trailing baseline (and unusual for this campaign), or below
  the absolute threshold when the baseline was above it (severity low);
* ``cost_spike``: spend above ``cost_spike_factor`` × the trailing median of the days the
  entity spent (a pause is no baseline of 0: see ``evaluate``) and unusual;
* ``low_conversion``: conversions far fewer than the clicks and baseline rate make likely
  (a Poisson tail test), or a rate under the floor (severity low);
* ``anomaly``: any of ROI, cost, CTR, conversion rate beyond the robust z limit when no rule
  above fired.

Revenue or conversions not tracked (NULL) are not zeros: the rules on them judge only the
rows that track them, and an entity that tracks neither is watched on its spend. A channel's
days are summed here from its campaigns' rows, with the spend and clicks of the tracked ones
beside. Campaigns are named in messages by their names (``campaign_labels``).

Consecutive breach days are one incident; ``detect`` hands the incidents of its window to
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
_RELATIVE_DROP = 0.6       # ROI below this share of its baseline counts as a drop
_CONVERSION_DROP = 0.5     # conversion rate below this share of baseline counts as a drop
# Below this many expected conversions a day, a bad day is indistinguishable from chance.
_MIN_EXPECTED_CONVERSIONS = 15.0
_READ_CHUNK = 100_000      # rows fetched at a time from SQLite


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


def _rolling(frame: pd.DataFrame, column: str, window: int) -> tuple[Any, np.ndarray]:
    """A rolling window over ``column`` within each group, and for each row the position of
    the window that holds the rows before it.

    Each group's rows are laid out after ``window`` empty (NaN) slots, which a rolling window
    does not count, so a plain rolling never reaches into the previous group: the same numbers
    as a groupby-rolling without its per-group overhead (seconds on a million rows)."""
    idx = np.arange(len(frame)) + (frame["_group"].to_numpy() + 1) * window
    padded = np.full(int(idx[-1]) + 1, np.nan)
    padded[idx] = frame[column].to_numpy(float)
    # The window that ends one slot before a row holds the rows before it (only empty
    # slots for a group's first row): today's baseline is built from the days before it.
    return pd.Series(padded).rolling(window, min_periods=_MIN_HISTORY), idx - 1


def _trailing_quantiles(frame: pd.DataFrame, column: str, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Median (over ``window`` rows) and IQR/1.349, a robust sigma (over twice as many: a
    spread from two weeks of days is itself too noisy), of the rows before each row."""
    rolling, before = _rolling(frame, column, window)
    med = rolling.median().to_numpy()[before]
    wide, before = _rolling(frame, column, 2 * window)
    spread = (wide.quantile(0.75).to_numpy() - wide.quantile(0.25).to_numpy())[before] / 1.349
    return med, spread


def _trailing_median(frame: pd.DataFrame, column: str, window: int) -> np.ndarray:
    """Median of the ``window`` rows before each row of its group (NaN with too few)."""
    rolling, before = _rolling(frame, column, window)
    return rolling.median().to_numpy()[before]


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
        cpa = np.where(has_conv & (conversions > 0), res_cost / conversions, np.nan)
        # Baselines of spend and ROI are made of the days the entity spent. A day without
        # spend (a pause, or before a launch) has no ROI, and its spend is not a level of 0:
        # counted as 0, a pause over half the window makes the median spend 0, and then any
        # restart is an "infinite" spike, when a campaign restarting at its old level is the
        # most normal thing there is. Left out (NaN, which a rolling window does not count),
        # a restart after a short pause is judged against the level the campaign had before
        # it; after a long one (fewer than _MIN_HISTORY spending days left in the window) it
        # is not judged at all until it has spent for a week again, like a new campaign.
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
    # The spend baseline is the plain median of the spending days before (the z test below
    # works on log spend): "factor x median" means what it says, to the cent. Never 0: with
    # no spending day in the window it is NaN, and no rule compares with it.
    med_cost = _trailing_median(frame, "_spend", w)
    for name, column, floor in (("roi", "_log_roi", np.maximum(poisson_floor, 0.05)),
                                ("cost", "_log_cost", 0.05),
                                ("ctr", "_ctr", None), ("conversion rate", "_cr", None)):
        med, spread = _trailing_quantiles(frame, column, w)
        if floor is None:  # rates: a spread no smaller than 10 % of the level
            floor = np.maximum(np.abs(med) * 0.1, 1e-6)
        with np.errstate(invalid="ignore"):
            z[name] = (frame[column].to_numpy(float) - med) / np.maximum(spread, floor)
    sens = cfg.sensitivity
    enough = (pos >= _MIN_HISTORY) & (cost >= cfg.min_daily_spend)
    with np.errstate(invalid="ignore"):
        busy = enough & (expected_conv >= _MIN_EXPECTED_CONVERSIONS)
    ch_codes, ch_names = pd.factorize(frame["channel"])
    thresholds = np.array([cfg.roi_threshold_for(c) for c in ch_names], dtype=float)[ch_codes]
    out: list[pd.DataFrame] = []

    def emit(rule: str, mask: np.ndarray, metric: np.ndarray, threshold: np.ndarray,
             money: np.ndarray, dev: np.ndarray, low_only: np.ndarray,
             metric_name: np.ndarray | None = None) -> None:
        mask = mask & np.isfinite(metric)
        if not mask.any():
            return
        names = np.full(len(cost), rule) if metric_name is None else metric_name
        out.append(pd.DataFrame({
            "metric": names[mask],
            "rule": rule, "key": key_names[codes[mask]],
            "channel": np.asarray(ch_names, dtype=object)[ch_codes[mask]],
            "date": frame["date"].to_numpy()[mask], "metric_value": metric[mask],
            "threshold_value": threshold[mask], "baseline": _baseline_for(rule)[mask],
            "money": np.nan_to_num(money[mask]), "deviation": np.abs(dev[mask]),
            "low_only": low_only[mask], "cost": cost[mask], "conversions": conv0[mask]}))

    def _baseline_for(rule: str) -> np.ndarray:
        baselines = {"roi_drop": base_roi, "cost_spike": med_cost, "low_conversion": base_cr,
                     "cpa_rise": base_cpa}
        return baselines.get(rule, base_roi)

    with np.errstate(invalid="ignore"):
        # ROI: a big move against the campaign's own baseline, or crossing the absolute line.
        # Revenue in units of the baseline order value, with 20 % slack for order values
        # that drift: as few "orders" as this out of a Poisson(expected) is the test.
        orders = np.floor(np.nan_to_num(rev0 / (0.8 * aov)))
        roi_tail = stats.poisson.cdf(orders, np.nan_to_num(expected_conv))
        relative = (busy & (roi < _RELATIVE_DROP * base_roi) & (z["roi"] < -sens)
                    & (roi_tail < stats.norm.sf(sens)))
        absolute = (busy & ~relative & (roi < thresholds) & (base_roi >= thresholds)
                    & (z["roi"] < -2.5))
        roi_threshold = np.where(roi < thresholds, thresholds, _RELATIVE_DROP * base_roi)
        emit("roi_drop", relative | absolute, roi, roi_threshold,
             np.maximum(base_roi * rev_cost - rev0, 0), z["roi"], absolute)

        # A positive baseline, explicitly: "above factor x 0" would be every restart.
        spike = (enough & (med_cost > 0) & (cost > cfg.cost_spike_factor * med_cost)
                 & (z["cost"] > sens))
        emit("cost_spike", spike, cost, cfg.cost_spike_factor * med_cost,
             np.maximum(cost - med_cost, 0), z["cost"], np.zeros(len(cost), bool))

        p_limit = stats.norm.sf(sens)
        # Results without revenue: the day's results against those its spend buys at the
        # trailing CPA. Too few of them to be chance (Poisson) and a CPA this much higher; a
        # day without any result is the plainest case (its CPA shown as the spend).
        expected_results = np.where(base_cpa > 0, res_cost / base_cpa, np.nan)
        results_tail = stats.poisson.cdf(conv0, np.nan_to_num(expected_results))
        day_cpa = np.where(conv0 > 0, cpa, res_cost)
        rise = (enough & has_conv & ~has_rev & (base_cpa > 0)
                & ((conv0 == 0) | (cpa > cfg.cpa_rise_factor * base_cpa))
                & (results_tail < p_limit))
        emit("cpa_rise", rise, day_cpa, cfg.cpa_rise_factor * base_cpa,
             np.maximum(res_cost - conv0 * base_cpa, 0),
             stats.norm.isf(np.clip(results_tail, 1e-300, 1.0)), np.zeros(len(cost), bool))

        expected = res_clicks * base_cr
        tail = stats.poisson.cdf(conv0, np.where(np.isfinite(expected), expected, 0))
        # Without revenue, a day whose results cost too much is told as that (cpa_rise), once.
        low_rel = (enough & ~rise & (expected >= _MIN_EXPECTED_CONVERSIONS)
                   & (cr < _CONVERSION_DROP * base_cr) & (tail < p_limit)
                   & (z["conversion rate"] < -sens))
        floor_clicks = 3.0 / max(cfg.min_conversion_rate, 1e-9)
        low_floor = (enough & ~rise & ~low_rel & (cr < cfg.min_conversion_rate)
                     & (base_cr >= cfg.min_conversion_rate) & (res_clicks >= floor_clicks)
                     & (tail < stats.norm.sf(2.5)))
        conv_z = stats.norm.isf(np.clip(tail, 1e-300, 1.0))
        emit("low_conversion", low_rel | low_floor, cr,
             np.where(low_floor, cfg.min_conversion_rate, _CONVERSION_DROP * base_cr),
             np.maximum(expected - conv0, 0) * np.nan_to_num(aov), conv_z, low_floor)

        fired = relative | absolute | spike | low_rel | low_floor | rise
        stacked = np.vstack([np.nan_to_num(np.abs(z[k]), nan=0.0) for k in z])
        worst = stacked.argmax(axis=0)
        worst_z = stacked.max(axis=0)
        odd = busy & ~fired & (worst_z > sens + 2.5)
        if odd.any():
            metric_names = np.array(list(z))[worst]
            metrics = np.vstack([roi, cost, frame["_ctr"].to_numpy(float), cr])
            values = metrics[worst, np.arange(len(cost))]
            emit("anomaly", odd, values, np.full(len(cost), np.nan), cost, worst_z,
                 worst_z < 3 * sens, metric_names)
    if not out:
        return pd.DataFrame()
    breaches = pd.concat(out, ignore_index=True)
    breaches["severity"] = _severity(breaches, sens)
    return breaches


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


def _channel_frame(campaigns: pd.DataFrame) -> pd.DataFrame:
    """Each channel's days, summed from its campaigns' rows (what ``channel_days`` holds),
    with the spend, clicks and conversions of the rows that track revenue or conversions
    beside (see ``evaluate``): a channel mixing campaigns with and without revenue is
    judged on the ROI of the ones that have it, never on their revenue over all the
    spend. Revenue (conversions) is NaN on a day no campaign of the channel tracks it."""
    columns = ["key", "channel", "date", "cost", "revenue", "clicks", "impressions",
               "conversions", *_TRACKED, "entity"]
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
        "revenue": tracked(revenue, has_rev), "conversions": tracked(conversions, has_conv)})
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
            if current and (day - current[-1][0]).days > 1:
                result.append(_merge(rule, key, current))
                current = []
            current.append((day, rec))
        if current:
            result.append(_merge(rule, key, current))
    return result


def _merge(rule: str, key: str, days: list[tuple[dt.date, dict]]) -> dict:
    worse_low = rule in ("roi_drop", "low_conversion")
    pick = min if worse_low else max
    worst_day, worst = pick(days, key=lambda d: d[1]["metric_value"] if worse_low else d[1]["deviation"])
    severity = max((r["severity"] for _, r in days), key=_SEVERITY_RANK.__getitem__)
    return {"rule": rule, "key": key, "first": days[0][0], "last": days[-1][0], "worst": worst,
            "worst_day": worst_day, "severity": severity,
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
    # The spread of each day's baseline comes from the 2 x baseline_days before it: load them
    # all, so that a day is judged the same in an incremental run as in a full one.
    load_from = since - dt.timedelta(days=2 * cfg.baseline_days + 1)
    with engine.connect() as conn:
        campaigns = _campaign_frame(conn, load_from, until)
    frames = [campaigns, _channel_frame(campaigns)]
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
        breaches = breaches[breaches["date"] >= since]
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


"""Alert detection: find what broke, once per incident, with the numbers.

Rules run per campaign and per channel over daily rows, each judged against the entity's own
trailing baseline (ratios of sums over the previous ``baseline_days`` days) and its own
day-to-day spread (median and IQR of those days), so a noisy small campaign needs a bigger
move than a steady large one:

* ``roi_drop``: ROI far below the trailing baseline (and unusual for this campaign), or below
  the absolute threshold when the baseline was above it (severity low);
* ``cost_spike``: spend above ``cost_spike_factor`` × the trailing median and unusual;
* ``low_conversion``: conversions far fewer than the clicks and baseline rate make likely
  (a Poisson tail test), or a rate under the floor (severity low);
* ``anomaly``: any of ROI, cost, CTR, conversion rate beyond the robust z limit when no rule
  above fired.

Consecutive breach days are one incident: one alert, updated (last seen, worst value, money at
stake) while it lasts and resolved when the metric recovers. Keys are rule + entity + first
day, so re-running over the same days changes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
import math
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from demetra.config import CHANNELS, Settings, SettingsError, check_ranges, declared
from demetra.db.models import Alert, AppSetting
from demetra.queries import as_date

RULES = ("roi_drop", "cost_spike", "low_conversion", "anomaly")
ALERT_TYPES = (*RULES, "system")
SEVERITIES = ("low", "medium", "high", "critical")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}
_SETTINGS_KEY = "alerts"
_MIN_HISTORY = 7           # days of history before baseline rules apply
_RELATIVE_DROP = 0.6       # ROI below this share of its baseline counts as a drop
_CONVERSION_DROP = 0.5     # conversion rate below this share of baseline counts as a drop
# Below this many expected conversions a day, a bad day is indistinguishable from chance.
_MIN_EXPECTED_CONVERSIONS = 15.0
_READ_CHUNK = 100_000      # rows fetched at a time from SQLite


# The thresholds are the ALERT_* settings (declared once in ``demetra.config.Settings``): their
# defaults, labels, help and ranges, by name without the prefix.
SPECS = declared(Settings, prefix="alert_")


@dataclass(frozen=True)
class AlertSettings:
    """Thresholds of the rules; editable in the app, with the allowed ranges in ``SPECS``."""

    roi_threshold: float = SPECS["roi_threshold"].default
    cost_spike_factor: float = SPECS["cost_spike_factor"].default
    min_conversion_rate: float = SPECS["min_conversion_rate"].default
    sensitivity: float = SPECS["sensitivity"].default
    baseline_days: int = SPECS["baseline_days"].default
    min_daily_spend: float = SPECS["min_daily_spend"].default
    roi_threshold_by_channel: dict[str, float] = field(default_factory=dict)

    def roi_threshold_for(self, channel: str) -> float:
        return self.roi_threshold_by_channel.get(channel, self.roi_threshold)

    def validated(self) -> AlertSettings:
        """This object, or ``SettingsError`` naming the first value out of its allowed range."""
        check_ranges(self, SPECS)
        spec = SPECS["roi_threshold"]
        for channel, value in self.roi_threshold_by_channel.items():
            if channel not in CHANNELS:
                raise SettingsError(f"unknown channel {channel!r}; expected one of "
                                    f"{', '.join(CHANNELS)}")
            replace(spec, label=f"ROI threshold for {channel}").check(value)
        return self

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertSettings:
        """The thresholds the environment and secrets set."""
        return cls(**{name: getattr(settings, spec.field) for name, spec in SPECS.items()})


LIMITS: dict[str, tuple[float, float]] = {name: (s.min, s.max) for name, s in SPECS.items()}


def load_alert_settings(engine: sa.Engine, settings: Settings | None = None) -> AlertSettings:
    """The defaults from env/secrets, overridden by what was saved in the app."""
    base = AlertSettings.from_settings(settings or Settings())
    with engine.connect() as conn:
        saved = conn.execute(sa.select(AppSetting.value).where(AppSetting.key == _SETTINGS_KEY)).scalar()
    if not saved:
        return base
    known = {f.name for f in fields(AlertSettings)}
    return replace(base, **{k: v for k, v in saved.items() if k in known})


def save_alert_settings(engine: sa.Engine, new: AlertSettings) -> AlertSettings:
    """Validate and store; a refused value raises ``SettingsError`` and stores nothing."""
    new.validated()
    value = asdict(new)
    with engine.begin() as conn:
        conn.execute(sa.delete(AppSetting).where(AppSetting.key == _SETTINGS_KEY))
        conn.execute(sa.insert(AppSetting).values(key=_SETTINGS_KEY, value=value))
    return new


@dataclass
class DetectionReport:
    since: dt.date | None = None
    until: dt.date | None = None
    rows_scanned: int = 0
    entities: int = 0
    short_history: int = 0
    raised: Counter = field(default_factory=Counter)
    updated: int = 0
    resolved: int = 0
    seconds: float = 0.0
    error: str | None = None

    def summary(self) -> str:
        if self.error:
            return f"Detection failed: {self.error}"
        if self.since is None:
            return "No campaign data to check."
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.raised.items())) or "none"
        return (f"Checked {self.rows_scanned:,} rows ({self.since} to {self.until}) in "
                f"{self.seconds:.1f} s: {sum(self.raised.values())} new alerts ({kinds}), "
                f"{self.updated} updated, {self.resolved} resolved; {self.short_history} "
                f"campaigns had too little history for baselines.")


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


def evaluate(frame: pd.DataFrame, cfg: AlertSettings) -> pd.DataFrame:
    """Breaches in ``frame`` (daily rows sorted by key then date; columns key, channel, date,
    cost, revenue, clicks, impressions, conversions), one row per rule, entity and day."""
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
    revenue = frame["revenue"].to_numpy(float)
    clicks = frame["clicks"].to_numpy(float)
    impressions = frame["impressions"].to_numpy(float)
    conversions = frame["conversions"].to_numpy(float)
    p_cost, p_rev = _trailing_sum(cost, pos, w), _trailing_sum(revenue, pos, w)
    p_clicks, p_conv = _trailing_sum(clicks, pos, w), _trailing_sum(conversions, pos, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(cost > 0, revenue / cost, np.nan)
        base_roi = np.where(p_cost > 0, p_rev / p_cost, np.nan)
        cr = np.where(clicks > 0, conversions / clicks, np.nan)
        base_cr = np.where(p_clicks > 0, p_conv / p_clicks, np.nan)
        aov = np.where(p_conv > 0, p_rev / p_conv, np.nan)
        frame["_log_roi"] = np.log((revenue + 1.0) / (cost + 1.0))
        frame["_log_cost"] = np.log1p(cost)
        frame["_ctr"] = np.where(impressions > 0, clicks / impressions, np.nan)
        frame["_cr"] = cr
    # Conversions the day should bring at the baseline: the Poisson noise of a count this
    # size is a floor under any spread estimated from a few days.
    with np.errstate(divide="ignore", invalid="ignore"):
        expected_conv = np.where(aov > 0, base_roi * cost / aov, np.nan)
    poisson_floor = 1.0 / np.sqrt(np.maximum(np.nan_to_num(expected_conv), 1.0))
    z = {}
    # The spend baseline is the plain median of the days before (the z test above works on
    # log spend): "factor x median" means what it says, to the cent.
    med_cost = _trailing_median(frame, "cost", w)
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
            "low_only": low_only[mask], "cost": cost[mask]}))

    def _baseline_for(rule: str) -> np.ndarray:
        baselines = {"roi_drop": base_roi, "cost_spike": med_cost, "low_conversion": base_cr}
        return baselines.get(rule, base_roi)

    with np.errstate(invalid="ignore"):
        # ROI: a big move against the campaign's own baseline, or crossing the absolute line.
        # Revenue in units of the baseline order value, with 20 % slack for order values
        # that drift: as few "orders" as this out of a Poisson(expected) is the test.
        orders = np.floor(np.nan_to_num(revenue / (0.8 * aov)))
        roi_tail = stats.poisson.cdf(orders, np.nan_to_num(expected_conv))
        relative = (busy & (roi < _RELATIVE_DROP * base_roi) & (z["roi"] < -sens)
                    & (roi_tail < stats.norm.sf(sens)))
        absolute = (busy & ~relative & (roi < thresholds) & (base_roi >= thresholds)
                    & (z["roi"] < -2.5))
        roi_threshold = np.where(roi < thresholds, thresholds, _RELATIVE_DROP * base_roi)
        emit("roi_drop", relative | absolute, roi, roi_threshold,
             np.maximum(base_roi * cost - revenue, 0), z["roi"], absolute)

        spike = enough & (cost > cfg.cost_spike_factor * med_cost) & (z["cost"] > sens)
        emit("cost_spike", spike, cost, cfg.cost_spike_factor * med_cost,
             np.maximum(cost - med_cost, 0), z["cost"], np.zeros(len(cost), bool))

        expected = clicks * base_cr
        tail = stats.poisson.cdf(conversions, np.where(np.isfinite(expected), expected, 0))
        p_limit = stats.norm.sf(sens)
        low_rel = (enough & (expected >= _MIN_EXPECTED_CONVERSIONS)
                   & (cr < _CONVERSION_DROP * base_cr) & (tail < p_limit)
                   & (z["conversion rate"] < -sens))
        floor_clicks = 3.0 / max(cfg.min_conversion_rate, 1e-9)
        low_floor = (enough & ~low_rel & (cr < cfg.min_conversion_rate)
                     & (base_cr >= cfg.min_conversion_rate) & (clicks >= floor_clicks)
                     & (tail < stats.norm.sf(2.5)))
        conv_z = stats.norm.isf(np.clip(tail, 1e-300, 1.0))
        emit("low_conversion", low_rel | low_floor, cr,
             np.where(low_floor, cfg.min_conversion_rate, _CONVERSION_DROP * base_cr),
             np.maximum(expected - conversions, 0) * np.nan_to_num(aov), conv_z, low_floor)

        fired = relative | absolute | spike | low_rel | low_floor
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
            return pd.read_csv(buffer, header=None, names=columns, dtype=dtypes,
                               na_filter=False)
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


def _channel_frame(conn: sa.Connection, start: dt.date, end: dt.date) -> pd.DataFrame:
    frame = _read(conn, "SELECT channel, date, cost, revenue, clicks, impressions, conversions "
                        "FROM channel_days WHERE date BETWEEN :s AND :e", start, end,
                  ["channel", "date", "cost", "revenue", "clicks", "impressions", "conversions"])
    frame.insert(0, "key", "channel:" + frame["channel"].astype(str))
    frame["entity"] = None
    return _sorted(frame)


def _dates(values: pd.Series) -> np.ndarray:
    # Few distinct days over many rows: convert each once.
    codes, uniques = pd.factorize(values)
    return np.array([as_date(u) for u in uniques], dtype=object)[codes]


# -- messages ---------------------------------------------------------------------------------

def _money(v: float) -> str:
    return f"${v:,.0f}"


def message(rule: str, entity: str, row: dict, cfg: AlertSettings) -> str:
    """One sentence a marketer reads at a glance."""
    w = cfg.baseline_days
    spend = _money(row["cost"])
    base = row.get("baseline")
    if rule == "roi_drop":
        return (f"ROI fell to {row['metric_value']:.2f} on {entity} (trailing {w}-day: "
                f"{base:.2f}), spend {spend} that day")
    if rule == "cost_spike":
        return (f"Spend jumped to {spend} on {entity} (trailing {w}-day median: "
                f"{_money(base)}), {row['metric_value'] / base:.1f}× the usual")
    if rule == "low_conversion":
        return (f"Conversion rate fell to {row['metric_value']:.2%} on {entity} (trailing "
                f"{w}-day: {base:.2%}), spend {spend} that day")
    metric = row.get("metric", "a metric")
    value = row["metric_value"]
    shown = f"{value:.2%}" if metric in ("ctr", "conversion rate") else (
        _money(value) if metric == "cost" else f"{value:.2f}")
    return (f"Unusual {metric.upper() if metric == 'ctr' else metric} on {entity}: {shown}, "
            f"{row['deviation']:.1f} robust standard deviations from its last {w} days")


# -- incidents and writing -------------------------------------------------------------------

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
        frames = [_campaign_frame(conn, load_from, until), _channel_frame(conn, load_from, until)]
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
            counts = frame.groupby("key").size()
            report.short_history += int(
                (counts[counts.index.isin(in_window["key"].unique())] <= _MIN_HISTORY).sum())
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
    with engine.begin() as conn:
        _write(conn, incidents, entity_last, since, cfg, report)
    report.seconds = time.perf_counter() - t0
    return report


def _write(conn: sa.Connection, incidents: list[dict], entity_last: dict[str, dt.date],
           since: dt.date, cfg: AlertSettings, report: DetectionReport) -> None:
    lookback = since - dt.timedelta(days=cfg.baseline_days + 1)
    existing = conn.execute(sa.select(*Alert.__table__.c).where(
        Alert.alert_type.in_(RULES),
        sa.or_(Alert.status == "open", Alert.last_seen >= lookback))).all()
    by_key = {a.alert_key: a for a in existing}
    by_entity: dict[tuple[str, str], list] = {}
    for a in existing:
        by_entity.setdefault((a.alert_type, _entity_key(a)), []).append(a)
    touched: set[int] = set()
    new_rows: list[dict] = []
    now = dt.datetime.now(dt.UTC)
    for inc in incidents:
        rule, key = inc["rule"], inc["key"]
        label = inc["entity"] or f"{key.split(':', 1)[1]} (all campaigns)"
        worst = inc["worst"]
        text = message(rule, label, worst, cfg)
        prior = by_key.get(_alert_key(rule, key, inc["first"]))
        if prior is None:
            # The same incident seen through another window: an alert of this rule and
            # entity whose days touch these (still open, or resolved by an earlier run whose
            # window ended where this one's begins).
            for candidate in by_entity.get((rule, key), ()):
                if candidate.date is None or candidate.last_seen is None:
                    continue
                if ((inc["first"] - as_date(candidate.last_seen)).days <= 1
                        and (as_date(candidate.date) - inc["last"]).days <= 1):
                    prior = candidate
                    break
        last_data = entity_last.get(key)
        if prior is not None:
            last_seen = as_date(prior.last_seen or prior.date)
            first_seen = as_date(prior.date or last_seen)
            new_money = sum(m for d, m in inc["days"].items() if d > last_seen or d < first_seen)
            values = {"last_seen": max(last_seen, inc["last"]),
                      "money_at_stake": float((prior.money_at_stake or 0) + new_money),
                      **_state(max(last_seen, inc["last"]), last_data)}
            if inc["first"] < first_seen:
                values["date"] = inc["first"]
            if _SEVERITY_RANK[inc["severity"]] > _SEVERITY_RANK.get(prior.severity, 0):
                values["severity"] = inc["severity"]
            if _is_worse(rule, worst["metric_value"], prior.worst_value):
                threshold = worst["threshold_value"]
                values.update(worst_value=float(worst["metric_value"]), message=text,
                              metric_value=float(worst["metric_value"]),
                              threshold_value=None if threshold is None or np.isnan(threshold)
                              else float(threshold))
            if any(_changed(getattr(prior, k), v) for k, v in values.items()):
                conn.execute(sa.update(Alert).where(Alert.id == prior.id)
                             .values(**values, updated_at=now))
                if prior.status == "open" and values["status"] == "resolved":
                    report.resolved += 1
                else:
                    report.updated += 1
            touched.add(prior.id)
            continue
        threshold = worst["threshold_value"]
        new_rows.append(dict(
            alert_type=rule, severity=inc["severity"], channel=worst["channel"], message=text,
            metric_value=float(worst["metric_value"]),
            threshold_value=None if threshold is None or np.isnan(threshold) else float(threshold),
            is_read=False, campaign_id=inc["entity"], date=inc["first"],
            alert_key=_alert_key(rule, key, inc["first"]), last_seen=inc["last"],
            worst_value=float(worst["metric_value"]), money_at_stake=inc["money"],
            **_state(inc["last"], last_data)))
        report.raised[rule] += 1
    if new_rows:
        conn.execute(sa.insert(Alert), new_rows)
    # Recovered: an open alert whose entity has data after its last breach day.
    for a in existing:
        if a.status != "open" or a.id in touched or a.last_seen is None:
            continue
        last_data = entity_last.get(_entity_key(a))
        if last_data is not None and last_data > as_date(a.last_seen):
            conn.execute(sa.update(Alert).where(Alert.id == a.id).values(
                status="resolved", resolved_on=as_date(a.last_seen) + dt.timedelta(days=1),
                updated_at=now))
            report.resolved += 1


def _state(last_breach: dt.date, last_data: dt.date | None) -> dict:
    """Open while the newest day still breaches; resolved from the first day that does not."""
    if last_data is not None and last_data > last_breach:
        return {"status": "resolved", "resolved_on": last_breach + dt.timedelta(days=1)}
    return {"status": "open", "resolved_on": None}


def _changed(old: Any, new: Any) -> bool:
    if isinstance(new, float) and old is not None:
        return not math.isclose(float(old), new, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(new, dt.date) and old is not None:
        return as_date(old) != new
    return old != new


def _is_worse(rule: str, new: float, old: float | None) -> bool:
    if old is None:
        return True
    return new < old if rule in ("roi_drop", "low_conversion") else new > old


def _entity_key(a: Any) -> str:
    return a.campaign_id if a.campaign_id else f"channel:{a.channel}"


def _alert_key(rule: str, key: str, first: dt.date) -> str:
    return f"{rule}:{key}:{first.isoformat()}"


def run_detection(engine: sa.Engine, *, since: dt.date | None = None, until: dt.date | None = None,
                  settings: Settings | None = None) -> DetectionReport:
    """``detect`` with the saved settings; a failure leaves a ``system`` alert, never silence."""
    try:
        cfg = load_alert_settings(engine, settings)
        return detect(engine, since=since, until=until, cfg=cfg)
    except Exception as exc:  # noqa: BLE001 - any failure must become a visible alert
        reason = _describe(exc)
        try:
            with engine.begin() as conn:
                stamp = dt.datetime.now(dt.UTC)
                conn.execute(sa.insert(Alert).values(
                    alert_type="system", severity="high", channel=None,
                    message=f"Alert detection failed: {reason}", is_read=False,
                    alert_key=f"system:detection:{stamp.isoformat()}", status="open",
                    date=stamp.date(), last_seen=stamp.date()))
        except sa.exc.SQLAlchemyError:
            pass  # the database itself is down: the caller reports the error
        return DetectionReport(error=reason)


def _describe(exc: Exception) -> str:
    if isinstance(exc, sa.exc.SQLAlchemyError):
        orig = getattr(exc, "orig", None)
        first = str(orig or exc).strip().splitlines()[0][:200]
        return f"database error ({first})"
    return f"{type(exc).__name__}: {str(exc)[:200]}"


# -- reading and working through alerts -------------------------------------------------------

@dataclass(frozen=True)
class AlertFilter:
    severities: tuple[str, ...] = ()      # empty = all
    types: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    start: dt.date | None = None          # on the incident's days (first day .. last seen)
    end: dt.date | None = None
    unread_only: bool = False
    status: str | None = None             # "open" / "resolved" / None for both


def list_alerts(engine: sa.Engine, f: AlertFilter = AlertFilter(), *, limit: int = 500) -> pd.DataFrame:
    """Alerts matching ``f``: unread first, then the most severe, then the newest."""
    a = Alert.__table__.c
    q = sa.select(a.id, a.alert_type, a.severity, a.channel, a.campaign_id, a.date, a.last_seen,
                  a.status, a.message, a.metric_value, a.threshold_value, a.money_at_stake,
                  a.is_read, a.created_at)
    if f.severities:
        q = q.where(a.severity.in_(f.severities))
    if f.types:
        q = q.where(a.alert_type.in_(f.types))
    if f.channels:
        q = q.where(sa.or_(a.channel.in_(f.channels), a.channel.is_(None)))
    if f.start is not None:
        q = q.where(sa.func.coalesce(a.last_seen, a.date) >= f.start)
    if f.end is not None:
        q = q.where(a.date <= f.end)
    if f.unread_only:
        q = q.where(a.is_read.is_(False))
    if f.status:
        q = q.where(a.status == f.status)
    rank = sa.case({s: i for i, s in enumerate(SEVERITIES)}, value=a.severity, else_=0)
    q = q.order_by(a.is_read, rank.desc(), a.date.desc(), a.id.desc()).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=[
        "id", "alert_type", "severity", "channel", "campaign_id", "date", "last_seen", "status",
        "message", "metric_value", "threshold_value", "money_at_stake", "is_read", "created_at"])
    for column in ("date", "last_seen"):
        frame[column] = [None if v is None else as_date(v) for v in frame[column]]
    frame["is_read"] = frame["is_read"].astype(bool)
    return frame


def set_read(engine: sa.Engine, ids: list[int], read: bool = True) -> int:
    """Mark alerts read (or unread); returns how many changed."""
    if not ids:
        return 0
    with engine.begin() as conn:
        result = conn.execute(sa.update(Alert).where(Alert.id.in_([int(i) for i in ids]),
                                                     Alert.is_read.is_(not read))
                              .values(is_read=read))
    return result.rowcount


def alert_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Alert)).scalar_one()


def unread_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(Alert)
                            .where(Alert.is_read.is_(False))).scalar_one()

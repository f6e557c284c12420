"""Alerts in the database: incidents written once and kept up to date, and the list people
work through.

An incident (consecutive breach days of one rule on one campaign or channel, merged by
``demetra.alerts.detection``) is one alert, updated (last seen, worst value, money at stake)
while it lasts and resolved when the metric recovers: from the first day with data that does
not breach. Keys are rule + entity + first day, so re-running over the same days changes
nothing; an incident seen again through another window (an incremental run, a wider one)
extends the alert it already has, unless it was proved by a window that starts after the
days of the lead it touches (``_proved_after``: detection keeps them apart in one run too).
Read marks are never undone by detection.

An incident that cannot be written (its message or its row raises) is skipped, counted in
the report and named in one ``system`` alert; the others are written. ``run_detection`` is
what the app, the worker and the CLI call: detection with the saved settings, where any
failure of the run leaves a ``system`` alert instead of silence. It imports the
detection (and so scipy) only when it runs: counting unread alerts, which every page of the
app does, stays light.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pandas as pd
import sqlalchemy as sa

from demetra.alerts.messages import message
from demetra.alerts.settings import AlertSettings, load_alert_settings
from demetra.config import Settings
from demetra.db.models import Alert
from demetra.format import DEFAULT_CURRENCY
from demetra.queries import as_date

RULES = ("roi_drop", "cost_spike", "low_conversion", "cpa_rise", "anomaly")
ALERT_TYPES = (*RULES, "system")
SEVERITIES = ("low", "medium", "high", "critical")
_SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


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
    # Incidents found but not written (their message or their row raised): one line each,
    # "rule on entity from day: reason"; a system alert names them.
    skipped: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.error:
            return f"Detection failed: {self.error}"
        if self.since is None:
            return "No campaign data to check."
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(self.raised.items())) or "none"
        text = (f"Checked {self.rows_scanned:,} rows ({self.since} to {self.until}) in "
                f"{self.seconds:.1f} s: {sum(self.raised.values())} new alerts ({kinds}), "
                f"{self.updated} updated, {self.resolved} resolved; {self.short_history} "
                f"campaigns had too little history for baselines.")
        if self.skipped:
            n = len(self.skipped)
            text += (f" {n} incident{'s' if n != 1 else ''} could not be written and "
                     f"{'were' if n != 1 else 'was'} skipped (a system alert names "
                     f"{'them' if n != 1 else 'it'}).")
        return text


# -- writing incidents ------------------------------------------------------------------------

# How many skipped incidents the system alert names one by one.
_SKIPPED_SHOWN = 5


def _write(conn: sa.Connection, incidents: list[dict], entity_last: dict[str, dt.date],
           since: dt.date, cfg: AlertSettings, report: DetectionReport, *,
           currency: str = DEFAULT_CURRENCY) -> None:
    """Write ``incidents`` (each with its ``label``, how people name its entity) in the
    caller's transaction. One incident whose message or row raises is skipped and counted
    (``report.skipped``), never the run: each statement runs in a savepoint, so a refused
    row leaves the others and the transaction intact; one ``system`` alert names what was
    skipped, only when something was. A lost database still fails the whole run."""
    _begin(conn)
    lookback = since - dt.timedelta(days=cfg.baseline_days + 1)
    # Kept as they are written: two incidents of one run may continue one alert (days that
    # a window proved on either side of a day an earlier run had written), and the second
    # must add to what the first wrote, not to what was there before.
    existing = [SimpleNamespace(**r._mapping) for r in conn.execute(
        sa.select(*Alert.__table__.c).where(
            Alert.alert_type.in_(RULES),
            sa.or_(Alert.status == "open", Alert.last_seen >= lookback)))]
    by_key = {a.alert_key: a for a in existing}
    by_entity: dict[tuple[str, str], list] = {}
    for a in existing:
        by_entity.setdefault((a.alert_type, _entity_key(a)), []).append(a)
    touched: set[int] = set()
    new_rows: list[tuple[dict, str]] = []
    now = dt.datetime.now(dt.UTC)
    for inc in incidents:
        label = _label(inc)
        try:
            row = _write_one(conn, inc, label, by_key, by_entity, entity_last, touched, cfg,
                             report, currency, now)
        except Exception as exc:  # noqa: BLE001 - one incident never stops the run
            _skip(report, inc, label, exc)
            continue
        if row is not None:
            new_rows.append((row, label))
    _insert(conn, new_rows, report)
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
    if report.skipped:
        n = len(report.skipped)
        shown = "; ".join(report.skipped[:_SKIPPED_SHOWN])
        more = f"; and {n - _SKIPPED_SHOWN} more" if n > _SKIPPED_SHOWN else ""
        conn.execute(sa.insert(Alert).values(
            alert_type="system", severity="high", channel=None,
            message=(f"Alert detection skipped {n} incident{'s' if n != 1 else ''} it could "
                     f"not write (the others were written): {shown}{more}"),
            is_read=False, alert_key=f"system:skipped:{now.isoformat()}", status="open",
            date=now.date(), last_seen=now.date()))


def _proved_after(inc: dict, alert: Any) -> bool:
    """A graded incident proved by a window that starts after the days of a lead (an alert
    of severity low) it touches: its own alert, as detection keeps it apart from the lead in
    one run (``detection._proved_apart``), so that daily runs raise what one full run does."""
    proof_from = inc.get("proof_from")
    return (alert.severity == "low" and inc["severity"] != "low" and proof_from is not None
            and proof_from > as_date(alert.last_seen))


def _label(inc: dict) -> str:
    """The campaign's name (``detection.campaign_labels``), its id without one, or the
    channel's totals."""
    return str(inc.get("label") or inc.get("entity")
               or f"{str(inc.get('key')).split(':', 1)[-1]} (all campaigns)")


def _write_one(conn: sa.Connection, inc: dict, label: str, by_key: dict, by_entity: dict,
               entity_last: dict[str, dt.date], touched: set[int], cfg: AlertSettings,
               report: DetectionReport, currency: str, now: dt.datetime) -> dict | None:
    """Update the alert ``inc`` continues (in a savepoint), or return the row of a new one."""
    rule, key = inc["rule"], inc["key"]
    worst = inc["worst"]
    prior = by_key.get(_alert_key(rule, key, inc["first"]))
    if prior is None:
        # The same incident seen through another window: an alert of this rule and
        # entity whose days touch these (still open, or resolved by an earlier run whose
        # window ended where this one's begins).
        for candidate in by_entity.get((rule, key), ()):
            if candidate.date is None or candidate.last_seen is None:
                continue
            if ((inc["first"] - as_date(candidate.last_seen)).days <= 1
                    and (as_date(candidate.date) - inc["last"]).days <= 1
                    and not _proved_after(inc, candidate)):
                prior = candidate
                break
    if prior is not None:
        # Kept open (not resolved below as recovered) even if this update fails.
        touched.add(prior.id)
    text = message(rule, label, worst, cfg, currency=currency)
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
            values.update(worst_value=float(worst["metric_value"]), message=text,
                          metric_value=float(worst["metric_value"]),
                          threshold_value=_optional(worst["threshold_value"]))
        elif (text != prior.message and prior.worst_value is not None
              and not _changed(prior.worst_value, float(worst["metric_value"]))):
            # The same worst day, with the campaign named as it is named now (an alert
            # written by id before, a campaign renamed, a second campaign of its name).
            values["message"] = text
        if any(_changed(getattr(prior, k), v) for k, v in values.items()):
            with conn.begin_nested():
                conn.execute(sa.update(Alert).where(Alert.id == prior.id)
                             .values(**values, updated_at=now))
            if prior.status == "open" and values["status"] == "resolved":
                report.resolved += 1
            else:
                report.updated += 1
            vars(prior).update(values)
        return None
    return dict(
        alert_type=rule, severity=inc["severity"], channel=worst["channel"], message=text,
        metric_value=float(worst["metric_value"]),
        threshold_value=_optional(worst["threshold_value"]),
        is_read=False, campaign_id=inc["entity"], date=inc["first"],
        alert_key=_alert_key(rule, key, inc["first"]), last_seen=inc["last"],
        worst_value=float(worst["metric_value"]), money_at_stake=float(inc["money"]),
        **_state(inc["last"], last_data))


def _insert(conn: sa.Connection, rows: list[tuple[dict, str]], report: DetectionReport) -> None:
    """The new alerts in one statement; if it is refused, one by one, skipping the rows that
    are refused (each in its own savepoint, so the others stand)."""
    if not rows:
        return
    try:
        with conn.begin_nested():
            conn.execute(sa.insert(Alert), [r for r, _ in rows])
        written = rows
    except Exception as exc:  # noqa: BLE001 - find the row that was refused
        if _fatal(exc):
            raise
        written = []
        for row, label in rows:
            try:
                with conn.begin_nested():
                    conn.execute(sa.insert(Alert), [row])
            except Exception as one:  # noqa: BLE001 - one row never stops the run
                _skip(report, {"rule": row["alert_type"], "first": row["date"]}, label, one)
                continue
            written.append((row, label))
    for row, _ in written:
        report.raised[row["alert_type"]] += 1


def _skip(report: DetectionReport, inc: dict, label: str, exc: Exception) -> None:
    if _fatal(exc):
        raise exc
    report.skipped.append(f"{inc.get('rule')} on {label} from {inc.get('first')}: "
                          f"{_describe(exc)}")


def _fatal(exc: Exception) -> bool:
    """A database that is gone or locked: not one incident's fault, the run fails."""
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError) or bool(
        getattr(exc, "connection_invalidated", False))


def _begin(conn: sa.Connection) -> None:
    """Make sure the database transaction has begun. pysqlite begins one only before a write;
    a SAVEPOINT as the first statement would start one of its own, and its RELEASE commit the
    rows written so far, outside the run's transaction."""
    if conn.dialect.name == "sqlite":
        raw = conn.connection.driver_connection
        if not raw.in_transaction:
            raw.execute("BEGIN")


def _optional(value: Any) -> float | None:
    if value is None:
        return None
    v = float(value)
    return None if math.isnan(v) else v


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


# -- a run that never fails silently ----------------------------------------------------------

def run_detection(engine: sa.Engine, *, since: dt.date | None = None, until: dt.date | None = None,
                  settings: Settings | None = None) -> DetectionReport:
    """``detect`` with the saved settings; a failure leaves a ``system`` alert, never silence."""
    try:
        from demetra.alerts.detection import detect  # scipy: only when detection runs

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
    rank = sa.case(_SEVERITY_RANK, value=a.severity, else_=0)
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

"""The facts a recommendation may rest on, and the check that an answer rests on nothing else.

``build_context`` gathers, for a period and channel filter, the KPIs with their deltas, the
channel table, the budget allocator's result, the riskiest campaigns from predictions and the
open alerts — rounded the way they will be quoted, so that the LLM and the rules engine see
exactly the same numbers. ``grounding_problems`` then finds every number an answer states and
looks it up among those facts (in the usual spellings: 1,234.5 / $1.2K / 12% / 0.12).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from demetra import queries
from demetra.queries import Filters

BREAK_EVEN_ROI = 1.0
RISKY_CAMPAIGNS = 5
OPEN_ALERTS = 8
LARGEST_CAMPAIGNS = 5


@dataclass(frozen=True)
class Context:
    """What a writer of recommendations is given: ``facts`` (JSON-ready, every number rounded
    as it may be quoted) and the targets a recommendation may name."""

    facts: dict[str, Any]
    channels: tuple[str, ...]
    campaigns: Mapping[str, str] = field(default_factory=dict)  # campaign_id -> name

    @property
    def targets(self) -> set[str]:
        return {*self.channels, *self.campaigns}

    def data_block(self) -> str:
        """The facts as JSON for a prompt. Every imported string stays inside a JSON string;
        ``<`` and ``>`` are escaped too, so no name can close the block it sits in."""
        text = json.dumps(self.facts, ensure_ascii=True, indent=1, sort_keys=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e")


# -- rounding: the facts hold numbers as they may be quoted ---------------------------------

def money(value: Any) -> float | None:
    return None if _missing(value) else round(float(value), 2)


def ratio(value: Any) -> float | None:
    return None if _missing(value) else round(float(value), 3)


def pct(value: Any) -> float | None:
    """A fraction (0.123) as a percentage (12.3)."""
    return None if _missing(value) else round(100.0 * float(value), 1)


def _missing(value: Any) -> bool:
    try:
        return value is None or not math.isfinite(float(value))
    except (TypeError, ValueError):
        return True


# -- building the context --------------------------------------------------------------------

def build_context(engine: sa.Engine, f: Filters, *, budget_window_days: int = 90) -> Context:
    """The facts for period ``f`` (its channels; its search is ignored: recommendations are
    about whole channels and campaigns). Pieces that are not available (no predictions, no
    allocator fit) are replaced by a note saying so, never dropped silently."""
    f = Filters(f.start, f.end, f.channels)
    notes: list[str] = []
    facts: dict[str, Any] = {
        "period": {"start": f.start.isoformat(), "end": f.end.isoformat(), "days": f.days,
                   "previous_start": f.previous().start.isoformat(),
                   "previous_end": f.previous().end.isoformat()},
        "channel_filter": list(f.channels) or "all channels",
        "currency": queries.reporting_currency(engine),
        "break_even_roi": BREAK_EVEN_ROI,
    }
    facts["kpis"] = _kpis(engine, f)
    channel_rows = _channels(engine, f)
    facts["channels"] = channel_rows
    channels = tuple(r["channel"] for r in channel_rows)
    campaigns: dict[str, str] = {}

    largest = queries.top_campaigns(engine, f, by="cost", n=LARGEST_CAMPAIGNS)
    facts["largest_campaigns"] = [
        {"campaign_id": str(r.campaign_id), "name": str(r.campaign_name), "channel": r.channel,
         "spend": money(r.cost), "revenue": money(r.revenue), "roi": ratio(r.roi)}
        for r in largest.itertuples()]
    campaigns.update({c["campaign_id"]: c["name"] for c in facts["largest_campaigns"]})

    facts["budget"] = _budget(engine, f, budget_window_days, notes)
    risky, names = _risky(engine, f, notes)
    facts["riskiest_campaigns"] = risky
    if risky:
        facts["forecast_interval_pct"] = 80  # P10–P90
    campaigns.update(names)
    alerts, names = _alerts(engine, f)
    facts["open_alerts"] = alerts
    facts["open_alerts_count"] = len(alerts)
    campaigns.update(names)
    if not alerts:
        notes.append("No open alerts in this period.")
    facts["notes"] = notes
    return Context(facts=facts, channels=channels, campaigns=campaigns)


def _kpis(engine: sa.Engine, f: Filters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kinds = {"cost": money, "revenue": money, "conversions": money, "clicks": _int,
             "roi": ratio, "ctr": pct, "conversion_rate": pct, "cpa": money}
    names = {"cost": "spend", "ctr": "ctr_pct", "conversion_rate": "conversion_rate_pct"}
    for key, d in queries.kpis_with_delta(engine, f).items():
        if key not in kinds:
            continue
        rnd = kinds[key]
        out[names.get(key, key)] = {"value": rnd(d.value), "previous": rnd(d.previous),
                                    "change_pct": pct(d.change)}
    return out


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _channels(engine: sa.Engine, f: Filters) -> list[dict[str, Any]]:
    df = queries.channel_breakdown(engine, f)
    return [{"channel": r.channel, "spend": money(r.cost), "revenue": money(r.revenue),
             "roi": ratio(r.roi), "conversions": money(r.conversions),
             "conversion_rate_pct": pct(r.conversion_rate), "cpa": money(r.cpa),
             "share_of_spend_pct": pct(r.share_of_cost), "campaigns": int(r.campaigns)}
            for r in df.itertuples()]


def _budget(engine: sa.Engine, f: Filters, window_days: int, notes: list[str]) -> dict[str, Any]:
    try:
        from demetra import budget

        # The split is among the chosen channels only: money never moves to one the reader
        # filtered out.
        curves = budget.fit_curves(engine, end=f.end, window_days=window_days,
                                   channels=f.channels or None)
        if not curves:
            raise ValueError("no channel has enough spend variation to fit a response curve")
        result = budget.allocate(curves, sum(c.current_spend for c in curves.values()))
        for channel, why in getattr(curves, "skipped", {}).items():
            notes.append(f"No response curve for {channel}: {why}")
    except Exception as exc:  # noqa: BLE001 - any failure becomes a stated gap in the facts
        notes.append(f"The budget allocator could not run: {exc}")
        return {"available": False, "reason": str(exc)}
    if not result.feasible:
        notes.append(f"The budget allocator found no split: {result.message}")
        return {"available": True, "feasible": False, "reason": result.message}
    rows = []
    for channel, recommended in result.allocation.items():
        current = result.current.get(channel, 0.0)
        rows.append({
            "channel": channel,
            "current_daily_spend": money(current),
            "recommended_daily_spend": money(recommended),
            "change_daily_spend": money(recommended - current),
            "change_pct": pct(recommended / current - 1.0) if current else None,
            "marginal_roi_now": ratio(curves[channel].marginal_roi(current)),
            "marginal_roi_after": ratio(result.marginal_roi.get(channel)),
        })
    out: dict[str, Any] = {
        "available": True,
        "feasible": bool(result.feasible),
        "fit_window_days": window_days,
        "daily_total": money(result.total),
        "current_expected_daily_revenue": money(result.current_revenue),
        "recommended_expected_daily_revenue": money(result.expected_revenue),
        "expected_daily_revenue_low": money(result.revenue_low),
        "expected_daily_revenue_high": money(result.revenue_high),
        "daily_revenue_change": money(result.expected_revenue - result.current_revenue),
        "revenue_change_pct": pct(result.expected_revenue / result.current_revenue - 1.0)
        if result.current_revenue else None,
        "revenue_change_over_period": money((result.expected_revenue - result.current_revenue)
                                            * f.days),
        "weekly_revenue_change": money((result.expected_revenue - result.current_revenue) * 7),
        "daily_spend_moved": money(sum(max(r - result.current.get(c, 0.0), 0.0)
                                       for c, r in result.allocation.items())),
        "current_roi": ratio(result.current_roi),
        "recommended_roi": ratio(result.expected_roi),
        "channels": rows,
    }
    if result.message:
        out["message"] = result.message
    return out


def _risky(engine: sa.Engine, f: Filters, notes: list[str]) -> tuple[list[dict], dict[str, str]]:
    from demetra.ml.predict import latest_predictions

    preds = latest_predictions(engine, limit=2_000)
    if preds.empty:
        notes.append("No ROI predictions exist yet (train the model on the Predictions page).")
        return [], {}
    info = queries.campaign_names(engine, [str(c) for c in preds["campaign_id"]])
    rows = []
    for r in preds.itertuples():
        name, channel = info.get(str(r.campaign_id), ("", None))
        if f.channels and channel not in f.channels:
            continue
        rows.append({"campaign_id": str(r.campaign_id), "name": name, "channel": channel,
                     "predicted_roi": ratio(r.predicted_roi), "roi_low": ratio(r.predicted_roi_low),
                     "roi_high": ratio(r.predicted_roi_high), "prob_loss_pct": pct(r.prob_loss),
                     "risk": r.risk_level, "horizon_days": int(r.horizon_days),
                     "forecast_from": str(queries.as_date(r.as_of))})
        if len(rows) == RISKY_CAMPAIGNS:
            break
    return rows, {r["campaign_id"]: r["name"] for r in rows}


def _alerts(engine: sa.Engine, f: Filters) -> tuple[list[dict], dict[str, str]]:
    from demetra.alerts import AlertFilter, list_alerts

    df = list_alerts(engine, AlertFilter(channels=f.channels, start=f.start, end=f.end,
                                         status="open"), limit=OPEN_ALERTS)
    df = df[df["alert_type"] != "system"]
    rows, ids = [], []
    for r in df.itertuples():
        row = {"type": r.alert_type, "severity": r.severity, "channel": r.channel,
               "campaign_id": None if r.campaign_id is None else str(r.campaign_id),
               "first_day": str(r.date), "last_seen": str(r.last_seen or r.date),
               "value": ratio(r.metric_value), "threshold": ratio(r.threshold_value),
               "money_at_stake": money(r.money_at_stake)}
        rows.append(row)
        if row["campaign_id"]:
            ids.append(row["campaign_id"])
    info = queries.campaign_names(engine, ids)
    for row in rows:
        if row["campaign_id"]:
            row["name"] = info.get(row["campaign_id"], ("", None))[0]
    return rows, {i: info.get(i, ("", None))[0] for i in ids}


# -- grounding -------------------------------------------------------------------------------

# ISO dates are names of days, not figures; other ways of writing a date ("June 30, 2026")
# are read as numbers and found among the parts of the facts' dates.
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# A number as people write it: optional currency, thousands separators, decimals, a K/M/B
# (or thousand/million/billion) multiplier, a percent sign. Digits glued to letters or dots
# (ids like "fb-0012", versions) are not numbers.
_NUMBER = re.compile(
    r"(?<![\w.])(?P<cur>[$€£])?\s?(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:\s?(?P<suf>thousand|million|billion|bn|MM|[kKmMbB])(?![A-Za-z]))?"
    r"(?P<pct>\s?%|\s?percent\b|\s?pp\b)?")
_SCALE = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9,
          "billion": 1e9}


@dataclass(frozen=True)
class Stated:
    text: str
    value: float
    tolerance: float
    kind: str = "plain"      # "money" (currency or multiplier), "pct" or "plain"


def stated_numbers(text: str, *, ignore: Iterable[str] = ()) -> list[Stated]:
    """Every number ``text`` states, with the tolerance its written precision implies.
    ``ignore``: names and ids whose whole-word occurrences are not numbers."""
    for word in sorted({w for w in ignore if w}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(word)}(?![\w])", " ", text)
    text = _ISO_DATE.sub(" ", text)
    out = []
    for m in _NUMBER.finditer(text):
        raw = m.group("num")
        digits = raw.replace(",", "")
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        suffix = m.group("suf") or ""
        scale = _SCALE.get(suffix.lower(), 1.0)
        kind = "pct" if m.group("pct") else "money" if (m.group("cur") or suffix) else "plain"
        out.append(Stated(m.group(0).strip(), float(digits) * scale,
                          0.5 * 10.0 ** -decimals * scale, kind))
    return out


def fact_numbers(facts: Any) -> list[float]:
    """Every number in the facts: values, the numbers written inside their texts (an
    allocator's message), and the parts of every date (a day of month is a number an answer
    may state)."""
    return sorted({abs(v) for v in _walk(facts)})


_NOT_TEXT = {"name", "campaign_id", "channel"}


def _walk(value: Any, key: str = "") -> Iterator[float]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            yield float(value)
    elif isinstance(value, str):
        try:
            d = dt.date.fromisoformat(value)
        except ValueError:
            if key not in _NOT_TEXT:
                yield from (s.value for s in stated_numbers(value))
            return
        yield from (float(d.year), float(d.month), float(d.day))
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v, key)


def is_grounded(stated: Stated, numbers: list[float]) -> bool:
    """Found within the rounding its writing implies. A percentage may be a fact kept as a
    percentage (12.3) or as a fraction (0.123); a plain number below 1.5 may be a fraction
    written for a percentage fact (0.12 ~ 12.3%). Money is compared as money only. Signs are
    not compared ("down 12%" ~ -12.0)."""
    v = abs(stated.value)
    candidates = [(v, stated.tolerance)]
    if stated.kind == "pct":
        candidates.append((v / 100.0, stated.tolerance / 100.0))
    elif stated.kind == "plain" and v < 1.5:
        candidates.append((v * 100.0, stated.tolerance * 100.0))
    for candidate, tol in candidates:
        # Within the written precision, and never closer than 0.5 % asked of a figure.
        tol = max(tol, 0.005 * candidate) + 1e-9
        if any(abs(n - candidate) <= tol for n in numbers):
            return True
    return False


def grounding_problems(answer: Mapping[str, Any], context: Context) -> list[str]:
    """What is wrong with a validated answer: numbers not in the facts, targets that don't
    exist. Empty when every stated number and every target is found."""
    labels = [*context.campaigns, *context.campaigns.values()]
    # Names and ids with a letter are removed where they stand whole; a purely numeric one
    # stays a number, and is allowed as one.
    ignore = [w for w in labels if re.search(r"[A-Za-z]", w)]
    numbers = sorted({*fact_numbers(context.facts),
                      *(float(w.replace(",", "")) for w in labels
                        if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", w))})
    problems = []
    for i, rec in enumerate(answer.get("recommendations", []), 1):
        target = str(rec.get("target", ""))
        if target not in context.targets:
            problems.append(f"recommendation {i}: target {target!r} is not a channel or campaign "
                            "id in the data")
    for where, text in _texts(answer):
        for s in stated_numbers(text, ignore=ignore):
            if not is_grounded(s, numbers):
                problems.append(f"{where}: the number {s.text!r} is not in the data")
    return problems


def _texts(answer: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    yield "summary", str(answer.get("summary", ""))
    for i, rec in enumerate(answer.get("recommendations", []), 1):
        for key in ("rationale", "expected_impact"):
            yield f"recommendation {i} {key}", str(rec.get(key, ""))
        for metric in rec.get("metrics", []) or []:
            yield f"recommendation {i} metrics", str(metric)

"""The facts a recommendation may rest on, and the check that an answer rests on nothing else.

``build_context`` gathers, for a period and channel filter, the KPIs with their deltas, the
channel table, the budget allocator's result, the riskiest campaigns from predictions and the
open alerts — rounded the way they will be quoted, so that the LLM and the rules engine see
exactly the same numbers. ``grounding_problems`` then finds every number an answer states and
looks it up among those facts (in the usual spellings: 1,234.5 / $1.2K / 12% / 0.12).

Revenue an account does not track is not a zero. The facts say what is tracked
(``revenue_tracked`` / ``results_tracked``: true, false or "partly", per channel too); a
revenue or an ROI that is not tracked is null, and the account is then read through its results
(conversions) and CPA: the costliest and cheapest CPA campaigns, the campaigns that spent
without a single result, the budget split for the most results. An account that tracks
neither (``outcome_tracked`` false) has no outcome to judge a budget move on: only its spend,
clicks, CTR and CPC can be described. ``grounding_problems`` rejects an answer that speaks of
ROI or revenue for an account, a channel or a campaign that does not track revenue, and any
budget move on an account that tracks no outcome.

Decisions rest on the facts: ``candidate_actions`` (the rules engine's decisions, with the
figures each rests on — every move of the allocator with its band, the campaigns the forecasts,
alerts and CPA single out, the tracking problems) are what any writer chooses from.
``answer_problems`` adds to the numbers check the decisions check (``decision_problems``): an
action or target no candidate holds, a move against the allocator's direction, a main move left
out, a recommendation without a figure. A change said to go up must match a fact that went up
(``wrong_direction``), and a figure that is no fact may still be the sum or difference of two
facts of one record or one list (``derived_numbers``).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from demetra import queries
from demetra.alerts.messages import campaign_label
from demetra.format import is_missing
from demetra.queries import Filters

BREAK_EVEN_ROI = 1.0
RISKY_CAMPAIGNS = 5
OPEN_ALERTS = 8
LARGEST_CAMPAIGNS = 5
CPA_CAMPAIGNS = 3          # costliest and cheapest by CPA
NO_RESULT_CAMPAIGNS = 5    # biggest spenders without a single result
TRACKED_SHARE = 0.99       # share of spend that must track an outcome for it to count as tracked


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

    @property
    def candidates(self) -> list[dict[str, Any]]:
        """The actions the facts support (``candidate_actions``): stored with the facts, or
        taken from the rules for facts that lack them (older sets, hand-made facts)."""
        found = self.facts.get("candidate_actions")
        if found is None:
            from demetra import rules

            found = rules.candidates(self)
        return list(found)

    @property
    def labels(self) -> dict[str, str]:
        """How each campaign of the facts is named to people (``campaign_labels``)."""
        return campaign_labels(self.campaigns)

    def data_block(self) -> str:
        """The facts as JSON for a prompt. Every imported string stays inside a JSON string;
        ``<`` and ``>`` are escaped too, so no name can close the block it sits in."""
        # Compact: a small local model reads every byte of it before it writes a word.
        text = json.dumps(self.facts, ensure_ascii=True, separators=(",", ":"), sort_keys=False)
        return text.replace("<", "\\u003c").replace(">", "\\u003e")


def campaign_labels(campaigns: Mapping[str, Any]) -> dict[str, str]:
    """campaign_id -> how people name it: its name, "name (id)" only where another campaign of
    ``campaigns`` has the same name, the id when it has none (as the alerts do,
    ``alerts.messages.campaign_label``)."""
    def text(name: Any) -> str:
        return "" if is_missing(name) else str(name).strip()

    holders = Counter(text(name) for name in campaigns.values())
    return {str(cid): campaign_label(cid, name, holders[text(name)] > 1)
            for cid, name in campaigns.items()}


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
    }
    raw = queries.kpis_with_delta(engine, f)
    revenue_state = _state(raw["revenue"].value, raw["revenue_cost"].value, raw["cost"].value)
    results_state = _state(raw["conversions"].value, raw["result_cost"].value,
                           raw["cost"].value)
    facts["revenue_tracked"] = revenue_state
    facts["results_tracked"] = results_state
    # Spend, clicks and impressions alone are no outcome: nothing to judge a budget move on.
    facts["outcome_tracked"] = bool(revenue_state or results_state)
    if revenue_state:
        facts["break_even_roi"] = BREAK_EVEN_ROI
    facts["kpis"] = _kpis(raw, revenue_state, results_state)
    channel_rows = _channels(engine, f)
    facts["channels"] = channel_rows
    channels = tuple(r["channel"] for r in channel_rows)
    _tracking_notes(facts, channel_rows, notes)
    campaigns: dict[str, str] = {}

    largest = queries.top_campaigns(engine, f, by="cost", n=LARGEST_CAMPAIGNS)
    facts["largest_campaigns"] = [_campaign(r) for r in largest.itertuples()]
    campaigns.update({c["campaign_id"]: c["name"] for c in facts["largest_campaigns"]})
    if results_state:
        for key, rows in _cpa_campaigns(engine, f, facts["kpis"]).items():
            facts[key] = rows
            campaigns.update({c["campaign_id"]: c["name"] for c in rows})

    facts["budget"] = _budget(engine, f, budget_window_days, notes)
    campaigns.update({c["campaign_id"]: c["name"]
                      for c in facts["budget"].get("campaigns", [])})
    risky, names = _risky(engine, f, notes, channel_rows, revenue_state)
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
    context = Context(facts=facts, channels=channels, campaigns=campaigns)
    from demetra import rules  # the rules read these facts, never the candidates

    # Last in the facts: what the writer chooses from sits next to the question it is asked.
    facts["candidate_actions"] = rules.candidates(context)
    return context


def _state(value: Any, tracked_cost: Any, cost: Any) -> bool | str:
    """Whether an outcome (its sum ``value``) is tracked: True when the spend that tracks it
    is (nearly) all the spend, False when nothing tracks it, "partly" in between."""
    if _missing(value):
        return False
    cost = float(cost or 0.0)
    if cost <= 0:
        return True
    share = float(tracked_cost or 0.0) / cost
    if share >= TRACKED_SHARE:
        return True
    return "partly" if share > 0 else False


def _kpis(raw: Mapping[str, Any], revenue_state: bool | str,
          results_state: bool | str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    kinds = {"cost": money, "revenue": money, "conversions": money, "clicks": _int,
             "roi": ratio, "ctr": pct, "conversion_rate": pct, "cpc": money, "cpa": money}
    names = {"cost": "spend", "ctr": "ctr_pct", "conversion_rate": "conversion_rate_pct"}
    if revenue_state == "partly":
        kinds["revenue_cost"] = money   # the spend the account's ROI is of
        names["revenue_cost"] = "spend_tracking_revenue"
    if results_state == "partly":
        kinds["result_cost"] = money    # the spend the account's CPA is of
        names["result_cost"] = "spend_tracking_results"
    for key, d in raw.items():
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
    rows = []
    for r in df.itertuples():
        revenue = _state(r.revenue, r.revenue_cost, r.cost)
        results = _state(r.conversions, r.result_cost, r.cost)
        row = {"channel": r.channel, "spend": money(r.cost), "revenue_tracked": revenue,
               "revenue": money(r.revenue), "roi": ratio(r.roi), "results_tracked": results,
               "conversions": money(r.conversions),
               "conversion_rate_pct": pct(r.conversion_rate), "cpa": money(r.cpa),
               "share_of_spend_pct": pct(r.share_of_cost), "campaigns": int(r.campaigns)}
        if revenue == "partly":
            row["spend_tracking_revenue"] = money(r.revenue_cost)
        if results == "partly":
            row["spend_tracking_results"] = money(r.result_cost)
        rows.append(row)
    return rows


def _tracking_notes(facts: dict[str, Any], rows: list[dict[str, Any]], notes: list[str]) -> None:
    """Say in words what is not tracked, so that no null is read as a zero."""
    if not facts["outcome_tracked"]:
        notes.append("Neither revenue nor results (conversions) are tracked in this account: "
                     "revenue, ROI, CPA and conversion rate are unknown, not zero, and there is "
                     "no outcome to judge a budget move on. Recommend no increase, decrease, "
                     "pause or test of spend; say so, and that an export with a revenue "
                     "(conversion value) or results (conversions) column must be imported, or "
                     "such a column mapped, first. Only spend, clicks, CTR and CPC can be "
                     "described.")
        return
    if not facts["revenue_tracked"]:
        notes.append("Revenue is not tracked in this account (no revenue or conversion value "
                     "column was imported): revenue and ROI are unknown, not zero. Judge "
                     "channels and campaigns by results (conversions) and CPA.")
    elif facts["revenue_tracked"] == "partly":
        without = [r["channel"] for r in rows if r["revenue_tracked"] is not True]
        notes.append("Revenue is tracked only in part: ROI and revenue hold only for channels "
                     "with revenue_tracked true; for " + ", ".join(without)
                     + " revenue is unknown, not zero (judge them by results and CPA). The "
                     "account's ROI is that of spend_tracking_revenue.")
    if not facts["results_tracked"]:
        notes.append("Results (conversions) are not tracked in this account: CPA and "
                     "conversion rate are unknown, not zero.")
    elif facts["results_tracked"] == "partly":
        without = [r["channel"] for r in rows if r["results_tracked"] is not True]
        notes.append("Results (conversions) are not tracked for " + ", ".join(without)
                     + ": their CPA is unknown, not zero.")


def _campaign(r: Any) -> dict[str, Any]:
    return {"campaign_id": str(r.campaign_id), "name": str(r.campaign_name),
            "channel": r.channel, "spend": money(r.cost), "revenue": money(r.revenue),
            "roi": ratio(r.roi), "conversions": money(r.conversions), "cpa": money(r.cpa)}


def _cpa_campaigns(engine: sa.Engine, f: Filters,
                   kpis: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The costliest and cheapest campaigns by CPA, and the biggest spenders without a single
    result (among campaigns that track results)."""
    out: dict[str, list[dict[str, Any]]] = {}
    costly = queries.top_campaigns(engine, f, by="cpa", n=CPA_CAMPAIGNS, worst=True)
    cheap = queries.top_campaigns(engine, f, by="cpa", n=CPA_CAMPAIGNS)
    out["costliest_cpa_campaigns"] = [_campaign(r) for r in costly.itertuples()]
    out["cheapest_cpa_campaigns"] = [_campaign(r) for r in cheap.itertuples()]
    # Fewest results first; untracked (NULL) results sort last and are left out.
    page, _ = queries.campaign_table(engine, f, sort="conversions", descending=False,
                                     page_size=50)
    none = page[(page["conversions"] == 0) & (page["cost"] > 0)].sort_values(
        "cost", ascending=False).head(NO_RESULT_CAMPAIGNS)
    out["campaigns_without_results"] = [_campaign(r) for r in none.itertuples()]
    return out


def _budget(engine: sa.Engine, f: Filters, window_days: int, notes: list[str]) -> dict[str, Any]:
    try:
        from demetra import budget

        # The split is among the chosen channels only: money never moves to one the reader
        # filtered out.
        result = budget.recommend(engine, end=f.end, window_days=window_days,
                                  channels=tuple(f.channels) or None)
        for channel, why in result.skipped.items():
            notes.append(f"No response curve for {channel}: {why}")
    except Exception as exc:  # noqa: BLE001 - any failure becomes a stated gap in the facts
        notes.append(f"The budget allocator could not run: {exc}")
        return {"available": False, "reason": str(exc)}
    if not result.feasible and not result.current:   # no channel could carry a curve
        notes.append(f"The budget allocator could not run: {result.message}")
        return {"available": False, "reason": result.message}
    if not result.feasible:
        notes.append(f"The budget allocator found no split: {result.message}")
        return {"available": True, "feasible": False, "reason": result.message}
    out: dict[str, Any] = {
        "available": True,
        "feasible": True,
        "outcome": result.outcome,
        "fit_window_days": window_days,
        "daily_total": money(result.total),
    }
    out.update(_split_figures(result, f.days))
    out["channels"] = _split_rows(result, "channel")
    if len(result.allocation) == 1:
        out["single_channel"] = True
    if result.campaigns is not None:
        inside = result.campaigns
        out["campaign_split"] = {"channel": next(iter(result.allocation)),
                                 "daily_total": money(inside.total),
                                 **_split_figures(inside, f.days)}
        out["campaigns"] = [{**row, "name": inside.labels.get(row["campaign_id"],
                                                              row["campaign_id"])}
                            for row in _split_rows(inside, "campaign_id")]
    if result.message:
        out["message"] = result.message
    if result.note:
        out["note"] = result.note
    return out


def _split_figures(result: Any, days: int) -> dict[str, Any]:
    """What a split is expected to change, in the outcome it is made on (revenue figures for a
    revenue split, results and CPA for a results split: never both)."""
    word = "revenue" if result.outcome == "revenue" else "results"
    now, then = result.current_expected, result.expected
    out: dict[str, Any] = {
        f"current_expected_daily_{word}": money(now),
        f"recommended_expected_daily_{word}": money(then),
        f"expected_daily_{word}_low": money(result.low),
        f"expected_daily_{word}_high": money(result.high),
        f"daily_{word}_change": money(then - now),
        f"{word}_change_pct": pct(then / now - 1.0) if now else None,
        f"{word}_change_over_period": money((then - now) * days),
        f"weekly_{word}_change": money((then - now) * 7),
        "daily_spend_moved": money(sum(max(r - result.current.get(c, 0.0), 0.0)
                                       for c, r in result.allocation.items())),
    }
    if result.outcome == "revenue":
        out["current_roi"] = ratio(result.current_roi)
        out["recommended_roi"] = ratio(result.expected_roi)
    else:
        out["current_cpa"] = money(result.current_cpa)
        out["recommended_cpa"] = money(result.expected_cpa)
    return out


def _split_rows(result: Any, key: str) -> list[dict[str, Any]]:
    rows = []
    revenue = result.outcome == "revenue"
    now_m = result.current_marginal_roi if revenue else result.current_marginal_cpa
    after_m = result.marginal_roi if revenue else result.marginal_cpa
    kind, rnd = ("roi", ratio) if revenue else ("cpa", money)
    for name, recommended in result.allocation.items():
        current = result.current.get(name, 0.0)
        rows.append({
            key: name,
            "current_daily_spend": money(current),
            "recommended_daily_spend": money(recommended),
            "change_daily_spend": money(recommended - current),
            "change_pct": pct(recommended / current - 1.0) if current else None,
            f"marginal_{kind}_now": rnd(now_m.get(name)),
            f"marginal_{kind}_after": rnd(after_m.get(name)),
        })
    return rows


def _risky(engine: sa.Engine, f: Filters, notes: list[str], channel_rows: list[dict[str, Any]],
           revenue_state: bool | str) -> tuple[list[dict], dict[str, str]]:
    """The riskiest ROI forecasts — only of campaigns in channels that track revenue: an ROI
    forecast of a campaign without revenue would forecast a zero that is not one."""
    from demetra.ml.predict import latest_predictions

    if not revenue_state:
        notes.append("No ROI forecasts are given: the account does not track revenue.")
        return [], {}
    preds = latest_predictions(engine, limit=2_000)
    if "metric" in preds:
        # ROI forecasts only: a campaign without revenue in a partly tracked channel is
        # forecast on CPA, and its empty ROI is no fact.
        preds = preds[preds["metric"].isna() | (preds["metric"] == "roi")]
    if preds.empty:
        notes.append("No ROI predictions exist yet (train the model on the Predictions page).")
        return [], {}
    with_revenue = {r["channel"] for r in channel_rows if r["revenue_tracked"] is True}
    info = queries.campaign_names(engine, [str(c) for c in preds["campaign_id"]])
    rows = []
    for r in preds.itertuples():
        name, channel = info.get(str(r.campaign_id), ("", None))
        if f.channels and channel not in f.channels:
            continue
        if channel not in with_revenue:
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
    direction: int = 0       # +1 "up 6%" / "+6%", -1 "fell 6%" / "−6%", 0 no direction said


# Words that say which way a figure moved. "more" and "less" are left out: "more than the
# others' 1.19" compares two levels, it states no change.
_UP = re.compile(r"\b(?:up|increas\w*|rais\w*|rises?|risen|rising|rose|grow\w*|grew|gain\w*|"
                 r"higher|boost\w*|climb\w*|jump\w*)\b", re.I)
_DOWN = re.compile(r"\b(?:down|decreas\w*|lower\w*|falls?|fallen|falling|fell|drop\w*|cut\w*|"
                   r"reduc\w*|declin\w*|shrink\w*|shrank|slash\w*)\b", re.I)
_CLAUSE_END = re.compile(r"[.!?;:,]\s|\b(?:from|than|against|versus|vs)\b", re.I)


def _direction(text: str, start: int, since: int) -> int:
    """Which way the figure at ``start`` is said to move: a sign glued to it, else the last
    direction word between the previous figure (or the clause's start) and it."""
    before = text[:start].rstrip(" $€£")
    if before.endswith("+"):
        return 1
    if before.endswith(("−", "–")) or (before.endswith("-") and (len(before) == 1
                                                               or not before[-2].isalnum())):
        return -1
    segment = text[since:start]
    ends = list(_CLAUSE_END.finditer(segment))
    if ends:
        # "from $2,981.45 to $1,280.71": a figure after "from" or "than" is a level, whatever
        # verb came before it.
        segment = segment[ends[-1].end():]
    found = [(m.start(), 1) for m in _UP.finditer(segment)]
    found += [(m.start(), -1) for m in _DOWN.finditer(segment)]
    return max(found)[1] if found else 0


def stated_numbers(text: str, *, ignore: Iterable[str] = ()) -> list[Stated]:
    """Every number ``text`` states, with the tolerance its written precision implies.
    ``ignore``: names and ids whose whole-word occurrences are not numbers."""
    for word in sorted({w for w in ignore if w}, key=len, reverse=True):
        text = re.sub(rf"(?<![\w.]){re.escape(word)}(?![\w])", " ", text)
    text = _ISO_DATE.sub(" ", text)
    out = []
    since = 0
    for m in _NUMBER.finditer(text):
        direction = _direction(text, m.start(), since)
        since = m.end()
        raw = m.group("num")
        digits = raw.replace(",", "")
        decimals = len(digits.split(".")[1]) if "." in digits else 0
        suffix = m.group("suf") or ""
        scale = _SCALE.get(suffix.lower(), 1.0)
        kind = "pct" if m.group("pct") else "money" if (m.group("cur") or suffix) else "plain"
        out.append(Stated(m.group(0).strip(), float(digits) * scale,
                          0.5 * 10.0 ** -decimals * scale, kind, direction))
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
    exist, a budget move where no outcome is tracked (``outcome_problems``), ROI or revenue
    spoken of where revenue is not tracked (``revenue_problems``).
    Empty when every stated number and every target is found."""
    labels = [*context.campaigns, *context.campaigns.values()]
    # Names and ids with a letter are removed where they stand whole; a purely numeric one
    # stays a number, and is allowed as one.
    ignore = [w for w in labels if re.search(r"[A-Za-z]", w)]
    numbers = sorted({*fact_numbers(context.facts),
                      *(float(w.replace(",", "")) for w in labels
                        if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", w))})
    derived = derived_numbers(context.facts)
    changes = change_numbers(context.facts)
    problems = []
    for i, rec in enumerate(answer.get("recommendations", []), 1):
        target = str(rec.get("target", ""))
        if target not in context.targets:
            problems.append(f"recommendation {i}: target {target!r} is not a channel or campaign "
                            "id in the data")
    for where, text in _texts(answer):
        for s in stated_numbers(text, ignore=ignore):
            if not (is_grounded(s, numbers) or is_derived(s, derived)):
                problems.append(f"{where}: the number {s.text!r} is not in the data")
                continue
            wrong = wrong_direction(s, changes)
            if wrong is not None:
                problems.append(f"{where}: {s.text!r} is said to go "
                                f"{'up' if s.direction > 0 else 'down'}, but the fact it "
                                f"matches is {wrong:+g}")
    return problems + outcome_problems(answer, context) + revenue_problems(answer, context)


def change_numbers(facts: Any) -> list[float]:
    """The facts that are changes (a key with "change" in it), with their signs."""
    return sorted({v for k, v in _walk_keyed(facts) if "change" in k})


def _walk_keyed(value: Any, key: str = "") -> Iterator[tuple[str, float]]:
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            yield key, float(value)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _walk_keyed(v, str(k))
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk_keyed(v, key)


def wrong_direction(stated: Stated, changes: list[float]) -> float | None:
    """The change fact a figure said to go up (or down) matches with the other sign — None
    when it matches one with its own sign, matches none (a level: "to $2,289.81") or says no
    direction."""
    if not stated.direction:
        return None
    v = abs(stated.value)
    scales = [1.0, 0.01] if stated.kind == "pct" else [1.0]
    against = None
    for scale in scales:
        candidate, tol = v * scale, stated.tolerance * scale
        tol = max(tol, 0.005 * candidate) + 1e-9
        for n in changes:
            if n and abs(abs(n) - candidate) <= tol:
                if (n > 0) == (stated.direction > 0):
                    return None
                against = n
    return against


MAX_GROUP = 40   # a list longer than this is not summed pairwise
_ADDITIVE = {"money", "count", "share"}


def _family(key: str) -> str | None:
    """The unit of a fact, by its key: two figures are added or subtracted only within one."""
    if "share" in key:
        return "share"
    if key.endswith("pct"):
        return "pct"
    for word, family in (("roi", "roi"), ("cpa", "cpa"), ("conversions", "count"),
                         ("results", "count"), ("clicks", "count")):
        if word in key:
            return family
    if any(w in key for w in ("spend", "revenue", "cost", "money", "total")):
        return "money"
    return None


def derived_numbers(facts: Any) -> list[float]:
    """The sums and differences an answer may derive: of two figures of one record in one unit
    (current and recommended spend of a move, a KPI now and before), or of the same figure of
    two records in one list (two channels' moves, two channels' spend). Amounts, counts and
    shares add up and subtract; ratios and percentages only subtract (two ROIs summed mean
    nothing). Never across unrelated parts or units of the facts, where enough pairs would
    let any invented figure through."""
    out: set[float] = set()

    def pairs(values: list[float], family: str | None) -> None:
        if family is None:
            return
        values = values[:MAX_GROUP]
        for i, a in enumerate(values):
            for b in values[i + 1:]:
                out.add(abs(a - b))
                if family in _ADDITIVE:
                    out.add(abs(a + b))

    def visit(value: Any, parent: str = "") -> None:
        if isinstance(value, Mapping):
            by_family: dict[str | None, list[float]] = {}
            for k, v in value.items():
                if _number(v):
                    # {"value", "previous"} of a KPI are in the KPI's own unit.
                    key = parent if k in ("value", "previous") else str(k)
                    by_family.setdefault(_family(key), []).append(float(v))
            for family, values in by_family.items():
                pairs(values, family)
            for k, v in value.items():
                visit(v, str(k))
        elif isinstance(value, (list, tuple)):
            rows = [v for v in value if isinstance(v, Mapping)]
            for k in {k for r in rows for k in r}:
                pairs([float(r[k]) for r in rows if _number(r.get(k))], _family(str(k)))
            for v in value:
                visit(v, parent)

    visit(facts)
    return sorted(out)


def _number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def is_derived(stated: Stated, derived: list[float]) -> bool:
    """A sum or difference of two facts (``derived_numbers``), within the rounding its writing
    implies and no more: the facts are the rounded figures the writer adds up, so their sum is
    exact, and the 0.5 % slack a quoted fact gets would let one pair or another match almost
    any figure. Compared as written (a percentage with percentages): no fraction-for-percentage
    reading."""
    v = abs(stated.value)
    tol = stated.tolerance + 1e-9
    i = bisect.bisect_left(derived, v - tol)
    return i < len(derived) and derived[i] <= v + tol


# Words that speak of revenue or a return on spend; "return to normal" is not one.
_REVENUE_WORDS = re.compile(
    r"\b(?:roi|roas|revenues?|return on (?:ad )?spend|returns?(?!\s+to\b)|returned|"
    r"break[- ]?even|profit\w*|unprofitable|loss(?:es)?|losing money)\b", re.I)
# ... and the phrases that say it is not there, which may stand beside them.
_NOT_TRACKED = re.compile(
    r"not\s+(?:be\s+)?tracked|untracked|n['’]t\s+(?:be\s+)?tracked|(?:not|n['’]t)\s+track|"
    r"no\s+revenue|without\s+revenue|unknown|not\s+available|isn['’]t\s+available|"
    r"\bneither\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")


def outcome_problems(answer: Mapping[str, Any], context: Context) -> list[str]:
    """Budget moves on an account that tracks neither revenue nor results
    (``outcome_tracked`` false): with no outcome there is nothing to judge an increase, a
    decrease, a pause or a test on; only a fix (import or map an outcome) may be recommended.
    Facts without ``outcome_tracked`` (older sets) are not checked."""
    if context.facts.get("outcome_tracked", True) is not False:
        return []
    return [f"recommendation {i}: {rec.get('action')!r} on {rec.get('target')}, but the account "
            "tracks neither revenue nor results: there is no outcome to judge a budget move on; "
            "recommend a fix (import or map a revenue or results column) instead"
            for i, rec in enumerate(answer.get("recommendations", []), 1)
            if rec.get("action") != "fix"]


def revenue_problems(answer: Mapping[str, Any], context: Context) -> list[str]:
    """ROI or revenue spoken of where revenue is not tracked: anywhere when the account tracks
    none (``revenue_tracked`` false), and, in a mixed account, about a channel (or one of its
    campaigns) that tracks none — the name nearest the word decides, or the recommendation's
    target when the sentence names none. A sentence that says revenue is not tracked may use
    the word. Facts without ``revenue_tracked`` (older sets) are not checked."""
    state = context.facts.get("revenue_tracked", True)
    if state is True:
        return []
    untracked, tracked = _revenue_names(context)
    if state is not False and not untracked:
        return []
    names = sorted({*untracked, *tracked}, key=len, reverse=True)
    pattern = (re.compile("|".join(rf"(?<![\w]){re.escape(n)}(?![\w])" for n in names), re.I)
               if names else None)
    lowered_untracked = {n.lower() for n in untracked}
    # A campaign named "Revenue push" is a name, not a claim: names are blanked (in place, so
    # positions hold) before the words are looked for.
    labels = sorted({w for w in (*context.campaigns, *context.campaigns.values()) if w},
                    key=len, reverse=True)
    blank = (re.compile("|".join(rf"(?<![\w]){re.escape(w)}(?![\w])" for w in labels), re.I)
             if labels else None)
    problems = []
    for where, text, target in _texts_with_targets(answer):
        for sentence in _SENTENCE.split(text):
            bare = blank.sub(lambda m: " " * len(m.group(0)), sentence) if blank else sentence
            words = list(_REVENUE_WORDS.finditer(bare))
            if not words or _NOT_TRACKED.search(bare):
                continue
            if state is False:
                problems.append(f"{where}: speaks of {words[0].group(0)!r}, but the account "
                                "does not track revenue: there is no ROI or revenue to state; "
                                "use results (conversions) and CPA")
                continue
            mentions = list(pattern.finditer(sentence)) if pattern else []
            for w in words:
                if mentions:
                    near = min(mentions, key=lambda m: abs(m.start() - w.start()))
                    about = near.group(0)
                    bad = about.lower() in lowered_untracked
                else:
                    about = target or ""
                    bad = about.lower() in lowered_untracked
                if bad:
                    problems.append(f"{where}: speaks of {w.group(0)!r} for {about}, which does "
                                    "not track revenue: state its results and CPA instead")
                    break
    return problems


def _revenue_names(context: Context) -> tuple[set[str], set[str]]:
    """Names and ids (channels and campaigns) that track no revenue, and those that do."""
    from demetra.channels import channel_label

    facts = context.facts
    without, with_ = set(), set()
    state = {r.get("channel"): r.get("revenue_tracked", True) for r in facts.get("channels", [])}
    for channel, tracked in state.items():
        bucket = without if tracked is False else with_
        bucket.update({str(channel), channel_label(str(channel))})
    campaigns: dict[str, str | None] = {}
    for key in ("largest_campaigns", "costliest_cpa_campaigns", "cheapest_cpa_campaigns",
                "campaigns_without_results", "riskiest_campaigns"):
        for c in facts.get(key, []) or []:
            campaigns[str(c["campaign_id"])] = c.get("channel")
    budget = facts.get("budget") or {}
    inside = (budget.get("campaign_split") or {}).get("channel")
    for c in budget.get("campaigns", []) or []:
        campaigns[str(c["campaign_id"])] = inside
    for cid, channel in campaigns.items():
        bucket = without if state.get(channel, True) is False else with_
        bucket.add(cid)
        name = context.campaigns.get(cid)
        if name:
            bucket.add(name)
    return without - with_, with_


def _texts_with_targets(answer: Mapping[str, Any]) -> Iterator[tuple[str, str, str | None]]:
    yield "summary", str(answer.get("summary", "")), None
    for i, rec in enumerate(answer.get("recommendations", []), 1):
        target = str(rec.get("target", ""))
        for key in ("rationale", "expected_impact"):
            yield f"recommendation {i} {key}", str(rec.get(key, "")), target
        for metric in rec.get("metrics", []) or []:
            yield f"recommendation {i} metrics", str(metric), target


def _texts(answer: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    yield "summary", str(answer.get("summary", ""))
    for i, rec in enumerate(answer.get("recommendations", []), 1):
        for key in ("rationale", "expected_impact"):
            yield f"recommendation {i} {key}", str(rec.get(key, ""))
        for metric in rec.get("metrics", []) or []:
            yield f"recommendation {i} metrics", str(metric)


# -- decisions: what an answer recommends must be what the facts support ----------------------

_OPPOSITE = {"increase": {"decrease", "pause"}, "decrease": {"increase"}, "pause": {"increase"}}


def _move(c: Mapping[str, Any]) -> str:
    """A candidate as the problems name it: "increase linkedin (+1268.77 a day, +124.3%)"."""
    f = c.get("figures") or {}
    parts = [f"{f['change_daily_spend']:+g} a day" if f.get("change_daily_spend") is not None
             else "", f"{f['change_pct']:+g}%" if f.get("change_pct") is not None else ""]
    shown = ", ".join(p for p in parts if p)
    return f"{c['action']} {c['target']}" + (f" ({shown})" if shown else "")


def decision_problems(answer: Mapping[str, Any], context: Context) -> list[str]:
    """What makes a set one the rules engine would beat: an action or a target that no fact
    supports (``Context.candidates``), a move against the allocator's direction, a main move
    of the allocator left out, a recommendation without a single figure."""
    candidates = context.candidates
    pairs = {(c["action"], c["target"]) for c in candidates}
    by_target: dict[str, list[dict[str, Any]]] = {}
    for c in candidates:
        by_target.setdefault(c["target"], []).append(c)
    labels = [*context.campaigns, *context.campaigns.values()]
    ignore = [w for w in labels if re.search(r"[A-Za-z]", w)]
    own = {(c["action"], c["target"]): fact_numbers(c.get("figures") or {}) for c in candidates}
    candidate_of = {(c["action"], c["target"]): c for c in candidates}
    problems = []
    given = set()
    for i, rec in enumerate(answer.get("recommendations", []), 1):
        action, target = str(rec.get("action", "")), str(rec.get("target", ""))
        given.add((action, target))
        if (action, target) not in pairs:
            options = by_target.get(target, [])
            against = [c for c in options if c["action"] in _OPPOSITE.get(action, ())]
            if against:
                problems.append(f"recommendation {i}: {action!r} on {target} goes against the "
                                f"facts, which support {_move(against[0])}")
            elif options:
                problems.append(f"recommendation {i}: {action!r} on {target} is not among the "
                                "candidate actions; the facts support "
                                + " or ".join(repr(c["action"]) for c in options))
            elif target in context.targets:
                problems.append(f"recommendation {i}: no fact singles out {target} for an action "
                                "(it is in no candidate action): choose targets from "
                                "candidate_actions")
        text = f"{rec.get('rationale', '')} {rec.get('expected_impact', '')}"
        stated = stated_numbers(text, ignore=ignore)
        mine = own.get((action, target)) or []
        if not stated:
            problems.append(f"recommendation {i} states no figure: quote the figures of its "
                            "candidate action (the change, the expected impact)")
        elif mine and not any(is_grounded(x, mine) for x in stated):
            # A true number about something else ("a revenue of $41,741" on every card) is no
            # expected impact of this move.
            problems.append(f"recommendation {i} quotes none of the figures of {action} "
                            f"{target} (its candidate action's): state the change it "
                            "recommends and what it is expected to bring")
        band = ((candidate_of.get((action, target)) or {}).get("figures") or {}).get(
            "daily_spend_band")
        if band:
            problems += _outside_band(i, target, text, band, ignore)
    for c in candidates:
        if c.get("main") and (c["action"], c["target"]) not in given:
            problems.append(f"the allocator's main move is missing: {_move(c)}")
    return problems


# "to $1,280 a day", "to about $1.3K": the daily spend a recommendation sets.
_SPEND_TARGET = re.compile(r"\bto\s+(?:about\s+|around\s+|roughly\s+|~\s*)?(?=[$€£]|\d)")
_PER_DAY = re.compile(r"\s*(?:a day|per day|/\s*day|daily|each day)\b", re.I)
_NOT_SPEND = re.compile(r"revenue|results?\b|return|roi\b|cpa\b|leads?\b|conversions?", re.I)


def _outside_band(i: int, target: str, text: str, band: list[float],
                  ignore: list[str]) -> list[str]:
    """A daily spend the recommendation sets outside its move's band (from today's spend to
    the allocator's): a step past the split is not the allocator's advice."""
    lo, hi = band
    out = []
    for m in _SPEND_TARGET.finditer(text):
        if _NOT_SPEND.search(text[max(m.start() - 60, 0):m.start()]):
            continue   # "revenue from $41,765 to $43,120 a day" sets no spend
        after = text[m.end():m.end() + 40]
        stated = stated_numbers(after, ignore=ignore)
        if not stated or stated[0].kind != "money" or not _PER_DAY.match(
                after[after.find(stated[0].text) + len(stated[0].text):]):
            continue
        x = stated[0]
        if not lo - x.tolerance - 0.005 * abs(lo) <= x.value <= hi + x.tolerance + 0.005 * abs(hi):
            out.append(f"recommendation {i} sets {target}'s daily spend to {x.text}, outside "
                       f"its move's band ({lo:,.2f} to {hi:,.2f} a day: from today's spend to "
                       "the allocator's)")
    return out


def answer_problems(answer: Mapping[str, Any], context: Context) -> list[str]:
    """Everything that keeps an answer from being stored as the writer's: its numbers
    (``grounding_problems``) and its decisions (``decision_problems``)."""
    return grounding_problems(answer, context) + decision_problems(answer, context)


def with_confidence(answer: Mapping[str, Any], context: Context) -> dict[str, Any]:
    """The answer with each recommendation's confidence taken from its candidate (the
    allocator's band, the forecast's odds), whatever the writer said."""
    confidence = {(c["action"], c["target"]): c["confidence"] for c in context.candidates}
    recs = [{**r, "confidence": confidence.get((r.get("action"), r.get("target")),
                                               r.get("confidence") or "low")}
            for r in answer.get("recommendations", [])]
    return {**answer, "recommendations": recs}

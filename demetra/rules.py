"""Recommendations without an LLM: the same schema, written from the same facts by fixed rules.

Used when no endpoint is configured and whenever the LLM's answer cannot be used. Every number
it writes is copied from the facts and formatted the way ``facts.stated_numbers`` reads it, so
its answers pass the same grounding check the LLM's must pass.
"""

from __future__ import annotations

import statistics
from typing import Any

from demetra import format as fmt
from demetra.channels import CHANNEL_LABELS, channel_label
from demetra.facts import Context

MAX_RECOMMENDATIONS = 8
MIN_CHANGE_PCT = 5.0         # a reallocation smaller than this is noise, not advice
FAR_ABOVE = 1.5              # "far above": marginal ROI ≥ 1.5 × the median of the other channels
PAUSE_PROB_LOSS_PCT = 80.0


def _label(target: str, channels: frozenset[str] = frozenset()) -> str:
    """A channel as people name it, in prose (a channel of the file's own too: "Quora Ads");
    a campaign target stays its id."""
    return channel_label(target) if target in CHANNEL_LABELS or target in channels else target


def _money(facts: dict[str, Any], v: float | None) -> str:
    return fmt.money(v, facts.get("currency"), missing="an unknown amount")


def _roi(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "an unknown share" if v is None else f"{abs(v):.1f}%"


def recommend(context: Context) -> dict[str, Any]:
    """``{"summary": str, "recommendations": [...]}`` in the LLM's schema."""
    facts = context.facts
    recs: list[dict[str, Any]] = []
    recs += _budget_moves(facts)
    if not any(r["action"] == "increase" for r in recs):
        recs += _far_above(facts)
    recs += _risky_campaigns(facts)
    recs += _alerts(facts, {r["target"] for r in recs})
    recs += _losing_channels(facts, {r["target"] for r in recs})
    if not recs:
        recs.append(_steady(facts))
    return {"summary": _summary(facts, recs), "recommendations": recs[:MAX_RECOMMENDATIONS]}


def _rec(action: str, target: str, rationale: str, impact: str, confidence: str,
         metrics: list[str]) -> dict[str, Any]:
    return {"action": action, "target": target, "rationale": rationale,
            "expected_impact": impact, "confidence": confidence, "metrics": metrics}


def _budget_moves(facts: dict[str, Any]) -> list[dict[str, Any]]:
    b = facts.get("budget") or {}
    if not b.get("available") or not b.get("feasible"):
        return []
    uplift_sure = (b.get("expected_daily_revenue_low") or 0) > (b.get("current_expected_daily_revenue")
                                                                or 0)
    out = []
    moves = sorted(b.get("channels", []), key=lambda r: -abs(r.get("change_daily_spend") or 0))
    for r in moves:
        change = r.get("change_pct")
        if change is None or abs(change) < MIN_CHANGE_PCT:
            continue
        up = change > 0
        now, after = r.get("marginal_roi_now"), r.get("marginal_roi_after")
        why = (f"Each extra dollar on {channel_label(r['channel'])} returns about {_roi(now)} in "
               "revenue at the "
               f"current {_money(facts, r['current_daily_spend'])} a day"
               if now is not None else f"The fitted response curve of {channel_label(r['channel'])}")
        why += (", more than the other channels' next dollar." if up
                else ", less than the other channels' next dollar.")
        if after is not None:
            why += f" At the recommended spend its marginal ROI becomes {_roi(after)}."
        impact = (f"{'Raise' if up else 'Lower'} daily spend from "
                  f"{_money(facts, r['current_daily_spend'])} to "
                  f"{_money(facts, r['recommended_daily_spend'])} ({_pct(change)}).")
        if (b.get("current_expected_daily_revenue") is not None
                and b.get("recommended_expected_daily_revenue") is not None):
            impact += (f" The whole reallocation moves expected daily revenue from "
                       f"{_money(facts, b['current_expected_daily_revenue'])} to "
                       f"{_money(facts, b['recommended_expected_daily_revenue'])}.")
        out.append(_rec("increase" if up else "decrease", r["channel"], why, impact,
                        "high" if uplift_sure else "medium",
                        ["marginal_roi", "daily_spend", "expected_daily_revenue"]))
    return out


def _marginal_rois(facts: dict[str, Any]) -> dict[str, float]:
    b = facts.get("budget") or {}
    if b.get("available"):
        found = {r["channel"]: r["marginal_roi_now"] for r in b.get("channels", [])
                 if r.get("marginal_roi_now") is not None}
        if found:
            return found
    return {}


def _far_above(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """A channel whose next dollar earns far more than the others' gets an increase, even when
    the allocator's guardrails kept it where it is."""
    m = _marginal_rois(facts)
    out = []
    for channel, value in m.items():
        others = [v for c, v in m.items() if c != channel]
        if not others:
            continue
        median = statistics.median(others)
        if value > 1.0 and value >= FAR_ABOVE * median:
            # The others are named with their own figures: a median would be a number the
            # facts don't hold.
            ranked = sorted(m.items(), key=lambda x: -x[1])
            listed = ", ".join(f"{channel_label(c)} {_roi(v)}" for c, v in ranked
                               if c != channel)
            out.append(_rec(
                "increase", channel,
                f"Its marginal ROI of {_roi(value)} is far above the other channels' ({listed}): "
                "the next dollar earns more here than anywhere else.",
                f"Shift budget to {channel_label(channel)} step by step while its marginal ROI stays "
                "above the others'.", "medium", ["marginal_roi"]))
    return out


def _risky_campaigns(facts: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for c in facts.get("riskiest_campaigns", []):
        if (c.get("risk") != "high" or c.get("prob_loss_pct") is None
                or c.get("predicted_roi") is None):
            continue
        loss = c["prob_loss_pct"]
        action = "pause" if loss >= PAUSE_PROB_LOSS_PCT else "decrease"
        interval = (f" (80% interval {_roi(c['roi_low'])} to {_roi(c['roi_high'])})"
                    if c.get("roi_low") is not None and c.get("roi_high") is not None else "")
        out.append(_rec(
            action, c["campaign_id"],
            f"The forecast for the next {c['horizon_days']} days puts its ROI at "
            f"{_roi(c['predicted_roi'])}{interval}, with a {_pct(loss)} chance of losing money.",
            "Stops spend that is more likely than not to return less than it costs."
            if action == "pause" else "Cuts the spend most exposed to a loss.",
            "high" if loss >= PAUSE_PROB_LOSS_PCT else "medium",
            ["predicted_roi", "prob_loss"]))
    return out


def _alerts(facts: dict[str, Any], taken: set[str]) -> list[dict[str, Any]]:
    out = []
    for a in facts.get("open_alerts", []):
        target = a.get("campaign_id") or a.get("channel")
        if not target or target in taken or a.get("severity") not in ("high", "critical"):
            continue
        taken.add(target)
        stake = a.get("money_at_stake")
        why = f"An open {a['severity']} {a['type']} alert since {a['first_day']}"
        if a.get("value") is not None and a.get("threshold") is not None:
            why += f": the metric is at {_roi(a['value'])} against a line of {_roi(a['threshold'])}"
        why += "."
        impact = (f"Puts {_money(facts, stake)} of spend at stake back under control." if stake
                  else "Restores the metric to its normal range.")
        out.append(_rec("fix", target, why, impact, "medium", [a["type"]]))
    return out


def _losing_channels(facts: dict[str, Any], taken: set[str]) -> list[dict[str, Any]]:
    out = []
    for r in facts.get("channels", []):
        roi = r.get("roi")
        if roi is None or roi >= facts.get("break_even_roi", 1.0) or r["channel"] in taken:
            continue
        out.append(_rec(
            "decrease", r["channel"],
            f"It returned {_roi(roi)} per dollar over the period, below break-even, on "
            f"{_money(facts, r['spend'])} of spend.",
            "Every dollar moved elsewhere stops a loss.", "medium", ["roi", "spend"]))
    return out


def _steady(facts: dict[str, Any]) -> dict[str, Any]:
    # build_context's caller refuses a period without channels: there is always a target.
    target = facts["channels"][0]["channel"]
    roi = (facts.get("kpis", {}).get("roi") or {}).get("value")
    why = "No channel stands out and no campaign is at high risk"
    why += f"; the period's ROI is {_roi(roi)}." if roi is not None else "."
    return _rec("test", target, why,
                "A controlled test shows whether more spend here keeps its return.", "low",
                ["roi"])


def _summary(facts: dict[str, Any], recs: list[dict[str, Any]]) -> str:
    k = facts.get("kpis", {})
    period = facts.get("period", {})
    parts = []
    roi = (k.get("roi") or {}).get("value")
    spend = (k.get("spend") or {}).get("value")
    revenue = (k.get("revenue") or {}).get("value")
    if spend is not None and revenue is not None:
        line = (f"From {period.get('start')} to {period.get('end')}, {_money(facts, spend)} of "
                f"spend returned {_money(facts, revenue)}")
        line += f" (ROI {_roi(roi)})" if roi is not None else ""
        change = (k.get("roi") or {}).get("change_pct")
        if change is not None:
            line += f", ROI {'up' if change >= 0 else 'down'} {_pct(change)} on the period before"
        parts.append(line + ".")
    b = facts.get("budget") or {}
    if (b.get("available") and b.get("feasible") and b.get("revenue_change_pct") is not None
            and abs(b["revenue_change_pct"]) >= 0.1):
        parts.append(f"Reallocating the same daily budget of {_money(facts, b['daily_total'])} "
                     f"is expected to change daily revenue by {_pct(b['revenue_change_pct'])} "
                     f"({'up' if b['revenue_change_pct'] >= 0 else 'down'}).")
    # Named, not counted: a count would be a number the facts don't hold.
    channels = frozenset(r["channel"] for r in facts.get("channels", []))
    listed = "; ".join(f"{r['action']} {_label(r['target'], channels)}"
                       for r in recs[:MAX_RECOMMENDATIONS])
    parts.append(f"Recommended: {listed}.")
    return " ".join(parts)

"""Recommendations without an LLM: the same schema, written from the same facts by fixed rules.

Used when no endpoint is configured and whenever the LLM's answer cannot be used. Every number
it writes is copied from the facts and formatted the way ``facts.stated_numbers`` reads it, so
its answers pass the same grounding check the LLM's must pass.

An account, a channel or a campaign that does not track revenue is never judged by ROI: where
``revenue_tracked`` is false the rules speak of results and CPA (the allocator's split for the
most results, marginal CPA, the costliest CPA against the account's, campaigns that spent
without a result); ROI rules apply only to what tracks revenue. An account that tracks neither
(``outcome_tracked`` false) gets no budget move, which would rest on nothing: a fix per
channel saying what to import or map, and a summary of what can be said (spend, clicks, CPC).
Facts without the tracking keys (older stored sets) read as revenue tracked.

Campaigns are named by ``Context.labels``: the name, with the id only where two share it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator, Mapping
from typing import Any

from demetra import format as fmt
from demetra.channels import CHANNEL_LABELS, channel_label
from demetra.facts import Context

MAX_RECOMMENDATIONS = 8
MIN_CHANGE_PCT = 5.0         # a reallocation smaller than this is noise, not advice
FAR_ABOVE = 1.5              # "far above": marginal ROI ≥ 1.5 × the median of the other channels
PAUSE_PROB_LOSS_PCT = 80.0
FAR_ABOVE_CPA = 1.5          # "far above": a CPA ≥ 1.5 × the account's
NO_RESULT_SPEND = 3.0        # spent ≥ 3 × the account's CPA without a result: worth a look
PAUSE_NO_RESULT_SPEND = 5.0  # ... ≥ 5 × : pause it


def _label(target: str, channels: frozenset[str] = frozenset(),
           names: Mapping[str, str] | None = None) -> str:
    """A channel as people name it, in prose (a channel of the file's own too: "Quora Ads");
    a campaign target by its label in ``names`` (``Context.labels``), else its id."""
    if target in CHANNEL_LABELS or target in channels:
        return channel_label(target)
    return (names or {}).get(target) or target


def _money(facts: dict[str, Any], v: float | None) -> str:
    return fmt.money(v, facts.get("currency"), missing="an unknown amount")


def _roi(v: float | None) -> str:
    return "unknown" if v is None else f"{v:.2f}"


def _pct(v: float | None) -> str:
    return "an unknown share" if v is None else f"{abs(v):.1f}%"


def recommend(context: Context) -> dict[str, Any]:
    """``{"summary": str, "recommendations": [...]}`` in the LLM's schema."""
    recs = [{k: v for k, v in r.items() if k != BASIS}
            for r in decisions(context)][:MAX_RECOMMENDATIONS]
    return {"summary": _summary(context.facts, recs, context.labels), "recommendations": recs}


def candidates(context: Context) -> list[dict[str, Any]]:
    """The actions the facts support, for any writer to choose from (``facts.candidate_actions``):
    every decision the rules take, uncapped, with the figures it rests on. ``main`` marks the
    allocator's largest move up and largest move down: a set that leaves one out, or goes
    against it, is beaten by the rules engine's."""
    out = []
    for r in decisions(context):
        basis = r.get(BASIS) or {}
        out.append({"action": r["action"], "target": r["target"],
                    "about": _label(r["target"], frozenset(context.channels), context.labels),
                    "kind": basis.get("kind", "other"), "main": False,
                    "confidence": r["confidence"],
                    "figures": {k: v for k, v in (basis.get("figures") or {}).items()
                                if v is not None}})
    moves = [c for c in out if c["kind"] == "budget_move"]
    for up in (True, False):
        side = [c for c in moves if (c["action"] == "increase") is up]
        if side:
            max(side, key=lambda c: abs(c["figures"].get("change_daily_spend") or 0))["main"] = True
    return out


def decisions(context: Context) -> list[dict[str, Any]]:
    """Every recommendation the rules take from the facts, in order, uncapped; each carries
    (under ``BASIS``) the kind of fact it rests on and that fact's figures."""
    facts = context.facts
    names = context.labels
    recs: list[dict[str, Any]] = []
    if facts.get("outcome_tracked", True) is False:
        # No outcome: no move rests on anything, so the advice is to track one.
        recs += _track_an_outcome(facts)
        recs += _alerts(facts, {r["target"] for r in recs})
        return recs
    recs += _budget_moves(facts, names)
    if not any(r["action"] == "increase" for r in recs):
        recs += _far_above(facts)
    recs += _no_results(facts, {r["target"] for r in recs}, names)
    recs += _risky_campaigns(facts)
    recs += _alerts(facts, {r["target"] for r in recs})
    recs += _losing_channels(facts, {r["target"] for r in recs})
    recs += _costly_cpa(facts, {r["target"] for r in recs}, names)
    if not recs:
        recs.append(_steady(facts))
    return recs


BASIS = "_basis"   # what a decision rests on; dropped from the stored recommendation


def _rec(action: str, target: str, rationale: str, impact: str, confidence: str,
         metrics: list[str], kind: str = "other",
         figures: Mapping[str, Any] | None = None) -> dict[str, Any]:
    return {"action": action, "target": target, "rationale": rationale,
            "expected_impact": impact, "confidence": confidence, "metrics": metrics,
            BASIS: {"kind": kind, "figures": dict(figures or {})}}


_MOVE_FIGURES = ("current_daily_spend", "recommended_daily_spend", "change_daily_spend",
                 "change_pct", "marginal_roi_now", "marginal_roi_after", "marginal_cpa_now",
                 "marginal_cpa_after")


def _move_figures(r: Mapping[str, Any], split: Mapping[str, Any]) -> dict[str, Any]:
    """A move's own figures, the band its daily spend may be set within (from today's to the
    allocator's: a step towards the split is the same advice, a step past it is not), and
    what the whole split is expected to bring."""
    out = {k: r.get(k) for k in _MOVE_FIGURES}
    now, then = r.get("current_daily_spend"), r.get("recommended_daily_spend")
    if now is not None and then is not None:
        out["daily_spend_band"] = [min(now, then), max(now, then)]
    for k in ("daily_revenue_change", "revenue_change_pct", "daily_results_change",
              "results_change_pct"):
        if split.get(k) is not None:
            out[f"split_{k}"] = split[k]
    return out


def _tracks_revenue(facts: dict[str, Any]) -> bool | str:
    return facts.get("revenue_tracked", True)


def _results(v: float | None) -> str:
    """A number of results: "1,087" (whole) or "33.4" (a daily expectation)."""
    if v is None:
        return "an unknown number of"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def _called(names: Mapping[str, str], c: Mapping[str, Any]) -> str:
    """A campaign of the facts as people name it: its label, else its name, else its id."""
    return names.get(c["campaign_id"]) or c.get("name") or c["campaign_id"]


def _moves(rows: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], float, bool]]:
    """The rows of a split whose change is worth advice, the biggest move first: (row, change
    in %, whether it is up)."""
    for r in sorted(rows, key=lambda r: -abs(r.get("change_daily_spend") or 0)):
        change = r.get("change_pct")
        if change is None or abs(change) < MIN_CHANGE_PCT:
            continue
        yield r, change, change > 0


def _spend_change(facts: dict[str, Any], r: dict[str, Any], change: float,
                  whose: str = "") -> str:
    return (f"{'Raise' if change > 0 else 'Lower'} {whose}daily spend from "
            f"{_money(facts, r['current_daily_spend'])} to "
            f"{_money(facts, r['recommended_daily_spend'])} ({_pct(change)}).")


def _budget_moves(facts: dict[str, Any], names: Mapping[str, str]) -> list[dict[str, Any]]:
    b = facts.get("budget") or {}
    if not b.get("available") or not b.get("feasible"):
        return []
    if b.get("outcome", "revenue") == "results":
        return _results_moves(facts, b, names)
    uplift_sure = (b.get("expected_daily_revenue_low") or 0) > (b.get("current_expected_daily_revenue")
                                                                or 0)
    out = []
    for r, change, up in _moves(b.get("channels", [])):
        now, after = r.get("marginal_roi_now"), r.get("marginal_roi_after")
        why = (f"Each extra dollar on {channel_label(r['channel'])} returns about {_roi(now)} in "
               "revenue at the "
               f"current {_money(facts, r['current_daily_spend'])} a day"
               if now is not None else f"The fitted response curve of {channel_label(r['channel'])}")
        why += (", more than the other channels' next dollar." if up
                else ", less than the other channels' next dollar.")
        if after is not None:
            why += f" At the recommended spend its marginal ROI becomes {_roi(after)}."
        impact = _spend_change(facts, r, change)
        if (b.get("current_expected_daily_revenue") is not None
                and b.get("recommended_expected_daily_revenue") is not None):
            impact += (f" The whole reallocation moves expected daily revenue from "
                       f"{_money(facts, b['current_expected_daily_revenue'])} to "
                       f"{_money(facts, b['recommended_expected_daily_revenue'])}.")
        out.append(_rec("increase" if up else "decrease", r["channel"], why, impact,
                        "high" if uplift_sure else "medium",
                        ["marginal_roi", "daily_spend", "expected_daily_revenue"],
                        "budget_move", _move_figures(r, b)))
    out += _campaign_moves(facts, b, names)
    return out


def _results_line(facts: dict[str, Any], split: dict[str, Any], what: str) -> str:
    now = split.get("current_expected_daily_results")
    then = split.get("recommended_expected_daily_results")
    if now is None or then is None:
        return ""
    line = (f" {what} moves expected daily results from {_results(now)} to {_results(then)}")
    if split.get("current_cpa") is not None and split.get("recommended_cpa") is not None:
        line += (f", a CPA of {_money(facts, split['current_cpa'])} becoming "
                 f"{_money(facts, split['recommended_cpa'])}")
    return line + "."


def _results_moves(facts: dict[str, Any], b: dict[str, Any],
                   names: Mapping[str, str]) -> list[dict[str, Any]]:
    """The allocator's moves on a results split: marginal CPA, expected results and CPA."""
    uplift_sure = ((b.get("expected_daily_results_low") or 0)
                   > (b.get("current_expected_daily_results") or 0))
    out = []
    for r, change, up in _moves(b.get("channels", [])):
        label = channel_label(r["channel"])
        now, after = r.get("marginal_cpa_now"), r.get("marginal_cpa_after")
        why = (f"One more result on {label} costs about {_money(facts, now)} at the margin at the "
               f"current {_money(facts, r['current_daily_spend'])} a day"
               if now is not None else f"The fitted results curve of {label}")
        why += (", less than the other channels' next result." if up
                else ", more than the other channels' next result.")
        if after is not None:
            why += f" At the recommended spend its marginal CPA becomes {_money(facts, after)}."
        impact = _spend_change(facts, r, change)
        impact += _results_line(facts, b, "The whole reallocation")
        out.append(_rec("increase" if up else "decrease", r["channel"], why, impact,
                        "high" if uplift_sure else "medium",
                        ["marginal_cpa", "daily_spend", "expected_daily_results"],
                        "budget_move", _move_figures(r, b)))
    out += _campaign_moves(facts, b, names)
    return out


def _campaign_moves(facts: dict[str, Any], b: dict[str, Any],
                    names: Mapping[str, str]) -> list[dict[str, Any]]:
    """With a single channel there is nothing to split across channels: the moves are among
    its campaigns (the allocator's campaign split), in the split's outcome."""
    split = b.get("campaign_split") or {}
    rows = b.get("campaigns") or []
    if not split or not rows:
        return []
    results = b.get("outcome", "revenue") == "results"
    channel = channel_label(split.get("channel", ""))
    sure_key = "expected_daily_results_low" if results else "expected_daily_revenue_low"
    now_key = "current_expected_daily_results" if results else "current_expected_daily_revenue"
    uplift_sure = (split.get(sure_key) or 0) > (split.get(now_key) or 0)
    out = []
    for r, change, up in _moves(rows):
        cid = r["campaign_id"]
        name = _called(names, r)
        if results:
            now = r.get("marginal_cpa_now")
            why = (f"Only {channel} has a results curve, so the budget is split among its "
                   f"campaigns: one more result from {name} costs about {_money(facts, now)} at "
                   f"the margin at its current {_money(facts, r['current_daily_spend'])} a day"
                   if now is not None else f"The fitted results curve of {name}")
            why += (", less than in the channel's other campaigns." if up
                    else ", more than in the channel's other campaigns.")
            impact_tail = _results_line(facts, split, f"The split among {channel}'s campaigns")
            metrics = ["marginal_cpa", "daily_spend", "expected_daily_results"]
        else:
            now = r.get("marginal_roi_now")
            why = (f"Only {channel} has a response curve, so the budget is split among its "
                   f"campaigns: each extra dollar on {name} returns about {_roi(now)} in revenue "
                   f"at its current {_money(facts, r['current_daily_spend'])} a day"
                   if now is not None else f"The fitted response curve of {name}")
            why += (", more than in the channel's other campaigns." if up
                    else ", less than in the channel's other campaigns.")
            impact_tail = ""
            if (split.get("current_expected_daily_revenue") is not None
                    and split.get("recommended_expected_daily_revenue") is not None):
                impact_tail = (f" The split among {channel}'s campaigns moves expected daily "
                               f"revenue from "
                               f"{_money(facts, split['current_expected_daily_revenue'])} to "
                               f"{_money(facts, split['recommended_expected_daily_revenue'])}.")
            metrics = ["marginal_roi", "daily_spend", "expected_daily_revenue"]
        impact = _spend_change(facts, r, change, whose="its ") + impact_tail
        # A campaign's curve also moves with its channel's other campaigns: less sure.
        out.append(_rec("increase" if up else "decrease", cid, why, impact,
                        "medium" if uplift_sure else "low", metrics, "budget_move",
                        _move_figures(r, split)))
    return out


def _margins(facts: dict[str, Any]) -> tuple[str, dict[str, float]]:
    """The allocator's margin per channel now: ("roi", marginal ROI) on a revenue split,
    ("cpa", marginal CPA) on a results split."""
    b = facts.get("budget") or {}
    kind = "cpa" if b.get("outcome", "revenue") == "results" else "roi"
    if b.get("available"):
        key = f"marginal_{kind}_now"
        found = {r["channel"]: r[key] for r in b.get("channels", []) if r.get(key) is not None}
        if found:
            return kind, found
    return kind, {}


def _marginal_rois(facts: dict[str, Any]) -> dict[str, float]:
    kind, found = _margins(facts)
    return found if kind == "roi" else {}


def _far_above(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """A channel whose next dollar earns far more than the others' (or whose next result costs
    far less) gets an increase, even when the allocator's guardrails kept it where it is."""
    kind, m = _margins(facts)
    out = []
    for channel, value in m.items():
        others = [v for c, v in m.items() if c != channel]
        if not others:
            continue
        median = statistics.median(others)
        if kind == "roi" and value > 1.0 and value >= FAR_ABOVE * median:
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
                "above the others'.", "medium", ["marginal_roi"], "marginal_far_above",
                {"marginal_roi_now": value, **{f"marginal_roi_{c}": v for c, v in ranked
                                               if c != channel}}))
        elif kind == "cpa" and value > 0 and median >= FAR_ABOVE * value:
            ranked = sorted(m.items(), key=lambda x: x[1])
            listed = ", ".join(f"{channel_label(c)} {_money(facts, v)}" for c, v in ranked
                               if c != channel)
            out.append(_rec(
                "increase", channel,
                f"Its marginal CPA of {_money(facts, value)} is far below the other channels' "
                f"({listed}): the next result costs less here than anywhere else.",
                f"Shift budget to {channel_label(channel)} step by step while its marginal CPA "
                "stays below the others'.", "medium", ["marginal_cpa"], "marginal_far_above",
                {"marginal_cpa_now": value, **{f"marginal_cpa_{c}": v for c, v in ranked
                                               if c != channel}}))
    return out


def _account_cpa(facts: dict[str, Any]) -> float | None:
    return ((facts.get("kpis") or {}).get("cpa") or {}).get("value")


def _no_results(facts: dict[str, Any], taken: set[str],
                names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Campaigns that spent many times the account's CPA without a single result."""
    cpa = _account_cpa(facts)
    if not cpa or cpa <= 0:
        return []
    out = []
    for c in facts.get("campaigns_without_results", []):
        spend = c.get("spend")
        if c["campaign_id"] in taken or spend is None or spend < NO_RESULT_SPEND * cpa:
            continue
        pause = spend >= PAUSE_NO_RESULT_SPEND * cpa
        out.append(_rec(
            "pause" if pause else "fix", c["campaign_id"],
            f"{_called(names, c)} spent "
            f"{_money(facts, spend)} over the period without any result, while the account "
            f"paid {_money(facts, cpa)} per result.",
            "Stops spend that brings no results; check its conversion tracking and objective "
            "before starting it again." if pause
            else "Finds out why it brings no results (tracking, objective, audience) before it "
                 "spends more.",
            "high" if pause else "medium", ["conversions", "spend", "cpa"],
            "spent_without_results", {"spend": spend, "conversions": 0, "account_cpa": cpa}))
    return out


def _costly_cpa(facts: dict[str, Any], taken: set[str],
                names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Channels and campaigns whose CPA is far above the account's (results accounts and the
    channels of a mixed account that have no revenue)."""
    cpa = _account_cpa(facts)
    if not cpa or cpa <= 0:
        return []
    revenue = _tracks_revenue(facts)
    out = []
    channels = facts.get("channels", [])
    if len(channels) > 1:
        for r in channels:
            own = r.get("cpa")
            if (own is None or r["channel"] in taken or own < FAR_ABOVE_CPA * cpa
                    or (revenue and r.get("revenue_tracked", True) is True)):
                continue
            out.append(_rec(
                "decrease", r["channel"],
                f"Its CPA of {_money(facts, own)} over the period is far above the account's "
                f"{_money(facts, cpa)}, on {_money(facts, r.get('spend'))} of spend.",
                "Moving budget from it to channels with a lower CPA buys more results for the "
                "same spend.", "medium", ["cpa", "spend"], "costly_cpa",
                {"cpa": own, "account_cpa": cpa, "spend": r.get("spend")}))
            taken.add(r["channel"])
    revenue_channels = {r["channel"] for r in channels if r.get("revenue_tracked", True) is True}
    for c in facts.get("costliest_cpa_campaigns", []):
        own = c.get("cpa")
        if (own is None or c["campaign_id"] in taken or own < FAR_ABOVE_CPA * cpa
                or (revenue and c.get("channel") in revenue_channels)):
            continue
        out.append(_rec(
            "decrease", c["campaign_id"],
            f"{_called(names, c)} paid {_money(facts, own)} per result over the "
            f"period, far above the account's CPA of {_money(facts, cpa)} "
            f"({_results(c.get('conversions'))} results for {_money(facts, c.get('spend'))}).",
            "Lowering its spend, or fixing its audience and creative, lowers the account's cost "
            "per result.", "medium", ["cpa", "conversions", "spend"], "costly_cpa",
            {"cpa": own, "account_cpa": cpa, "conversions": c.get("conversions"),
             "spend": c.get("spend")}))
        taken.add(c["campaign_id"])
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
            ["predicted_roi", "prob_loss"], "forecast_risk",
            {k: c.get(k) for k in ("predicted_roi", "roi_low", "roi_high", "prob_loss_pct",
                                   "horizon_days")}))
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
        out.append(_rec("fix", target, why, impact, "medium", [a["type"]], "open_alert",
                        {"alert": a["type"], "severity": a["severity"],
                         "since": a["first_day"], "value": a.get("value"),
                         "threshold": a.get("threshold"), "money_at_stake": stake}))
    return out


def _losing_channels(facts: dict[str, Any], taken: set[str]) -> list[dict[str, Any]]:
    """Channels below break-even — only those that track revenue (an ROI of an untracked
    revenue is null, never a loss)."""
    if not _tracks_revenue(facts):
        return []
    out = []
    for r in facts.get("channels", []):
        roi = r.get("roi")
        if (roi is None or not r.get("revenue_tracked", True)
                or roi >= facts.get("break_even_roi", 1.0) or r["channel"] in taken):
            continue
        spend = r.get("spend_tracking_revenue", r.get("spend"))
        out.append(_rec(
            "decrease", r["channel"],
            f"It returned {_roi(roi)} per dollar over the period, below break-even, on "
            f"{_money(facts, spend)} of spend.",
            "Every dollar moved elsewhere stops a loss.", "medium", ["roi", "spend"],
            "below_break_even", {"roi": roi, "break_even_roi": facts.get("break_even_roi", 1.0),
                                 "spend": spend}))
    return out


def _track_an_outcome(facts: dict[str, Any]) -> list[dict[str, Any]]:
    """On an account that tracks neither revenue nor results: a fix per channel, the largest
    first, saying there is nothing to judge a move on and how to get something."""
    out = []
    for r in facts.get("channels", []):
        label = channel_label(r["channel"])
        out.append(_rec(
            "fix", r["channel"],
            f"Neither revenue nor results are tracked on {label}: its exports hold no revenue "
            "(conversion value) or results (conversions) column, so there is no outcome to "
            f"judge a budget move on, and none is recommended for its "
            f"{_money(facts, r.get('spend'))} of spend.",
            f"Import an export of {label} with a revenue (conversion value) or results "
            "(conversions) column, or map such a column on the Data page: until then revenue "
            "and results are unknown and no move of its spend can be judged.",
            "high", ["spend"], "tracking", {"spend": r.get("spend")}))
    return out


def _steady(facts: dict[str, Any]) -> dict[str, Any]:
    # build_context's caller refuses a period without channels: there is always a target.
    target = facts["channels"][0]["channel"]
    kpis = facts.get("kpis", {})
    roi = (kpis.get("roi") or {}).get("value")
    cpa = (kpis.get("cpa") or {}).get("value")
    why = "No channel stands out and no campaign is at high risk"
    if _tracks_revenue(facts) and roi is not None:
        why += f"; the period's ROI is {_roi(roi)}."
        return _rec("test", target, why,
                    "A controlled test shows whether more spend here keeps its return.", "low",
                    ["roi"], "steady", {"roi": roi})
    if cpa is not None:
        why += f"; the period's cost per result (CPA) is {_money(facts, cpa)}."
        return _rec("test", target, why,
                    "A controlled test shows whether more spend here keeps its cost per result.",
                    "low", ["cpa"], "steady", {"cpa": cpa})
    return _rec("test", target, why + ".",
                "A controlled test with results tracked shows what more spend here brings.",
                "low", ["spend"], "steady")


def _change(kpi: Mapping[str, Any]) -> str:
    change = kpi.get("change_pct")
    if change is None:
        return ""
    return f" ({'up' if change >= 0 else 'down'} {_pct(change)} on the period before)"


def _traffic_line(facts: dict[str, Any], span: str, spend: float) -> str:
    """What can be said without an outcome: spend, clicks and their cost, and how they moved."""
    k = facts.get("kpis", {})
    line = f"{span}, {_money(facts, spend)} was spent{_change(k.get('spend') or {})}"
    clicks = (k.get("clicks") or {}).get("value")
    cpc = k.get("cpc") or {}
    if clicks:
        line += f" on {clicks:,} clicks"
        if cpc.get("value") is not None:
            line += f", a CPC of {_money(facts, cpc['value'])}{_change(cpc)}"
    return line + "."


def _summary(facts: dict[str, Any], recs: list[dict[str, Any]],
             names: Mapping[str, str] | None = None) -> str:
    k = facts.get("kpis", {})
    period = facts.get("period", {})
    parts = []
    revenue_state = _tracks_revenue(facts)
    roi = (k.get("roi") or {}).get("value")
    spend = (k.get("spend") or {}).get("value")
    revenue = (k.get("revenue") or {}).get("value")
    results = (k.get("conversions") or {}).get("value")
    cpa = (k.get("cpa") or {}).get("value")
    span = f"From {period.get('start')} to {period.get('end')}"
    if revenue_state is True and spend is not None and revenue is not None:
        line = f"{span}, {_money(facts, spend)} of spend returned {_money(facts, revenue)}"
        line += f" (ROI {_roi(roi)})" if roi is not None else ""
        change = (k.get("roi") or {}).get("change_pct")
        if change is not None:
            line += f", ROI {'up' if change >= 0 else 'down'} {_pct(change)} on the period before"
        parts.append(line + ".")
    elif spend is not None:
        results_spend = (k.get("spend_tracking_results") or {}).get("value")
        if results is not None and facts.get("results_tracked", True):
            # The CPA is of the spend that tracks results: say which spend that is.
            line = (f"{span}, {_money(facts, spend)} was spent; the {_money(facts, results_spend)} "
                    "of it that tracks results brought" if facts.get("results_tracked") == "partly"
                    and results_spend is not None
                    else f"{span}, {_money(facts, spend)} of spend brought")
            line += f" {_results(results)} results"
            line += f" (CPA {_money(facts, cpa)})" if cpa is not None else ""
            change = (k.get("cpa") or {}).get("change_pct")
            if change is not None:
                line += (f", CPA {'up' if change >= 0 else 'down'} {_pct(change)} on the period "
                         "before")
            parts.append(line + ".")
        elif facts.get("outcome_tracked", True) is False:
            parts.append(_traffic_line(facts, span, spend))
        else:
            parts.append(f"{span}, {_money(facts, spend)} was spent.")
        tracked_spend = (k.get("spend_tracking_revenue") or {}).get("value")
        if revenue_state == "partly" and revenue is not None and tracked_spend is not None:
            line = (f"On the {_money(facts, tracked_spend)} of spend that tracks revenue, it "
                    f"returned {_money(facts, revenue)}")
            line += f" (ROI {_roi(roi)})" if roi is not None else ""
            parts.append(line + "; the rest tracks no revenue, which is unknown, not zero.")
        elif not revenue_state:
            parts.append("Revenue is not tracked, so the account is judged by its results and "
                         "their cost (CPA)." if facts.get("results_tracked", True)
                         else "Neither revenue nor results are tracked, so there is no outcome "
                              "to judge a budget move on until an export with a revenue or "
                              "results column is imported or mapped.")
    b = facts.get("budget") or {}
    if b.get("available") and b.get("feasible"):
        word = "results" if b.get("outcome", "revenue") == "results" else "revenue"
        change = b.get(f"{word}_change_pct")
        split = b.get("campaign_split") or {}
        inside = split.get(f"{word}_change_pct")
        if change is not None and abs(change) >= 0.1:
            parts.append(f"Reallocating the same daily budget of {_money(facts, b['daily_total'])} "
                         f"is expected to change daily {word} by {_pct(change)} "
                         f"({'up' if change >= 0 else 'down'}).")
        elif inside is not None and abs(inside) >= 0.1:
            parts.append(f"With one channel there is no split across channels; re-splitting "
                         f"{channel_label(split.get('channel', ''))}'s campaigns is expected to "
                         f"change their daily {word} by {_pct(inside)} "
                         f"({'up' if inside >= 0 else 'down'}).")
    # Named, not counted: a count would be a number the facts don't hold.
    channels = frozenset(r["channel"] for r in facts.get("channels", []))
    listed = "; ".join(f"{r['action']} {_label(r['target'], channels, names)}"
                       for r in recs[:MAX_RECOMMENDATIONS])
    parts.append(f"Recommended: {listed}.")
    return " ".join(parts)

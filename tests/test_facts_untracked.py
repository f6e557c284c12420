"""Facts, the rules engine and the grounding check on accounts that do not track revenue: a
lead-generation account is read through results and CPA (never a revenue of 0, never "ROI
0.00 … stops a loss"), an LLM answer that speaks of ROI there is refused, and a mixed account
keeps ROI for the channels that track revenue only."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import sqlalchemy as sa

from demetra import llm, rules
from demetra.facts import Context, build_context, grounding_problems
from demetra.queries import Filters
from tests.budget.leadgen import END, LEADS, MIXED, import_account
from tests.fake_llm import FakeLLM, Reply

PERIOD = Filters(start=END.replace(day=1), end=END)
ROI_WORDS = re.compile(r"\bROI\b|\breturned\b|\brevenue of\b|stops a loss|break-even", re.I)


def numbers_under(value: Any, words: tuple[str, ...], key: str = "") -> list[tuple[str, Any]]:
    """(key, value) of every number kept under a key naming one of ``words``."""
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out += numbers_under(v, words, str(k) if any(w in str(k) for w in words) else key)
    elif isinstance(value, list):
        for v in value:
            out += numbers_under(v, words, key)
    elif key and isinstance(value, (int, float)) and not isinstance(value, bool):
        out.append((key, value))
    return out


def answer_text(answer: dict) -> str:
    return " ".join([answer["summary"], *(f"{r['rationale']} {r['expected_impact']} "
                                          f"{' '.join(r['metrics'])}"
                                          for r in answer["recommendations"])])


@pytest.fixture
def leads(engine: sa.Engine) -> sa.Engine:
    return import_account(engine, LEADS, idle={"linkedin": "Awareness video"})


@pytest.fixture
def mixed(engine: sa.Engine) -> sa.Engine:
    return import_account(engine, MIXED)


# ---- a lead-generation account ---------------------------------------------------------------

def test_facts_of_a_lead_gen_account_hold_no_revenue_and_lead_with_cpa(leads) -> None:
    ctx = build_context(leads, PERIOD)
    facts = ctx.facts
    assert facts["revenue_tracked"] is False and facts["results_tracked"] is True
    assert facts["kpis"]["revenue"]["value"] is None and facts["kpis"]["roi"]["value"] is None
    assert facts["kpis"]["cpa"]["value"] > 0
    assert "break_even_roi" not in facts
    # not one number anywhere under a revenue or ROI key: unknown is null, never 0
    assert numbers_under(facts, ("revenue", "roi")) == []
    assert all(r["revenue_tracked"] is False and r["cpa"] > 0 for r in facts["channels"])
    b = facts["budget"]
    assert b["outcome"] == "results" and b["recommended_cpa"] > 0
    assert b["recommended_expected_daily_results"] >= b["current_expected_daily_results"]
    assert all("marginal_cpa_now" in r for r in b["channels"])
    assert facts["costliest_cpa_campaigns"] and facts["cheapest_cpa_campaigns"]
    idle = facts["campaigns_without_results"]
    assert [c["name"] for c in idle] == ["Awareness video"] and idle[0]["spend"] > 0
    assert any("Revenue is not tracked" in n for n in facts["notes"])
    assert facts["riskiest_campaigns"] == []


def test_the_rules_engine_speaks_of_results_and_cpa_never_of_roi(leads) -> None:
    ctx = build_context(leads, PERIOD)
    answer = rules.recommend(ctx)
    llm.Answer.model_validate(answer)
    text = answer_text(answer)
    assert "CPA" in text and "results" in text
    assert not ROI_WORDS.search(text), ROI_WORDS.search(text)
    assert "$0.00" not in text
    assert grounding_problems(answer, ctx) == []
    actions = {(r["action"], r["target"]) for r in answer["recommendations"]}
    # the allocator's results split moves budget between channels
    assert {a for a, t in actions if t in LEADS} >= {"increase", "decrease"}
    # the campaign that spent all period without a result is paused
    idle = ctx.facts["campaigns_without_results"][0]["campaign_id"]
    assert ("pause", idle) in actions
    assert "Awareness video" in text and "without any result" in text


def test_grounding_refuses_roi_and_revenue_where_revenue_is_not_tracked(leads) -> None:
    ctx = build_context(leads, PERIOD)
    spend = ctx.facts["kpis"]["spend"]["value"]
    cpa = ctx.facts["kpis"]["cpa"]["value"]

    def answer(summary: str, metrics: list[str] | None = None) -> dict:
        return {"summary": summary, "recommendations": [{
            "action": "decrease", "target": "linkedin", "rationale": f"Its CPA is ${cpa:.2f}.",
            "expected_impact": "More results for the same spend.", "confidence": "low",
            "metrics": metrics or ["cpa"]}]}

    bad = grounding_problems(answer(f"${spend:,.2f} of spend returned $0.00 (ROI 0.00)."), ctx)
    assert bad and all("does not track revenue" in p for p in bad)
    assert grounding_problems(answer("Revenue grew."), ctx)
    assert grounding_problems(answer("All good.", metrics=["roi"]), ctx)
    ok = answer(f"Revenue is not tracked, so ROI is unknown; the CPA was ${cpa:.2f} on "
                f"${spend:,.2f} of spend.")
    assert grounding_problems(ok, ctx) == []
    # a campaign's name is not a claim, whatever words it holds
    cid = ctx.facts["largest_campaigns"][0]["campaign_id"]
    named = Context(facts=ctx.facts, channels=ctx.channels,
                    campaigns={**ctx.campaigns, cid: "Revenue push ROI test"})
    assert grounding_problems(answer("Revenue push ROI test brought the most results."),
                              named) == []


def own_figure(candidate: dict) -> str:
    """The first figure of a candidate action, as a writer would quote it."""
    key, value = next((k, v) for k, v in candidate["figures"].items()
                      if isinstance(v, int | float) and not isinstance(v, bool))
    return f"{key.replace('_', ' ')} {value:,}"


def test_an_llm_answer_with_an_roi_on_a_lead_gen_account_goes_to_the_rules(leads) -> None:
    ctx = build_context(leads, PERIOD)
    spend = ctx.facts["kpis"]["spend"]["value"]
    roi_answer = {"summary": f"${spend:,.2f} of spend returned $0.00 (ROI 0.00).",
                  "recommendations": [{"action": "decrease", "target": "facebook",
                                       "rationale": "ROI 0.00 is below break-even.",
                                       "expected_impact": "Every dollar moved elsewhere stops a "
                                                          "loss.",
                                       "confidence": "high", "metrics": ["roi"]}]}
    fake = FakeLLM().start()
    try:
        fake.replies.extend([Reply(content=json.dumps(roi_answer))] * 2)
        settings = fake.settings()
        out = llm.generate(leads, PERIOD, settings, store=False)
        assert out.source == "rules" and "does not track revenue" in out.fallback_reason
        # the retry told the model why
        assert "does not track revenue" in fake.requests[1]["messages"][-1]["content"]
        assert "revenue_tracked" in fake.requests[0]["messages"][0]["content"]
        assert not ROI_WORDS.search(answer_text(out.answer))
        cpa = ctx.facts["kpis"]["cpa"]["value"]
        # The candidate actions of the facts (every main move among them), judged by CPA.
        chosen = [c for c in ctx.candidates if c["main"]] or ctx.candidates[:1]
        good = {"summary": f"Revenue is not tracked; the account's CPA was ${cpa:.2f}.",
                "recommendations": [{"action": c["action"], "target": c["target"],
                                     "rationale": f"CPA ${cpa:.2f} across the account; "
                                                  + own_figure(c) + ".",
                                     "expected_impact": "Learn what more spend brings.",
                                     "confidence": "low", "metrics": ["cpa"]}
                                    for c in chosen]}
        fake.requests.clear()
        fake.replies.append(Reply(content=json.dumps(good)))
        kept = llm.generate(leads, PERIOD, settings, store=False)
        assert kept.source == "llm", kept.fallback_reason
    finally:
        fake.stop()


# ---- a mixed account -------------------------------------------------------------------------

def test_a_mixed_account_keeps_roi_for_the_channels_that_track_revenue_only(mixed) -> None:
    ctx = build_context(mixed, PERIOD)
    facts = ctx.facts
    assert facts["revenue_tracked"] == "partly" and facts["results_tracked"] == "partly"
    by = {r["channel"]: r for r in facts["channels"]}
    assert by["facebook"]["revenue_tracked"] is True and by["facebook"]["roi"] > 0
    assert by["linkedin"]["revenue"] is None and by["linkedin"]["roi"] is None
    assert by["tiktok"]["cpa"] is None and by["tiktok"]["conversions"] is None
    # the account's ROI is facebook's: the untracked spend is not counted as a loss
    assert facts["kpis"]["roi"]["value"] == pytest.approx(by["facebook"]["roi"], abs=1e-3)
    assert facts["kpis"]["spend_tracking_revenue"]["value"] == by["facebook"]["spend"]
    assert facts["budget"]["outcome"] == "results"
    assert "tiktok" not in {r["channel"] for r in facts["budget"]["channels"]}

    answer = rules.recommend(ctx)
    assert grounding_problems(answer, ctx) == []
    for rec in answer["recommendations"]:
        if rec["target"] in ("linkedin", "tiktok"):
            assert not ROI_WORDS.search(f"{rec['rationale']} {rec['expected_impact']}"), rec
    assert "tracks revenue" in answer["summary"]

    roi = by["facebook"]["roi"]
    cpa = by["linkedin"]["cpa"]

    def one(summary: str, target: str = "facebook", rationale: str = "r") -> dict:
        return {"summary": summary, "recommendations": [{
            "action": "test", "target": target, "rationale": rationale, "expected_impact": "e",
            "confidence": "low", "metrics": ["spend"]}]}

    assert grounding_problems(one(f"Facebook's ROI is {roi:.2f}."), ctx) == []
    assert grounding_problems(one(f"Facebook's ROI is {roi:.2f}; LinkedIn's CPA is "
                                  f"${cpa:.2f}."), ctx) == []
    bad = grounding_problems(one("LinkedIn's ROI is 0.00."), ctx)
    assert bad and "LinkedIn" in bad[0] and "does not track revenue" in bad[0]
    # a sentence naming nothing speaks of the recommendation's target
    assert grounding_problems(one("ok", target="tiktok", rationale="Its ROI is 0.00."), ctx)
    assert grounding_problems(one("ok", rationale="Its ROI is 0.00."), ctx) == []
    assert grounding_problems(one("LinkedIn revenue is not tracked."), ctx) == []


# ---- the seeded world, unchanged ---------------------------------------------------------------

def test_the_seeded_world_is_read_on_revenue_as_before(seeded_engine, small_world_date) -> None:
    ctx = build_context(seeded_engine, Filters(small_world_date.replace(day=1),
                                               small_world_date))
    facts = ctx.facts
    assert facts["revenue_tracked"] is True and facts["break_even_roi"] == 1.0
    assert facts["kpis"]["roi"]["value"] > 0 and "spend_tracking_revenue" not in facts["kpis"]
    b = facts["budget"]
    assert b["outcome"] == "revenue" and b["recommended_roi"] > 0
    assert "recommended_expected_daily_revenue" in b and "recommended_cpa" not in b
    assert all("marginal_roi_now" in r for r in b["channels"])
    answer = rules.recommend(ctx)
    assert grounding_problems(answer, ctx) == []
    assert "ROI" in answer["summary"] and "returned" in answer["summary"]


def test_stored_facts_of_older_sets_are_read_as_revenue_tracked() -> None:
    """Facts stored before tracking was recorded carry no ``revenue_tracked``: they stay
    revenue facts, and the check does not refuse their ROI."""
    ctx = Context(facts={"kpis": {"roi": {"value": 2.1}}, "channels": [
        {"channel": "facebook", "spend": 100.0, "roi": 2.1}]}, channels=("facebook",))
    answer = {"summary": "ROI 2.1.", "recommendations": [{
        "action": "test", "target": "facebook", "rationale": "ROI 2.1", "expected_impact": "e",
        "confidence": "low", "metrics": ["roi"]}]}
    assert grounding_problems(answer, ctx) == []

"""Recommendations name campaigns as people do: by the name alone, with the id only where two
campaigns of the facts share a name; the rules engine's text and an LLM answer told to name
them so both pass the grounding check."""

from __future__ import annotations

from demetra import llm, rules
from demetra.facts import Context, campaign_labels, grounding_problems


def no_results_context(campaigns: dict[str, str]) -> Context:
    """An account whose campaigns spent many times its CPA without a result: each is named."""
    spent = [{"campaign_id": cid, "name": name, "channel": "facebook", "spend": 900.0 + i}
             for i, (cid, name) in enumerate(campaigns.items())]
    facts = {
        "period": {"start": "2026-06-01", "end": "2026-06-30", "days": 30},
        "currency": "USD", "revenue_tracked": False, "results_tracked": True,
        "kpis": {"spend": {"value": 5000.0}, "conversions": {"value": 50.0},
                 "cpa": {"value": 100.0}, "spend_tracking_results": {"value": 5000.0}},
        "channels": [{"channel": "facebook", "spend": 5000.0, "cpa": 100.0,
                      "revenue_tracked": False}],
        "campaigns_without_results": spent, "largest_campaigns": spent,
        "riskiest_campaigns": [], "open_alerts": [],
    }
    return Context(facts=facts, channels=("facebook",), campaigns=campaigns)


def rationales(answer: dict) -> dict[str, str]:
    return {r["target"]: r["rationale"] for r in answer["recommendations"]}


def test_unique_names_are_written_without_their_ids() -> None:
    ctx = no_results_context({"FB_1": "Spring sale", "FB_2": "Brand search"})
    answer = rules.recommend(ctx)
    said = rationales(answer)
    assert said["FB_1"].startswith("Spring sale spent ") and "FB_1" not in said["FB_1"]
    assert said["FB_2"].startswith("Brand search spent ") and "FB_2" not in said["FB_2"]
    assert "FB_1" not in answer["summary"] and "Spring sale" in answer["summary"]
    assert grounding_problems(answer, ctx) == []


def test_two_campaigns_with_one_name_are_both_written_with_their_ids() -> None:
    ctx = no_results_context({"FB_1": "Spring sale", "FB_2": "Spring sale", "FB_3": "Brand"})
    answer = rules.recommend(ctx)
    said = rationales(answer)
    assert said["FB_1"].startswith("Spring sale (FB_1) spent ")
    assert said["FB_2"].startswith("Spring sale (FB_2) spent ")
    assert said["FB_3"].startswith("Brand spent ")
    assert "Spring sale (FB_1)" in answer["summary"] and "Spring sale (FB_2)" in answer["summary"]
    assert grounding_problems(answer, ctx) == []


def test_campaign_labels_keep_the_id_for_a_campaign_without_a_name() -> None:
    assert campaign_labels({"7": "Brand", "8": "Brand", "c9": "", "c10": None, "c11": "c11"}) == {
        "7": "Brand (7)", "8": "Brand (8)", "c9": "c9", "c10": "c10", "c11": "c11"}


def test_the_llm_is_told_the_naming_and_its_labels_are_grounded() -> None:
    prompt = llm.messages_for(no_results_context({"FB_1": "Spring sale"}))[0]["content"]
    assert "name a campaign by its name alone" in prompt and "share a name" in prompt
    # Numeric ids, as Meta's are: "(120210)" beside a shared name is the id, not a figure.
    ctx = no_results_context({"120210": "Spring sale", "120211": "Spring sale"})
    answer = {"summary": "Spring sale (120210) and Spring sale (120211) spent $900.00 and "
                         "$901.00 without a result; the account paid $100.00 per result.",
              "recommendations": [{"action": "pause", "target": "120210",
                                   "rationale": "Spring sale (120210) spent $900.00 without a "
                                                "result.",
                                   "expected_impact": "Stops spend that brings no results.",
                                   "confidence": "high", "metrics": ["spend"]}]}
    assert grounding_problems(answer, ctx) == []
    answer["summary"] = "Spring sale (987654) spent $900.00."
    assert any("'987654'" in p for p in grounding_problems(answer, ctx))

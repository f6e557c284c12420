"""An account that tracks neither revenue nor results (its exports hold spend, clicks and
impressions only, as ../shared/real-exports/07b does): the facts say there is no outcome, the
rules engine recommends no budget move but says what to import or map and what the spend and
its CPC did, and the grounding check refuses any move an LLM would make on nothing."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from demetra import ingest, llm, rules
from demetra.facts import Context, build_context, grounding_problems
from demetra.queries import Filters
from tests.fake_llm import FakeLLM, Reply
from tests.imported import real_export

END = dt.date(2026, 6, 30)
PERIOD = Filters(start=END.replace(day=1), end=END)
CAMPAIGNS = ("brand_always_on", "spring_promo", "lookalike_conversions")
MOVES = {"increase", "decrease", "pause", "test"}


def traffic_only_file(days: int = 60) -> bytes:
    """The columns of 07b: date, campaign, active, spend, impressions, reach, clicks."""
    lines = ["date,campaign,active,spend,impressions,reach,clicks"]
    for d in range(days):
        day = END - dt.timedelta(days=d)
        for i, name in enumerate(CAMPAIGNS):
            spend = 40.0 + 15 * i + (d % 7)
            lines.append(f"{day},{name},True,{spend:.2f},{3000 + 50 * d},{2500 + 40 * d},"
                         f"{40 + i * 5 + d % 5}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def traffic(engine: sa.Engine) -> sa.Engine:
    ingest.import_file(engine, traffic_only_file(), name="traffic.csv", platform="generic",
                       channel="facebook")
    return engine


def check_no_move_rests_on_nothing(ctx: Context) -> dict:
    facts = ctx.facts
    assert facts["revenue_tracked"] is False and facts["results_tracked"] is False
    assert facts["outcome_tracked"] is False
    assert any("no outcome to judge a budget move on" in n for n in facts["notes"])
    assert facts["kpis"]["cpc"]["value"] is not None  # what can be said honestly
    answer = rules.recommend(ctx)
    recs = answer["recommendations"]
    assert recs and not {r["action"] for r in recs} & MOVES
    fix = next(r for r in recs if r["target"] == "facebook")
    assert fix["action"] == "fix"
    assert "Neither revenue nor results are tracked" in fix["rationale"]
    assert "revenue (conversion value) or results (conversions) column" in fix["expected_impact"]
    assert "map such a column" in fix["expected_impact"]
    cpc = facts["kpis"]["cpc"]["value"]
    assert f"a CPC of ${cpc:.2f}" in answer["summary"]
    assert "no outcome to judge a budget move on" in answer["summary"]
    assert grounding_problems(answer, ctx) == []
    return answer


def test_an_account_without_revenue_or_results_gets_no_budget_move(traffic) -> None:
    check_no_move_rests_on_nothing(build_context(traffic, PERIOD))


def test_the_grounding_check_refuses_a_move_on_nothing_and_the_rules_answer(traffic) -> None:
    ctx = build_context(traffic, PERIOD)
    spend = ctx.facts["kpis"]["spend"]["value"]
    move = {"summary": f"${spend:,.2f} was spent; revenue is not tracked.",
            "recommendations": [{"action": "test", "target": "facebook",
                                 "rationale": f"${spend:,.2f} of spend, results not tracked.",
                                 "expected_impact": "A controlled test shows what it brings.",
                                 "confidence": "low", "metrics": ["spend"]}]}
    problems = grounding_problems(move, ctx)
    assert len(problems) == 1 and "'test' on facebook" in problems[0]
    assert "neither revenue nor results" in problems[0]
    fake = FakeLLM().start()
    try:
        fake.replies.extend([Reply(content=json.dumps(move))] * 2)
        settings = fake.settings()
        out = llm.generate(traffic, PERIOD, settings, store=False)
        assert out.source == "rules" and "no outcome" in out.fallback_reason
        assert '"outcome_tracked":false' in fake.requests[0]["messages"][1]["content"]
        assert "no outcome" in fake.requests[1]["messages"][-1]["content"]
        assert not {r["action"] for r in out.answer["recommendations"]} & MOVES
        # A fix that says so, with its figure, is the model's own answer, kept.
        fix = {"summary": f"${spend:,.2f} was spent; neither revenue nor results are tracked.",
               "recommendations": [{"action": "fix", "target": "facebook",
                                    "rationale": f"Results are not tracked on ${spend:,.2f}.",
                                    "expected_impact": "Import a file with a results column.",
                                    "confidence": "high", "metrics": ["spend"]}]}
        fake.requests.clear()
        fake.replies.append(Reply(content=json.dumps(fix)))
        kept = llm.generate(traffic, PERIOD, settings, store=False)
        assert kept.source == "llm", kept.fallback_reason
    finally:
        fake.stop()


@pytest.mark.parametrize(("facts", "refused"), [
    ({"outcome_tracked": False}, True),
    ({"outcome_tracked": True}, False),
    ({}, False),  # a set stored before the key: not checked
])
def test_only_an_account_with_no_outcome_refuses_moves(facts: dict, refused: bool) -> None:
    ctx = Context(facts=facts, channels=("facebook",))
    rec = {"target": "facebook", "rationale": "r", "expected_impact": "e",
           "confidence": "low", "metrics": []}
    moves = {"summary": "s", "recommendations": [{**rec, "action": a} for a in sorted(MOVES)]}
    assert len(grounding_problems(moves, ctx)) == (len(MOVES) if refused else 0)
    fix = {"summary": "s", "recommendations": [{**rec, "action": "fix"}]}
    assert grounding_problems(fix, ctx) == []


def test_the_genuine_export_07b_gets_no_budget_move(engine: sa.Engine) -> None:
    path = real_export("07b_credibility_daily.csv")
    ingest.import_file(engine, path, platform="generic", channel="facebook")
    check_no_move_rests_on_nothing(build_context(engine, llm.default_period(engine)))

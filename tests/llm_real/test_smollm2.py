"""``recommend`` end to end against a real model (SmolLM2-135M-Instruct in llama-server on
loopback): the plumbing — json_schema accepted, the answer streamed, validated, stored as the
LLM's or refused with its reasons, within the time limit — not the quality of a 135M model's
advice, which is refused more often than not."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest
import sqlalchemy as sa

from demetra import llm
from demetra.config import Settings
from demetra.db.engine import make_engine
from demetra.facts import answer_problems
from demetra.queries import Filters

pytestmark = pytest.mark.slow

END = dt.date(2026, 6, 30)
PERIOD = Filters(END.replace(day=1), END)
# Refusals that are about the answer's content: anything else (a timeout, a refused request,
# a broken connection) is the plumbing failing.
CONTENT_PROBLEMS = ("the answer failed twice: ",)


@pytest.fixture
def world(tmp_path) -> sa.Engine:
    from demetra.seed import seed_database

    eng = make_engine(f"sqlite:///{tmp_path / 'real.db'}")
    seed_database(eng, end_date=END)
    yield eng
    eng.dispose()


def test_recommend_against_a_real_model(llama_server, world) -> None:
    cfg = dataclasses.replace(
        Settings(), openai_base_url=llama_server.base_url, llm_model="smollm2-135m",
        # Generous on a shared 2-core machine: ~20 s to read the facts, ~30 tokens/s.
        llm_timeout=180.0, llm_max_tokens=400, llm_min_tokens_per_second=3.0)
    seen: list[llm.Progress] = []
    out = llm.generate(world, PERIOD, cfg, progress=seen.append)

    # json_schema (with the candidates' enums) was accepted: no fallback to json_object.
    assert out.response_format == "json_schema"
    assert 1 <= out.attempts <= 2
    assert out.seconds <= out.attempts * llm.attempt_limit(cfg) + 30
    # It streamed: progress came while the model wrote.
    assert any(p.phase == "writing" and p.tokens > 0 for p in seen)
    with world.connect() as conn:
        row = conn.execute(sa.text("SELECT source, fallback_reason, model, recommendations "
                                   "FROM recommendations WHERE id = :i"), {"i": out.id}).one()
    assert row.source == out.source
    if out.source == "llm":
        # Stored as the LLM's only when it rests on the facts.
        assert out.fallback_reason is None and row.model == "smollm2-135m"
        llm.Answer.model_validate(out.answer)
        assert answer_problems(out.answer, out.context) == []
        targets = {c["target"] for c in out.context.candidates}
        assert {r["target"] for r in out.answer["recommendations"]} <= targets
    else:
        # Refused, with the reasons, and the rules engine's set stored instead.
        assert out.fallback_reason.startswith(CONTENT_PROBLEMS), out.fallback_reason
        assert row.fallback_reason == out.fallback_reason and out.attempts == 2
        recs = row.recommendations
        recs = json.loads(recs) if isinstance(recs, str) else recs
        assert recs == out.answer["recommendations"]

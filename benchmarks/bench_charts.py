"""Persisted charts and the stakeholder report at 1M rows (issue 16).

Each backend gets a fresh database seeded with 1,425 campaigns × 730 days (≈1.0M rows, seed 7),
then (not timed) a trained model, its predictions, alert detection over the last 90 days and a
rules-engine recommendation, so that every chart and every section of the report has its data.
Then, each in a fresh child process (so the peak RSS is the work's own): the standard set of
charts for the last 30 days of data, rendered and saved; and the report (PDF) for the same
period. Target: the report in ≤ 10 s.

    .venv/bin/python benchmarks/bench_charts.py [--no-pg] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import Databases, cpu_name, loopback_pg_url, write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Charts and the report (issue 16)"
END = dt.date(2026, 6, 30)
CAMPAIGNS, DAYS, SEED = 1425, 730, 7
TARGET_REPORT_S = 10.0


def child(url: str, what: str) -> None:
    from demetra import llm
    from demetra.db.engine import make_engine

    engine = make_engine(url)
    f = llm.default_period(engine)
    t0 = time.perf_counter()
    if what == "charts":
        from demetra.charts import gallery

        saved, skipped = gallery.save_standard_set(engine, f, by="bench")
        seconds = time.perf_counter() - t0
        kb = sum(len(gallery.chart_image(engine, i) or b"") for i in saved) / 1024
        detail = {"charts": len(saved), "skipped": sorted(skipped), "kb": round(kb)}
    else:
        from demetra.report import build_report

        pdf = build_report(engine, f)
        seconds = time.perf_counter() - t0
        detail = {"kb": round(len(pdf) / 1024), "pages": pdf.count(b"/Type /Page") - 1}
    print(json.dumps({"seconds": seconds, "rss_mb": _hwm_mb(), **detail}))


def _hwm_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_child(url: str, what: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, __file__, "--child", url, "--what", what],
                         capture_output=True, text=True, cwd=ROOT, timeout=900)
    if out.returncode != 0:
        raise SystemExit(f"{what} failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_backend(dbs: Databases, backend: str, size: tuple[int, int]) -> dict[str, Any]:
    from demetra import llm
    from demetra.alerts import detect
    from demetra.config import Settings
    from demetra.db.engine import make_engine
    from demetra.ml import predict, train
    from demetra.seed import seed_database

    url = dbs.new(backend, "charts")
    engine = make_engine(url)
    t0 = time.perf_counter()
    seeded = seed_database(engine, campaigns=size[0], days=size[1], seed=SEED, end_date=END)
    settings = Settings(database_url=url, model_dir=str(dbs.tmp / f"models-{backend}"))
    train(engine, settings)
    predict(engine, settings)
    detect(engine, since=END - dt.timedelta(days=89))
    llm.generate(engine, settings=settings)
    prepare = time.perf_counter() - t0
    engine.dispose()
    row = {"backend": backend, "rows": seeded.rows, "prepare_s": prepare,
           "charts": _run_child(url, "charts"), "report": _run_child(url, "report")}
    print(f"{backend}: charts {row['charts']['seconds']:.1f} s ({row['charts']['rss_mb']:.0f} MB), "
          f"report {row['report']['seconds']:.1f} s ({row['report']['rss_mb']:.0f} MB)", flush=True)
    return row


def render(rows: list[dict[str, Any]], load: tuple[str, str], size: tuple[int, int]) -> str:
    out = [SECTION, "",
           f"`python benchmarks/bench_charts.py` on {cpu_name()} ({os.cpu_count()} CPUs, "
           f"shared: load average before / after {load[0]} / {load[1]}), Python "
           f"{platform.python_version()}, {dt.datetime.now():%Y-%m-%d %H:%M}. Each backend seeded "
           f"with {size[0]:,} campaigns × {size[1]} days, then (not timed) trained, predicted, "
           "alerts detected over the last 90 days and a rules-engine recommendation written. "
           "Each run in a fresh child process; peak RSS is its VmHWM (the interpreter with "
           "pandas, matplotlib and seaborn loaded is about 200 MB of it). The period is the "
           "last 30 days of data. Target: the report in ≤ 10 s.", "",
           "| backend | rows | work | seconds | peak RSS MB | output |",
           "|---|---:|---|---:|---:|---|"]
    for r in rows:
        c, p = r["charts"], r["report"]
        out.append(f"| {r['backend']} | {r['rows']:,} | standard set of charts, rendered and "
                   f"saved | {c['seconds']:.1f} | {c['rss_mb']:.0f} | {c['charts']} PNGs, "
                   f"{c['kb']:,} KB" + (f"; skipped {', '.join(c['skipped'])}" if c["skipped"]
                                        else "") + " |")
        met = "met" if p["seconds"] <= TARGET_REPORT_S else "NOT met"
        out.append(f"| {r['backend']} | {r['rows']:,} | the report (PDF) | {p['seconds']:.1f} "
                   f"({met}) | {p['rss_mb']:.0f} | {p['pages']} pages, {p['kb']:,} KB |")
    return "\n".join(out) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--pg-url")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--quick", action="store_true", help="200 × 120, not written")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--what", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args.child, args.what)
        return 0
    size = (200, 120) if args.quick else (CAMPAIGNS, DAYS)
    pg_url = None if args.no_pg else loopback_pg_url(args.pg_url)
    before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    dbs = Databases(pg_url, "bench-charts")
    try:
        rows = [run_backend(dbs, b, size)
                for b in ["sqlite"] + (["postgresql"] if pg_url is not None else [])]
    finally:
        dbs.close()
    text = render(rows, (before, " ".join(f"{x:.1f}" for x in os.getloadavg())), size)
    print(text)
    if not args.quick:
        write_section(SECTION, text)
    return 1 if any(r["report"]["seconds"] > TARGET_REPORT_S for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())

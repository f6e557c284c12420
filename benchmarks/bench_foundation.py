"""Foundation benchmark (issue 2): loading and reading ~1M campaign-day rows.

Seeds the demo world into a fresh SQLite file and a fresh PostgreSQL schema (loopback only),
then measures:

* the seed: wall time, rows/s and where the time goes (generation, row writes, index builds,
  rollups, ANALYZE, the rest: commit, truth row, …);
* the Overview/Campaigns reads (``kpis_with_delta``, ``trend``, ``channel_breakdown``,
  ``campaign_table`` top-20 by ROI) for a 90-day 3-channel filter and for the full range:
  median (and fastest) of N warm runs;
* the same aggregations in DuckDB over the same rows (an in-memory table, no rollups);
* the naive way (``pd.read_sql`` of the whole table, then pandas group-bys): time and peak RSS,
  against our queries' peak RSS, each in a subprocess of its own;
* index choices on ``campaigns`` (build time, size, the reads that touch raw rows);
* the peak RSS of one ``AppTest`` run of the app's default page (Overview) on the SQLite file.

It writes the ``## Foundation (issue 2)`` section of ``benchmarks/RESULTS.md`` (other sections
are left alone) and prints it. The PostgreSQL schema and the temporary files are removed at the
end, also on failure.

    python benchmarks/bench_foundation.py                         # ~1M rows, both backends
    python benchmarks/bench_foundation.py --rows-scale 0.05 --no-write   # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import sqlalchemy as sa
from common import RESULTS, ROOT, Databases, cpu_name, loopback_pg_url, write_section

from demetra import queries as Q
from demetra.db import bulk, rollups
from demetra.db.engine import make_engine
from demetra.db.models import Campaign, CampaignMonth

SECTION = "## Foundation (issue 2)"
END = dt.date(2026, 6, 30)
SEED = 42
CHANNELS3 = ("facebook", "google_ads", "tiktok")
SUMS = ("cost", "revenue", "clicks", "impressions", "conversions")
# 1,430 campaigns x 730 days of the seeded world is ~1.0M rows (15% of campaigns run part-time).
DEFAULT_CAMPAIGNS = 1430
TARGETS = {  # (backend, range) -> ms
    ("sqlite", "90d"): 50, ("postgresql", "90d"): 30,
    ("sqlite", "full"): 150, ("postgresql", "full"): 100,
}
SEED_TARGET_S = 15.0
# What the tuning found (profiled on this machine at 1,007,775 rows while writing the
# foundation; kept here so that the report says why the code is the way it is).
FINDINGS = [
    "- **Seed, before → after.** SQLite 22.4 s → 8.6–13.6 s, PostgreSQL 18.6–31 s → "
    "6.8–12.4 s (quiet vs loaded runs of this script). Where the time went: the rollups were "
    "recomputed in SQL over the million rows just written (SQLite 8.2 s, PostgreSQL "
    "2.4–4.9 s); now `rollups.rebuild_from_frame` groups the frame "
    "in pandas when the table was empty (0.7–1.5 s; a test checks it equals the SQL rollups). "
    "The binary COPY payload spent 1.6 of 3.1 s building a MultiIndex of tuples; per-column "
    "factorize makes it 1.3 s, byte-identical. On PostgreSQL the primary key is dropped and "
    "rebuilt around the COPY (maintaining it per row cost ~2 s), index builds get "
    "`maintenance_work_mem = 256MB` for the transaction, and ANALYZE names the three tables "
    "(a database-wide ANALYZE also visits other schemas and deadlocked once with a test run's).",
    "- **COPY FREEZE.** Into an empty table, `campaigns` and the rollups are truncated in the "
    "load's transaction and copied with FREEZE, so the rows are all-visible at commit: "
    "index-only scans work from the first query. Without it the 90-day campaign table did 808 "
    "heap fetches for the EXISTS probes and read the edge through the heap: 58 → 32 ms "
    "(VACUUM as the stand-in).",
    "- **Rollup shape.** One pass over `campaign_months` (whole months via `CASE`, names, "
    "channel) LEFT JOIN the partial-month raw rows grouped per campaign, instead of a UNION "
    "of both grouped again: the full-range campaign table went 218 → 104 ms on SQLite. Result "
    "frames are built column-wise (a DataFrame from `Row` objects was most of the 90-day "
    "trend: 15.6 → 5.7 ms).",
    "- **SQLite planner.** For the partial-month edge SQLite picks the unique "
    "(campaign_id, date) index for the GROUP BY and looks every row up in the table; "
    "`GROUP BY +campaign_id` makes it scan the covering date index: 41.5 → 25.1 ms "
    "(fastest of 9, 90-day 3-channel edge alone).",
    "- **`campaigns` indexes: kept the date-first covering index.** Interleaved A/B on a "
    "quieter moment (fastest / median of 9, whole `campaign_table` call, 90 days): SQLite "
    "37.0 / 39.1 ms covering vs 40.0 / 42.9 ms with a plain `date` index; PostgreSQL 17.9 / "
    "18.1 vs 19.6 / 20.0 ms (all channels: 21.5 vs 25.1). The plain index is that close only "
    "because a bulk load writes rows in date order (the lookups are sequential) and it is "
    "4–13× smaller and ~1 s faster to build; the covering index keeps the raw reads "
    "independent of the physical order that imports will produce. Channel-first is ~4 ms "
    "faster on channel-filtered edges, but with no channel filter PostgreSQL 15 (no skip "
    "scan) falls back to a parallel seq scan (130–200 ms), and the other date-range readers "
    "(export, alerts, model features) want date first. Campaign-first suits SQLite's skip "
    "scan and not PostgreSQL (seq scans). The single-run variant tables above are noisier "
    "than these A/B figures.",
    "- **`campaign_months`: made the (month, channel) index covering** (every column, ~5 MB "
    "at 1M rows): SQLite full-range KPIs 49 → 27 ms and channel breakdown 63 → 40 ms (fastest "
    "of 11, interleaved A/B); no measurable change on PostgreSQL.",
    "- **Memory.** Peak RSS is read from VmHWM in each child: `getrusage` was not usable "
    "because Linux carries the parent's high-water mark into a child spawned by a large "
    "parent (a 10 MB child of a 600 MB parent reported 610 MB).",
    "- **Noise.** The machine is shared (other test runs and browsers, load 1–4 on 2 cores); "
    "the same query measured 1.5–2× apart between runs. Medians are as asked; the fastest of "
    "the runs (in brackets) is the better estimate for an idle machine.",
]
APPTEST_TARGET_MB = 300.0


# ---------------------------------------------------------------------------------------------
# Databases


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and minimum milliseconds of ``repeat`` warm runs (after one warm-up run).

    The minimum is the figure least disturbed by other load on a shared machine."""
    fn()
    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls) * 1000, min(walls) * 1000


# ---------------------------------------------------------------------------------------------
# Seed


def seed(url: str, campaigns: int, days: int) -> tuple[sa.Engine, dict[str, Any]]:
    """Migrate and seed; return the engine and the timings of each phase."""
    from demetra.seed import seed_database

    engine = make_engine(url)
    phases: dict[str, float] = {}
    originals: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, phase: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                phases[phase] = phases.get(phase, 0.0) + time.perf_counter() - t0

        originals.append((owner, name, original))
        setattr(owner, name, timed)

    wrap(bulk, "_copy_chunk", "rows")
    wrap(bulk, "_executemany_chunk", "rows")
    wrap(sa.Index, "create", "indexes")
    wrap(rollups, "rebuild_from_frame", "rollups")
    wrap(rollups, "refresh", "rollups")
    wrap(bulk, "analyze", "analyze")
    try:
        t0 = time.perf_counter()
        report = seed_database(engine, campaigns=campaigns, days=days, seed=SEED, end_date=END)
        total = time.perf_counter() - t0
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
    phases["generate"] = report.generate_seconds
    phases["other"] = total - sum(phases.values())
    return engine, {"rows": report.rows, "seconds": total, "phases": phases}


# ---------------------------------------------------------------------------------------------
# Our queries


def filters(engine: sa.Engine) -> dict[str, Q.Filters]:
    span = Q.date_span(engine)
    assert span is not None
    return {"90d": Q.Filters(END - dt.timedelta(days=89), END, CHANNELS3),
            "full": Q.Filters(*span)}


OVERVIEW_READS = ("kpis_with_delta", "trend", "channel_breakdown", "campaign_table top-20 by ROI")


def overview_calls(engine: sa.Engine, f: Q.Filters) -> dict[str, Callable[[], Any]]:
    return {
        "kpis_with_delta": lambda: Q.kpis_with_delta(engine, f),
        "trend": lambda: Q.trend(engine, f),
        "channel_breakdown": lambda: Q.channel_breakdown(engine, f),
        "campaign_table top-20 by ROI": lambda: Q.campaign_table(engine, f, sort="roi",
                                                                 page_size=20),
    }


def raw_row_calls(engine: sa.Engine, fs: dict[str, Q.Filters]) -> dict[str, Callable[[], Any]]:
    """The reads that touch raw campaign rows (where the index choice matters)."""
    f90 = fs["90d"]
    every = Q.Filters(f90.start, f90.end)
    sale = Q.Filters(f90.start, f90.end, search="sale")
    one = Q.campaign_table(engine, every, page_size=1)[0]["campaign_id"].iloc[0]
    return {
        "table 90d 3ch": lambda: Q.campaign_table(engine, f90, sort="roi", page_size=20),
        "table 90d all": lambda: Q.campaign_table(engine, every, sort="roi", page_size=20),
        "kpis+Δ 90d 3ch": lambda: Q.kpis_with_delta(engine, f90),
        "table 90d search": lambda: Q.campaign_table(engine, sale, sort="roi", page_size=20),
        "trend 90d search": lambda: Q.trend(engine, sale),
        "history 1 campaign": lambda: Q.campaign_history(engine, one),
        "export 90d 3ch": lambda: sum(len(b) for b in Q.export_csv(engine, f90)),
    }


def time_queries(engine: sa.Engine, repeat: int) -> dict[str, dict[str, tuple[float, float]]]:
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for label, f in filters(engine).items():
        out[label] = {name: measure(fn, repeat) for name, fn in overview_calls(engine, f).items()}
    sale = Q.Filters(END - dt.timedelta(days=89), END, CHANNELS3, search="sale")
    out["90d search"] = {name: measure(fn, repeat)
                         for name, fn in overview_calls(engine, sale).items()}
    return out


# ---------------------------------------------------------------------------------------------
# Index choices

_COVER = ("cost", "revenue", "clicks", "impressions", "conversions")
CAMPAIGN_INDEXES: dict[str, tuple[str, ...] | None] = {
    "date-first covering (date, channel, campaign_id, sums)": ("date", "channel", "campaign_id",
                                                                *_COVER),
    "channel-first covering (channel, date, campaign_id, sums)": ("channel", "date", "campaign_id",
                                                                  *_COVER),
    "campaign-first covering (campaign_id, date, channel, sums)": ("campaign_id", "date",
                                                                   "channel", *_COVER),
    "date only": ("date",),
    "none (unique (campaign_id, date) only)": None,
}
MONTH_INDEXES: dict[str, tuple[str, ...] | None] = {
    "(month, channel), then the table": ("month", "channel"),
    "covering (month, channel, campaign_id, every column)": (
        "month", "channel", "campaign_id", "days", "first_date", "last_date", *_COVER,
        "engagement", "campaign_name"),
}


def month_calls(engine: sa.Engine, fs: dict[str, Q.Filters]) -> dict[str, Callable[[], Any]]:
    f90, full = fs["90d"], fs["full"]
    return {
        "table 90d 3ch": lambda: Q.campaign_table(engine, f90, sort="roi", page_size=20),
        "table full": lambda: Q.campaign_table(engine, full, sort="roi", page_size=20),
        "kpis+Δ full": lambda: Q.kpis_with_delta(engine, full),
        "channels full": lambda: Q.channel_breakdown(engine, full),
    }


def index_variants(engine: sa.Engine, repeat: int, table: sa.Table,
                   variants: dict[str, tuple[str, ...] | None],
                   calls: Callable[[sa.Engine, dict[str, Q.Filters]], dict[str, Callable[[], Any]]]
                   ) -> list[dict[str, Any]]:
    """Swap the table's secondary (non-unique) indexes for each variant in turn and time the
    reads; the model's indexes are restored at the end."""
    fs = filters(engine)
    secondary = [ix for ix in table.indexes if not ix.unique]
    with engine.begin() as conn:
        for ix in secondary:
            ix.drop(conn)
    rows = []
    pg = engine.dialect.name == "postgresql"
    try:
        for label, columns in variants.items():
            build = size = None
            if columns is not None:
                with engine.begin() as conn:
                    if pg:
                        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '256MB'")
                    t0 = time.perf_counter()
                    conn.exec_driver_sql(
                        f"CREATE INDEX ix_bench ON {table.name} ({', '.join(columns)})")
                    build = time.perf_counter() - t0
            with engine.begin() as conn:
                bulk.analyze(conn)
                size = _index_size(conn, "ix_bench") if columns is not None else None
            times = {name: measure(fn, repeat) for name, fn in calls(engine, fs).items()}
            rows.append({"variant": label, "build_s": build, "size_mb": size, "times": times})
            if columns is not None:
                with engine.begin() as conn:
                    conn.exec_driver_sql("DROP INDEX ix_bench")
    finally:
        with engine.begin() as conn:
            for ix in secondary:
                ix.create(conn)
            bulk.analyze(conn)
    return rows


def _index_size(conn: sa.Connection, name: str) -> float | None:
    try:
        if conn.dialect.name == "postgresql":
            size = conn.execute(sa.text("SELECT pg_relation_size(:n)"), {"n": name}).scalar_one()
        else:
            size = conn.execute(sa.text("SELECT SUM(pgsize) FROM dbstat WHERE name = :n"),
                                {"n": name}).scalar_one()
    except sa.exc.SQLAlchemyError:
        return None
    return None if size is None else size / 2**20


# ---------------------------------------------------------------------------------------------
# DuckDB over the same rows


def duckdb_times(campaigns: int, days: int, fs: dict[str, Q.Filters], repeat: int,
                 expected_rows: int) -> dict[str, Any]:
    import duckdb
    import pandas as pd

    from demetra.seed_world import generate_world

    rows = generate_world(campaigns=campaigns, days=days, seed=SEED, end_date=END).rows
    assert len(rows) == expected_rows, "DuckDB must see the rows the databases hold"
    rows = rows.assign(date=pd.to_datetime(rows["date"]).astype("datetime64[s]"))
    con = duckdb.connect()
    con.register("world", rows)
    con.execute("CREATE TABLE campaigns AS SELECT * FROM world")
    con.unregister("world")
    del rows
    sums = ", ".join(f"SUM({s}) AS {s}" for s in (*SUMS, "engagement"))

    def where(f: Q.Filters) -> tuple[str, list[Any]]:
        sql, params = "date BETWEEN ? AND ?", [f.start, f.end]
        if f.channels:
            sql += f" AND channel IN ({', '.join('?' for _ in f.channels)})"
            params += list(f.channels)
        return sql, params

    def kpis(f: Q.Filters) -> dict[str, Any]:
        w, p = where(f)
        row = con.execute(f"SELECT {sums}, COUNT(DISTINCT campaign_id) FROM campaigns WHERE {w}",
                          p).fetchone()
        return dict(zip((*SUMS, "engagement", "campaigns"), row, strict=True))

    def calls(f: Q.Filters) -> dict[str, Callable[[], Any]]:
        w, p = where(f)
        period = "date_trunc('week', date)" if Q.resolve_grain(f) == "week" else "date"
        return {
            "kpis_with_delta": lambda: (kpis(f), kpis(f.previous())),
            "trend": lambda: con.execute(
                f"SELECT {period} AS period, channel, {sums} FROM campaigns WHERE {w} "
                "GROUP BY ALL ORDER BY 1, 2", p).df(),
            "channel_breakdown": lambda: con.execute(
                f"SELECT channel, {sums}, COUNT(DISTINCT campaign_id) AS campaigns FROM campaigns "
                f"WHERE {w} GROUP BY channel ORDER BY cost DESC", p).df(),
            "campaign_table top-20 by ROI": lambda: con.execute(
                "SELECT campaign_id, MAX(campaign_name) AS campaign_name, MAX(channel) AS channel, "
                f"COUNT(*) AS days, {sums}, SUM(revenue) / NULLIF(SUM(cost), 0) AS roi, "
                "MIN(date) AS first_date, MAX(date) AS last_date, COUNT(*) OVER () AS total "
                f"FROM campaigns WHERE {w} GROUP BY campaign_id "
                "ORDER BY roi DESC NULLS LAST, campaign_id LIMIT 20", p).df(),
        }

    out: dict[str, Any] = {"threads": con.execute("SELECT current_setting('threads')").fetchone()[0]}
    for label, f in fs.items():
        out[label] = {name: measure(fn, repeat)
                      for name, fn in calls(f).items()}
    con.close()
    return out


# ---------------------------------------------------------------------------------------------
# Subprocess measurements: the naive way, our queries' memory, the Overview page


# Peak RSS = VmHWM of the child's own address space. (getrusage's ru_maxrss is not usable
# here: Linux carries the parent's high-water mark into a child spawned by a large parent.)
_PEAK = """
def peak_rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

_NAIVE = _PEAK + """
import datetime as dt, json, sys, time
import pandas as pd, sqlalchemy as sa
from demetra.db.engine import make_engine
url, start90, end, first = sys.argv[1], *(dt.date.fromisoformat(a) for a in sys.argv[2:5])
channels3 = ("facebook", "google_ads", "tiktok")
sums = ["cost", "revenue", "clicks", "impressions", "conversions"]
engine = make_engine(url, migrate=False)
t0 = time.perf_counter()
with engine.connect() as conn:
    df = pd.read_sql(sa.text("SELECT * FROM campaigns"), conn)
t1 = time.perf_counter()
df["date"] = pd.to_datetime(df["date"])
def views(start, stop, channels):
    span = (stop - start).days + 1
    sel = df[(df.date >= pd.Timestamp(start)) & (df.date <= pd.Timestamp(stop))]
    prev = df[(df.date >= pd.Timestamp(start - dt.timedelta(days=span)))
              & (df.date < pd.Timestamp(start))]
    if channels:
        sel, prev = sel[sel.channel.isin(channels)], prev[prev.channel.isin(channels)]
    kpis = [(d[sums].sum(), d.campaign_id.nunique()) for d in (sel, prev)]
    period = sel.date.dt.to_period("W").dt.start_time if span > 120 else sel.date
    trend = sel.groupby([period, sel.channel])[sums].sum()
    channels_ = sel.groupby("channel").agg(campaigns=("campaign_id", "nunique"),
                                           **{s: (s, "sum") for s in sums})
    table = sel.groupby("campaign_id").agg(days=("date", "size"), **{s: (s, "sum") for s in sums})
    table["roi"] = table.revenue / table.cost.where(table.cost > 0)
    top = table.sort_values("roi", ascending=False).head(20)
    return kpis, trend, channels_, top
views(start90, end, channels3)
views(first, end, ())
t2 = time.perf_counter()
print(json.dumps({"rows": len(df), "read_s": t1 - t0, "compute_s": t2 - t1,
                  "peak_rss_mb": peak_rss_mb()}))
"""

_OURS = _PEAK + """
import datetime as dt, json, sys, time
from demetra import queries as Q
from demetra.db.engine import make_engine
url, start90, end, first = sys.argv[1], *(dt.date.fromisoformat(a) for a in sys.argv[2:5])
engine = make_engine(url, migrate=False)
base = peak_rss_mb()
t0 = time.perf_counter()
for f in (Q.Filters(start90, end, ("facebook", "google_ads", "tiktok")), Q.Filters(first, end)):
    Q.kpis_with_delta(engine, f); Q.trend(engine, f); Q.channel_breakdown(engine, f)
    Q.campaign_table(engine, f, sort="roi", page_size=20)
t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "baseline_rss_mb": base,
                  "peak_rss_mb": peak_rss_mb()}))
"""

_APPTEST = _PEAK + """
import json, sys, time
from streamlit.testing.v1 import AppTest

t0 = time.perf_counter()
at = AppTest.from_file("streamlit_app.py", default_timeout=600)
at.secrets["DATABASE_URL"] = sys.argv[1]
at.run()
print(json.dumps({"seconds": time.perf_counter() - t0,
                  "peak_rss_mb": peak_rss_mb(),
                  "exceptions": [str(e.value)[:300] for e in at.exception],
                  "errors": [str(e.value)[:300] for e in at.error],
                  "metrics": len(at.metric)}))
"""


def run_script(code: str, *args: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], cwd=ROOT,  # noqa: S603
                          env=env, capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------------------------------------
# Report


def _ms(v: float | None) -> str:
    return "—" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.1f}")


def _ok(value: float | None, target: float) -> str:
    return "" if value is None else (" ✓" if value <= target else " ✗")


def _machine() -> list[str]:
    import duckdb
    import pandas as pd

    cpu = cpu_name()
    import sqlite3

    return [f"{os.cpu_count()} × {cpu}", f"Python {platform.python_version()}",
            f"SQLite {sqlite3.sqlite_version}", f"SQLAlchemy {sa.__version__}",
            f"pandas {pd.__version__}", f"DuckDB {duckdb.__version__}"]


def render(run: dict[str, Any]) -> str:
    out = [SECTION, ""]
    command = f"python benchmarks/bench_foundation.py {run['argv']}".strip()
    out.append(f"Run {run['when']} with `{command}` — {run['rows']:,} rows "
               f"({run['campaigns']:,} campaigns × {run['days']} days, seed {SEED}, ending {END}).")
    out.append("Machine: " + ", ".join(run["machine"])
               + (f", PostgreSQL {run['pg_version']}" if run.get("pg_version") else "")
               + f". Load average before/after: {run['load_before']} / {run['load_after']}"
               " (the machine is shared: see the notes at the end).")
    out.append("")

    out += ["### Seed (demetra.seed.seed_database, one transaction, ANALYZE included)", "",
            "| backend | rows | seconds | rows/s | generate | write rows | build indexes | "
            "rollups | ANALYZE | rest (commit, …) | target ≤ 15 s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:-:|"]
    for backend, s in run["seed"].items():
        p = s["phases"]
        out.append(f"| {backend} | {s['rows']:,} | {s['seconds']:.1f} | "
                   f"{s['rows'] / s['seconds']:,.0f} | " + " | ".join(
                       f"{p.get(k, 0.0):.1f}" for k in ("generate", "rows", "indexes", "rollups",
                                                        "analyze", "other"))
                   + f" |{_ok(s['seconds'], SEED_TARGET_S)} |")
    out.append("")

    backends = list(run["queries"])
    out += ["### Overview / Campaigns reads (ms: median of "
            f"{run['repeat']} warm runs, fastest run in brackets)", "",
            "| query | filter | " + " | ".join(backends) + " | DuckDB | "
            + " | ".join(f"{b} ÷ DuckDB" for b in backends) + " | target |",
            "|---|---|" + "---:|" * (2 * len(backends) + 1) + "---|"]
    for label in ("90d", "full", "90d search"):
        for name in OVERVIEW_READS:
            cells = []
            for b in backends:
                med, low = run["queries"][b][label][name]
                target = TARGETS.get((b, label))
                cells.append(f"{_ms(med)} ({_ms(low)})" + (_ok(med, target) if target else ""))
            duck = run.get("duckdb", {}).get(label, {}).get(name)
            cells.append(f"{_ms(duck[0])} ({_ms(duck[1])})" if duck else "—")
            for b in backends:
                cells.append(f"{run['queries'][b][label][name][0] / duck[0]:.1f}×" if duck else "—")
            targets = ", ".join(f"{b} ≤ {TARGETS[(b, label)]}" for b in backends
                                if (b, label) in TARGETS)
            filt = {"90d": f"90 days, 3 channels ({', '.join(CHANNELS3)})",
                    "full": f"full range ({run['days']} days), all channels",
                    "90d search": "90 days, 3 channels, search “sale”"}[label]
            out.append(f"| {name} | {filt} | " + " | ".join(cells) + f" | {targets or 'none'} |")
    if run.get("duckdb"):
        out.append("")
        out.append(f"DuckDB: the same aggregations over the raw rows in an in-memory table "
                   f"({run['duckdb']['threads']} threads), results fetched as DataFrames.")
    out.append("")

    out += ["### The naive way vs ours (each in a fresh subprocess; peak RSS = VmHWM)", "",
            "| backend | naive: read_sql whole table | naive: pandas group-bys | naive: peak RSS | "
            "ours: the 8 reads above | ours: peak RSS (of which imports) |",
            "|---|---:|---:|---:|---:|---:|"]
    for backend in backends:
        n, o = run["naive"].get(backend, {}), run["ours_memory"].get(backend, {})
        if "error" in n or "error" in o or not n or not o:
            out.append(f"| {backend} | {n.get('error') or o.get('error') or 'not measured'} "
                       "| | | | |")
            continue
        out.append(f"| {backend} | {n['read_s']:.1f} s | {n['compute_s']:.2f} s | "
                   f"{n['peak_rss_mb']:,.0f} MB | {o['seconds'] * 1000:,.0f} ms | "
                   f"{o['peak_rss_mb']:,.0f} MB ({o['baseline_rss_mb']:,.0f} MB) |")
    out.append("")

    if run.get("indexes"):
        out += ["### Index choices", "",
                "Each variant replaces the table's secondary indexes (the unique/primary keys "
                "stay); build = CREATE INDEX on the loaded table; ms: median (fastest).", ""]
        for table, heading in (("campaigns", "`campaigns`: the reads that touch raw rows "
                                             "(partial months, search, history, export)"),
                               ("campaign_months", "`campaign_months`: the per-campaign reads")):
            for backend, by_table in run["indexes"].items():
                variants = by_table[table]
                names = list(variants[0]["times"])
                out += [f"**{heading} — {backend}**", "",
                        "| index | build s | size MB | " + " | ".join(names) + " |",
                        "|---|---:|---:|" + "---:|" * len(names)]
                for v in variants:
                    cells = [f"{_ms(v['times'][n][0])} ({_ms(v['times'][n][1])})" for n in names]
                    build = "—" if v["build_s"] is None else f"{v['build_s']:.2f}"
                    size = "—" if v["size_mb"] is None else f"{v['size_mb']:.1f}"
                    out.append(f"| {v['variant']} | {build} | {size} | " + " | ".join(cells)
                               + " |")
                out.append("")

    out += ["### Overview page, one AppTest run on the seeded SQLite file", ""]
    a = run.get("apptest")
    if not a:
        out.append("Not measured in this run.")
    elif "error" in a:
        out.append(f"Failed: {a['error']}")
    else:
        problems = a["exceptions"] + a["errors"]
        out.append(f"Peak RSS {a['peak_rss_mb']:,.0f} MB{_ok(a['peak_rss_mb'], APPTEST_TARGET_MB)} "
                   f"(target ≤ {APPTEST_TARGET_MB:.0f} MB), {a['seconds']:.1f} s including "
                   f"Streamlit's import, {a['metrics']} metrics rendered"
                   + (f"; page problems: {problems}" if problems else "; no exception or error")
                   + ".")
    out.append("")
    if run.get("notes"):
        out += ["### Findings and notes", "", *run["notes"], ""]
    return "\n".join(out).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--campaigns", type=int, default=DEFAULT_CAMPAIGNS)
    ap.add_argument("--days", type=int, default=730)
    ap.add_argument("--rows-scale", type=float, default=1.0,
                    help="multiply the number of campaigns (0.1 = ~100k rows)")
    ap.add_argument("--repeat", type=int, default=5, help="warm runs per query (median)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--pg-url", help="admin URL of a loopback PostgreSQL (default: "
                    "BENCH_DATABASE_URL, TEST_DATABASE_URL or postgres@127.0.0.1/test)")
    ap.add_argument("--skip", default="", help="comma list of: duckdb,naive,indexes,apptest")
    ap.add_argument("--no-write", action="store_true", help="print only, leave RESULTS.md alone")
    args = ap.parse_args(argv)
    campaigns = max(1, round(args.campaigns * args.rows_scale))
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    run: dict[str, Any] = {
        "when": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "argv": " ".join(sys.argv[1:]),
        "campaigns": campaigns, "days": args.days, "repeat": args.repeat,
        "machine": _machine(), "load_before": " ".join(f"{x:.1f}" for x in os.getloadavg()),
        "seed": {}, "queries": {}, "naive": {}, "ours_memory": {}, "indexes": {},
        "notes": list(FINDINGS),
    }
    pg_url = loopback_pg_url(args.pg_url) if "postgresql" in backends else None
    with ExitStack() as stack:
        dbs = Databases(pg_url, "bench")
        stack.callback(dbs.close)
        fs: dict[str, Q.Filters] = {}
        sqlite_url = None
        for backend in backends:
            url = dbs.new(backend, "bench")
            print(f"[{backend}] seeding {campaigns:,} campaigns × {args.days} days …", flush=True)
            engine, seeded = seed(url, campaigns, args.days)
            stack.callback(engine.dispose)
            run["seed"][backend] = seeded
            run["rows"] = seeded["rows"]
            print(f"[{backend}] {seeded['rows']:,} rows in {seeded['seconds']:.1f} s "
                  f"{ {k: round(v, 2) for k, v in seeded['phases'].items()} }", flush=True)
            if backend == "postgresql":
                with engine.connect() as conn:
                    run["pg_version"] = conn.exec_driver_sql("SHOW server_version").scalar()
            else:
                sqlite_url = url
            fs = filters(engine)
            print(f"[{backend}] timing the reads …", flush=True)
            run["queries"][backend] = time_queries(engine, args.repeat)
            first, start90 = fs["full"].start, fs["90d"].start
            script_args = (url, start90.isoformat(), END.isoformat(), first.isoformat())
            if "naive" not in skip:
                print(f"[{backend}] naive read_sql + pandas, and our reads' memory …", flush=True)
                run["naive"][backend] = run_script(_NAIVE, *script_args)
                run["ours_memory"][backend] = run_script(_OURS, *script_args)
            if "indexes" not in skip:
                print(f"[{backend}] index variants …", flush=True)
                run["indexes"][backend] = {
                    "campaigns": index_variants(engine, args.repeat, Campaign.__table__,
                                                CAMPAIGN_INDEXES, raw_row_calls),
                    "campaign_months": index_variants(engine, args.repeat,
                                                      CampaignMonth.__table__, MONTH_INDEXES,
                                                      month_calls)}
            if backend == "sqlite" and "apptest" not in skip:
                if (ROOT / "streamlit_app.py").exists():
                    print("[sqlite] AppTest of the Overview page …", flush=True)
                    run["apptest"] = run_script(_APPTEST, url)
                else:
                    run["notes"].append("streamlit_app.py did not exist yet: the Overview memory "
                                        "figure is to be measured by re-running this script.")
        if "duckdb" not in skip and fs:
            print("[duckdb] same aggregations in DuckDB …", flush=True)
            run["duckdb"] = duckdb_times(campaigns, args.days, fs, args.repeat, run["rows"])
        del sqlite_url
    run["load_after"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
    text = render(run)
    print()
    print(text)
    if not args.no_write:
        write_section(SECTION, text)
        print(f"wrote the section to {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

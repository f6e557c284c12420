"""Import a 1M-row Meta Ads Manager export on SQLite and PostgreSQL (loopback only).

The file is generated in a temp folder in Meta's format (UTF-8 BOM, "Amount spent (USD)" with
thousands separators, "--" for empty, a Platform breakdown). Each backend imports it in a child
process, so that the peak RSS reported is the import's own: first into an empty database, then
the same file again (every row unchanged). Targets (issue 5): <= 30 s on PostgreSQL, <= 60 s on
SQLite, memory bounded by the chunk size, not the file.

    .venv/bin/python benchmarks/bench_import.py [--rows 1000000] [--pg-url URL] [--no-pg]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from common import Databases, loopback_pg_url, write_section

DAYS = 500
START = np.datetime64("2025-01-01")


def make_file(path: Path, rows: int, chunk: int = 200_000, *, shift_days: int = 0,
              seed: int = 5) -> tuple[int, float]:
    """Write the export; returns (rows, total spend) for checking the import against.
    ``shift_days`` moves every day later (a later export that overlaps the first)."""
    campaigns = max(1, rows // (DAYS * 2))
    rng = np.random.default_rng(seed)
    total = 0.0
    written = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        out.write("Reporting starts,Reporting ends,Campaign name,Campaign ID,Day,Platform,"
                  "Amount spent (USD),Impressions,Link clicks,Purchases,"
                  "Purchases conversion value\n")
        for start in range(0, rows, chunk):
            i = np.arange(start, min(start + chunk, rows))
            n = len(i)
            day = START + shift_days + (i // (campaigns * 2)) % DAYS
            campaign = (i // 2) % campaigns
            cents = rng.integers(100, 500_000, n)
            spend = cents / 100
            impressions = rng.integers(1_000, 200_000, n)
            clicks = (impressions * rng.uniform(0.002, 0.03, n)).astype(np.int64)
            purchases = rng.poisson(3, n)
            value = np.round(spend * rng.uniform(0.2, 5.0, n), 2)
            # Meta writes thousands separators and "--" for nothing: exercise both.
            spend_text = np.where(cents >= 100_000, [f"{v:,.2f}" for v in spend],
                                  spend.astype(str))
            value_text = np.where(purchases == 0, "--", value.astype(str))
            value = np.where(purchases == 0, 0.0, value)
            days = day.astype(str)
            frame = pd.DataFrame({
                "a": "2025-01-01", "b": "2026-05-15", "name": [f"Campaign {c}" for c in campaign],
                "id": (120210000000000000 + campaign).astype(str), "day": days,
                "platform": np.where(i % 2 == 0, "facebook", "instagram"),
                "spend": spend_text, "impressions": impressions, "clicks": clicks,
                "purchases": purchases, "value": value_text,
            })
            out.write(frame.to_csv(index=False, header=False))
            total += float(spend.sum())
            written += n
    return written, total


def child(url: str, file: str, later: str) -> None:
    from demetra.db.engine import make_engine
    from demetra.ingest import import_file

    engine = make_engine(url)
    t0 = time.perf_counter()
    first = import_file(engine, file)
    seconds = time.perf_counter() - t0
    rss_first = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    again = import_file(engine, file)
    again_seconds = time.perf_counter() - t0
    with engine.connect() as conn:
        spend = conn.exec_driver_sql("SELECT SUM(cost) FROM campaigns").scalar()
        rollup = conn.exec_driver_sql("SELECT SUM(cost) FROM channel_days").scalar()
    t0 = time.perf_counter()
    overlap = import_file(engine, later)
    overlap_seconds = time.perf_counter() - t0
    print(json.dumps({
        "seconds": seconds, "inserted": first.inserted, "rejected": first.rejected,
        "again_seconds": again_seconds, "again_unchanged": again.unchanged,
        "again_inserted": again.inserted, "again_updated": again.updated,
        "spend": float(spend), "rollup_spend": float(rollup),
        "overlap_seconds": overlap_seconds, "overlap_inserted": overlap.inserted,
        "overlap_updated": overlap.updated, "overlap_unchanged": overlap.unchanged,
        "peak_rss_mb_first": rss_first,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg-url", default=None)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="don't update RESULTS.md")
    parser.add_argument("--child", nargs=3, metavar=("URL", "FILE", "LATER"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    pg_url = None if args.no_pg else loopback_pg_url(args.pg_url)
    dbs = Databases(pg_url, "import")
    try:
        path = dbs.tmp / "meta_export.csv"
        t0 = time.perf_counter()
        rows, spend = make_file(path, args.rows)
        later = dbs.tmp / "meta_export_later.csv"
        make_file(later, args.rows, shift_days=DAYS // 2, seed=6)
        size_mb = path.stat().st_size / 1024 / 1024
        print(f"Generated {rows:,} rows ({size_mb:,.0f} MB) in {time.perf_counter() - t0:.1f} s")
        results = {}
        for backend in ("sqlite", *(() if pg_url is None else ("postgresql",))):
            url = dbs.new(backend, "bench")
            out = subprocess.run([sys.executable, __file__, "--child", url, str(path), str(later)],
                                 capture_output=True, text=True, check=False)
            if out.returncode:
                raise SystemExit(f"{backend} import failed:\n{out.stderr[-3000:]}")
            r = json.loads(out.stdout.strip().splitlines()[-1])
            assert r["inserted"] == rows and r["rejected"] == 0, r
            assert r["again_unchanged"] == rows and r["again_inserted"] == r["again_updated"] == 0
            for stored in (r["spend"], r["rollup_spend"]):
                assert abs(stored - spend) < 1e-6 * spend, (stored, spend)
            half = rows - rows // 2
            assert (r["overlap_inserted"], r["overlap_updated"]) == (half, rows - half), r
            results[backend] = r
            print(f"{backend}: {r['seconds']:.1f} s ({rows / r['seconds']:,.0f} rows/s), again "
                  f"{r['again_seconds']:.1f} s (all unchanged), later export "
                  f"{r['overlap_seconds']:.1f} s ({r['overlap_inserted']:,} new, "
                  f"{r['overlap_updated']:,} updated), peak RSS {r['peak_rss_mb_first']:,.0f} MB "
                  f"(first import), {r['peak_rss_mb']:,.0f} MB (all three)")
        if not args.no_write:
            write_section("## Imports (issue 5)", report(rows, size_mb, results, dbs.pg_version()))
    finally:
        dbs.close()


def report(rows: int, size_mb: float, results: dict, pg_version: str | None) -> str:
    targets = {"sqlite": 60, "postgresql": 30}
    lines = [
        "## Imports (issue 5)", "",
        f"`python benchmarks/bench_import.py` — a {rows:,}-row Meta Ads Manager export "
        f"({size_mb:,.0f} MB CSV: BOM, thousands separators, `--`, Platform breakdown) imported "
        "with `demetra.ingest.import_file` into an empty database, then the same file again, "
        "then a later export of the same size whose first half overlaps the last half of the "
        "first (new values). "
        f"Python {platform.python_version()}, pandas {pd.__version__}"
        + (f", PostgreSQL {pg_version}" if pg_version else "") + "; 2 cores shared with other "
        "work at the time, so the times are upper bounds.", "",
        "| backend | import into empty | rows/s | target | same file again (all unchanged) | "
        "later export (half new, half updated) | peak RSS first import / all three |",
        "|---|---|---|---|---|---|---|",
    ]
    for backend, r in results.items():
        ok = "met" if r["seconds"] <= targets[backend] else "MISSED"
        lines.append(f"| {backend} | {r['seconds']:.1f} s | {rows / r['seconds']:,.0f} | "
                     f"≤ {targets[backend]} s ({ok}) | {r['again_seconds']:.1f} s | "
                     f"{r['overlap_seconds']:.1f} s | {r['peak_rss_mb_first']:,.0f} / "
                     f"{r['peak_rss_mb']:,.0f} MB |")
    lines += ["", "Read in 100,000-row chunks; the next chunk is parsed while the previous one "
              "is staged (PostgreSQL: COPY of an Arrow-written CSV into a temp table; SQLite: "
              "executemany into a throw-away attached database file). Then one `INSERT … SELECT "
              "… ON CONFLICT (campaign_id, date) DO UPDATE … WHERE` the values differ (with "
              "`GROUP BY campaign_id, date` only when a campaign-day repeats) and the rollups for "
              "the touched days, in one transaction. Into an empty table the indexes (on "
              "PostgreSQL the primary key too) are built once after the insert and the rollups "
              "are written from per-chunk partial sums. Stored spend and the rollups' spend "
              "equal the file's.", "",
              "Memory: reading holds two chunks at a time; on top of the ~140 MB interpreter "
              "with pandas and pyarrow loaded, a preview of 200,000 rows peaks at 263 MB and of "
              "1,000,000 rows at 331 MB (Arrow's allocator keeps freed blocks). The rest of "
              "SQLite's peak is its page cache (64 MB) and the index builds' sort, which the "
              "engine's `temp_store=MEMORY` keeps in memory.", "",
              "The later export is the slow case on PostgreSQL: 500,000 rows updated in place "
              "are new row versions in all three indexes (the covering index holds the metrics, "
              "so no HOT updates).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()

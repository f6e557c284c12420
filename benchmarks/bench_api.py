"""JSON API latency at 1M rows (issue 17): the summary and campaigns endpoints under a loopback
load from a few concurrent clients, on SQLite and PostgreSQL (loopback only).

Each backend gets a fresh database seeded with 1,425 campaigns × 730 days (≈1.0M rows, seed 7),
then ``python -m demetra api`` in a child process (one uvicorn worker, as the command starts
it). After a warm-up, ``--clients`` threads (httpx, keep-alive) send ``--requests`` requests
each, cycling through four requests: the summary for the default period (the last 30 days),
the summary for one channel over 90 days, the first campaigns page sorted by spend, and a
campaigns page sorted by ROI for two channels. Latency is measured by the client, from
sending to the last byte. Target: p99 ≤ 100 ms on PostgreSQL.

    .venv/bin/python benchmarks/bench_api.py [--clients 4] [--requests 100] [--no-pg] [--quick]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from common import Databases, cpu_name, loopback_pg_url, write_section

from demetra.db.engine import make_engine
from demetra.seed import seed_database
from tests.processes import free_port, stop, wait_until_healthy

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## JSON API (issue 17)"
END = dt.date(2026, 6, 30)
CAMPAIGNS, DAYS, SEED = 1425, 730, 7
TARGET_P99_MS = 100.0
WORKERS = 1
REQUESTS = [
    ("summary", "/api/analytics/summary", {}),
    ("summary", "/api/analytics/summary",
     {"channels": "facebook", "start": (END - dt.timedelta(days=89)).isoformat()}),
    ("campaigns", "/api/campaigns", {"limit": 50}),
    ("campaigns", "/api/campaigns", {"sort": "roi", "channels": "google_ads,tiktok",
                                     "limit": 50}),
]


def load(base: str, clients: int, per_client: int) -> dict[str, list[float]]:
    """Latencies (ms) per endpoint from ``clients`` threads sending ``per_client`` each."""
    out: dict[str, list[float]] = {"summary": [], "campaigns": []}
    lock = threading.Lock()
    errors: list[str] = []

    def client(k: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as c:
            for i in range(per_client):
                name, path, params = REQUESTS[(i + k) % len(REQUESTS)]
                t0 = time.perf_counter()
                r = c.get(path, params=params)
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:
                    errors.append(f"{path} {r.status_code}")
                with lock:
                    out[name].append(ms)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} requests failed, e.g. {errors[0]}")
    return out


def run_backend(dbs: Databases, backend: str, clients: int, per_client: int,
                campaigns: int = CAMPAIGNS, days: int = DAYS) -> dict[str, Any]:
    url = dbs.new(backend, "api")
    engine = make_engine(url)
    t0 = time.perf_counter()
    seeded = seed_database(engine, campaigns=campaigns, days=days, seed=SEED, end_date=END)
    seed_s = time.perf_counter() - t0
    engine.dispose()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "API_TOKEN": ""}
    proc = subprocess.Popen([sys.executable, "-m", "demetra", "api", "--port", str(port),
                             "--workers", str(WORKERS)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_until_healthy(base + "/health", proc, None, 60, what="the API", interval=0.3)
        except RuntimeError as exc:
            raise SystemExit(str(exc)) from None
        load(base, 1, 2 * len(REQUESTS))            # warm caches and connections
        t0 = time.perf_counter()
        lat = load(base, clients, per_client)
        wall = time.perf_counter() - t0
    finally:
        stop(proc, 20)
    row: dict[str, Any] = {"backend": backend, "rows": seeded.rows, "seed_s": seed_s,
                           "requests": sum(len(v) for v in lat.values()), "wall": wall}
    for name, values in lat.items():
        a = np.array(values)
        row[name] = {"n": len(a), "p50": float(np.percentile(a, 50)),
                     "p99": float(np.percentile(a, 99)), "max": float(a.max())}
    print(f"{backend}: " + ", ".join(f"{n} p50 {row[n]['p50']:.1f} ms p99 {row[n]['p99']:.1f} ms"
                                     for n in lat) + f" ({row['requests']} requests, "
          f"{row['requests'] / wall:.0f}/s)", flush=True)
    return row


def render(rows: list[dict[str, Any]], args: argparse.Namespace, load_before: str,
           load_after: str) -> str:
    out = [SECTION, "",
           f"`python benchmarks/bench_api.py --clients {args.clients} --requests "
           f"{args.requests}` on {cpu_name()} ({os.cpu_count()} CPUs, shared: load average "
           f"before / after {load_before} / {load_after}), Python {platform.python_version()}, "
           f"{dt.datetime.now():%Y-%m-%d %H:%M}. Each backend seeded with {args.size[0]:,} "
           f"campaigns × {args.size[1]} days; `python -m demetra api` (one uvicorn worker) in a child "
           f"process; {args.clients} client threads on the same machine (httpx, keep-alive) "
           "cycling through the summary for the last 30 days, the summary of one channel over "
           "90 days, the first campaigns page by spend and a page by ROI for two channels. "
           "Latency from the client, to the last byte. Target: p99 ≤ 100 ms on PostgreSQL.", "",
           "| backend | rows | endpoint | requests | p50 ms | p99 ms | max ms | target |",
           "|---|---:|---|---:|---:|---:|---:|---|"]
    for r in rows:
        for name in ("summary", "campaigns"):
            s = r[name]
            target = ("met" if s["p99"] <= TARGET_P99_MS else "NOT met") \
                if r["backend"] == "postgresql" else "—"
            out.append(f"| {r['backend']} | {r['rows']:,} | {name} | {s['n']} | {s['p50']:.1f} | "
                       f"{s['p99']:.1f} | {s['max']:.1f} | {target} |")
    out += ["", "Throughput: " + "; ".join(f"{r['backend']} {r['requests'] / r['wall']:.0f} "
                                           "requests/s" for r in rows)
            + ". Seeding (not timed above): " + ", ".join(f"{r['backend']} {r['seed_s']:.0f} s"
                                                        for r in rows) + "."]
    return "\n".join(out) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--requests", type=int, default=100, help="per client")
    p.add_argument("--pg-url")
    p.add_argument("--no-pg", action="store_true")
    p.add_argument("--no-write", action="store_true")
    p.add_argument("--quick", action="store_true", help="200 campaigns × 90 days, not written")
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (1)")
    args = p.parse_args()
    global WORKERS
    WORKERS = args.workers
    size = args.size = (200, 90) if args.quick else (CAMPAIGNS, DAYS)
    pg_url = None if args.no_pg else loopback_pg_url(args.pg_url)
    load_before = " ".join(f"{x:.1f}" for x in os.getloadavg())
    dbs = Databases(pg_url, "bench-api")
    try:
        rows = [run_backend(dbs, b, args.clients, args.requests, *size)
                for b in ["sqlite"] + (["postgresql"] if pg_url is not None else [])]
    finally:
        dbs.close()
    text = render(rows, args, load_before, " ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(text)
    if not (args.no_write or args.quick):
        write_section(SECTION, text)
    pg = [r for r in rows if r["backend"] == "postgresql"]
    return 1 if any(r[n]["p99"] > TARGET_P99_MS for r in pg for n in ("summary", "campaigns")) \
        else 0


if __name__ == "__main__":
    raise SystemExit(main())

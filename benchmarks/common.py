"""What every benchmark script shares: loopback-only PostgreSQL, throw-away databases, and
rewriting one section of RESULTS.md without touching the others."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

from demetra.db.engine import normalize_url

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
# A script puts only its own folder on the path; the repository root lets the benchmarks import
# the child-process helpers they share with the tests (tests/processes.py).
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def loopback_pg_url(arg: str | None) -> sa.URL:
    """The admin URL of the PostgreSQL server to benchmark; never anything but loopback."""
    raw = (arg or os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
           or "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
    url = normalize_url(raw)
    host = url.host or "localhost"
    if host not in ("localhost", "::1") and not host.startswith("127."):
        raise SystemExit(f"the benchmark only uses a loopback PostgreSQL, not {host}")
    return url


class Databases:
    """Fresh databases for one run (SQLite files in a temp folder, PostgreSQL schemas);
    ``close`` removes them all, also after a failure."""

    def __init__(self, pg_url: sa.URL | None, prefix: str) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix=f"demetra-{prefix}-"))
        self.prefix = prefix.replace("-", "_")
        self.pg_url = pg_url
        self.pg_admin = sa.create_engine(pg_url) if pg_url is not None else None
        self.schemas: list[str] = []

    def new(self, backend: str, name: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{self.tmp / (name + '.db')}"
        assert self.pg_admin is not None and self.pg_url is not None
        schema = f"{self.prefix}_{uuid.uuid4().hex[:10]}"
        with self.pg_admin.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        self.schemas.append(schema)
        url = self.pg_url.update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def pg_version(self) -> str | None:
        if self.pg_admin is None:
            return None
        with self.pg_admin.connect() as conn:
            return conn.exec_driver_sql("SHOW server_version").scalar()

    def close(self) -> None:
        if self.pg_admin is not None:
            for schema in self.schemas:
                with self.pg_admin.begin() as conn:
                    conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            self.pg_admin.dispose()
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_section(section: str, text: str) -> None:
    """Replace (or append) the ``section`` of RESULTS.md, leaving every other one as it is."""
    current = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = current.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == section), None)
    if start is None:
        new = current.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        tail = "".join(lines[end:])
        new = "".join(lines[:start]) + text + ("\n" + tail if tail else "")
    # Written beside and renamed: two benchmarks finishing together never interleave a file.
    tmp = RESULTS.with_suffix(f".md.tmp-{os.getpid()}")
    tmp.write_text(new)
    tmp.replace(RESULTS)


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo), for the machine line of a report."""
    import platform

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"

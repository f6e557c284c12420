"""Browser end-to-end fixtures: ``streamlit run`` on a free loopback port against a SQLite file
holding a fresh demo (``demetra.demo``), and Debian's Chromium driven by Playwright (never
``playwright install``)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from demetra.config import SETTINGS
from tests.processes import free_port, stop, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
SEED_END = dt.date(2026, 6, 30)
DEMO_CAMPAIGNS = 16
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-dev-shm-usage"]


def no_browser(reason: str) -> None:
    """In CI a missing browser is a failure (the test must run there); elsewhere a skip."""
    if IN_CI:
        pytest.fail(f"browser test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def seed_end() -> dt.date:
    """The last day of the seeded world the server shows."""
    return SEED_END


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def seeded_sqlite_url(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> str:
    """A fresh demo, as ``serve --demo`` loads it, in a world small enough to train in well
    under a second (16 campaigns: per-campaign forecasts, not the pooled tree model)."""
    from demetra.config import Settings
    from demetra.db import make_engine
    from demetra.demo import load_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'demetra.db'}"
    engine = make_engine(url)
    report = load_demo(engine, Settings(model_dir=str(model_dir)), campaigns=DEMO_CAMPAIGNS,
                       end_date=SEED_END)
    engine.dispose()
    assert all(step.done for step in report.steps), report.lines()
    return url


@pytest.fixture(scope="session")
def server(seeded_sqlite_url: str, model_dir: Path,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    env = {k: v for k, v in os.environ.items() if k not in {s.name for s in SETTINGS}}
    env["DATABASE_URL"] = seeded_sqlite_url
    env["MODEL_DIR"] = str(model_dir)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py",
             "--server.headless", "true", "--server.address", "127.0.0.1",
             "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(f"{base}/_stcore/health", proc, log, 60, what="streamlit",
                               interval=0.25)
        except RuntimeError as exc:
            pytest.fail(str(exc))
        yield base
    finally:
        stop(proc)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError:
        no_browser("playwright is not installed; pip install -r requirements-dev.txt")
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None and Path("/usr/bin/chromium").exists():
        executable = "/usr/bin/chromium"
    if executable is None:
        no_browser("chromium not found; apt-get install chromium")
    with sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Error as exc:
            no_browser(f"chromium at {executable} did not start: {str(exc).splitlines()[0]}")
        yield b
        b.close()

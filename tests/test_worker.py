"""The background worker: one cycle writes predictions and alerts, a failing job does not stop
the other, and ``python -m demetra worker`` runs a cycle, then stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra import worker
from demetra.config import Settings
from demetra.db.engine import make_engine

ROOT = Path(__file__).resolve().parents[1]


def _count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one()


def test_a_cycle_trains_predicts_and_detects(seeded_engine: sa.Engine, tmp_path: Path) -> None:
    settings = Settings(model_dir=str(tmp_path / "models"))
    results = worker.run_cycle(seeded_engine, settings)
    assert [r.job for r in results] == ["predict", "alerts", "recommend", "charts"]
    assert all(r.ok for r in results), results
    assert results[0].trained  # no model yet: trained first, once
    with seeded_engine.connect() as conn:
        spending = conn.execute(sa.text(
            "SELECT COUNT(DISTINCT campaign_id) FROM campaigns WHERE cost > 0 AND date > "
            "(SELECT MAX(date) FROM campaigns) - 7" if seeded_engine.dialect.name == "postgresql"
            else "SELECT COUNT(DISTINCT campaign_id) FROM campaigns WHERE cost > 0 AND date > "
                 "date((SELECT MAX(date) FROM campaigns), '-7 days')")).scalar_one()
    assert _count(seeded_engine, "predictions") == spending > 0
    assert _count(seeded_engine, "model_runs") == 1
    assert _count(seeded_engine, "alerts") > 0
    assert _count(seeded_engine, "recommendations") == 1
    assert "rules engine (no LLM endpoint is configured" in results[2].message
    # The standard set: every chart type this account has data for, saved by the worker.
    assert _count(seeded_engine, "ml_dashboards") == 5 and "5 charts saved" in results[3].message
    # A second cycle reuses the model and replaces the day's batch; recommendations are daily.
    again = worker.run_cycle(seeded_engine, settings)
    assert all(r.ok for r in again) and not again[0].trained
    assert _count(seeded_engine, "model_runs") == 1
    assert _count(seeded_engine, "predictions") == spending
    assert again[2].skipped and _count(seeded_engine, "recommendations") == 1
    assert again[3].skipped and _count(seeded_engine, "ml_dashboards") == 5


def test_a_failing_job_is_reported_and_the_other_still_runs(
        seeded_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    def broken(engine: sa.Engine, settings: Settings) -> worker.JobResult:
        raise RuntimeError("model folder is read-only")

    monkeypatch.setitem(worker.JOBS, "predict", broken)
    with caplog.at_level("INFO", logger="demetra.worker"):
        results = worker.run_cycle(seeded_engine, Settings())
    by_job = {r.job: r for r in results}
    assert not by_job["predict"].ok and "read-only" in by_job["predict"].message
    assert by_job["alerts"].ok
    assert _count(seeded_engine, "alerts") > 0
    assert any("predict: failed" in r.message and "read-only" in r.message for r in caplog.records)


def test_not_enough_data_is_not_a_failure(engine: sa.Engine, tmp_path: Path) -> None:
    results = worker.run_cycle(engine, Settings(model_dir=str(tmp_path)))
    predict = next(r for r in results if r.job == "predict")
    assert predict.ok and predict.skipped


def test_run_forever_stops_at_once_when_asked(engine: sa.Engine,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cycles = []
    monkeypatch.setattr(worker, "run_cycle", lambda e, s: cycles.append(1) or [])
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_forever, args=(engine, None, 3600, stop))
    thread.start()
    time.sleep(0.3)
    t0 = time.perf_counter()
    stop.set()
    thread.join(5)
    assert not thread.is_alive() and time.perf_counter() - t0 < 2
    assert cycles == [1]


def _seeded_sqlite(tmp_path: Path) -> str:
    from demetra.seed import seed_database

    url = f"sqlite:///{tmp_path / 'worker.db'}"
    eng = make_engine(url)
    seed_database(eng, campaigns=40, days=120)
    eng.dispose()
    return url


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": url, "MODEL_DIR": str(tmp_path / "models"),
            "PYTHONUNBUFFERED": "1"}


def test_the_worker_process_runs_a_cycle_and_stops_on_sigterm(tmp_path: Path) -> None:
    url = _seeded_sqlite(tmp_path)
    log_path = tmp_path / "worker.log"
    with open(log_path, "wb") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "demetra", "worker", "--interval", "3600"],
                                cwd=ROOT, env=_env(tmp_path, url), stdout=log_file,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while "cycle 1 finished" not in log_path.read_text():
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0, log_path.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    log = log_path.read_text()
    assert "worker stopped" in log
    assert "predict:" in log and "alerts:" in log and "Traceback" not in log
    assert "cycle 1 finished" in log and "0 failed" in log
    eng = sa.create_engine(url)
    assert _count(eng, "predictions") > 0
    eng.dispose()


def test_the_worker_once_exits_zero(tmp_path: Path) -> None:
    # An empty database: nothing to forecast is logged, not a failure.
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    done = subprocess.run([sys.executable, "-m", "demetra", "worker", "--once"], cwd=ROOT,
                          env=_env(tmp_path, url), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "predict: skipped, not enough data" in done.stderr and "alerts:" in done.stderr

"""The background worker: every ``interval`` seconds, forecast ROI and detect alerts; once a day,
write recommendations and render the standard set of charts.

``run_cycle`` runs the jobs once (predictions, training first when the model is missing or
stale; then alert detection; then recommendations and charts when the newest set is a day
old) and
returns one ``JobResult`` per job; a failing job is logged and
reported, and the next job still runs. ``run_forever`` repeats cycles until its stop event is
set (``python -m demetra worker`` sets it on SIGTERM/SIGINT), waiting on the event rather than
sleeping so a stop takes effect at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from demetra.config import Settings

log = logging.getLogger("demetra.worker")

DEFAULT_INTERVAL = 3600


@dataclass
class JobResult:
    job: str                 # "predict", "alerts", "recommend" or "charts"
    ok: bool
    message: str
    seconds: float
    trained: bool = False    # predictions needed a (re)training first
    skipped: bool = False    # nothing to do (not enough data): not a failure


def _predict_job(engine: sa.Engine, settings: Settings) -> JobResult:
    from demetra.ml import NotEnoughData, RetrainNeeded, predict, train

    t0 = time.perf_counter()
    trained = False
    try:
        try:
            result = predict(engine, settings)
        except RetrainNeeded as exc:
            log.info("predict: %s; training first", exc)
            tr = train(engine, settings)
            trained = True
            log.info("train: run %d, %d examples, spend-weighted MAE %.3f, %.1f s",
                     tr.run_id, tr.examples, tr.metrics["model"]["wmae"] or float("nan"),
                     tr.seconds)
            result = predict(engine, settings)
    except NotEnoughData as exc:
        seconds = time.perf_counter() - t0
        log.warning("predict: skipped, not enough data: %s (%.1f s)", exc, seconds)
        return JobResult("predict", True, f"not enough data: {exc}", seconds, trained, True)
    seconds = time.perf_counter() - t0
    risks = ", ".join(f"{result.risk_counts.get(k, 0)} {k}" for k in ("high", "medium", "low"))
    message = (f"{result.written} predictions as of {result.as_of} ({risks} risk)"
               + (" after training" if trained else ""))
    log.info("predict: %s, %.1f s", message, seconds)
    return JobResult("predict", True, message, seconds, trained)


def _alerts_job(engine: sa.Engine, settings: Settings) -> JobResult:
    from demetra.alerts import run_detection

    t0 = time.perf_counter()
    report = run_detection(engine, settings=settings)
    seconds = time.perf_counter() - t0
    if report.error:
        raise RuntimeError(report.summary())
    raised = sum(report.raised.values())
    message = (f"{raised} new alerts, {report.updated} updated, {report.resolved} resolved, "
               f"{report.rows_scanned:,} rows checked"
               + (f", {len(report.skipped)} skipped" if report.skipped else ""))
    log.info("alerts: %s, %.1f s", message, seconds)
    return JobResult("alerts", True, message, seconds)


RECOMMEND_EVERY = dt.timedelta(days=1)


def _recommend_job(engine: sa.Engine, settings: Settings) -> JobResult:
    from demetra import llm
    from demetra.queries import date_span

    t0 = time.perf_counter()
    newest = llm.newest_created_at(engine)
    if newest is not None and dt.datetime.now(dt.UTC) - newest < RECOMMEND_EVERY:
        return JobResult("recommend", True, f"the newest set is from {newest:%Y-%m-%d %H:%M} UTC",
                         time.perf_counter() - t0, skipped=True)
    if date_span(engine) is None:
        return JobResult("recommend", True, "no campaign data yet", time.perf_counter() - t0,
                         skipped=True)
    out = llm.generate(engine, settings=settings)
    message = (f"{len(out.answer['recommendations'])} recommendations from the "
               + ("LLM" if out.source == "llm" else f"rules engine ({out.fallback_reason})"))
    log.info("recommend: %s, %.1f s", message, out.seconds)
    return JobResult("recommend", True, message, time.perf_counter() - t0)


CHARTS_EVERY = dt.timedelta(days=1)


def _charts_job(engine: sa.Engine, settings: Settings) -> JobResult:
    """Once a day, the standard set of charts for the last 30 days of data."""
    from demetra import llm
    from demetra.charts import gallery
    from demetra.queries import date_span

    t0 = time.perf_counter()
    newest = gallery.newest_by(engine, "worker")
    if newest is not None and dt.datetime.now(dt.UTC) - newest.to_pydatetime() < CHARTS_EVERY:
        return JobResult("charts", True, f"the newest set is from {newest:%Y-%m-%d %H:%M} UTC",
                         time.perf_counter() - t0, skipped=True)
    if date_span(engine) is None:
        return JobResult("charts", True, "no campaign data yet", time.perf_counter() - t0,
                         skipped=True)
    saved, skipped = gallery.save_standard_set(engine, llm.default_period(engine), by="worker")
    message = (f"{len(saved)} charts saved" + (f"; skipped {', '.join(skipped)} (no data)"
                                              if skipped else ""))
    log.info("charts: %s, %.1f s", message, time.perf_counter() - t0)
    return JobResult("charts", True, message, time.perf_counter() - t0)


JOBS = {"predict": _predict_job, "alerts": _alerts_job, "recommend": _recommend_job,
        "charts": _charts_job}


def run_cycle(engine: sa.Engine, settings: Settings | None = None) -> list[JobResult]:
    """Run every job once; a job that raises is logged and reported, the others still run."""
    settings = settings or Settings()
    results = []
    for name, job in JOBS.items():
        t0 = time.perf_counter()
        try:
            results.append(job(engine, settings))
        except Exception as exc:  # noqa: BLE001 - one broken job must not stop the worker
            seconds = time.perf_counter() - t0
            text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            detail = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
            if engine.url.password:
                detail = detail.replace(str(engine.url.password), "***")
            log.error("%s: failed after %.1f s: %s", name, seconds, detail)
            results.append(JobResult(name, False, detail, seconds))
    return results


def run_forever(engine: sa.Engine, settings: Settings | None, interval: float,
                stop_event: threading.Event) -> None:
    """Run a cycle every ``interval`` seconds until ``stop_event`` is set."""
    from demetra.db.engine import safe_url

    log.info("worker started: database %s, every %g s", safe_url(engine.url), interval)
    cycle = 0
    while not stop_event.is_set():
        cycle += 1
        t0 = time.perf_counter()
        results = run_cycle(engine, settings)
        failed = [r.job for r in results if not r.ok]
        log.info("cycle %d finished in %.1f s: %d jobs, %d failed%s; next in %g s", cycle,
                 time.perf_counter() - t0, len(results), len(failed),
                 f" ({', '.join(failed)})" if failed else "", interval)
        if stop_event.wait(interval):
            break
    log.info("worker stopped")

"""The demo that opens full: seed the demo world, then fill every page from it.

``load_demo`` seeds the world (``demetra.seed``), trains the ROI model, forecasts, detects
alerts over the whole seeded history and writes a first set of recommendations with the rules
engine (fast, and no network: the Recommendations page's Generate asks the LLM), and saves one
chart of each type for the Charts page. The command line (``serve --demo``), the Data page and
the empty state all call it, so each opens on the same populated app.

The steps after seeding are ``DemoStep``s: ``CORE_STEPS`` always run, then whatever
``EXTRA_STEPS`` holds, in order. A feature that wants its own output in the demo appends a
step there; it gets the same progress bar and its one-line
summary in the report. A step that cannot run on the world asked for (a history too short to
train on) is reported as skipped, with its reason; the steps after it still run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from demetra.config import Settings
from demetra.errors import DemetraError
from demetra.seed import SeedReport, seed_database

Progress = Callable[[float, str], None]

#: Stored as the reason the rules engine wrote the demo's first set of recommendations.
DEMO_RULES_REASON = ("the demo loader writes its first set with the rules engine (fast, no "
                     "network); Generate asks the LLM when one is configured")


@dataclass(frozen=True)
class Demo:
    """What a step works on: the database, the settings and the world just seeded."""

    engine: sa.Engine
    settings: Settings
    seeded: SeedReport


@dataclass(frozen=True)
class DemoStep:
    """One step after seeding. ``run(demo, progress)`` does the work and returns its one-line
    summary, or raises a ``DemetraError`` saying why it cannot run (``NotEnoughData``: the world
    is too small for it), which skips it and not the steps after; ``weight`` is its
    share of the progress bar relative to the other steps (training is the slow one)."""

    label: str
    run: Callable[[Demo, Progress], str]
    weight: float = 1.0


@dataclass(frozen=True)
class StepResult:
    label: str
    summary: str
    seconds: float
    done: bool = True   # False: skipped, and ``summary`` says why


@dataclass(frozen=True)
class DemoReport:
    seeded: SeedReport
    steps: tuple[StepResult, ...]

    @property
    def seconds(self) -> float:
        return self.seeded.seconds + sum(s.seconds for s in self.steps)

    def lines(self) -> list[str]:
        """One line per step, seeding first, with its time."""
        s = self.seeded
        return [f"Seed: {s.rows:,} rows, {s.campaigns} campaigns, {s.start} to {s.end}, "
                f"{s.incidents} injected incidents ({s.seconds:.1f} s)",
                *(f"{r.label}: {r.summary} ({r.seconds:.1f} s)" for r in self.steps)]

    def summary(self) -> str:
        """One sentence for a toast: what the demo world holds now."""
        done = [r.label.lower() for r in self.steps if r.done]
        skipped = [f"{r.label.lower()} ({r.summary.removeprefix('skipped: ')})"
                   for r in self.steps if not r.done]
        text = (f"Demo world loaded: {self.seeded.rows:,} rows, {self.seeded.campaigns} "
                f"campaigns" + (f"; {', '.join(done)} done" if done else ""))
        if skipped:
            text += f"; skipped: {'; '.join(skipped)}"
        return f"{text} ({self.seconds:.1f} s)."


def _train(demo: Demo, progress: Progress) -> str:
    from demetra.ml import train

    return train(demo.engine, demo.settings, progress=progress).summary()


def _predict(demo: Demo, progress: Progress) -> str:
    from demetra.ml import predict

    # Without a model fit to this world (training skipped), predict refuses: RetrainNeeded.
    return predict(demo.engine, demo.settings, progress=progress).summary()


def _alerts(demo: Demo, _progress: Progress) -> str:
    from demetra.alerts import run_detection

    # Over the whole history, so the injected incidents are found where they were put.
    report = run_detection(demo.engine, since=demo.seeded.start, until=demo.seeded.end,
                           settings=demo.settings)
    if report.error:
        raise DemetraError(f"{report.summary()} (a system alert says so on the Alerts page)")
    return report.summary()


def _recommend(demo: Demo, _progress: Progress) -> str:
    from demetra import llm

    out = llm.generate(demo.engine, settings=demo.settings, rules_reason=DEMO_RULES_REASON)
    n = len(out.answer["recommendations"])
    return f"{n} recommendation{'s' if n != 1 else ''} from the rules engine"


def _charts(demo: Demo, progress: Progress) -> str:
    from demetra import llm
    from demetra.charts import gallery

    # One chart of each type for the last 30 days, so the Charts page opens on a gallery.
    saved, skipped = gallery.save_standard_set(demo.engine, llm.default_period(demo.engine),
                                               by="demo", progress=progress)
    return f"{len(saved)} charts saved" + (f" (no data for {', '.join(skipped)})"
                                           if skipped else "")


CORE_STEPS: tuple[DemoStep, ...] = (
    DemoStep("Train", _train, weight=12.0),
    DemoStep("Predict", _predict),
    DemoStep("Alerts", _alerts),
    DemoStep("Recommend", _recommend),
    DemoStep("Charts", _charts, weight=3.0),
)

#: Steps other features add to the demo (appended, run after ``CORE_STEPS`` in order).
EXTRA_STEPS: list[DemoStep] = []

_SEED_WEIGHT = 1.0


def load_demo(engine: sa.Engine, settings: Settings | None = None, *, replace: bool = False,
              campaigns: int | None = None, days: int | None = None,
              end_date: dt.date | None = None, progress: Progress | None = None) -> DemoReport:
    """Seed the demo world and run every step on it, reporting ``progress(fraction, text)``.

    ``campaigns``, ``days``, ``end_date`` and ``replace`` are those of
    :func:`demetra.seed.seed_database` (which refuses a database holding campaign rows unless
    ``replace``). A step the world is too small for is skipped and says why.
    """
    from demetra.seed import DEFAULT_DAYS

    settings = settings or Settings()
    report = progress or (lambda _f, _t: None)
    steps = (*CORE_STEPS, *EXTRA_STEPS)
    total = _SEED_WEIGHT + sum(s.weight for s in steps)

    def part(begin: float, weight: float) -> Progress:
        return lambda f, text: report((begin + weight * min(max(f, 0.0), 1.0)) / total, text)

    seeded = seed_database(engine, campaigns=campaigns, days=days or DEFAULT_DAYS,
                           end_date=end_date, replace=replace,
                           progress=part(0.0, _SEED_WEIGHT))
    demo = Demo(engine, settings, seeded)
    done, results = _SEED_WEIGHT, []
    for step in steps:
        report(done / total, f"{step.label}…")
        t0 = time.perf_counter()
        try:
            summary, ok = step.run(demo, part(done, step.weight)), True
        except DemetraError as exc:
            summary, ok = f"skipped: {exc}", False
        results.append(StepResult(step.label, summary, time.perf_counter() - t0, ok))
        done += step.weight
    report(1.0, "The demo world is ready")
    return DemoReport(seeded, tuple(results))

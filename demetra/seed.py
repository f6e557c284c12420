"""Load the seeded demo world (``demetra.seed_world``) into the database, with its truth."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from demetra.db import bulk
from demetra.db.models import SeedTruth
from demetra.errors import BadInput, SeedRefused

DEFAULT_CAMPAIGNS = 50
DEFAULT_DAYS = 90
DEFAULT_SEED = 42
OUTCOMES = ("revenue", "results")
# The demo world and the worlds of other structure in demetra.zoo (named here, where the CLI
# can read them without importing numpy).
WORLDS = ("seeded", "drift", "fatigue", "promo", "leadgen")

# Everything derived from campaign rows goes with them on --replace; model_runs is history.
_REPLACED_TABLES = ("predictions", "alerts", "recommendations", "ml_dashboards", "seed_truth",
                    "campaign_sources",
                    "channel_days", "campaign_months", "campaigns")


@dataclass(frozen=True)
class SeedReport:
    rows: int
    campaigns: int
    start: dt.date
    end: dt.date
    incidents: int
    generate_seconds: float
    write_seconds: float
    outcome: str = "revenue"     # "results": a lead-generation world, revenue not tracked
    channels: int = 0            # channels with campaigns
    pauses: int = 0              # paused spans (days without a row)

    @property
    def seconds(self) -> float:
        return self.generate_seconds + self.write_seconds


def campaign_row_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT COUNT(*) FROM campaigns")).scalar_one()


def seed_database(engine: sa.Engine, *, campaigns: int | None = None,
                  days: int = DEFAULT_DAYS, seed: int = DEFAULT_SEED,
                  end_date: dt.date | None = None, replace: bool = False,
                  progress: bulk.Progress | None = None, outcome: str = "revenue",
                  small: bool = False, channels: int | Sequence[str] | None = None,
                  pauses: bool | None = None, world: str = "seeded") -> SeedReport:
    """Generate the demo world and write it in one transaction.

    ``campaigns`` defaults to ``DEFAULT_CAMPAIGNS`` (3–8, drawn from the seed, with ``small``);
    ``outcome``, ``small``, ``channels`` and ``pauses`` are those of
    :func:`demetra.seed_world.generate_world` (a results world stores revenue as NULL: not
    tracked). ``world``: another world of :mod:`demetra.zoo` (``drift``, ``fatigue``,
    ``promo``, ``leadgen``), of ``campaigns`` (default 40) × ``days``; the other options are
    the seeded world's. Refuses (``SeedRefused``) when campaign rows exist, unless ``replace``.
    """
    from demetra.seed_world import generate_world

    if (campaigns is not None and campaigns < 1) or days < 1:
        raise BadInput("--campaigns and --days must be at least 1")
    if outcome not in OUTCOMES:
        raise BadInput(f"--outcome must be one of {', '.join(OUTCOMES)}, not {outcome!r}")
    if campaigns is None and not small and world == "seeded":
        campaigns = DEFAULT_CAMPAIGNS
    existing = campaign_row_count(engine)
    if existing and not replace:
        raise SeedRefused(
            f"the database already holds {existing:,} campaign rows; "
            "use --replace to delete them and load the demo world instead")
    report = lambda frac, text: progress(frac, text) if progress else None  # noqa: E731
    report(0.0, "Generating the demo world")
    t0 = time.perf_counter()
    try:
        if world == "seeded":
            made = generate_world(campaigns=campaigns, days=days, seed=seed, end_date=end_date,
                                  outcome=outcome, small=small, channels=channels, pauses=pauses)
        else:
            from demetra.zoo import make_world

            made = make_world(world, campaigns=campaigns, days=days, seed=seed,
                              end_date=end_date)
    except ValueError as exc:   # a bad --channels, --world or --days
        raise BadInput(str(exc)) from None
    t1 = time.perf_counter()
    with engine.begin() as conn:
        if replace:
            for table in _REPLACED_TABLES:
                conn.execute(sa.text(f"DELETE FROM {table}"))
        report(0.05, f"Writing {len(made.rows):,} rows")
        rows = bulk.insert_campaign_rows(
            conn, made.rows,
            progress=lambda f, text: report(0.05 + 0.85 * f, text))
        conn.execute(sa.insert(SeedTruth).values(truth=made.truth))
        report(0.92, "Updating statistics")
        bulk.analyze(conn)
    t2 = time.perf_counter()
    report(1.0, f"Loaded {rows:,} rows")
    truth: dict[str, Any] = made.truth
    return SeedReport(rows=rows, campaigns=len(truth["campaigns"]),
                      start=dt.date.fromisoformat(truth["start_date"]),
                      end=dt.date.fromisoformat(truth["end_date"]),
                      incidents=len(truth.get("incident_spans", truth["incidents"])),
                      generate_seconds=t1 - t0, write_seconds=t2 - t1,
                      outcome=truth["outcome"], channels=len(truth["channels"]),
                      pauses=len(truth["pauses"]))


def load_truth(engine: sa.Engine) -> dict[str, Any] | None:
    """The ground truth of the seeded world in the database, or None if it was not seeded."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(SeedTruth.truth).order_by(SeedTruth.id.desc()).limit(1)).first()
    return None if row is None else row[0]

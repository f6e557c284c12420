"""A seeded account with everything the pages read: a trained model and its predictions,
alerts, and (if asked) a rules-engine recommendation. For the package- and module-scoped
fixtures that share one such account per backend (API, charts, report)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from demetra.alerts import detect
from demetra.config import Settings
from demetra.db.engine import make_engine
from demetra.llm import generate
from demetra.ml import predict, train
from demetra.seed import seed_database
from tests.databases import fresh_database_url


@contextmanager
def filled_account(backend: str, tmp: Path, *, world: dict[str, Any],
                   detect_days: int | None = None, recommend: bool = True) -> Iterator[dict]:
    """Seed ``world``, train, predict, detect alerts (over the whole history, or its last
    ``detect_days``), write recommendations; yields engine, url, settings and the seed report."""
    url, cleanup = fresh_database_url(backend, tmp)
    engine = make_engine(url)
    try:
        seeded = seed_database(engine, **world)
        settings = Settings(database_url=url, model_dir=str(tmp / "models"))
        train(engine, settings)
        predict(engine, settings)
        since = seeded.start if detect_days is None else seeded.end - dt.timedelta(
            days=detect_days - 1)
        detect(engine, since=since)
        if recommend:
            generate(engine, settings=settings)
        yield {"engine": engine, "url": url, "settings": settings, "seeded": seeded}
    finally:
        engine.dispose()
        cleanup()

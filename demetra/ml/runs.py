"""What the app asks about the model's state: the newest usable training, and whether the
stored forecasts are older than the data.

"The newest day of data" is ``queries.date_span`` (the rollup every page reads), the same day
the sidebar's presets count back from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from demetra import queries
from demetra.db.models import ModelRun, Prediction


def latest_model_run(engine: sa.Engine) -> dict[str, Any] | None:
    """The newest usable (ok or stale) training: id, version, status, window, metrics,
    seconds, trained_at and parameters; None before the first training."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(ModelRun.id, ModelRun.version, ModelRun.status, ModelRun.train_start,
                      ModelRun.train_end, ModelRun.metrics, ModelRun.duration_seconds,
                      ModelRun.trained_at, ModelRun.parameters)
            .where(ModelRun.status.in_(("ok", "stale"))).order_by(ModelRun.id.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None


def newest_forecast_day(engine: sa.Engine) -> dt.date | None:
    """The as-of day of the newest stored predictions (None when there are none)."""
    with engine.connect() as conn:
        return queries.as_date(conn.execute(sa.select(sa.func.max(Prediction.as_of))).scalar())


def predictions_are_stale(engine: sa.Engine) -> bool:
    """True when the newest day of data is newer than the newest predictions' as-of day (or
    there are campaign data and no predictions at all)."""
    span = queries.date_span(engine)
    if span is None:
        return False
    newest = newest_forecast_day(engine)
    return newest is None or newest < span[1]

"""The saved charts (``ml_dashboards``): save a rendered chart, list them newest first with
their thumbnails, read one image, delete one.

Listing reads the thumbnail column, never ``image_data``: a gallery of a thousand charts moves
a thousand small PNGs, not a thousand full ones.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import sqlalchemy as sa

from demetra import queries
from demetra.charts.png import RenderedChart
from demetra.db.models import MLDashboard
from demetra.queries import as_date

__all__ = ["LIST_COLUMNS", "chart_count", "chart_image", "delete_chart", "list_charts", "newest_by",
           "save_chart", "save_standard_set", "stamp"]

LIST_COLUMNS = ["id", "dashboard_type", "title", "parameters", "created_at", "period_start",
                "period_end", "thumbnail"]


def save_chart(engine: sa.Engine, chart: RenderedChart, *, by: str = "user") -> int:
    """Store the chart (``by``: who asked for it, "user" or "worker"); returns its id."""
    with engine.begin() as conn:
        return int(conn.execute(sa.insert(MLDashboard).values(
            dashboard_type=chart.kind, title=chart.title[:200], image_data=chart.png,
            thumbnail=chart.thumbnail,
            parameters={**chart.filters, "notes": chart.notes, "by": by},
            period_start=chart.period[0], period_end=chart.period[1],
        ).returning(MLDashboard.id)).scalar_one())


def save_standard_set(engine: sa.Engine, f: queries.Filters, *, by: str,
                      progress: Callable[[float, str], None] | None = None,
                      ) -> tuple[list[int], dict[str, str]]:
    """Render and save every chart type that has data for the filters: the saved ids, and why
    each other type was skipped."""
    from demetra.charts.png import standard_set

    done, skipped = standard_set(engine, f, progress=progress)
    return [save_chart(engine, chart, by=by) for chart in done], skipped


def list_charts(engine: sa.Engine, *, kind: str | None = None, limit: int = 200,
                offset: int = 0) -> pd.DataFrame:
    """Saved charts, newest first, with their thumbnails and without their images."""
    t = MLDashboard.__table__.c
    q = sa.select(*(t[c] for c in LIST_COLUMNS)).order_by(t.created_at.desc(), t.id.desc())
    if kind:
        q = q.where(t.dashboard_type == kind)
    with engine.connect() as conn:
        rows = conn.execute(q.limit(limit).offset(offset)).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=LIST_COLUMNS)
    for column in ("period_start", "period_end"):
        frame[column] = [as_date(v) for v in frame[column]]
    frame["created_at"] = pd.to_datetime(frame["created_at"], utc=True)
    frame["thumbnail"] = [bytes(v) if v is not None else None for v in frame["thumbnail"]]
    return frame


def chart_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(MLDashboard)).scalar_one())


def stamp(engine: sa.Engine) -> tuple[int, int]:
    """How many charts are saved and the highest id: one saved or deleted, by anyone (the page,
    the CLI, the worker), changes it, so cached reads keyed by it are read anew."""
    t = MLDashboard.__table__.c
    with engine.connect() as conn:
        count, highest = conn.execute(sa.select(sa.func.count(),
                                                sa.func.coalesce(sa.func.max(t.id), 0))).one()
    return int(count), int(highest)


def chart_image(engine: sa.Engine, chart_id: int) -> bytes | None:
    """The full PNG of one saved chart (None when there is no such chart)."""
    with engine.connect() as conn:
        value = conn.execute(sa.select(MLDashboard.image_data)
                             .where(MLDashboard.id == int(chart_id))).scalar_one_or_none()
    return bytes(value) if value is not None else None


def delete_chart(engine: sa.Engine, chart_id: int) -> bool:
    """Delete one saved chart; False when there was none."""
    with engine.begin() as conn:
        return conn.execute(sa.delete(MLDashboard)
                            .where(MLDashboard.id == int(chart_id))).rowcount > 0


def newest_by(engine: sa.Engine, by: str, *, look_back: int = 50) -> pd.Timestamp | None:
    """When the newest chart saved by ``by`` was saved, among the last ``look_back`` charts."""
    recent = list_charts(engine, limit=look_back)
    mine = recent[[isinstance(p, dict) and p.get("by") == by for p in recent["parameters"]]]
    return None if mine.empty else mine["created_at"].max()

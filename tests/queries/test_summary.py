"""``demetra.queries.summary``: the span of days with data and what the database holds."""

from __future__ import annotations

import sqlalchemy as sa

from demetra import queries as Q
from demetra.db.bulk import insert_campaign_rows
from tests.queries.helpers import HAND, D


def test_date_span_and_data_summary(engine: sa.Engine) -> None:
    assert Q.date_span(engine) is None
    summary = Q.data_summary(engine)
    assert summary["rows"] == 0 and summary["campaigns"] == 0 and summary["channels"] == []
    assert summary["first_date"] is None
    with engine.begin() as conn:
        insert_campaign_rows(conn, HAND)
    assert Q.date_span(engine) == (D(2026, 1, 30), D(2026, 3, 5))
    summary = Q.data_summary(engine)
    assert summary["tables"] == {"campaigns": 7, "predictions": 0, "recommendations": 0,
                                 "alerts": 0, "ml_dashboards": 0, "model_runs": 0}
    assert summary["campaigns"] == 4 and summary["rows"] == 7
    assert summary["channels"] == ["facebook", "google_ads", "tiktok", "linkedin"]
    assert (summary["first_date"], summary["last_date"]) == (D(2026, 1, 30), D(2026, 3, 5))

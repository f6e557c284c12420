"""What an import stored, read straight from the campaigns table (not through the queries the
pages use, so that a test checks the import and not the reading), and where the genuine exports
of ``../shared/real-exports/`` are. A plain module: test files import it, never each other."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "imports"
# The corpus of genuine exports lives beside the repository (CI has it); never copied into it.
REAL_EXPORTS = ROOT.parent / "shared" / "real-exports"


def real_export(name: str) -> Path:
    """The path of a genuine export, or a skip that says why it is not there."""
    path = REAL_EXPORTS / name
    if not path.is_file():
        pytest.skip(f"{path} is not here: the genuine exports live in ../shared/real-exports/ "
                    "beside the repository (CI has them)")
    return path


def stored_totals(engine: sa.Engine) -> dict[str, float]:
    """Rows, spend, revenue, clicks, impressions and conversions of every stored row."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT COUNT(*), COALESCE(SUM(cost), 0), COALESCE(SUM(revenue), 0), "
            "COALESCE(SUM(clicks), 0), COALESCE(SUM(impressions), 0), "
            "COALESCE(SUM(conversions), 0) FROM campaigns")).one()
    return dict(zip(("rows", "cost", "revenue", "clicks", "impressions", "conversions"),
                    (float(v) for v in row), strict=True))


def stored_by_channel(engine: sa.Engine) -> dict[str, float]:
    """Spend per stored channel, rounded to the cent."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT channel, SUM(cost) FROM campaigns GROUP BY channel"))
        return {str(ch): round(float(cost), 2) for ch, cost in rows}


def stored_campaigns(engine: sa.Engine) -> dict[str, str]:
    """campaign_id -> channel of every stored campaign."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT DISTINCT campaign_id, channel FROM campaigns"))
        return {str(cid): str(ch) for cid, ch in rows}

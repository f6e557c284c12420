"""Predictions say what they forecast (ROI, or CPA for a campaign without revenue) and which
method served them and why; CPA forecasts keep their interval, target and P(CPA > target).

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("metric", sa.String(length=8)),
    ("method", sa.String(length=32)),
    ("method_reason", sa.Text()),
    ("predicted_cpa", sa.Double()),
    ("predicted_cpa_low", sa.Double()),
    ("predicted_cpa_high", sa.Double()),
    ("cpa_target", sa.Double()),
    ("prob_cpa_above", sa.Double()),
)


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("predictions") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)

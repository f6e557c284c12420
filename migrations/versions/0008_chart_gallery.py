"""Saved charts keep a thumbnail beside the image (so that a gallery never reads the images
of every row) and the span of the data they show.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    ("thumbnail", sa.LargeBinary()),
    ("period_start", sa.Date()),
    ("period_end", sa.Date()),
)


def upgrade() -> None:
    with op.batch_alter_table("ml_dashboards") as batch:
        for name, type_ in _COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index("ix_ml_dashboards_created_at", "ml_dashboards", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_ml_dashboards_created_at", table_name="ml_dashboards")
    with op.batch_alter_table("ml_dashboards") as batch:
        for name, _ in reversed(_COLUMNS):
            batch.drop_column(name)

"""Alert lifecycle (open/resolved, last seen, worst value, money at stake) and app_settings.

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("status", sa.String(length=16), server_default="open",
                                   nullable=False))
        batch.add_column(sa.Column("last_seen", sa.Date(), nullable=True))
        batch.add_column(sa.Column("worst_value", sa.Double(), nullable=True))
        batch.add_column(sa.Column("money_at_stake", sa.Double(), nullable=True))
        batch.add_column(sa.Column("resolved_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True),
                                   server_default=sa.func.now(), nullable=False))
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", JSON, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_settings")),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
    with op.batch_alter_table("alerts") as batch:
        for column in ("updated_at", "resolved_on", "money_at_stake", "worst_value", "last_seen",
                       "status"):
            batch.drop_column(column)

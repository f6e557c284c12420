"""Campaign sources: the currency each campaign was imported in and its latest import's rate.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "campaign_sources",
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("exchange_rate", sa.Double(), server_default=sa.text("1"), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"],
                                name=op.f("fk_campaign_sources_import_id_imports"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_campaign_sources")),
    )


def downgrade() -> None:
    op.drop_table("campaign_sources")

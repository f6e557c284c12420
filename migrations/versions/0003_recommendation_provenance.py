"""Recommendation provenance: why the rules engine stood in, tokens used, the facts given.

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("recommendations") as batch:
        batch.add_column(sa.Column("fallback_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("prompt_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("completion_tokens", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("context", JSON, nullable=True))
        batch.create_index("ix_recommendations_created_at", ["created_at"])


def downgrade() -> None:
    with op.batch_alter_table("recommendations") as batch:
        batch.drop_index("ix_recommendations_created_at")
        for column in ("context", "completion_tokens", "prompt_tokens", "fallback_reason"):
            batch.drop_column(column)

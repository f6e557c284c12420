"""Revenue and conversions not tracked are NULL, not 0; the rollups keep the spend and clicks
of the rows that track them (revenue_cost, result_cost, result_clicks).

Stored zeros are left as they are: whether a 0 was "not tracked" cannot be told now, and
importing the file again turns them into NULL (the upsert rewrites rows whose values differ).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEPT = ("id", "campaign_id", "campaign_name", "channel", "date", "cost", "clicks", "impressions",
         "engagement", "conversions", "revenue", "created_at", "updated_at")
_SUMS = ("SUM(cost), SUM(revenue), SUM(clicks), SUM(impressions), SUM(engagement), "
         "SUM(conversions), COALESCE(SUM(CASE WHEN revenue IS NOT NULL THEN cost END), 0), "
         "COALESCE(SUM(CASE WHEN conversions IS NOT NULL THEN cost END), 0), "
         "COALESCE(SUM(CASE WHEN conversions IS NOT NULL THEN clicks END), 0)")
_MEASURES = ("cost, revenue, clicks, impressions, engagement, conversions, revenue_cost, "
             "result_cost, result_clicks")


def _campaigns_table(name: str, nullable: bool) -> None:
    default = {} if nullable else {"server_default": sa.text("0")}
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("campaign_name", sa.String(length=255), server_default=sa.text("''"),
                  nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("cost", sa.Double(), server_default=sa.text("0"), nullable=False),
        sa.Column("clicks", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("impressions", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("engagement", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("conversions", sa.Double(), nullable=nullable, **default),
        sa.Column("revenue", sa.Double(), nullable=nullable, **default),
        sa.Column("conversion_rate", sa.Double(),
                  sa.Computed("CASE WHEN clicks > 0 THEN conversions / clicks END",
                              persisted=True), nullable=True),
        sa.Column("roi", sa.Double(),
                  sa.Computed("CASE WHEN cost > 0 THEN revenue / cost END", persisted=True),
                  nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("clicks >= 0 AND impressions >= 0 AND engagement >= 0",
                           name=op.f("ck_campaigns_counts_nonnegative")),
        sa.CheckConstraint("conversions >= 0 AND revenue >= 0",
                           name=op.f("ck_campaigns_outcomes_nonnegative")),
        sa.CheckConstraint("cost >= 0", name=op.f("ck_campaigns_cost_nonnegative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )


def _campaigns(nullable: bool) -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in ("conversions", "revenue"):
            op.alter_column("campaigns", column, nullable=nullable,
                            server_default=None if nullable else sa.text("0"))
        return
    # SQLite cannot change a column's NOT NULL: the table is copied (move and copy; nothing
    # references it by a foreign key).
    columns = ", ".join(_KEPT)
    _campaigns_table("_campaigns_new", nullable)
    op.execute(f"INSERT INTO _campaigns_new ({columns}) SELECT {columns} FROM campaigns")
    op.drop_table("campaigns")
    op.rename_table("_campaigns_new", "campaigns")
    op.create_index("uq_campaigns_campaign_id_date", "campaigns", ["campaign_id", "date"],
                    unique=True)
    op.create_index("ix_campaigns_date_channel_cover", "campaigns",
                    ["date", "channel", "campaign_id", "cost", "revenue", "clicks",
                     "impressions", "conversions"])


def _measures(tracked: bool) -> list[sa.Column]:
    columns = [
        sa.Column("cost", sa.Double(), nullable=False),
        sa.Column("revenue", sa.Double(), nullable=tracked),
        sa.Column("clicks", sa.BigInteger(), nullable=False),
        sa.Column("impressions", sa.BigInteger(), nullable=False),
        sa.Column("engagement", sa.BigInteger(), nullable=False),
        sa.Column("conversions", sa.Double(), nullable=tracked),
    ]
    if tracked:
        columns += [
            sa.Column("revenue_cost", sa.Double(), server_default=sa.text("0"), nullable=False),
            sa.Column("result_cost", sa.Double(), server_default=sa.text("0"), nullable=False),
            sa.Column("result_clicks", sa.BigInteger(), server_default=sa.text("0"),
                      nullable=False),
        ]
    return columns


def _rollups(tracked: bool) -> None:
    """The rollups are derived: dropped, created in their new shape and filled again."""
    op.drop_table("channel_days")
    op.drop_table("campaign_months")
    op.create_table(
        "channel_days",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("campaign_days", sa.BigInteger(), nullable=False),
        *_measures(tracked),
        sa.PrimaryKeyConstraint("date", "channel", name=op.f("pk_channel_days")),
    )
    op.create_table(
        "campaign_months",
        sa.Column("campaign_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("campaign_name", sa.String(length=255), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        *_measures(tracked),
        sa.PrimaryKeyConstraint("campaign_id", "month", name=op.f("pk_campaign_months")),
    )
    extra = ["revenue_cost", "result_cost", "result_clicks"] if tracked else []
    op.create_index("ix_campaign_months_month_channel_cover", "campaign_months",
                    ["month", "channel", "campaign_id", "days", "first_date", "last_date",
                     "cost", "revenue", "clicks", "impressions", "conversions", "engagement",
                     "campaign_name", *extra])
    pg = op.get_bind().dialect.name == "postgresql"
    month = "CAST(date_trunc('month', date) AS DATE)" if pg else "date(date, 'start of month')"
    sums = _SUMS if tracked else ("SUM(cost), COALESCE(SUM(revenue), 0), SUM(clicks), "
                                  "SUM(impressions), SUM(engagement), "
                                  "COALESCE(SUM(conversions), 0)")
    measures = _MEASURES if tracked else ("cost, revenue, clicks, impressions, engagement, "
                                          "conversions")
    op.execute(f"INSERT INTO channel_days (date, channel, campaign_days, {measures}) "
               f"SELECT date, channel, COUNT(*), {sums} FROM campaigns GROUP BY date, channel")
    op.execute(f"INSERT INTO campaign_months (campaign_id, month, channel, campaign_name, days, "
               f"first_date, last_date, {measures}) SELECT campaign_id, {month}, MAX(channel), "
               f"MAX(campaign_name), COUNT(*), MIN(date), MAX(date), {sums} FROM campaigns "
               f"GROUP BY campaign_id, {month}")


def upgrade() -> None:
    _campaigns(nullable=True)
    _rollups(tracked=True)


def downgrade() -> None:
    op.execute("UPDATE campaigns SET revenue = COALESCE(revenue, 0), "
               "conversions = COALESCE(conversions, 0)")
    _campaigns(nullable=False)
    _rollups(tracked=False)

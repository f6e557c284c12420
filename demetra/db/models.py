"""SQLAlchemy 2 models: the seed document's five tables (with the additions in DESIGN.md),
``model_runs``, the seeded world's ground truth, and two rollups kept in step with
``campaigns`` by ``demetra.db.rollups`` on every write.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JSONType = JSON().with_variant(JSONB(), "postgresql")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
}


def _now() -> Any:
    return sa.func.now()


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSONType, list[Any]: JSONType, bytes: LargeBinary()}


class Campaign(Base):
    """One row per campaign per day: the grain of every ad platform's report."""

    __tablename__ = "campaigns"
    __table_args__ = (
        UniqueConstraint("campaign_id", "date"),
        # Covers the dashboard's date-range + channel filter without touching the table.
        Index("ix_campaigns_date_channel_cover", "date", "channel", "campaign_id",
              "cost", "revenue", "clicks", "impressions", "conversions"),
        CheckConstraint("cost >= 0", name="cost_nonnegative"),
        CheckConstraint("clicks >= 0 AND impressions >= 0 AND engagement >= 0",
                        name="counts_nonnegative"),
        CheckConstraint("conversions >= 0 AND revenue >= 0", name="outcomes_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    campaign_name: Mapped[str] = mapped_column(String(255), server_default=sa.text("''"))
    channel: Mapped[str] = mapped_column(String(32))
    date: Mapped[dt.date]
    cost: Mapped[float] = mapped_column(server_default=sa.text("0"))
    clicks: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("0"))
    impressions: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("0"))
    engagement: Mapped[int] = mapped_column(sa.BigInteger, server_default=sa.text("0"))
    conversions: Mapped[float] = mapped_column(server_default=sa.text("0"))
    revenue: Mapped[float] = mapped_column(server_default=sa.text("0"))
    # Stored for the seed schema's readers; always revenue/cost and conversions/clicks,
    # NULL where the denominator is 0 (written only by demetra.db.bulk).
    conversion_rate: Mapped[float | None]
    roi: Mapped[float | None]
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class ChannelDay(Base):
    """Rollup of ``campaigns`` by (date, channel): KPI totals and trends read ~6 rows a day."""

    __tablename__ = "channel_days"

    date: Mapped[dt.date] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    campaign_days: Mapped[int] = mapped_column(sa.BigInteger)
    cost: Mapped[float]
    revenue: Mapped[float]
    clicks: Mapped[int] = mapped_column(sa.BigInteger)
    impressions: Mapped[int] = mapped_column(sa.BigInteger)
    engagement: Mapped[int] = mapped_column(sa.BigInteger)
    conversions: Mapped[float]


class CampaignMonth(Base):
    """Rollup of ``campaigns`` by (campaign, calendar month): long-range campaign tables."""

    __tablename__ = "campaign_months"
    __table_args__ = (Index("ix_campaign_months_month_channel", "month", "channel"),)

    campaign_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    month: Mapped[dt.date] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    campaign_name: Mapped[str] = mapped_column(String(255))
    days: Mapped[int]
    first_date: Mapped[dt.date]
    last_date: Mapped[dt.date]
    cost: Mapped[float]
    revenue: Mapped[float]
    clicks: Mapped[int] = mapped_column(sa.BigInteger)
    impressions: Mapped[int] = mapped_column(sa.BigInteger)
    engagement: Mapped[int] = mapped_column(sa.BigInteger)
    conversions: Mapped[float]


class ModelRun(Base):
    """One row per training of the ROI model."""

    __tablename__ = "model_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), server_default="ok")
    parameters: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    train_start: Mapped[dt.date | None]
    train_end: Mapped[dt.date | None]
    metrics: Mapped[dict[str, Any]] = mapped_column(server_default="{}")
    artifact_path: Mapped[str | None] = mapped_column(String(512))
    duration_seconds: Mapped[float | None]
    trained_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())


class Prediction(Base):
    __tablename__ = "predictions"
    __table_args__ = (Index("ix_predictions_campaign_id_created_at", "campaign_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[str] = mapped_column(String(64))
    predicted_roi: Mapped[float | None]
    risk_level: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    model_run_id: Mapped[int | None] = mapped_column(ForeignKey("model_runs.id", ondelete="SET NULL"))
    horizon_days: Mapped[int | None]
    as_of: Mapped[dt.date | None]
    predicted_roi_low: Mapped[float | None]
    predicted_roi_high: Mapped[float | None]
    prob_loss: Mapped[float | None]


class Recommendation(Base):
    __tablename__ = "recommendations"

    id: Mapped[int] = mapped_column(primary_key=True)
    recommendations: Mapped[list[Any]] = mapped_column(server_default="[]")
    summary: Mapped[str] = mapped_column(sa.Text, server_default=sa.text("''"))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    source: Mapped[str] = mapped_column(String(16), server_default="rules")
    model: Mapped[str | None] = mapped_column(String(128))
    period_start: Mapped[dt.date | None]
    period_end: Mapped[dt.date | None]


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("alert_key"),
        Index("ix_alerts_is_read_created_at", "is_read", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_type: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(sa.Text)
    metric_value: Mapped[float | None]
    threshold_value: Mapped[float | None]
    is_read: Mapped[bool] = mapped_column(server_default=sa.false())
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    campaign_id: Mapped[str | None] = mapped_column(String(64))
    date: Mapped[dt.date | None]
    # rule + campaign + date: re-running detection over the same days adds nothing.
    alert_key: Mapped[str] = mapped_column(String(200))


class MLDashboard(Base):
    __tablename__ = "ml_dashboards"

    id: Mapped[int] = mapped_column(primary_key=True)
    dashboard_type: Mapped[str] = mapped_column(String(50))
    image_data: Mapped[bytes]
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())
    title: Mapped[str] = mapped_column(String(200), server_default=sa.text("''"))
    parameters: Mapped[dict[str, Any]] = mapped_column(server_default="{}")


class SeedTruth(Base):
    """The generating parameters of the seeded world, so tests and demos can check against them."""

    __tablename__ = "seed_truth"

    id: Mapped[int] = mapped_column(primary_key=True)
    truth: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=_now())

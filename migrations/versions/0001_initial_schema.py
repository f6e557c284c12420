"""Initial schema: the seed tables with their additions, model_runs, seed_truth and the rollups.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 09:58:50.746106
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_type', sa.String(length=50), nullable=False),
    sa.Column('severity', sa.String(length=20), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('metric_value', sa.Double(), nullable=True),
    sa.Column('threshold_value', sa.Double(), nullable=True),
    sa.Column('is_read', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=True),
    sa.Column('date', sa.Date(), nullable=True),
    sa.Column('alert_key', sa.String(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('alert_key', name=op.f('uq_alerts_alert_key'))
    )
    op.create_index('ix_alerts_is_read_created_at', 'alerts', ['is_read', 'created_at'], unique=False)
    op.create_table('campaign_months',
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('campaign_name', sa.String(length=255), nullable=False),
    sa.Column('days', sa.Integer(), nullable=False),
    sa.Column('first_date', sa.Date(), nullable=False),
    sa.Column('last_date', sa.Date(), nullable=False),
    sa.Column('cost', sa.Double(), nullable=False),
    sa.Column('revenue', sa.Double(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('engagement', sa.BigInteger(), nullable=False),
    sa.Column('conversions', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('campaign_id', 'month', name=op.f('pk_campaign_months'))
    )
    op.create_index('ix_campaign_months_month_channel_cover', 'campaign_months', ['month', 'channel', 'campaign_id', 'days', 'first_date', 'last_date', 'cost', 'revenue', 'clicks', 'impressions', 'conversions', 'engagement', 'campaign_name'], unique=False)
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('campaign_name', sa.String(length=255), server_default=sa.text("''"), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('cost', sa.Double(), server_default=sa.text('0'), nullable=False),
    sa.Column('clicks', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('impressions', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('engagement', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('conversions', sa.Double(), server_default=sa.text('0'), nullable=False),
    sa.Column('revenue', sa.Double(), server_default=sa.text('0'), nullable=False),
    sa.Column('conversion_rate', sa.Double(), sa.Computed('CASE WHEN clicks > 0 THEN conversions / clicks END', persisted=True), nullable=True),
    sa.Column('roi', sa.Double(), sa.Computed('CASE WHEN cost > 0 THEN revenue / cost END', persisted=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.CheckConstraint('clicks >= 0 AND impressions >= 0 AND engagement >= 0', name=op.f('ck_campaigns_counts_nonnegative')),
    sa.CheckConstraint('conversions >= 0 AND revenue >= 0', name=op.f('ck_campaigns_outcomes_nonnegative')),
    sa.CheckConstraint('cost >= 0', name=op.f('ck_campaigns_cost_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_index('uq_campaigns_campaign_id_date', 'campaigns', ['campaign_id', 'date'], unique=True)
    op.create_index('ix_campaigns_date_channel_cover', 'campaigns', ['date', 'channel', 'campaign_id', 'cost', 'revenue', 'clicks', 'impressions', 'conversions'], unique=False)
    op.create_table('channel_days',
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('channel', sa.String(length=32), nullable=False),
    sa.Column('campaign_days', sa.BigInteger(), nullable=False),
    sa.Column('cost', sa.Double(), nullable=False),
    sa.Column('revenue', sa.Double(), nullable=False),
    sa.Column('clicks', sa.BigInteger(), nullable=False),
    sa.Column('impressions', sa.BigInteger(), nullable=False),
    sa.Column('engagement', sa.BigInteger(), nullable=False),
    sa.Column('conversions', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('date', 'channel', name=op.f('pk_channel_days'))
    )
    op.create_table('ml_dashboards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dashboard_type', sa.String(length=50), nullable=False),
    sa.Column('image_data', sa.LargeBinary(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('title', sa.String(length=200), server_default=sa.text("''"), nullable=False),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='{}', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ml_dashboards'))
    )
    op.create_table('model_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=16), server_default='ok', nullable=False),
    sa.Column('parameters', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='{}', nullable=False),
    sa.Column('train_start', sa.Date(), nullable=True),
    sa.Column('train_end', sa.Date(), nullable=True),
    sa.Column('metrics', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='{}', nullable=False),
    sa.Column('artifact_path', sa.String(length=512), nullable=True),
    sa.Column('duration_seconds', sa.Double(), nullable=True),
    sa.Column('trained_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_runs'))
    )
    op.create_table('recommendations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('recommendations', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='[]', nullable=False),
    sa.Column('summary', sa.Text(), server_default=sa.text("''"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('source', sa.String(length=16), server_default='rules', nullable=False),
    sa.Column('model', sa.String(length=128), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=True),
    sa.Column('period_end', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendations'))
    )
    op.create_table('seed_truth',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('truth', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seed_truth'))
    )
    op.create_table('predictions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.String(length=64), nullable=False),
    sa.Column('predicted_roi', sa.Double(), nullable=True),
    sa.Column('risk_level', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('model_run_id', sa.Integer(), nullable=True),
    sa.Column('horizon_days', sa.Integer(), nullable=True),
    sa.Column('as_of', sa.Date(), nullable=True),
    sa.Column('predicted_roi_low', sa.Double(), nullable=True),
    sa.Column('predicted_roi_high', sa.Double(), nullable=True),
    sa.Column('prob_loss', sa.Double(), nullable=True),
    sa.ForeignKeyConstraint(['model_run_id'], ['model_runs.id'], name=op.f('fk_predictions_model_run_id_model_runs'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_predictions'))
    )
    op.create_index('ix_predictions_campaign_id_created_at', 'predictions', ['campaign_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_predictions_campaign_id_created_at', table_name='predictions')
    op.drop_table('predictions')
    op.drop_table('seed_truth')
    op.drop_table('recommendations')
    op.drop_table('model_runs')
    op.drop_table('ml_dashboards')
    op.drop_table('channel_days')
    op.drop_index('ix_campaigns_date_channel_cover', table_name='campaigns')
    op.drop_index('uq_campaigns_campaign_id_date', table_name='campaigns')
    op.drop_table('campaigns')
    op.drop_index('ix_campaign_months_month_channel_cover', table_name='campaign_months')
    op.drop_table('campaign_months')
    op.drop_index('ix_alerts_is_read_created_at', table_name='alerts')
    op.drop_table('alerts')

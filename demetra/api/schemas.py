"""What the JSON API answers: one response model per endpoint, so the OpenAPI document says
exactly what comes back.

Money is a plain number beside the ``currency`` it is in; a figure that cannot be given (not
tracked, or a ratio whose denominator is 0) is ``null`` with its reason in ``missing`` (never
0).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field


def _utc(value: dt.datetime) -> dt.datetime:
    # The database stores UTC; SQLite hands it back without the zone, which RFC 3339 needs.
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


Timestamp = Annotated[dt.datetime, AfterValidator(_utc)]


class Period(BaseModel):
    start: dt.date
    end: dt.date
    channels: list[str] = Field(description="empty: all channels")
    search: str = ""


class Kpi(BaseModel):
    value: float | None
    previous: float | None = Field(description="the same figure over the period before")
    change: float | None = Field(description="value / previous - 1; null when either is null "
                                             "or previous is 0")
    missing: str | None = Field(None, description="why value is null")


class Summary(BaseModel):
    period: Period
    previous: Period
    currency: str
    kpis: dict[str, Kpi] = Field(description="cost, revenue, clicks, impressions, conversions, "
                                             "engagement, campaigns, roi, ctr, conversion_rate, "
                                             "cpc, cpa and the tracked sums")


class Campaign(BaseModel):
    campaign_id: str
    campaign_name: str | None
    channel: str | None
    days: int
    cost: float
    revenue: float | None
    clicks: int
    impressions: int
    conversions: float | None
    roi: float | None
    ctr: float | None
    conversion_rate: float | None
    cpc: float | None
    cpa: float | None
    first_date: dt.date | None
    last_date: dt.date | None
    source_currency: str | None = Field(description="the currency it was imported in")
    source_rate: float | None = Field(description="what one unit of it was converted at")
    missing: dict[str, str] = Field(description="why each null figure is null")


class CampaignPage(BaseModel):
    period: Period
    currency: str
    sort: str
    order: str
    limit: int
    offset: int
    total: int = Field(description="campaigns matching the filters, on all pages")
    items: list[Campaign]


class ModelRun(BaseModel):
    id: int
    version: str | None
    status: str
    trained_at: Timestamp | None
    train_start: dt.date | None
    train_end: dt.date | None


class Prediction(BaseModel):
    campaign_id: str
    campaign_name: str | None
    metric: str = Field(description="roi (revenue tracked), cpa (results only) or cpc "
                                    "(neither: cost per click)")
    method: str | None
    method_reason: str | None
    predicted_roi: float | None
    predicted_roi_low: float | None
    predicted_roi_high: float | None
    prob_loss: float | None = Field(description="P(ROI < 1) over the horizon")
    predicted_cpa: float | None = Field(description="cost per result (or per click for cpc)")
    predicted_cpa_low: float | None
    predicted_cpa_high: float | None
    cpa_target: float | None
    prob_cpa_above: float | None = Field(description="P(cost per result above its target)")
    risk_level: str
    horizon_days: int | None
    as_of: dt.date | None
    model_run_id: int | None
    created_at: Timestamp | None


class NotForecast(BaseModel):
    campaign_id: str
    campaign_name: str | None
    reason: str | None


class Predictions(BaseModel):
    currency: str
    model_run: ModelRun | None
    items: list[Prediction]
    not_forecast: list[NotForecast]


class RecommendationSet(BaseModel):
    id: int
    created_at: Timestamp
    source: str = Field(description="llm or rules")
    model: str | None
    fallback_reason: str | None = Field(description="why the rules engine wrote it, when it did")
    period_start: dt.date | None
    period_end: dt.date | None
    summary: str
    recommendations: list[dict[str, Any]]


class Alert(BaseModel):
    id: int
    alert_type: str
    severity: str
    channel: str | None
    campaign_id: str | None
    campaign_name: str | None
    date: dt.date | None = Field(description="the incident's first day")
    last_seen: dt.date | None
    status: str | None
    message: str
    metric_value: float | None
    threshold_value: float | None
    money_at_stake: float | None
    is_read: bool
    created_at: Timestamp | None


class Alerts(BaseModel):
    currency: str
    unread: int = Field(description="unread alerts in all, before the filters and the limit")
    items: list[Alert]


class Marked(BaseModel):
    id: int
    is_read: bool
    changed: bool = Field(description="false when it was already read")


class Chart(BaseModel):
    id: int
    chart_type: str
    title: str
    filters: dict[str, Any] = Field(description="the period, channels and search it shows")
    period_start: dt.date | None
    period_end: dt.date | None
    created_at: Timestamp | None
    image_url: str = Field(description="the PNG, at /api/charts/{id}.png")


class Charts(BaseModel):
    total: int
    items: list[Chart]


class Health(BaseModel):
    status: str = Field(description="ok, or the problem")
    database: str
    revision: str | None
    head: str | None


class Problem(BaseModel):
    detail: str

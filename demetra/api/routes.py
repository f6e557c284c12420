"""The endpoints: each one reads through ``demetra.queries`` and the domain packages, the
same functions the pages call (no second copy of a query or a formula), and turns frames into
the response models of ``demetra.api.schemas``.

The dashboard's filters are query parameters: ``start`` and ``end`` (ISO dates; by default the
last 30 days of data, as the sidebar's default), ``channels`` (repeat it, or separate with
commas; a channel must have data) and ``search``.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Path, Query
from fastapi.responses import JSONResponse, Response

from demetra import queries
from demetra.api import schemas
from demetra.api.app import engine_of
from demetra.channels import channel_choice
from demetra.charts.kinds import CHART_TYPES
from demetra.errors import BadInput

health = APIRouter(tags=["health"])
api = APIRouter(responses={401: {"model": schemas.Problem}, 422: {"model": schemas.Problem},
                           503: {"model": schemas.Problem}})

Engine = Annotated[sa.Engine, Depends(engine_of)]
MAX_SEARCH = 200
# No advertising data is older or newer; the previous period of a range must stay a date.
FIRST_DAY, LAST_DAY = dt.date(1990, 1, 1), dt.date(2199, 12, 31)
_INT32 = 2**31 - 1


def _channels(raw: list[str], engine: sa.Engine) -> tuple[str, ...]:
    wanted = [c.strip() for item in raw for c in item.split(",") if c.strip()]
    if not wanted:
        return ()
    present = queries.channels_present(engine)
    chosen = []
    for text in wanted:
        channel = channel_choice(text)
        if channel is None or channel not in present:
            raise BadInput(f"query parameter 'channels': unknown channel {text[:40]!r}; the "
                           f"data has {', '.join(present) or 'no channel yet'}")
        chosen.append(channel)
    return tuple(chosen)


def _search(text: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise BadInput("query parameter 'search': control characters (such as NUL) are not "
                       "allowed")
    return text


def dashboard_filters(
    engine: Engine,
    start: Annotated[dt.date | None, Query(description="first day (default: 29 days before "
                                                       "end, not before the data's first)")] = None,
    end: Annotated[dt.date | None, Query(description="last day (default: the data's last "
                                                     "day)")] = None,
    channels: Annotated[list[str], Query(description="channel ids (facebook, google_ads…); "
                                                     "empty: all")] = [],  # noqa: B006
    search: Annotated[str, Query(max_length=MAX_SEARCH, description="part of a campaign's "
                                                                     "name or id")] = "",
) -> queries.Filters:
    span = queries.date_span(engine)
    first, last = span if span else (dt.date.today(), dt.date.today())
    if end is None:
        end = max(last, start) if start else last
    if start is None:
        start = queries.preset_range(queries.DEFAULT_PRESET, min(first, end), end)[0]
    for name, day in (("start", start), ("end", end)):
        if not FIRST_DAY <= day <= LAST_DAY:
            raise BadInput(f"query parameter '{name}': {day} is outside {FIRST_DAY} to {LAST_DAY}")
    if start > end:
        raise BadInput(f"query parameter 'end': {end} is before the start {start}")
    return queries.Filters(start, end, _channels(channels, engine), _search(search))


Filtered = Annotated[queries.Filters, Depends(dashboard_filters)]


def _period(f: queries.Filters) -> schemas.Period:
    return schemas.Period(start=f.start, end=f.end, channels=list(f.channels), search=f.search)


def _names(engine: sa.Engine, ids: list[str]) -> dict[str, str | None]:
    found = queries.campaign_names(engine, ids) if ids else {}
    return {c: (found[c][0] or None) if c in found else None for c in ids}


# -- health -------------------------------------------------------------------------------------

@health.get("/health", response_model=schemas.Health,
            responses={503: {"model": schemas.Health}})
def get_health(engine: Engine) -> Any:
    """The database is reachable and its schema is at the newest revision (no token needed)."""
    from demetra.db.engine import current_revision, head_revision

    head = head_revision()
    try:
        revision = current_revision(engine)
    except sa.exc.SQLAlchemyError as exc:
        body = schemas.Health(status="database unreachable", database=type(exc).__name__,
                              revision=None, head=head)
        return JSONResponse(body.model_dump(), status_code=503)
    if revision != head:
        body = schemas.Health(status=f"schema at {revision}, not {head}: run python -m "
                                     "demetra migrate", database="reachable",
                              revision=revision, head=head)
        return JSONResponse(body.model_dump(), status_code=503)
    return schemas.Health(status="ok", database="reachable", revision=revision, head=head)


# -- campaigns and KPIs -------------------------------------------------------------------------

@api.get("/campaigns", response_model=schemas.CampaignPage, tags=["campaigns"])
def get_campaigns(
    engine: Engine, f: Filtered,
    sort: Annotated[Literal[queries.CAMPAIGN_COLUMNS], Query()] = "cost",  # type: ignore[valid-type]
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> schemas.CampaignPage:
    """Per-campaign totals and ratios of sums for the filters (as the Campaigns page), paged."""
    frame, total = queries.campaign_rows(engine, f, sort=sort, descending=order == "desc",
                                         limit=limit, offset=offset)
    items = []
    for row in queries.records(frame):
        missing = {k: why for k in ("revenue", "conversions", "roi", "ctr", "conversion_rate",
                                    "cpc", "cpa")
                   if (why := queries.why_missing(k, row)) is not None}
        items.append(schemas.Campaign(**row, missing=missing))
    return schemas.CampaignPage(period=_period(f), currency=queries.reporting_currency(engine),
                                sort=sort, order=order, limit=limit, offset=offset,
                                total=total, items=items)


@api.get("/analytics/summary", response_model=schemas.Summary, tags=["campaigns"])
def get_summary(engine: Engine, f: Filtered) -> schemas.Summary:
    """The Overview's KPIs for the filters, with the change against the period before."""
    now = queries.kpis_with_delta(engine, f)
    values = {k: d.value for k, d in now.items()}
    kpis = {k: schemas.Kpi(value=d.value, previous=d.previous, change=d.change,
                           missing=queries.why_missing(k, values)) for k, d in now.items()}
    return schemas.Summary(period=_period(f), previous=_period(f.previous()),
                           currency=queries.reporting_currency(engine), kpis=kpis)


# -- forecasts, recommendations, alerts ---------------------------------------------------------

@api.get("/predictions/latest", response_model=schemas.Predictions, tags=["forecasts"])
def get_predictions(
    engine: Engine,
    risk: Annotated[list[Literal["high", "medium", "low"]], Query(
        description="risk levels to keep (empty: all)")] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> schemas.Predictions:
    """The newest forecast of each campaign, riskiest first, with its interval, the risk
    (P(ROI < 1), or P(cost per result above target) where revenue is not tracked), the method
    and the model run; the campaigns not forecast with the reason."""
    from demetra.ml.predict import latest_predictions
    from demetra.ml.runs import latest_model_run

    frame = latest_predictions(engine, limit=limit if not risk else 10_000)
    if risk:
        frame = frame[frame["risk_level"].isin(risk)].head(limit)
    listed = latest_predictions(engine, not_forecast=True, limit=limit)
    names = _names(engine, [*frame["campaign_id"], *listed["campaign_id"]])
    items = [schemas.Prediction(**r, campaign_name=names.get(r["campaign_id"]))
             for r in queries.records(frame)]
    not_forecast = [schemas.NotForecast(campaign_id=r["campaign_id"],
                                        campaign_name=names.get(r["campaign_id"]),
                                        reason=r["method_reason"]) for r in queries.records(listed)]
    run = latest_model_run(engine)
    model_run = schemas.ModelRun(**{k: run.get(k) for k in schemas.ModelRun.model_fields}) \
        if run else None
    return schemas.Predictions(currency=queries.reporting_currency(engine), model_run=model_run,
                               items=items, not_forecast=not_forecast)


@api.get("/recommendations/latest", response_model=schemas.RecommendationSet,
         responses={404: {"model": schemas.Problem}}, tags=["recommendations"])
def get_recommendations(engine: Engine) -> schemas.RecommendationSet:
    """The newest recommendation set: who wrote it (the LLM, or the rules engine and why)."""
    from demetra.llm import history

    frame = history(engine, limit=1)
    if frame.empty:
        raise HTTPException(404, "no recommendation yet: run `python -m demetra recommend` or "
                                 "use the Recommendations page")
    row = queries.records(frame)[0]
    return schemas.RecommendationSet(**{k: row.get(k) for k in schemas.RecommendationSet
                                        .model_fields if k != "recommendations"},
                                     recommendations=list(row.get("recommendations") or []))


@api.get("/alerts/unread", response_model=schemas.Alerts, tags=["alerts"])
def get_unread_alerts(
    engine: Engine,
    severity: Annotated[list[Literal["critical", "high", "medium", "low"]], Query()] = [],  # noqa: B006
    type: Annotated[list[str], Query(max_length=40, description="alert types (cost_spike, "  # noqa: A002
                                                                "roi_drop…)")] = [],  # noqa: B006
    channels: Annotated[list[str], Query()] = [],  # noqa: B006
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> schemas.Alerts:
    """Unread alerts, the most severe and newest first."""
    from demetra.alerts import RULES
    from demetra.alerts.store import AlertFilter, list_alerts, unread_count

    known = (*RULES, "system")
    for t in type:
        if t not in known:
            raise BadInput(f"query parameter 'type': unknown alert type {t[:40]!r}; one of "
                           f"{', '.join(known)}")
    chosen = _channels(channels, engine)
    frame = list_alerts(engine, AlertFilter(severities=tuple(severity), types=tuple(type),
                                            channels=chosen, unread_only=True), limit=limit)
    names = _names(engine, [c for c in frame["campaign_id"] if c])
    items = [schemas.Alert(**r, campaign_name=names.get(r["campaign_id"]) if r["campaign_id"]
                           else None) for r in queries.records(frame)]
    return schemas.Alerts(currency=queries.reporting_currency(engine),
                          unread=unread_count(engine), items=items)


@api.post("/alerts/{alert_id}/read", response_model=schemas.Marked,
          responses={404: {"model": schemas.Problem}}, tags=["alerts"])
def mark_alert_read(engine: Engine,
                    alert_id: Annotated[int, Path(ge=1, le=_INT32)]) -> schemas.Marked:
    """Mark one alert read (again: no change)."""
    from demetra.alerts.store import set_read
    from demetra.db.models import Alert

    with engine.connect() as conn:
        exists = conn.execute(sa.select(Alert.id).where(Alert.id == alert_id)).first()
    if exists is None:
        raise HTTPException(404, f"no alert {alert_id}")
    changed = set_read(engine, [alert_id]) > 0
    return schemas.Marked(id=alert_id, is_read=True, changed=changed)


# -- saved charts -------------------------------------------------------------------------------

@api.get("/charts", response_model=schemas.Charts, tags=["charts"])
def get_charts(
    engine: Engine,
    type: Annotated[Literal[tuple(CHART_TYPES)] | None,  # type: ignore[valid-type]  # noqa: A002
                    Query(description="only this chart type")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> schemas.Charts:
    """Saved charts, newest first, without their images (each has its image_url)."""
    from demetra.charts import gallery

    frame = gallery.list_charts(engine, kind=type, limit=limit, offset=offset)
    items = [schemas.Chart(id=r["id"], chart_type=r["dashboard_type"], title=r["title"],
                           filters={k: v for k, v in (r["parameters"] or {}).items()
                                    if k in ("start", "end", "channels", "search")},
                           period_start=r["period_start"], period_end=r["period_end"],
                           created_at=r["created_at"], image_url=f"/api/charts/{r['id']}.png")
             for r in queries.records(frame.drop(columns=["thumbnail"]))]
    return schemas.Charts(total=gallery.chart_count(engine), items=items)


@api.get("/charts/{chart_id}.png", response_class=Response, tags=["charts"],
         responses={200: {"content": {"image/png": {}}, "description": "the PNG"},
                    404: {"model": schemas.Problem}})
def get_chart_image(engine: Engine,
                    chart_id: Annotated[int, Path(ge=1, le=_INT32)]) -> Response:
    """One saved chart's PNG."""
    from demetra.charts import gallery

    image = gallery.chart_image(engine, chart_id)
    if image is None:
        raise HTTPException(404, f"no chart {chart_id}")
    return Response(image, media_type="image/png")

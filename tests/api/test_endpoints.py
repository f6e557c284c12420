"""Each endpoint on a seeded account, on SQLite and PostgreSQL: its figures against SQL of its
own over the raw rows, the summary against the Overview's, bad input refused by name."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from demetra import queries
from demetra.api import create_app
from demetra.config import Settings
from demetra.db.engine import downgrade
from demetra.seed import seed_database
from tests.ml.world import END


def _sql(engine: sa.Engine, text: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(text), params)]


def test_health_says_the_schema_is_at_head(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["revision"] == body["head"] is not None


def test_campaigns_are_the_raw_rows_summed(client: TestClient, world: dict) -> None:
    start, end = END - dt.timedelta(days=20), END
    r = client.get("/api/campaigns", params={"start": start.isoformat(), "end": end.isoformat(),
                                             "limit": 1000, "sort": "campaign_id",
                                             "order": "asc"})
    assert r.status_code == 200, r.text
    body = r.json()
    raw = _sql(world["engine"], "SELECT campaign_id, SUM(cost), SUM(revenue), SUM(clicks), "
               "SUM(conversions) FROM campaigns WHERE date BETWEEN :a AND :b "
               "GROUP BY campaign_id ORDER BY campaign_id", a=start, b=end)
    assert body["total"] == len(raw) == len(body["items"]) > 20
    assert body["currency"] == "USD"
    assert body["period"] == {"start": start.isoformat(), "end": end.isoformat(),
                              "channels": [], "search": ""}
    for item, (cid, cost, revenue, clicks, conversions) in zip(body["items"], raw, strict=True):
        assert item["campaign_id"] == cid
        assert item["cost"] == pytest.approx(float(cost))
        assert item["revenue"] == pytest.approx(float(revenue))
        assert item["clicks"] == int(clicks)
        # A ratio of sums, not an average of daily ratios.
        assert item["roi"] == pytest.approx(float(revenue) / float(cost))
        assert item["cpa"] == pytest.approx(float(cost) / float(conversions))
        assert item["missing"] == {}


def test_campaign_pages_follow_limit_and_offset(client: TestClient) -> None:
    whole = client.get("/api/campaigns", params={"limit": 12, "sort": "roi"}).json()
    rois = [i["roi"] for i in whole["items"]]
    assert rois == sorted(rois, reverse=True)
    page = client.get("/api/campaigns", params={"limit": 5, "offset": 7, "sort": "roi"}).json()
    assert [i["campaign_id"] for i in page["items"]] == \
        [i["campaign_id"] for i in whole["items"][7:12]]
    assert page["total"] == whole["total"]
    past = client.get("/api/campaigns", params={"offset": 10_000}).json()
    assert past["items"] == [] and past["total"] == whole["total"]


def test_channels_and_search_filter_the_campaigns(client: TestClient, world: dict) -> None:
    r = client.get("/api/campaigns", params=[("channels", "facebook"), ("channels", "tiktok"),
                                             ("limit", 1000)]).json()
    assert {i["channel"] for i in r["items"]} == {"facebook", "tiktok"}
    assert r["period"]["channels"] == ["facebook", "tiktok"]
    same = client.get("/api/campaigns", params={"channels": "tiktok,facebook", "limit": 1000})
    assert same.json()["total"] == r["total"]
    name = r["items"][0]["campaign_name"]
    found = client.get("/api/campaigns", params={"search": name[:6].lower()}).json()
    assert name in [i["campaign_name"] for i in found["items"]]


def test_summary_is_the_overviews_and_the_raw_sums(client: TestClient, world: dict) -> None:
    start, end = END - dt.timedelta(days=13), END
    r = client.get("/api/analytics/summary", params={"start": start.isoformat(),
                                                     "end": end.isoformat()})
    assert r.status_code == 200, r.text
    body = r.json()
    f = queries.Filters(start, end)
    overview = queries.kpis_with_delta(world["engine"], f)
    assert set(body["kpis"]) == set(queries.KPI_KEYS)
    for key, d in overview.items():
        got = body["kpis"][key]
        assert got["value"] == pytest.approx(d.value) and got["previous"] == pytest.approx(d.previous)
        assert got["change"] == pytest.approx(d.change)
    cost, revenue = _sql(world["engine"], "SELECT SUM(cost), SUM(revenue) FROM campaigns "
                         "WHERE date BETWEEN :a AND :b", a=start, b=end)[0]
    before = _sql(world["engine"], "SELECT SUM(cost) FROM campaigns WHERE date BETWEEN :a AND :b",
                  a=start - dt.timedelta(days=14), b=start - dt.timedelta(days=1))[0][0]
    assert body["kpis"]["cost"]["value"] == pytest.approx(float(cost))
    assert body["kpis"]["roi"]["value"] == pytest.approx(float(revenue) / float(cost))
    assert body["kpis"]["cost"]["change"] == pytest.approx(float(cost) / float(before) - 1)
    assert body["previous"]["end"] == (start - dt.timedelta(days=1)).isoformat()


def test_the_default_period_is_the_last_30_days_of_data(client: TestClient) -> None:
    body = client.get("/api/analytics/summary").json()
    assert body["period"]["end"] == END.isoformat()
    assert body["period"]["start"] == (END - dt.timedelta(days=29)).isoformat()


def test_latest_predictions_are_the_newest_batch(client: TestClient, world: dict) -> None:
    body = client.get("/api/predictions/latest").json()
    newest = _sql(world["engine"], "SELECT MAX(as_of) FROM predictions")[0][0]
    served = _sql(world["engine"], "SELECT COUNT(DISTINCT campaign_id) FROM predictions "
                  "WHERE as_of = :d AND metric <> 'none'", d=newest)[0][0]
    run_id = _sql(world["engine"], "SELECT MAX(id) FROM model_runs WHERE status = 'ok'")[0][0]
    assert len(body["items"]) == served > 0
    assert body["model_run"]["id"] == run_id
    risk = [i["prob_loss"] if i["metric"] == "roi" else i["prob_cpa_above"] for i in body["items"]]
    assert risk == sorted(risk, reverse=True)
    assert all(i["risk_level"] in ("high", "medium", "low") and i["campaign_name"]
               for i in body["items"])
    high = client.get("/api/predictions/latest", params={"risk": "high"}).json()["items"]
    assert [i["campaign_id"] for i in high] == \
        [i["campaign_id"] for i in body["items"] if i["risk_level"] == "high"]


def test_latest_recommendations_say_who_wrote_them(client: TestClient, world: dict) -> None:
    body = client.get("/api/recommendations/latest").json()
    newest = _sql(world["engine"], "SELECT MAX(id) FROM recommendations")[0][0]
    assert body["id"] == newest
    assert body["source"] == "rules" and "no LLM endpoint" in body["fallback_reason"]
    assert body["recommendations"] and all("action" in r for r in body["recommendations"])


def test_unread_alerts_and_marking_one_read(client: TestClient, world: dict) -> None:
    unread = _sql(world["engine"], "SELECT COUNT(*) FROM alerts WHERE is_read = :f", f=False)[0][0]
    body = client.get("/api/alerts/unread", params={"limit": 1000}).json()
    assert body["unread"] == len(body["items"]) == unread > 0
    high = client.get("/api/alerts/unread", params=[("severity", "high"),
                                                    ("severity", "critical")]).json()
    assert {a["severity"] for a in high["items"]} <= {"high", "critical"}
    one = body["items"][0]["id"]
    try:
        first = client.post(f"/api/alerts/{one}/read")
        assert first.json() == {"id": one, "is_read": True, "changed": True}
        assert client.post(f"/api/alerts/{one}/read").json()["changed"] is False
        after = client.get("/api/alerts/unread", params={"limit": 1000}).json()
        assert after["unread"] == unread - 1 and one not in [a["id"] for a in after["items"]]
    finally:
        from demetra.alerts.store import set_read
        set_read(world["engine"], [one], read=False)
    assert client.post("/api/alerts/2000000000/read").status_code == 404


@pytest.mark.parametrize(("path", "params", "names"), [
    ("/api/campaigns", {"start": "2026-13-01"}, "'start'"),
    ("/api/campaigns", {"start": "2026-06-10", "end": "2026-06-01"}, "'end'"),
    ("/api/campaigns", {"channels": "myspace"}, "'channels'"),
    ("/api/campaigns", {"limit": -1}, "'limit'"),
    ("/api/campaigns", {"limit": 10**9}, "'limit'"),
    ("/api/campaigns", {"offset": -5}, "'offset'"),
    ("/api/campaigns", {"sort": "cost; DROP TABLE campaigns"}, "'sort'"),
    ("/api/campaigns", {"search": "a\x00b"}, "'search'"),
    ("/api/campaigns", {"search": "x" * 500}, "'search'"),
    ("/api/analytics/summary", {"end": "yesterday"}, "'end'"),
    ("/api/alerts/unread", {"severity": "urgent"}, "'severity'"),
    ("/api/alerts/unread", {"type": "made_up"}, "'type'"),
    ("/api/predictions/latest", {"risk": "extreme"}, "'risk'"),
])
def test_bad_input_is_a_422_naming_the_parameter(client: TestClient, world: dict, path: str,
                                                 params: dict, names: str) -> None:
    before = _sql(world["engine"], "SELECT COUNT(*), SUM(cost) FROM campaigns")
    r = client.get(path, params=params)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert names in detail and "Traceback" not in detail
    assert _sql(world["engine"], "SELECT COUNT(*), SUM(cost) FROM campaigns") == before


def test_sql_in_a_search_is_text(client: TestClient, world: dict) -> None:
    r = client.get("/api/campaigns", params={"search": "' OR 1=1 --"})
    assert r.status_code == 200 and r.json()["total"] == 0
    assert _sql(world["engine"], "SELECT COUNT(*) FROM campaigns")[0][0] == world["seeded"].rows


def test_malformed_alert_ids_are_refused(client: TestClient) -> None:
    for bad in ("abc", "0", "-1", "99999999999999999999"):
        r = client.post(f"/api/alerts/{bad}/read")
        assert r.status_code == 422 and "'alert_id'" in r.json()["detail"], (bad, r.text)


def test_revenue_not_tracked_is_null_with_its_reason(engine: sa.Engine, tmp_path) -> None:
    seed_database(engine, campaigns=6, days=40, seed=2, end_date=END, outcome="results")
    with TestClient(create_app(Settings(model_dir=str(tmp_path)), engine=engine)) as c:
        summary = c.get("/api/analytics/summary").json()["kpis"]
        page = c.get("/api/campaigns").json()
        empty = c.get("/api/recommendations/latest")
    assert summary["revenue"]["value"] is None and summary["roi"]["value"] is None
    assert summary["revenue"]["missing"] == summary["roi"]["missing"] == "revenue not tracked"
    assert summary["cpa"]["value"] > 0 and summary["cpa"]["missing"] is None
    assert page["items"] and all(i["revenue"] is None and i["roi"] is None
                                 and i["missing"]["roi"] == "revenue not tracked"
                                 and i["cpa"] is not None for i in page["items"])
    assert empty.status_code == 404 and "recommend" in empty.json()["detail"]


def test_health_is_503_when_the_schema_is_behind(engine: sa.Engine, tmp_path) -> None:
    downgrade(engine, "0006")
    with TestClient(create_app(Settings(model_dir=str(tmp_path)), engine=engine)) as c:
        r = c.get("/health")
    assert r.status_code == 503
    assert r.json()["revision"] == "0006" and "migrate" in r.json()["status"]


def test_saved_charts_are_listed_without_images_and_served_as_png(client: TestClient,
                                                                   world: dict) -> None:
    from demetra.charts import gallery
    from demetra.charts.png import render

    chart = render(world["engine"], "conversion_analysis",
                   queries.Filters(END - dt.timedelta(days=29), END, ("facebook",)))
    chart_id = gallery.save_chart(world["engine"], chart)
    try:
        listed = client.get("/api/charts", params={"type": "conversion_analysis"}).json()
        item = next(i for i in listed["items"] if i["id"] == chart_id)
        assert item["filters"] == {"start": (END - dt.timedelta(days=29)).isoformat(),
                                   "end": END.isoformat(), "channels": ["facebook"],
                                   "search": ""}
        assert "image" not in str({k: v for k, v in item.items() if k != "image_url"})
        assert listed["total"] == gallery.chart_count(world["engine"])
        png = client.get(item["image_url"])
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content == chart.png
    finally:
        gallery.delete_chart(world["engine"], chart_id)
    assert client.get(f"/api/charts/{chart_id}.png").status_code == 404
    assert client.get("/api/charts", params={"type": "pie"}).status_code == 422

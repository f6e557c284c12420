"""The bearer token: asked for on every /api request when set (not on /health), compared in
constant time, never shown; serving beyond loopback needs it."""

from __future__ import annotations

import dataclasses
import logging

import pytest
from fastapi.testclient import TestClient

from demetra.api import create_app, serve
from demetra.api.app import is_loopback
from demetra.errors import DemetraError

TOKEN = "s3cret-token-4bd1"


@pytest.fixture
def locked(world: dict):
    settings = dataclasses.replace(world["settings"], api_token=TOKEN)
    with TestClient(create_app(settings, engine=world["engine"])) as c:
        yield c


def test_without_a_token_setting_no_header_is_needed(client: TestClient) -> None:
    assert client.get("/api/analytics/summary").status_code == 200


def test_with_a_token_every_api_request_needs_it(locked: TestClient, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for path in ("/api/campaigns", "/api/analytics/summary", "/api/predictions/latest",
                 "/api/recommendations/latest", "/api/alerts/unread"):
        bare = locked.get(path)
        assert bare.status_code == 401, path
        assert bare.headers["www-authenticate"] == "Bearer"
        wrong = locked.get(path, headers={"Authorization": "Bearer s3cret-token-4bd2"})
        assert wrong.status_code == 401 and TOKEN not in wrong.text
        basic = locked.get(path, headers={"Authorization": f"Basic {TOKEN}"})
        assert basic.status_code == 401 and TOKEN not in basic.text
        assert locked.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code \
            in (200, 404), path
    assert locked.post("/api/alerts/1/read").status_code == 401
    assert locked.get("/health").status_code == 200
    assert TOKEN not in caplog.text


def test_the_token_is_not_in_the_openapi_document(locked: TestClient) -> None:
    doc = locked.get("/openapi.json")
    assert doc.status_code == 200 and TOKEN not in doc.text
    assert doc.json()["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_every_endpoint_has_a_response_model(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert set(paths) == {"/health", "/api/campaigns", "/api/analytics/summary",
                          "/api/predictions/latest", "/api/recommendations/latest",
                          "/api/alerts/unread", "/api/alerts/{alert_id}/read", "/api/charts",
                          "/api/charts/{chart_id}.png"}
    for path, ops in paths.items():
        for op in ops.values():
            content = op["responses"]["200"]["content"]
            if path.endswith(".png"):
                assert list(content) == ["image/png"]
                continue
            assert "$ref" in content["application/json"]["schema"], (path, content)


def test_serving_beyond_loopback_needs_a_token(world: dict) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    with pytest.raises(DemetraError, match="API_TOKEN"):
        serve("0.0.0.0", 8000, world["settings"])


def test_settings_never_show_the_token(world: dict) -> None:
    settings = dataclasses.replace(world["settings"], api_token=TOKEN)
    assert TOKEN not in repr(settings)

"""The API tests' world: one seeded account per backend with everything the endpoints read
(a trained model and its predictions, alerts, a rules-engine recommendation), built once for
the folder; tests that write (mark an alert read) undo what they did or use their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from demetra.api import create_app
from tests.accounts import filled_account
from tests.databases import BACKENDS
from tests.ml.world import WORLD


@pytest.fixture(scope="package", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    with filled_account(request.param, tmp_path_factory.mktemp(f"api-{request.param}"),
                        world=WORLD) as account:
        yield account


@pytest.fixture
def client(world: dict) -> Iterator[TestClient]:
    with TestClient(create_app(world["settings"], engine=world["engine"])) as c:
        yield c

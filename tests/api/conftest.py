"""The API tests' world: one seeded account per backend with everything the endpoints read
(a trained model and its predictions, alerts, a rules-engine recommendation), built once for
the folder; tests that write (mark an alert read) undo what they did or use their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from demetra.alerts import detect
from demetra.api import create_app
from demetra.config import Settings
from demetra.db.engine import make_engine
from demetra.llm import generate
from demetra.ml import predict, train
from demetra.seed import seed_database
from tests.databases import BACKENDS, fresh_database_url
from tests.ml.world import WORLD


@pytest.fixture(scope="package", params=BACKENDS)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    tmp = tmp_path_factory.mktemp(f"api-{request.param}")
    url, cleanup = fresh_database_url(request.param, tmp)
    engine = make_engine(url)
    seeded = seed_database(engine, **WORLD)
    settings = Settings(database_url=url, model_dir=str(tmp / "models"))
    train(engine, settings)
    predict(engine, settings)
    detect(engine, since=seeded.start)
    generate(engine, settings=settings)
    yield {"engine": engine, "url": url, "settings": settings, "seeded": seeded}
    engine.dispose()
    cleanup()


@pytest.fixture
def client(world: dict) -> Iterator[TestClient]:
    with TestClient(create_app(world["settings"], engine=world["engine"])) as c:
        yield c

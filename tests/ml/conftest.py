"""The ML tests' shared world: one small seeded world per backend, trained once for the
whole folder (package scope) and shared by the tests that only read it; tests that break
something get a database of their own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from demetra.config import Settings
from demetra.db.engine import make_engine
from demetra.ml import (
    predict,
    train,
)
from demetra.seed import seed_database
from tests.databases import BACKENDS, fresh_database_url
from tests.ml.world import WORLD


@pytest.fixture(scope="package", params=BACKENDS)
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A seeded small world on each backend, trained once, with one batch of predictions."""
    tmp = tmp_path_factory.mktemp(f"ml-{request.param}")
    url, cleanup = fresh_database_url(request.param, tmp)
    engine = make_engine(url)
    seed_database(engine, **WORLD)
    settings = Settings(database_url=url, model_dir=str(tmp / "models"))
    stages: list[tuple[float, str]] = []
    result = train(engine, settings, progress=lambda f, text: stages.append((f, text)))
    predicted = predict(engine, settings)
    yield {"engine": engine, "url": url, "settings": settings, "result": result,
           "predicted": predicted, "stages": stages, "tmp": tmp}
    engine.dispose()
    cleanup()

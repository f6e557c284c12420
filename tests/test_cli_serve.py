"""``python -m demetra serve --demo``: on an empty database it loads the whole demo (world,
model, forecasts, alerts, recommendations) and prints a line per step before starting the app;
on a database with data it starts the app and loads nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from demetra import cli
from demetra.config import SETTINGS


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("campaigns", "model_runs", "predictions", "alerts", "recommendations")}


def test_serve_demo_opens_full_and_only_once(engine: sa.Engine, db_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    for spec in SETTINGS:
        monkeypatch.delenv(spec.name, raising=False)
    monkeypatch.setenv("MODEL_DIR", str(tmp_path / "models"))
    started: list[list[str]] = []
    monkeypatch.setattr(cli.subprocess, "call", lambda cmd, **_: started.append(cmd) or 0)

    assert cli.main(["--database-url", db_url, "serve", "--demo", "--port", "8599"]) == 0
    out = capsys.readouterr().out.splitlines()
    steps = [line.strip().split(":")[0] for line in out if line.startswith("  ")]
    assert steps == ["Seed", "Train", "Predict", "Alerts", "Recommend", "Charts"], out
    assert not any(": skipped:" in line for line in out), out
    assert out[-1].startswith("Demetra on http://127.0.0.1:8599")
    counts = _counts(engine)
    assert all(n > 0 for n in counts.values()), counts
    assert started and "streamlit" in started[0] and "8599" in started[0]

    assert cli.main(["--database-url", db_url, "serve", "--demo"]) == 0
    again = capsys.readouterr().out
    assert "demo world" not in again and len(started) == 2
    assert _counts(engine) == counts

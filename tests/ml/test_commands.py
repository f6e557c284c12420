"""``python -m demetra train`` and ``predict`` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from demetra.db.engine import make_engine
from demetra.db.models import Prediction
from demetra.seed import seed_database
from tests.ml.world import END, ROOT


def run_cli(*args: str, url: str, model_dir: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(DATABASE_URL=url, MODEL_DIR=str(model_dir))
    return subprocess.run([sys.executable, "-m", "demetra", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_train_then_predict(tmp_path: Path) -> None:
    # SQLite only: the commands are the same code the module fixture trains on both backends.
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    seed_database(engine, campaigns=24, days=60, seed=11, end_date=END)
    engine.dispose()
    model_dir = tmp_path / "models"
    done = run_cli("train", url=url, model_dir=model_dir)
    assert done.returncode == 0, done.stderr
    assert "Trained model run 1" in done.stdout and "examples" in done.stdout and " s." in done.stdout
    assert len(list(model_dir.glob("roi_model_*.joblib"))) == 1
    out = run_cli("predict", url=url, model_dir=model_dir)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Wrote ") and "model run 1" in out.stdout and "skipped" in out.stdout
    written = int(out.stdout.split()[1])
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(Prediction)).scalar_one()
    assert count == written > 0
    engine.dispose()


def test_cli_on_an_empty_database_fails_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    for command, expected in (("train", "no campaign data"), ("predict", "no trained ROI model")):
        out = run_cli(command, url=url, model_dir=tmp_path / "models")
        assert out.returncode != 0
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:") and expected in lines[0]
        assert "Traceback" not in out.stderr

"""The model settings form on the Predictions page (AppTest, SQLite and PostgreSQL) offers a
target CPA for every channel the account has, one an import brought ("quora_ads") included,
and stores what is set there."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from demetra import ingest
from demetra.app import pages
from demetra.ml import load_model_settings
from tests.app.helpers import open_page


def leads_file(end: dt.date, days: int = 20) -> bytes:
    lines = ["Date,Campaign,Spend,Impressions,Clicks,Results"]
    for i in range(days):
        lines.append(f"{end - dt.timedelta(days=i)},Quora answers,{40 + i % 4}.00,2000,30,{1 + i % 3}")
    return ("\n".join(lines) + "\n").encode()


def test_a_target_cpa_is_set_for_a_channel_of_the_file(engine: sa.Engine, db_url: str,
                                                       tmp_path: Path) -> None:
    ingest.import_file(engine, leads_file(dt.date(2026, 9, 30)), name="quora.csv",
                       platform="generic", channel="quora_ads")
    at = open_page(db_url, pages.PREDICTIONS.path, timeout=120,
                   MODEL_DIR=str(tmp_path / "models"))
    assert not at.exception
    keys = {n.key for n in at.number_input}
    assert {"prd_set_cpa_target_quora_ads", "prd_set_cpa_target_facebook"} <= keys
    at.number_input(key="prd_set_cpa_target_quora_ads").set_value(25.0)
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert not at.exception and not at.error
    saved = load_model_settings(engine)
    assert saved.cpa_target_by_channel == {"quora_ads": 25.0}
    assert saved.cpa_target("quora_ads") == 25.0

    # A negative target is refused with its reason and stores nothing.
    at.number_input(key="prd_set_cpa_target_quora_ads").set_value(-3.0)
    next(b for b in at.button if b.label == "Save settings").click().run()
    assert any("Target CPA for quora_ads must be above 0" in e.value for e in at.error)
    assert load_model_settings(engine).cpa_target_by_channel == {"quora_ads": 25.0}

"""The Data page reads an uploaded file's header and first rows once, and the database's
currency once (until an import): a rerun (any widget) reuses them, on SQLite and PostgreSQL.
Counted by wrapping the functions the page calls, in the process AppTest runs the page in."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from demetra import ingest
from demetra.app import pages
from demetra.ingest import currency, diagnose
from tests.app.helpers import FIXTURES, metric, open_page

META = b"Campaign name,Day,Amount spent (%s),Impressions,Link clicks\n"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """How often each read the page relies on ran."""
    counts: Counter = Counter()

    def counted(owner: object, name: str) -> None:
        real = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    for name in ("open_file", "detect", "sample_values", "preview"):
        counted(ingest, name)
    for name in ("head", "recognise"):
        counted(diagnose, name)
    counted(currency, "current")  # the database's currency, read on a connection
    return counts


def upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.file_uploader(key="imp_file").set_value((name, data, "text/csv"))
    return at.run()


def test_a_rerun_reads_neither_the_file_nor_the_currency_again(db_url: str, engine: sa.Engine,
                                                               calls: Counter) -> None:
    ingest.import_file(engine, META % b"EUR" + b"A,2026-09-01,100.00,1000,50\n", name="eur.csv")
    at = open_page(db_url, pages.DATA.path)
    usd = META % b"USD" + b"B,2026-09-01,200.00,1000,50\nC,2026-09-02,-1.00,1000,50\n"
    calls.clear()
    at = upload(at, "usd.csv", usd)
    assert not at.exception
    assert any("in USD; the database reports in EUR" in w.value for w in at.warning)
    first = dict(calls)
    assert first["open_file"] == 1 and first["head"] >= 1 and first["preview"] == 1
    assert first["current"] == 1
    # Two reruns by widgets that change nothing the file's reading depends on.
    at = at.checkbox(key="imp_allow_rejects").check().run()
    at = at.number_input(key="imp_rate").set_value(0.9).run()
    assert not at.exception
    assert dict(calls) == first, "a rerun read the file or the database's currency again"
    # What was kept is what the import needs: it goes through.
    at = at.button(key="imp_go").click().run()
    assert not at.exception and "1 row inserted" in at.success[0].value
    assert metric(at, "Campaign rows") == "2"


def test_the_mapping_form_reads_its_sample_once(tmp_path: Path, calls: Counter) -> None:
    at = open_page(f"sqlite:///{tmp_path / 'd.db'}", pages.DATA.path)
    calls.clear()
    at = upload(at, "generic.csv", (FIXTURES / "imports" / "generic.csv").read_bytes())
    assert any("matches no known export" in i.value for i in at.info)
    first = dict(calls)
    assert first["sample_values"] == 1 and first["recognise"] == 1
    # A changed mapping makes a new preview, and nothing else is read again.
    revenue = next(s for s in at.selectbox if s.key.startswith("imp_map_revenue_"))
    at = revenue.select("— not in the file —").run()
    assert not at.exception and metric(at, "Revenue") == "$0.00"
    again = {k: calls[k] - first.get(k, 0) for k in calls}
    assert again["preview"] == 1
    assert not any(again[k] for k in ("open_file", "sample_values", "recognise", "detect",
                                      "current"))
    # Another file is another identity: it is read.
    at = upload(at, "usd.csv", META % b"USD" + b"B,2026-09-01,200.00,1000,50\n")
    assert not at.exception
    assert calls["open_file"] == first["open_file"] + 1
    assert not [s for s in at.selectbox if s.key.startswith("imp_map_")]

"""``demetra.queries.export``: the CSV round-trips, is chunked and escapes formula-like cells."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
import sqlalchemy as sa

from demetra import queries as Q
from demetra.queries import Filters
from tests.queries.helpers import HAND, D, read_raw, select_rows


def test_export_round_trip_and_formula_escaping(hand_engine: sa.Engine) -> None:
    chunks = list(Q.export_csv(hand_engine, Filters(D(2026, 1, 1), D(2026, 3, 31)), chunk_rows=2))
    assert len(chunks) == 1 + 4 and all(isinstance(c, bytes) for c in chunks)  # header + 7 rows / 2
    text = b"".join(chunks).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(Q.EXPORT_COLUMNS) and len(rows) == len(HAND)
    names = {r["campaign_id"]: r["campaign_name"] for r in rows}
    assert names == {"FB_A": "Alpha Spring", "TT_B": "'=1+2", "GA_C": "'-50% Off Gamma",
                     "LI_D": "'@SUM(A1)"}
    got = pd.DataFrame(rows)
    got["date"] = [D.fromisoformat(v) for v in got["date"]]
    got = got.sort_values(["campaign_id", "date"]).reset_index(drop=True)
    want = HAND.sort_values(["campaign_id", "date"]).reset_index(drop=True)
    for col in ("cost", "revenue", "conversions"):
        assert list(got[col].astype(float)) == list(want[col])
    for col in ("clicks", "impressions", "engagement"):
        assert list(got[col].astype(int)) == list(want[col])
    assert list(got["date"]) == list(want["date"])
    # roi is empty (NULL) where cost is 0, never "0" or "nan".
    assert got.loc[(got.campaign_id == "FB_A") & (got.date == D(2026, 2, 1)), "roi"].item() == ""
    only = b"".join(Q.export_csv(hand_engine, Filters(D(2026, 1, 1), D(2026, 3, 31), ("tiktok",))))
    assert len(list(csv.reader(io.StringIO(only.decode())))) == 1 + 2
    nothing = list(Q.export_csv(hand_engine, Filters(D(2020, 1, 1), D(2020, 1, 2))))
    assert b"".join(nothing).decode().strip() == ",".join(Q.EXPORT_COLUMNS)


def test_export_of_the_seeded_world_round_trips(seeded_engine: sa.Engine) -> None:
    f = Filters(D(2026, 5, 1), D(2026, 6, 10), ("facebook", "tiktok"))
    got = pd.read_csv(io.BytesIO(b"".join(Q.export_csv(seeded_engine, f, chunk_rows=500))),
                      dtype={"campaign_id": str, "campaign_name": str, "channel": str, "date": str})
    want = select_rows(read_raw(seeded_engine), f)
    assert len(got) == len(want)
    assert got.cost.sum() == pytest.approx(want.cost.sum(), rel=1e-12)
    assert got.clicks.sum() == want.clicks.sum()
    assert set(got.channel) == {"facebook", "tiktok"}
    assert list(got.date) == sorted(got.date)

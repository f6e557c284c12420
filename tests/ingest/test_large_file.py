"""A 200 MB export with one bad row near the end: the import names the row and stores nothing
(issue 5). The file is a Meta Ads Manager export (the format of benchmarks/bench_import.py:
UTF-8 BOM, thousands separators, "--" for empty, a Platform breakdown), written in blocks."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from demetra.ingest import import_file
from demetra.ingest.reader import ImportFileError

SIZE = 200 * 1024 * 1024
BLOCK_CAMPAIGNS = 1000
BLOCK_DAYS = 50  # a block is 1,000 campaigns x 2 platforms x 50 days = 100,000 rows
START = np.datetime64("2020-01-01")
HEADER = ("Reporting starts,Reporting ends,Campaign name,Campaign ID,Day,Platform,"
          "Amount spent (USD),Impressions,Link clicks,Purchases,Purchases conversion value\n")
BAD_SPEND = "12..5"
ROWS_AFTER_BAD = 3


def _block_parts(rng: np.random.Generator) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """The text before the Day field and after it, for one block's rows, and each row's day
    within the block: every block repeats the campaigns and values on its own 50 days."""
    n = BLOCK_CAMPAIGNS * 2 * BLOCK_DAYS
    i = np.arange(n)
    campaign = pd.Series((i // 2) % BLOCK_CAMPAIGNS).astype(str)
    cents = rng.integers(100, 500_000, n)
    spend = pd.Series(cents / 100)
    spend_text = spend.map("{:.2f}".format).where(cents < 100_000,
                                                  spend.map('"{:,.2f}"'.format))
    impressions = rng.integers(1_000, 200_000, n)
    clicks = (impressions * rng.uniform(0.002, 0.03, n)).astype(np.int64)
    purchases = rng.poisson(3, n)
    value = pd.Series(np.round(spend * rng.uniform(0.2, 5.0, n), 2)).astype(str)
    value = value.where(purchases > 0, "--")
    head = ("2020-01-01,2022-09-27,Campaign " + campaign + ",12021000000" + campaign.str.zfill(7)
            + ",")
    tail = ("," + pd.Series(np.where(i % 2 == 0, "facebook", "instagram")) + ","
            + spend_text + "," + pd.Series(impressions).astype(str) + ","
            + pd.Series(clicks).astype(str) + "," + pd.Series(purchases).astype(str) + ","
            + value)
    return head, tail, i // (BLOCK_CAMPAIGNS * 2)


def write_export(path: Path, size: int) -> tuple[int, int]:
    """Write a Meta export of at least ``size`` bytes whose row ``ROWS_AFTER_BAD + 1`` from the
    end has the spend '12..5'; returns (data rows, the bad row's file row number)."""
    head, tail, day_in_block = _block_parts(np.random.default_rng(5))
    rows = 0
    written = len(HEADER)
    bad_index = None
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        out.write(HEADER)
        block = 0
        while written < size:
            days = np.datetime_as_string(START + block * BLOCK_DAYS + day_in_block)
            lines = (head + days + tail).tolist()
            text = "\n".join(lines) + "\n"  # ASCII: one byte a character
            if written + len(text) >= size:
                # The last block: the bad row, ROWS_AFTER_BAD rows from the end of the file. Its
                # spend (the field after Day and Platform, maybe quoted "1,234.56") becomes 12..5.
                bad = len(lines) - 1 - ROWS_AFTER_BAD
                before, spend_on = lines[bad].split(",", 6)[:6], lines[bad].split(",", 6)[6]
                lines[bad] = ",".join([*before, re.sub(r'^("[^"]*"|[^,]*)', BAD_SPEND, spend_on)])
                text = "\n".join(lines) + "\n"
                bad_index = rows + bad
            out.write(text)
            written += len(text)
            rows += len(lines)
            block += 1
    assert bad_index is not None
    # File rows as the importer numbers them: the header is row 1, the first data row row 2.
    return rows, bad_index + 2


def count(engine: sa.Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())  # noqa: S608


@pytest.mark.slow
def test_a_200_mb_file_with_one_bad_row_near_the_end_stores_nothing_and_names_the_row(
        engine: sa.Engine, tmp_path: Path) -> None:
    path = tmp_path / "meta_export.csv"
    try:
        rows, bad_row = write_export(path, SIZE)
        assert path.stat().st_size >= SIZE and rows >= 2_000_000
        assert bad_row == rows + 1 - ROWS_AFTER_BAD  # the last data row is file row rows + 1
        with pytest.raises(ImportFileError) as refused:
            import_file(engine, path)
    finally:
        path.unlink(missing_ok=True)  # pytest keeps the last runs' tmp_path: not 200 MB each
    message = str(refused.value)
    assert "1 rejected row carries" in message and "nothing was imported" in message
    assert f"The first is row {bad_row}, column “Amount spent (USD)”" in message
    assert f"'{BAD_SPEND}' is not a number" in message
    for table in ("campaigns", "channel_days", "campaign_months", "imports"):
        assert count(engine, table) == 0, table

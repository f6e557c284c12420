"""The frames the Budget page and the CLI show, and the guardrails read from the page's editor."""

from __future__ import annotations

import pytest

from demetra import budget
from demetra.budget.allocator import Guardrails, allocate
from tests.budget.known_curves import LOG, log_curves


def test_guardrails_from_the_page_editor_rows() -> None:
    rows = [{"channel": "search", "min": 100.0, "max": float("nan"), "locked": False},
            {"channel": "social", "min": None, "max": 900.0, "locked": True},
            {"channel": "video", "min": None, "max": None, "locked": False}]
    g = budget.guardrails_from_rows(rows, 15.0)
    assert g == Guardrails(min_spend={"search": 100.0}, max_spend={"social": 900.0},
                           locked=frozenset({"social"}), max_change_pct=15.0)
    assert budget.guardrails_from_rows(rows, 0.0).max_change_pct is None


def test_split_table_carries_the_allocation() -> None:
    res = allocate(log_curves(), 3000.0)
    table = budget.split_table(res)
    assert list(table["channel"]) == list(LOG)
    for _, r in table.iterrows():
        assert r["recommended"] == pytest.approx(res.allocation[r["channel"]])
        assert r["change"] == pytest.approx(r["recommended"] - r["current"])
        assert r["change_pct"] == pytest.approx(r["recommended"] / r["current"] - 1)
        assert r["marginal_roi_now"] == pytest.approx(LOG[r["channel"]][0]
                                                      / (LOG[r["channel"]][1] + r["current"]))

"""``demetra.queries.filters``: what ``Filters`` accepts and how it normalises."""

from __future__ import annotations

import pytest

from demetra.queries import Filters
from tests.queries.helpers import D


def test_filters_validate_and_normalise() -> None:
    with pytest.raises(ValueError, match="after"):
        Filters(D(2026, 2, 2), D(2026, 2, 1))
    f = Filters(D(2026, 1, 1), D(2026, 12, 31), channels=["tiktok", "facebook", "tiktok"],
                search="  x ")
    assert f.channels == ("facebook", "tiktok") and f.search == "x" and f.days == 365
    assert hash(f) == hash(Filters(D(2026, 1, 1), D(2026, 12, 31), ("facebook", "tiktok"), "x"))
    p = f.previous()
    assert p.end == D(2025, 12, 31) and p.days == 365 and p.channels == f.channels

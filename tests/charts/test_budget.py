"""The Budget page's figures carry the allocation they draw."""

from __future__ import annotations

import pytest

from demetra.budget.allocator import allocate
from demetra.charts import budget
from tests.budget.known_curves import log_curves


def test_figures_carry_the_allocation() -> None:
    res = allocate(log_curves(), 3000.0)
    bars = budget.split_figure(res)
    assert list(bars.data[1].y) == pytest.approx(list(res.allocation.values()))
    curves_fig = budget.curves_figure(log_curves(), res)
    stars = [t for t in curves_fig.data if t.name == "recommended"]
    assert [t.x[0] for t in stars] == pytest.approx(list(res.allocation.values()))
    assert len(budget.marginal_figure(res).data) == 2

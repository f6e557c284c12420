"""Risk levels from the probability of a loss and the thresholds."""

from __future__ import annotations

import numpy as np
import pytest

from demetra.ml import (
    risk_level,
)


@pytest.mark.parametrize(("p", "level"), [(0.0, "low"), (0.1999, "low"), (0.2, "medium"),
                                          (0.4999, "medium"), (0.5, "high"), (1.0, "high")])
def test_risk_levels_at_the_default_boundaries(p: float, level: str) -> None:
    assert risk_level(p) == level


def test_risk_levels_follow_the_thresholds() -> None:
    levels = risk_level(np.array([0.29, 0.3, 0.69, 0.7]), (0.7, 0.3))
    assert list(levels) == ["low", "medium", "medium", "high"]

"""Curves with an answer worked out by hand, shared by the budget and chart tests (a helper
module, not a test module: it holds no tests and no fixtures)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from demetra.budget.curves import Curve

# a_c·log(1 + s/b_c): marginal ROI a/(b+s); the optimum of a total T with every channel
# above zero has a/(b+s) = λ everywhere, so s_c = a_c/λ − b_c with λ = Σa / (T + Σb).
LOG = {"search": (3000.0, 400.0), "social": (1500.0, 300.0), "video": (1000.0, 200.0)}
CURRENT = {"search": 1000.0, "social": 1000.0, "video": 1000.0}


def log_curves(current: dict[str, float] | None = None) -> dict[str, Curve]:
    current = current or CURRENT
    return {c: Curve(channel=c, kind="log", params={"a": a, "b": b}, current_spend=current[c],
                     days=90, spend_min=0.5 * current[c], spend_max=1.5 * current[c])
            for c, (a, b) in LOG.items()}


def by_hand(total: float, channels: list[str] | None = None) -> dict[str, float]:
    channels = channels or list(LOG)
    a = np.array([LOG[c][0] for c in channels])
    b = np.array([LOG[c][1] for c in channels])
    lam = a.sum() / (total + b.sum())
    split = a / lam - b
    assert (split > 0).all(), "the hand formula assumes every channel gets some budget"
    return dict(zip(channels, split, strict=True))


def log_revenue(split: dict[str, float]) -> float:
    return sum(LOG[c][0] * math.log1p(s / LOG[c][1]) for c, s in split.items())


def assert_split(got: dict[str, float], want: dict[str, float], total: float,
                 tol: float = 0.002) -> None:
    assert set(got) == set(want)
    for c in want:
        assert got[c] == pytest.approx(want[c], abs=tol * total), (c, got, want)

"""The trailing statistics every rule stands on: the sorted-block quantiles must give what a
per-campaign rolling quantile gives (pandas' linear interpolation), on ragged groups with
missing and infinite values, at every row or at a chosen few."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from demetra.alerts.detection import _MIN_HISTORY, _trailing_median, _trailing_quantiles


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 60, size=40)  # groups shorter than a window and longer than two
    group = np.repeat(np.arange(len(sizes)), sizes)
    values = rng.lognormal(0.0, 1.0, size=len(group))
    values[rng.random(len(group)) < 0.15] = np.nan   # days that do not count
    values[rng.random(len(group)) < 0.03] = np.inf   # nor do these (pandas skips them too)
    values[rng.random(len(group)) < 0.03] = -np.inf
    return pd.DataFrame({"_group": group, "x": values})


def _reference(frame: pd.DataFrame, window: int, q: float) -> np.ndarray:
    rolled = (frame.groupby("_group")["x"]
              .transform(lambda s: s.shift(1).rolling(window, min_periods=_MIN_HISTORY).quantile(q)))
    return rolled.to_numpy()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_trailing_quantiles_match_a_per_group_rolling_quantile(seed: int) -> None:
    frame = _frame(seed)
    w = 9
    med, spread = _trailing_quantiles(frame, "x", w)
    expected_med = _reference(frame, w, 0.5)
    expected_spread = (_reference(frame, 2 * w, 0.75) - _reference(frame, 2 * w, 0.25)) / 1.349
    np.testing.assert_allclose(med, expected_med, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(spread, expected_spread, rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(_trailing_median(frame, "x", w), expected_med, rtol=1e-12,
                               equal_nan=True)
    assert np.isfinite(med).sum() > len(frame) // 3  # the test compares numbers, not NaNs


def test_quantiles_at_chosen_rows_are_those_of_the_full_run() -> None:
    frame = _frame(4)
    rows = np.flatnonzero(np.random.default_rng(0).random(len(frame)) < 0.1)
    med, spread = _trailing_quantiles(frame, "x", 7)
    some_med, some_spread = _trailing_quantiles(frame, "x", 7, rows)
    np.testing.assert_array_equal(some_med, med[rows])
    np.testing.assert_array_equal(some_spread, spread[rows])

"""Risk levels from the probability of a loss (ROI < 1 over the horizon)."""

from __future__ import annotations

from typing import Any

import numpy as np

RISK_LEVELS = ("low", "medium", "high")
DEFAULT_THRESHOLDS: tuple[float, float] = (0.5, 0.2)   # (high, medium): prob_loss at or above


def risk_level(prob_loss: Any, thresholds: tuple[float, float] = DEFAULT_THRESHOLDS) -> Any:
    """``"high"`` where prob_loss ≥ thresholds[0], ``"medium"`` where ≥ thresholds[1], else ``"low"``.

    Takes a number (returns a string) or an array (returns an object array of the same shape).
    """
    high, medium = float(thresholds[0]), float(thresholds[1])
    p = np.asarray(prob_loss, dtype=float)
    out = np.where(p >= high, "high", np.where(p >= medium, "medium", "low")).astype(object)
    return str(out.item()) if out.ndim == 0 else out

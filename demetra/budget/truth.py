"""The proof against the truth: on a seeded demo world (``seed_truth`` holds each channel's true
Hill curve) the recommended split is evaluated with the true curves and compared with the best
split the true curves allow, for the same total and guardrails. Real data has no truth, so
there is no proof there (``proof`` returns None).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from demetra.budget.allocator import Allocation, Guardrails, allocate, evaluate_split, safe_ratio
from demetra.budget.curves import Curve

__all__ = ["Proof", "proof", "true_curves"]


def true_curves(truth: Mapping[str, Any]) -> dict[str, Curve]:
    """The seeded world's true Hill curves (``seed_truth``), as Curves without a band."""
    out = {}
    for ch, p in truth["channels"].items():
        out[ch] = Curve(channel=ch, kind="hill",
                        params={"vmax": float(p["vmax"]), "half_saturation": float(p["half_saturation"]),
                                "shape": float(p["shape"])},
                        current_spend=float(p["current_daily_spend"]), days=int(truth["days"]),
                        spend_min=0.0, spend_max=math.inf)
    return out


@dataclass(frozen=True)
class Proof:
    """How the recommendation fares by the seeded world's true curves.

    ``share_of_optimum``: true revenue of the recommended split / true revenue of the true
    optimal split of the same total (within the same guardrails); ``current_share``: the same
    for the current split.
    """

    truth: dict[str, Curve]
    true_optimum: Allocation
    recommended_true_revenue: float
    current_true_revenue: float
    share_of_optimum: float | None
    current_share: float | None


def proof(truth: Mapping[str, Any], curves: Mapping[str, Curve], allocation: Allocation,
          guardrails: Guardrails | None = None) -> Proof | None:
    """Evaluate ``allocation`` with the true curves of the channels it allocates over; None
    when it is infeasible or allocates channels the truth does not know."""
    if not allocation.feasible or not allocation.allocation or allocation.outcome != "revenue":
        return None   # the seeded truth is of revenue: a results split has no proof here
    known = true_curves(truth)
    if not set(allocation.allocation) <= set(known):
        return None
    # The truth's curves sit at the fitted channels' current spend, so locks and caps mean
    # the same to both allocations.
    truth_c = {c: replace(known[c], current_spend=curves[c].current_spend)
               for c in allocation.allocation}
    optimum = allocate(truth_c, allocation.total, guardrails)
    rec = evaluate_split(truth_c, allocation.allocation)
    cur = evaluate_split(truth_c, allocation.current)
    best = optimum.expected_revenue if optimum.feasible else math.nan
    return Proof(truth=truth_c, true_optimum=optimum, recommended_true_revenue=rec,
                 current_true_revenue=cur,
                 share_of_optimum=safe_ratio(rec, best) if math.isfinite(best) else None,
                 current_share=safe_ratio(cur, best) if math.isfinite(best) else None)

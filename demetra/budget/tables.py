"""What the Budget page and the command line show as tables: plain pandas frames built from an
:class:`Allocation` or a :class:`CurveSet` (the page only labels and lays them out), and the
guardrails read back from the page's editor rows. The figures are in ``demetra.charts.budget``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from demetra.budget.allocator import Allocation, Guardrails, allocate, safe_ratio
from demetra.budget.curves import CurveSet

__all__ = ["campaign_split_table", "guardrails_from_rows", "split_table"]


def guardrails_from_rows(rows: Sequence[Mapping[str, Any]],
                         max_change_pct: float | None = None) -> Guardrails:
    """Guardrails from the page's editor rows: ``channel``, ``min`` and ``max`` (daily spend,
    empty/NaN = none), ``locked`` (bool). A cap of 0 or None means no cap."""
    def amount(v: Any) -> float | None:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return float(v)

    mins, maxs, locked = {}, {}, set()
    for r in rows:
        ch = str(r["channel"])
        lo, hi = amount(r.get("min")), amount(r.get("max"))
        if lo is not None:
            mins[ch] = lo
        if hi is not None:
            maxs[ch] = hi
        if bool(r.get("locked")):
            locked.add(ch)
    return Guardrails(min_spend=mins, max_spend=maxs, locked=frozenset(locked),
                      max_change_pct=max_change_pct or None)


def split_table(a: Allocation) -> pd.DataFrame:
    """Per channel: current and recommended daily spend, the change, and the marginal ROI
    before and after (what one more dollar a day earns there)."""
    rows = []
    for ch, now in a.current.items():
        rec = a.allocation.get(ch, math.nan)
        rows.append({"channel": ch, "current": now, "recommended": rec, "change": rec - now,
                     "change_pct": (rec / now - 1) if now > 0 else math.nan,
                     "marginal_roi_now": a.current_marginal_roi.get(ch, math.nan),
                     "marginal_roi_after": a.marginal_roi.get(ch, math.nan)})
    return pd.DataFrame(rows, columns=["channel", "current", "recommended", "change",
                                       "change_pct", "marginal_roi_now", "marginal_roi_after"])


def campaign_split_table(curves: CurveSet) -> pd.DataFrame:
    """Per fitted campaign of one channel: days, current daily spend, ROI and marginal ROI at
    it, and the best split of the same combined spend among these campaigns."""
    cols = ["campaign_id", "campaign_name", "days", "current", "roi_now", "marginal_roi_now",
            "recommended", "marginal_roi_after"]
    if not curves:
        return pd.DataFrame(columns=cols)
    a = allocate(curves, sum(c.current_spend for c in curves.values()))
    rows = []
    for cid, c in curves.items():
        now = c.current_spend
        rows.append({"campaign_id": cid, "campaign_name": curves.labels.get(cid, cid),
                     "days": c.days, "current": now,
                     "roi_now": safe_ratio(float(c.revenue(now)), now),
                     "marginal_roi_now": float(c.marginal_roi(now)),
                     "recommended": a.allocation.get(cid, math.nan),
                     "marginal_roi_after": a.marginal_roi.get(cid, math.nan)})
    return pd.DataFrame(rows, columns=cols).sort_values("marginal_roi_now", ascending=False,
                                                        ignore_index=True)

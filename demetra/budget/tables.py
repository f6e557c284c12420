"""What the Budget page and the command line show as tables: plain pandas frames built from an
:class:`Allocation` or a :class:`CurveSet` (the page only labels and lays them out), and the
guardrails read back from the page's editor rows. The figures are in ``demetra.charts.budget``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from demetra.budget.allocator import Allocation, Guardrails, allocate, cost_per, safe_ratio
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
    """Per channel: current and recommended daily spend, the change, and the margin before and
    after — for a revenue split the marginal ROI (what one more dollar a day earns there,
    ``marginal_roi_now``/``_after``), for a results split the marginal CPA (what one more
    result costs there, ``marginal_cpa_now``/``_after``)."""
    results = a.outcome == "results"
    names = ("marginal_cpa_now", "marginal_cpa_after") if results else ("marginal_roi_now",
                                                                        "marginal_roi_after")
    now_m, after_m = ((a.current_marginal_cpa, a.marginal_cpa) if results
                      else (a.current_marginal_roi, a.marginal_roi))
    rows = []
    for ch, now in a.current.items():
        rec = a.allocation.get(ch, math.nan)
        rows.append({"channel": ch, "current": now, "recommended": rec, "change": rec - now,
                     "change_pct": (rec / now - 1) if now > 0 else math.nan,
                     names[0]: _num(now_m.get(ch)), names[1]: _num(after_m.get(ch))})
    return pd.DataFrame(rows, columns=["channel", "current", "recommended", "change",
                                       "change_pct", *names])


def _num(v: float | None) -> float:
    return math.nan if v is None else float(v)


def campaign_split_table(curves: CurveSet, total: float | None = None) -> pd.DataFrame:
    """Per fitted campaign of one channel: days, current daily spend, its ROI (revenue curves)
    or CPA (results curves) and the marginal one at it, and the best split among these
    campaigns of ``total`` (default: their combined current spend)."""
    results = curves.outcome == "results"
    kind = "cpa" if results else "roi"
    cols = ["campaign_id", "campaign_name", "days", "current", f"{kind}_now",
            f"marginal_{kind}_now", "recommended", f"marginal_{kind}_after"]
    if not curves:
        return pd.DataFrame(columns=cols)
    a = allocate(curves, sum(c.current_spend for c in curves.values()) if total is None
                 else total)
    after = a.marginal_cpa if results else a.marginal_roi
    rows = []
    for cid, c in curves.items():
        now = c.current_spend
        value, slope = float(c.value(now)), float(c.marginal(now))
        rows.append({"campaign_id": cid, "campaign_name": curves.labels.get(cid, cid),
                     "days": c.days, "current": now,
                     f"{kind}_now": _num(cost_per(now, value) if results
                                         else safe_ratio(value, now)),
                     f"marginal_{kind}_now": _num(cost_per(1.0, slope) if results else slope),
                     "recommended": a.allocation.get(cid, math.nan),
                     f"marginal_{kind}_after": _num(after.get(cid))})
    # Best first: the highest marginal ROI, or the lowest marginal CPA.
    return pd.DataFrame(rows, columns=cols).sort_values(f"marginal_{kind}_now",
                                                        ascending=results, ignore_index=True)

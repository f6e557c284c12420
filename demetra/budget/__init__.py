"""Budget allocation: a response curve per channel, fitted from the data, and the split of a
daily budget that earns the most by those curves — within the user's guardrails. The curves
are of revenue where every channel tracks it, else of results (conversions): an account that
does not track revenue is split for the most results, read with CPA, never a revenue of 0.

What is where:

* ``curves``   — :class:`Curve`, :class:`CurveSet`, fitting (``fit_curve``, ``fit_curves`` from
  the ``channel_days`` rollup, ``fit_campaign_curves`` inside one channel) and why the fit
  carries a prior;
* ``allocator`` — :class:`Guardrails`, :class:`Allocation`, ``allocate`` (dynamic programme then
  SLSQP), the reverse question ``min_budget_for``, ``recommend`` (fit, then allocate) and
  ``evaluate_split``;
* ``truth``    — ``true_curves``, :class:`Proof` and ``proof``: the recommendation judged by a seeded
  world's true curves;
* ``tables``   — the frames the page and the CLI show (``split_table``,
  ``campaign_split_table``) and ``guardrails_from_rows``;
* the figures live apart, in ``demetra.charts.budget``: nothing here imports plotly.

Every name callers use is re-exported here.
Amounts are daily spend in the account's currency; ROI is revenue / spend and CPA spend /
results (ratios of sums).
"""

from __future__ import annotations

from demetra.budget.allocator import (
    CAMPAIGN_ACTIVE_DAYS,
    Allocation,
    Guardrails,
    allocate,
    cost_per,
    evaluate_split,
    min_budget_for,
    recommend,
)
from demetra.budget.curves import (
    BAND_DRAWS,
    MIN_DAYS,
    MIN_SPEND_CV,
    NOT_TRACKED,
    OUTCOMES,
    TRACKED_SHARE,
    Curve,
    CurveSet,
    choose_outcome,
    fit_campaign_curves,
    fit_curve,
    fit_curves,
)
from demetra.budget.tables import campaign_split_table, guardrails_from_rows, split_table
from demetra.budget.truth import Proof, proof, true_curves

__all__ = [
    "BAND_DRAWS", "CAMPAIGN_ACTIVE_DAYS", "MIN_DAYS", "MIN_SPEND_CV", "NOT_TRACKED", "OUTCOMES",
    "TRACKED_SHARE", "Allocation", "Curve", "CurveSet", "Guardrails", "Proof", "allocate",
    "campaign_split_table", "choose_outcome", "cost_per", "evaluate_split", "fit_campaign_curves",
    "fit_curve", "fit_curves", "guardrails_from_rows", "min_budget_for", "proof", "recommend",
    "split_table", "true_curves",
]

"""The account's own regression (demetra.ml.linear): it learns how the account behaves, from
the account's days only, and reads nothing after the forecast date."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from demetra.ml.features import Panel
from demetra.ml.linear import FEATURES, LinearYield, design

N, DAYS, H = 40, 220, 7


def _panel(phi: float, sd: float, seed: int = 0) -> Panel:
    """Campaigns of a persistent quality times a state of log ROI that follows an AR(1) with
    coefficient ``phi`` and stationary deviation ``sd`` (phi 0: every day on its own)."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.8, 0.3, (N, 1))
    state = np.zeros((N, DAYS))
    state[:, 0] = rng.normal(0, sd, N)
    for d in range(1, DAYS):
        state[:, d] = phi * state[:, d - 1] + rng.normal(0, sd * np.sqrt(1 - phi ** 2), N)
    cost = np.full((N, DAYS), 200.0) * rng.uniform(0.5, 2.0, (N, 1))
    conversions = rng.poisson(cost * np.exp(quality + state) / 50.0).astype(float)
    revenue = conversions * 50.0
    grid = {"cost": cost, "revenue": revenue, "conversions": conversions,
            "clicks": cost, "impressions": cost * 100}
    channels = np.array(["facebook", "google_ads"] * (N // 2))
    return Panel(np.array([f"c{i}" for i in range(N)]), channels, dt.date(2026, 1, 1), DAYS, grid)


def _errors(panel: Panel) -> tuple[float, float]:
    """Spend-weighted MAE of the regression and of the trailing 28 days over weekly held-out
    origins, the regression refitted at each on the days before it only."""
    lin = base = spend = 0.0
    for o in range(150, DAYS - H, H):
        model = LinearYield.fit(panel, range(28, o - H + 1), H)
        real = panel.ahead("revenue", o, H) / panel.ahead("cost", o, H)
        w = panel.ahead("cost", o, H)
        trailing = panel.window("revenue", o, 28) / panel.window("cost", o, 28)
        lin += float((np.abs(model.predict(panel, o) - real) * w).sum())
        base += float((np.abs(trailing - real) * w).sum())
        spend += float(w.sum())
    return lin / spend, base / spend


def test_a_state_that_persists_is_followed_and_beats_the_trailing_28_days() -> None:
    lin, base = _errors(_panel(phi=0.97, sd=0.35))
    assert lin < 0.9 * base


def test_noise_around_a_steady_quality_is_not_chased() -> None:
    panel = _panel(phi=0.0, sd=0.3)
    lin, base = _errors(panel)
    assert lin < 1.02 * base
    model = LinearYield.fit(panel, range(28, DAYS - H), H)
    # Yesterday's luck says nothing of next week; the long run says most.
    assert abs(_sum(model, "yield_7", "ewm_3", "gated_ewm_3", "gated_yield_7")) < 0.2
    assert _sum(model, *LONG) > 0.5


def test_what_it_learns_differs_between_accounts() -> None:
    persists = LinearYield.fit(_panel(phi=0.97, sd=0.35), range(28, DAYS - H), H)
    reverts = LinearYield.fit(_panel(phi=0.0, sd=0.3), range(28, DAYS - H), H)
    assert _sum(reverts, *LONG) > _sum(persists, *LONG) + 0.3


LONG = ("yield_91", "yield_182")


def _sum(model: LinearYield, *features: str) -> float:
    return float(sum(model.coef[FEATURES.index(f) + 1] for f in features))


def test_without_enough_examples_it_forecasts_the_base() -> None:
    panel = _panel(phi=0.5, sd=0.3)
    model = LinearYield.fit(panel, [], H)
    assert model.examples == 0 and not model.coef.any()
    _, base = design(panel, 100)
    np.testing.assert_allclose(model.predict(panel, 100), base)


@pytest.mark.parametrize("t", [60, 150])
def test_no_feature_reads_after_the_forecast_date(t: int) -> None:
    panel = _panel(phi=0.8, sd=0.3, seed=2)
    later = {m: v.copy() for m, v in panel.grid.items()}
    for m in ("cost", "revenue", "conversions"):
        later[m][:, t + 1:] = later[m][:, t + 1:] * 5 + 1
    perturbed = Panel(panel.campaign_ids, panel.channels, panel.start, DAYS, later)
    a, b = design(panel, t), design(perturbed, t)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    fits = [LinearYield.fit(p, range(28, t - H + 1), H) for p in (panel, perturbed)]
    np.testing.assert_array_equal(fits[0].coef, fits[1].coef)


def test_per_campaign_forecasts_take_the_regression_only_where_their_backtest_favours_it() -> None:
    from demetra.ml.small import LINEAR, combine, own_backtest

    everyone = np.ones(N, bool)
    persists = _panel(phi=0.97, sd=0.35)
    weights, why = combine(own_backtest(persists, DAYS - 1, H, "roi"), everyone, "roi")
    assert weights[LINEAR] > 0.5 and "regression" in why
    assert sum(weights.values()) == pytest.approx(1.0)
    # A regression that did worse in the backtest takes nothing.
    bt = own_backtest(_panel(phi=0.0, sd=0.3), DAYS - 1, H, "roi")
    bt.forecast[LINEAR] = bt.forecast[LINEAR] * 1.6
    weights, why = combine(bt, everyone, "roi")
    assert weights[LINEAR] == 0.0 and "did not clearly do better" in why

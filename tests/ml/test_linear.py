"""The account's own regression (demetra.ml.linear): it learns how the account behaves, from
the account's days only, and reads nothing after the forecast date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pytest

from demetra.ml.features import Panel
from demetra.ml.linear import (
    FEATURES,
    ORDINARY_MIN,
    LinearYield,
    account_days,
    design,
)

N, DAYS, H = 40, 220, 7


def _panel(phi: float, sd: float, seed: int = 0, days: np.ndarray | None = None) -> Panel:
    """Campaigns of a persistent quality times a state of log ROI that follows an AR(1) with
    coefficient ``phi`` and stationary deviation ``sd`` (phi 0: every day on its own), times
    an account-wide multiplier per day (``days``, default 1)."""
    rng = np.random.default_rng(seed)
    quality = rng.normal(0.8, 0.3, (N, 1))
    state = np.zeros((N, DAYS))
    state[:, 0] = rng.normal(0, sd, N)
    for d in range(1, DAYS):
        state[:, d] = phi * state[:, d - 1] + rng.normal(0, sd * np.sqrt(1 - phi ** 2), N)
    cost = np.full((N, DAYS), 200.0) * rng.uniform(0.5, 2.0, (N, 1))
    account = np.ones(DAYS) if days is None else days
    conversions = rng.poisson(cost * np.exp(quality + state) * account / 50.0).astype(float)
    revenue = conversions * 50.0
    grid = {"cost": cost, "revenue": revenue, "conversions": conversions,
            "clicks": cost, "impressions": cost * 100}
    channels = np.array(["facebook", "google_ads"] * (N // 2))
    return Panel(np.array([f"c{i}" for i in range(N)]), channels, dt.date(2026, 1, 1), DAYS, grid)


def _errors(panel: Panel, origins: Iterable[int] = range(150, DAYS - H, H)
            ) -> tuple[float, float]:
    """Spend-weighted error sums of the regression and of the trailing 28 days at the held-out
    ``origins`` (default weekly), the regression refitted at each on the days before it only."""
    lin = base = 0.0
    for o in origins:
        model = LinearYield.fit(panel, range(28, o - H + 1), H)
        real = panel.ahead("revenue", o, H) / panel.ahead("cost", o, H)
        w = panel.ahead("cost", o, H)
        trailing = panel.window("revenue", o, 28) / panel.window("cost", o, 28)
        lin += float((np.abs(model.predict(panel, o) - real) * w).sum())
        base += float((np.abs(trailing - real) * w).sum())
    return lin, base


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
    # A regression that did worse in the backtest takes nothing from a small account, next to
    # nothing from one of the pooled model's size.
    bt = own_backtest(_panel(phi=0.0, sd=0.3), DAYS - 1, H, "roi")
    bt.forecast[LINEAR] = bt.forecast[LINEAR] * 1.6
    weights, why = combine(bt, np.arange(N) < 8, "roi")
    assert weights[LINEAR] == 0.0 and "did not clearly do better" in why
    weights, why = combine(bt, everyone, "roi")
    assert weights[LINEAR] < 0.01 and "origin by origin" in why


PROMOTIONS = ((100, 104), (131, 134), (150, 155), (171, 175), (190, 193))
HOLIDAY = 160


def _promotions(seed: int = 3) -> Panel:
    """Steady campaigns in an account that doubles its yield for a few days now and then (a
    sale) and halves it for one (a holiday)."""
    days = np.ones(DAYS)
    for a, b in PROMOTIONS:
        days[a:b + 1] = 2.0
    days[HOLIDAY] = 0.5
    return _panel(phi=0.5, sd=0.1, seed=seed, days=days)


def test_the_days_the_whole_account_left_its_ordinary_are_found() -> None:
    factor = account_days(_promotions())
    abnormal = np.flatnonzero(factor != 1.0)
    expected = [d for a, b in PROMOTIONS for d in range(a, b + 1)] + [HOLIDAY]
    assert set(expected) <= set(abnormal)
    assert len(abnormal) <= len(expected) + 3       # ordinary noise: a false day or so
    assert factor[[a for a, _ in PROMOTIONS]] == pytest.approx(0.5, rel=0.15)
    assert factor[HOLIDAY] == pytest.approx(2.0, rel=0.15)
    # Nothing is judged before the account has two weeks behind it.
    assert (factor[:ORDINARY_MIN] == 1.0).all()


def _sale_errors(origins: list[int]) -> tuple[float, float]:
    return _errors(_promotions(), origins)


def test_after_a_sale_the_regression_forecasts_the_ordinary_week() -> None:
    """Origins a few days after each sale ends: the trailing yields still hold the sale."""
    lin, trailing = _sale_errors([end + 3 for _, end in PROMOTIONS[2:]])
    assert lin < 0.6 * trailing


def test_a_sale_that_has_started_is_expected_to_go_on(monkeypatch) -> None:
    """Origins on each sale's first day: how long the account's sales last is its history's
    to say, and the regression reads it from the surge features."""
    origins = [start for start, _ in PROMOTIONS[2:]]
    lin, trailing = _sale_errors(origins)
    monkeypatch.setattr("demetra.ml.linear.ABNORMAL_Z", np.inf)   # every day ordinary
    as_they_came, _ = _sale_errors(origins)
    assert lin < 0.8 * trailing
    assert lin < 0.85 * as_they_came

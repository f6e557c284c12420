"""The blend that serves a pooled-model account (demetra.ml.adapt): it weighs whichever
candidate the account's backtest favours, reads nothing after the forecast date, and its
interval covers what its own backtest realised."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from demetra.ml.adapt import (
    CANDIDATES,
    Blend,
    Record,
    blend_weights,
    fit_blend,
    roi_candidates,
    scores_of,
    stacked,
    weights,
)
from demetra.ml.backtest import backtest
from demetra.ml.features import Panel
from demetra.ml.linear import LinearYield

N = 200


def _records(favoured: str, origins: int = 6, seed: int = 0) -> list[Record]:
    """Origins where the realised ROI is the favoured candidate's forecast plus a little
    noise, and every other candidate is off by more."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(origins):
        real = rng.lognormal(0.5, 0.4, N)
        fc = {m: real * rng.lognormal(0.0, 0.35, N) for m in CANDIDATES}
        fc[favoured] = real * rng.lognormal(0.0, 0.1, N)
        out.append(Record(fc, real, rng.uniform(50, 500, N)))
    return out


@pytest.mark.parametrize("favoured", CANDIDATES)
def test_the_blend_weighs_most_the_candidate_its_backtest_favours(favoured: str) -> None:
    blend = fit_blend(_records(favoured))
    assert max(blend.weights, key=blend.weights.get) == favoured
    assert blend.weights[favoured] > 0.9
    assert sum(blend.weights.values()) == pytest.approx(1.0)
    single = {m: e for m, e in blend.errors.items() if m in CANDIDATES}
    assert min(single, key=single.get) == favoured
    assert blend.errors["served"] < 1.15 * single[favoured]   # out of sample, near the best
    assert "best single method" in blend.describe()


def test_weights_follow_the_error_ratio_and_are_equal_without_evidence() -> None:
    w = weights({"tree": 1.0, "linear": 1.1, "simple": float("nan"), "ewm_14d": 0.5})
    assert set(w) == {"tree", "linear"}   # a simple forecast alone is no candidate
    assert w["linear"] / w["tree"] == pytest.approx(1.1 ** -8)
    equal = dict.fromkeys(CANDIDATES, 1.0 / len(CANDIDATES))
    assert weights({}) == equal and weights({"tree": float("nan")}) == equal


def test_stacked_weights_see_candidates_that_err_alike() -> None:
    # The trees and the regression err alike (both 20 % high, with the same noise), the simple
    # ensemble 20 % low: alone each is as good as the others, so their own errors weigh them
    # equally (two thirds on the shared error), while half on the one that errs the other way
    # cancels it.
    rng = np.random.default_rng(3)
    records = []
    for _ in range(6):
        real = rng.lognormal(0.5, 0.4, N)
        shared = real * 1.2 * rng.lognormal(0.0, 0.05, N)
        records.append(Record({"tree": shared, "linear": shared * 1.001,
                               "simple": real * 0.8 * rng.lognormal(0.0, 0.05, N)},
                              real, rng.uniform(50, 500, N)))
    own = weights(scores_of(records))
    assert own["simple"] == pytest.approx(1 / 3, abs=0.05)
    fit = stacked(records)
    assert fit["simple"] == pytest.approx(0.5, abs=0.051)
    assert sum(fit.values()) == pytest.approx(1.0)
    halfway = blend_weights(records)
    assert halfway["simple"] == pytest.approx((own["simple"] + fit["simple"]) / 2)
    errors = {name: sum(float((np.abs(Blend(w).point(r.fc) - r.real) * r.spend).sum())
                        for r in records) for name, w in (("own", own), ("halfway", halfway))}
    assert errors["halfway"] < 0.8 * errors["own"]
    assert stacked([]) == dict.fromkeys(CANDIDATES, 1 / 3)


def test_a_campaign_without_a_candidate_is_served_by_the_others() -> None:
    blend = Blend({"tree": 0.5, "ewm_14d": 0.5})
    point = blend.point({"tree": np.array([2.0, np.nan, np.nan]),
                         "ewm_14d": np.array([4.0, 3.0, np.nan])})
    assert point[0] == pytest.approx(3.0) and point[1] == pytest.approx(3.0)
    assert np.isnan(point[2])


def test_the_interval_covers_what_the_backtest_realised() -> None:
    records = _records("ewm_28d", origins=8, seed=3)
    blend = fit_blend(records[:-2])
    held = records[-2:]
    inside = []
    for r in held:
        point = blend.point(r.fc)
        low, high, prob = blend.interval(point)
        assert np.all(low <= point) and np.all(point <= high)
        assert np.all((prob >= 0) & (prob <= 1))
        inside.append((low <= r.real) & (r.real <= high))
    assert 0.7 <= np.concatenate(inside).mean() <= 0.9


def test_no_candidate_reads_after_the_forecast_date() -> None:
    rng = np.random.default_rng(1)
    n, days, t = 12, 150, 120
    grid = {m: rng.uniform(1, 100, (n, days)) for m in ("cost", "revenue", "clicks",
                                                        "impressions", "conversions")}
    channels = np.array(["facebook", "google_ads"] * (n // 2))
    ids = np.array([f"c{i}" for i in range(n)])
    start = dt.date(2026, 1, 1)
    panel = Panel(ids, channels, start, days, grid)
    later = {m: v.copy() for m, v in grid.items()}
    for v in later.values():
        v[:, t + 1:] = v[:, t + 1:] * 7 + 3
    perturbed = Panel(ids, channels, start, days, later)
    tree = rng.uniform(0.5, 3, n)
    # The regression is fitted on the days whose labels are known by t, on each panel.
    fits = [LinearYield.fit(p, range(30, t - 7 + 1), 7) for p in (panel, perturbed)]
    np.testing.assert_array_equal(fits[0].coef, fits[1].coef)
    a = roi_candidates(panel, t, tree, fits[0].predict(panel, t))
    b = roi_candidates(perturbed, t, tree, fits[1].predict(perturbed, t))
    assert set(CANDIDATES) <= set(a) and np.isfinite(a["linear"]).all()
    for m in a:
        np.testing.assert_array_equal(a[m], b[m], err_msg=m)


def test_the_interval_holds_for_weeks_that_share_a_shock() -> None:
    """Each week moves all its campaigns together (a promotion, a holiday): the pooled
    ratios of a few weeks show little of it, the interval must still cover a new week."""
    rng = np.random.default_rng(5)
    ours, pooled = [], []
    for _ in range(60):
        weeks = []
        for _ in range(7):
            forecast = rng.lognormal(0.5, 0.3, N)
            real = forecast * np.exp(rng.normal(0, 0.4) + rng.normal(0, 0.08, N))
            weeks.append(Record({m: forecast for m in CANDIDATES}, real, np.full(N, 100.0)))
        blend, new = fit_blend(weeks[:-1]), weeks[-1]
        point = blend.point(new.fc)
        low, high, _ = blend.interval(point)
        ours.append(np.mean((low <= new.real) & (new.real <= high)))
        ratios = np.concatenate([np.log(w.real / w.fc["tree"]) for w in weeks[:-1]])
        lo, hi = np.quantile(ratios, [0.1, 0.9])
        pooled.append(np.mean((point * np.exp(lo) <= new.real) & (new.real <= point * np.exp(hi))))
    assert 0.72 <= np.mean(ours) <= 0.9
    assert np.mean(ours) > np.mean(pooled) + 0.05


def test_the_page_reads_the_served_error_against_the_trailing_28_days() -> None:
    records = _records("linear", origins=6, seed=4)
    for r in records:
        r.fc["trailing_28d"] = r.real * np.random.default_rng(0).lognormal(0.0, 0.5, N)
    blend = fit_blend(records)
    assert set(blend.weights) <= set(CANDIDATES)   # a simple forecast alone weighs nothing
    assert blend.errors["trailing_28d"] > blend.errors["served"]
    assert "against the trailing 28 days'" in blend.describe()


def test_a_warmed_up_backtest_scores_what_a_trained_model_serves() -> None:
    """With warm-up origins every scored origin is served by the blend of the origins before
    it, as many as a trained model weighs on, and the blend it hands on is the trained one."""
    rng = np.random.default_rng(2)
    n, days = 24, 220
    quality = rng.lognormal(0.0, 0.5, (n, 1))
    cost = rng.uniform(50, 150, (n, days))
    grid = {"cost": cost, "revenue": cost * quality * rng.lognormal(0.0, 0.3, (n, days)),
            "clicks": cost / 2, "impressions": cost * 40, "conversions": cost / 40}
    panel = Panel(np.array([f"c{i}" for i in range(n)]),
                  np.array(["facebook", "google_ads", "tiktok"] * (n // 3)),
                  dt.date(2026, 1, 1), days, grid)
    cold = backtest(panel, 7, (0.5, 0.25), n_origins=3)
    warm = backtest(panel, 7, (0.5, 0.25), n_origins=3, warmup=3)
    assert warm["origins"] == cold["origins"] and len(warm["per_origin"]) == 3
    assert warm["baselines"] == cold["baselines"] and warm["tree"] == cold["tree"]
    assert set(warm["_forecasts"]["origin"]) == set(cold["_forecasts"]["origin"])
    # The oldest scored origin had no backtest to weigh by; warmed up, it has three.
    oldest = cold["_forecasts"]["origin"].min()
    a, b = (bt["_forecasts"].loc[bt["_forecasts"]["origin"] == oldest, "served"].to_numpy()
            for bt in (cold, warm))
    assert not np.allclose(a, b)
    # The warm-up origins are records, not part of what serves after the backtest.
    assert warm["_blend"].weights == pytest.approx(cold["_blend"].weights)

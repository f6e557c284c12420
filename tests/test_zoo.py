"""The zoo of worlds: each is deterministic, consistent with the truth it declares, and built
differently from the seeded world (the structure it says it has is in its rows)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from demetra.seed import WORLDS, load_truth, seed_database
from demetra.seed_world import COLUMNS
from demetra.zoo import DETECTABLE_CONVERSIONS, make_world

END = dt.date(2026, 6, 30)
OTHERS = [w for w in WORLDS if w != "seeded"]


@pytest.fixture(scope="module", params=OTHERS)
def world(request):
    return request.param, make_world(request.param, campaigns=40, days=180, seed=5, end_date=END)


def _grid(w, column: str) -> pd.DataFrame:
    return w.rows.pivot(index="campaign_id", columns="date", values=column)


def test_rows_are_shaped_like_the_seeded_worlds(world) -> None:
    name, w = world
    assert list(w.rows.columns) == list(COLUMNS)
    assert w.rows["campaign_id"].nunique() == 40
    assert not w.rows.duplicated(["campaign_id", "date"]).any()
    assert (w.rows["cost"] > 0).all() and (w.rows["clicks"] >= 0).all()
    assert (w.rows["impressions"] >= w.rows["clicks"]).all()
    assert w.truth["world"] == name
    json.dumps(w.truth)                      # stored in seed_truth as JSON
    assert len(w.expected) == len(w.rows) and np.isfinite(w.expected).all()
    if name == "leadgen":
        assert w.rows["revenue"].isna().all() and w.truth["outcome"] == "results"
    else:
        assert w.rows["revenue"].notna().all()


def test_same_arguments_same_world_other_seed_other_world(world) -> None:
    name, w = world
    again = make_world(name, campaigns=40, days=180, seed=5, end_date=END)
    pd.testing.assert_frame_equal(w.rows, again.rows)
    other = make_world(name, campaigns=40, days=180, seed=6, end_date=END)
    assert not w.rows["cost"].equals(other.rows["cost"])


def test_outcomes_are_counts_around_the_expectation(world) -> None:
    """Away from incidents, the drawn outcome sums to its expectation within Poisson noise."""
    name, w = world
    days = {(i["campaign_id"], i["date"]) for i in w.truth["incidents"]}
    quiet = ~pd.Series(list(zip(w.rows["campaign_id"], w.rows["date"], strict=True))).isin(days)
    quiet = quiet.to_numpy()
    conv = w.rows["conversions"].to_numpy()
    assert np.array_equal(conv, np.round(conv))
    if name == "leadgen":
        drawn, expected = conv[quiet].sum(), w.expected[quiet].sum()
        assert abs(drawn - expected) < 4 * np.sqrt(expected)
    else:
        drawn, expected = w.rows["revenue"].to_numpy()[quiet].sum(), w.expected[quiet].sum()
        assert abs(drawn / expected - 1) < 0.03


def test_incidents_are_in_the_data_and_detectability_is_what_it_says(world) -> None:
    name, w = world
    spans = w.truth["incident_spans"]
    assert len(spans) >= 5
    assert {s["kind"] for s in spans} <= {"roi_drop", "cost_spike", "low_conversion"}
    per_day = {(i["campaign_id"], i["date"]) for i in w.truth["incidents"]}
    assert len(per_day) == sum(s["days"] for s in spans)
    rows = w.rows.set_index(["campaign_id", "date"])
    exp = pd.Series(w.expected, index=rows.index)
    for s in spans:
        first, last = dt.date.fromisoformat(s["start"]), dt.date.fromisoformat(s["end"])
        span = [(s["campaign_id"], first + dt.timedelta(days=k)) for k in range(s["days"])]
        assert (first - dt.timedelta(days=1)) >= dt.date.fromisoformat(w.truth["start_date"])
        assert last <= END
        got = rows.loc[span]
        if s["kind"] == "cost_spike":
            assert 2.5 <= s["factor"] <= 5.0 and s["detectable"]
            before = rows.loc[s["campaign_id"]]["cost"].loc[:first - dt.timedelta(days=1)]
            assert got["cost"].mean() > 1.8 * before.tail(14).median()
        else:
            assert 0.05 <= s["factor"] <= 0.3
            assert s["detectable"] == (s["expected_conversions"] >= DETECTABLE_CONVERSIONS)
            column = "conversions" if s["kind"] == "low_conversion" or name == "leadgen" \
                else "revenue"
            expected = exp.loc[span].sum() if column != "conversions" or name == "leadgen" \
                else s["expected_conversions"]
            if expected >= 20:                    # visible above the noise
                assert got[column].sum() < 0.6 * expected


def test_the_structure_each_world_declares(world) -> None:
    name, w = world
    cost = _grid(w, "cost")
    yield_ = (pd.Series(w.expected, index=pd.MultiIndex.from_frame(w.rows[["campaign_id", "date"]]))
              .unstack() / cost)
    if name in ("drift", "leadgen"):
        # A drifting state: a campaign's expected yield moves day to day and reverts, so its
        # lag-1 autocorrelation is high but its lag-28 one is low.
        logy = np.log(yield_.to_numpy())            # NaN on paused days
        logy = logy - np.nanmean(logy, axis=1, keepdims=True)

        def lag(k: int) -> float:
            pairs = logy[:, k:] * logy[:, :-k]
            return float(np.nanmean(pairs) / np.nanmean(logy ** 2))

        lag1, lag28 = lag(1), lag(28)
        assert lag1 > 0.5 and lag28 < 0.3, (lag1, lag28)
    if name == "fatigue":
        starts = cost.notna().idxmax(axis=1)
        assert starts.nunique() > 10                       # staggered launches
        assert w.truth["pauses"]
        # Yield in a campaign's first 10 days is above its 20th to 30th.
        first, later = [], []
        for _, row in yield_.iterrows():
            values = row.dropna().to_numpy()
            if len(values) >= 30:
                first.append(values[:10].mean())
                later.append(values[20:30].mean())
        assert np.median(np.array(first) / np.array(later)) > 1.1
    if name == "promo":
        events = [e for e in w.truth["events"] if e["kind"] == "promotion"]
        assert events
        day_yield = (pd.Series(w.expected).groupby(w.rows["date"].to_numpy()).sum()
                     / w.rows.groupby("date")["cost"].sum().to_numpy())
        inside = np.zeros(len(day_yield), bool)
        for e in events:
            inside |= ((day_yield.index >= dt.date.fromisoformat(e["start"]))
                       & (day_yield.index <= dt.date.fromisoformat(e["end"])))
        assert day_yield[inside].mean() > 1.2 * day_yield[~inside].mean()


def test_seed_database_loads_a_zoo_world(engine) -> None:
    report = seed_database(engine, campaigns=12, days=60, seed=2, end_date=END, world="drift")
    assert report.rows == len(make_world("drift", campaigns=12, days=60, seed=2,
                                         end_date=END).rows)
    assert load_truth(engine)["world"] == "drift"


def test_unknown_world_and_short_history_are_refused() -> None:
    with pytest.raises(ValueError, match="world must be one of"):
        make_world("moon")
    with pytest.raises(ValueError, match="days must be at least"):
        make_world("drift", days=20)

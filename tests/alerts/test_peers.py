"""Alerts that know the account (issue 14): a spend surge whose results kept pace is a budget
change, a drop every campaign of a channel shares is the channel's, and a campaign whose own
history swings by tens of percent needs more than a dip of a few days to prove a collapse.

Every test runs on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL (see conftest).
"""

from __future__ import annotations

import numpy as np
import sqlalchemy as sa

from demetra.alerts import detect
from tests.alerts.helpers import BAD_DAYS, FAR_PAST, RUNAWAY, alerts, campaign, day, insert

DROP = {"conversions": 15.0, "revenue": 750.0}  # 30 % of the usual 50 conversions, $2,500


def graded(engine: sa.Engine, **where) -> list[dict]:
    return [a for a in alerts(engine, **where) if a["severity"] != "low"]


def test_a_budget_step_whose_results_follow_is_no_graded_spike(engine: sa.Engine) -> None:
    insert(engine, campaign("FACEBOOK_step0001", "facebook", 41, bad={40: BAD_DAYS["cost_spike"]}),
           campaign("TIKTOK_runaway01", "tiktok", 41, bad={40: RUNAWAY}))
    detect(engine, since=FAR_PAST)
    step = alerts(engine, alert_type="cost_spike", campaign_id="FACEBOOK_step0001")
    runaway = alerts(engine, alert_type="cost_spike", campaign_id="TIKTOK_runaway01")
    # Both are told (spend tripled), only the one whose results stayed put is graded.
    assert [a["severity"] for a in step] == ["low"]
    assert [a["severity"] for a in runaway] == ["critical"]


def test_a_channel_wide_dip_raises_no_graded_alert_on_each_campaign(engine: sa.Engine) -> None:
    # A holiday: the five campaigns of a channel bring 30 % of their usual on the same two days.
    ids = [f"FACEBOOK_holiday{i:02d}" for i in range(5)]
    insert(engine, *(campaign(cid, "facebook", 45, bad={40: DROP, 41: DROP}) for cid in ids))
    detect(engine, since=FAR_PAST)
    for cid in ids:
        assert graded(engine, campaign_id=cid) == [], cid
    # The channel as a whole (judged against the rest of the account: nothing else) may
    # say so once per rule, never once per campaign.
    assert len(graded(engine, campaign_id=None)) <= 2


def test_one_campaign_collapsing_among_steady_channel_mates_still_fires(engine: sa.Engine) -> None:
    ids = [f"FACEBOOK_mate{i:04d}" for i in range(4)]
    insert(engine, *(campaign(cid, "facebook", 45) for cid in ids),
           campaign("FACEBOOK_broken01", "facebook", 45, bad={40: DROP, 41: DROP}))
    detect(engine, since=FAR_PAST)
    broken = graded(engine, campaign_id="FACEBOOK_broken01")
    assert broken and all(a["date"] == day(40) for a in broken)
    assert {a["alert_type"] for a in broken} <= {"roi_drop", "low_conversion"}
    for cid in ids:
        assert alerts(engine, campaign_id=cid) == [], cid


def _swinging(cid: str, days: int, *, bad: range = range(0), spread: float = 0.0,
              calm_from: int | None = None) -> list[dict]:
    """A campaign of 50 conversions a day at $1,000 whose yield drifts: a log state that
    reverts in days (AR(1), coefficient 0.75, stationary deviation ``spread``, none from day
    ``calm_from``), drawn from a fixed seed; the days of ``bad`` bring 30 % of it."""
    rng = np.random.default_rng(7)
    state = np.zeros(days)
    for i in range(1, days):
        state[i] = 0.75 * state[i - 1] + rng.normal(0.0, spread * np.sqrt(1 - 0.75 ** 2))
        if calm_from is not None and i >= calm_from:
            state[i] = 0.0
    rows = campaign(cid, "google_ads", days)
    for i, r in enumerate(rows):
        conv = float(rng.poisson(50.0 * np.exp(state[i]) * (0.3 if i in bad else 1.0)))
        r.update(conversions=conv, revenue=round(50.0 * conv, 2))
    return rows


def test_a_dip_within_a_drifting_campaigns_own_swings_is_a_lead_at_most(engine: sa.Engine) -> None:
    # The same two days at 30 %: proof on a campaign that holds steady, a lead at most on one
    # whose yield swings by 45 % a day (what its own 10 weeks of history show).
    insert(engine, _swinging("GOOGLE_ADS_steady01", 80, bad=range(75, 77)))
    detect(engine, since=FAR_PAST)
    steady = graded(engine, campaign_id="GOOGLE_ADS_steady01")
    assert steady and min(a["date"] for a in steady) == day(75)


def test_a_drifting_campaign_proves_only_what_its_swings_cannot_explain(engine: sa.Engine) -> None:
    # Seven weeks of swings, then three calm ones: the calm weeks alone (the spread of the
    # baseline's four weeks) would make the dip proof; its history says it swings so.
    insert(engine, _swinging("GOOGLE_ADS_swings01", 80, bad=range(75, 77), spread=0.5,
                             calm_from=52))
    detect(engine, since=FAR_PAST)
    near = [a for a in alerts(engine, campaign_id="GOOGLE_ADS_swings01")
            if day(74) <= a["date"] <= day(77)]
    assert near, "the dip is still told (as a lead)"
    assert all(a["severity"] == "low" for a in near)


def test_a_launch_that_changes_a_channels_mix_is_no_graded_channel_alert(
        engine: sa.Engine) -> None:
    # A big campaign launched into the channel on day 40 converts poorly from its first day:
    # the channel's spend quadruples and its ROI and conversion rate fall, with no campaign
    # at fault (the newcomer has no baseline to be judged against yet).
    launch = {"cost": 3000.0, "clicks": 3000, "impressions": 150_000, "conversions": 3.0,
              "revenue": 150.0}
    insert(engine, campaign("FACEBOOK_steady001", "facebook", 44),
           campaign("FACEBOOK_newbie001", "facebook", 4, first=40,
                    level=launch, cost_wiggle=False))
    detect(engine, since=FAR_PAST)
    channel = alerts(engine, campaign_id=None)
    assert channel, "the channel's move is still told"
    assert graded(engine, campaign_id=None) == []
    assert alerts(engine, campaign_id="FACEBOOK_steady001") == []


def test_a_channel_whose_every_campaign_collapses_still_fires(engine: sa.Engine) -> None:
    # Tracking lost on the whole channel (every campaign converts at 30 % for two days): each
    # campaign's drop is its channel's, and the channel, against the rest of the account,
    # says so.
    ids = [f"FACEBOOK_pixel{i:04d}" for i in range(3)]
    insert(engine, *(campaign(cid, "facebook", 45, bad={40: DROP, 41: DROP}) for cid in ids),
           *(campaign(f"GOOGLE_ADS_fine{i:04d}", "google_ads", 45) for i in range(3)))
    detect(engine, since=FAR_PAST)
    channel = graded(engine, campaign_id=None, channel="facebook")
    assert channel and all(a["date"] == day(40) for a in channel)
    assert alerts(engine, channel="google_ads") == []


def test_order_values_collapsing_on_a_drifting_campaign_are_proved(engine: sa.Engine) -> None:
    # People still buy, each order is worth a quarter (three days): against its spend the
    # drifting campaign's revenue is a bad week at most; against its conversions, at the
    # baseline order value, it is proof.
    rows = _swinging("GOOGLE_ADS_values01", 80, spread=0.5)
    for r in rows[75:78]:
        r["revenue"] = round(r["revenue"] * 0.25, 2)
    insert(engine, rows)
    detect(engine, since=FAR_PAST)
    drops = graded(engine, campaign_id="GOOGLE_ADS_values01", alert_type="roi_drop")
    assert [a["date"] for a in drops] == [day(75)]
    assert graded(engine, campaign_id="GOOGLE_ADS_values01", alert_type="low_conversion") == []


def _leads(cid: str, days: int, bad: dict[int, dict]) -> list[dict]:
    rows = campaign(cid, "linkedin", days, bad=bad)
    for r in rows:
        r["revenue"] = None
    return rows


def test_a_budget_tripled_at_a_higher_cpa_is_diminishing_returns_not_proof(
        engine: sa.Engine) -> None:
    # The budget triples for three days and the results only rise by a fifth (CPA 2.5x):
    # told (a lead), not proved.
    up = {"cost": 3000.0, "clicks": 3000, "impressions": 150_000, "conversions": 60.0}
    insert(engine, _leads("LINKEDIN_budget001", 44, dict.fromkeys(range(40, 43), up)))
    detect(engine, since=FAR_PAST)
    assert alerts(engine, campaign_id="LINKEDIN_budget001", alert_type="cpa_rise")
    assert graded(engine, campaign_id="LINKEDIN_budget001", alert_type="cpa_rise") == []


def test_results_short_of_the_usual_day_after_a_budget_rise_are_proved(
        engine: sa.Engine) -> None:
    down = {"cost": 3000.0, "clicks": 3000, "impressions": 150_000, "conversions": 10.0}
    insert(engine, _leads("LINKEDIN_broken001", 44, dict.fromkeys(range(40, 43), down)))
    detect(engine, since=FAR_PAST)
    broken = graded(engine, campaign_id="LINKEDIN_broken001", alert_type="cpa_rise")
    assert [a["date"] for a in broken] == [day(40)]


def _spending(cid: str, days: int, *, elasticity: float, bad: range = range(0),
              level: float = 1.0) -> list[dict]:
    """A lead-generation campaign whose spend swings by 15 % from day to day about $1,000 (a
    fixed seed) and whose results follow it at ``elasticity`` (200 a day at $1,000, Poisson:
    a campaign whose history tells its returns); the days of ``bad`` spend ``level`` times the
    usual and bring 30 % of what that spend would."""
    rng = np.random.default_rng(11)
    rows = _leads(cid, days, {})
    for i, r in enumerate(rows):
        ratio = level if i in bad else float(np.exp(rng.normal(0.0, 0.15)))
        mean = 200.0 * ratio ** elasticity * (0.3 if i in bad else 1.0)
        r.update(cost=round(1000.0 * ratio, 2), clicks=round(1000 * ratio),
                 impressions=round(50_000 * ratio), conversions=float(rng.poisson(mean)))
    return rows


def test_a_campaign_whose_results_followed_its_spend_is_held_to_them_on_a_raise(
        engine: sa.Engine) -> None:
    # Its history shows results rising with the spend: twice the budget for three days that
    # brings 60 % of the usual day's results is a collapse of the results the spend buys (a
    # campaign of unknown returns gets the benefit of the doubt, the test above).
    insert(engine, _spending("LINKEDIN_follow01", 80, elasticity=1.0, bad=range(75, 78),
                             level=2.0))
    detect(engine, since=FAR_PAST)
    proved = graded(engine, campaign_id="LINKEDIN_follow01", alert_type="cpa_rise")
    assert [a["date"] for a in proved] == [day(75)]


def test_a_campaign_whose_history_shows_saturation_is_not_proved_on_a_raise(
        engine: sa.Engine) -> None:
    # Where the campaign's own days show results barely moving with the spend (elasticity
    # 0.2), three times the budget bringing its usual day's results (a CPA of 3.3x) is a lead:
    # its returns, as far as its history tells.
    rows = _spending("LINKEDIN_satur001", 80, elasticity=0.2)
    for r in rows[75:78]:
        r.update(cost=3000.0, clicks=3000, impressions=150_000, conversions=200.0)
    insert(engine, rows)
    detect(engine, since=FAR_PAST)
    assert alerts(engine, campaign_id="LINKEDIN_satur001", alert_type="cpa_rise")
    assert graded(engine, campaign_id="LINKEDIN_satur001", alert_type="cpa_rise") == []


def _raise(level: float, *, results_follow: bool) -> dict:
    """A day's spend ``level`` times the usual $1,000, clicks with it; conversions and revenue
    follow the spend or stay at their usual 50 and $2,500."""
    out = {"cost": 1000.0 * level, "clicks": round(1000 * level),
           "impressions": round(50_000 * level)}
    if results_follow:
        out.update(conversions=50.0 * level, revenue=2500.0 * level)
    return out


def test_a_spike_within_a_budget_raise_its_channel_shares_is_a_lead(engine: sa.Engine) -> None:
    # A promotion: every campaign of the channel spends twice its usual for three days; one
    # of them three and a half times, its results staying put. Beyond what its peers share
    # its spend is under the factor: the account's decision, told as a lead.
    mates = [f"FACEBOOK_promo{i:04d}" for i in range(4)]
    promo = dict.fromkeys(range(40, 43), _raise(2.0, results_follow=True))
    insert(engine, *(campaign(cid, "facebook", 45, bad=promo) for cid in mates),
           campaign("FACEBOOK_promoxx01", "facebook", 45,
                    bad=dict.fromkeys(range(40, 43), _raise(3.5, results_follow=False))))
    detect(engine, since=FAR_PAST)
    spikes = alerts(engine, alert_type="cost_spike", campaign_id="FACEBOOK_promoxx01")
    assert spikes and all(a["severity"] == "low" for a in spikes)


def test_a_runaway_among_steady_channel_mates_is_graded(engine: sa.Engine) -> None:
    # The same spend with mates at their usual (their wiggle is no shared move): a spike.
    mates = [f"FACEBOOK_calm{i:05d}" for i in range(4)]
    insert(engine, *(campaign(cid, "facebook", 45) for cid in mates),
           campaign("FACEBOOK_runaway2", "facebook", 45,
                    bad=dict.fromkeys(range(40, 43), _raise(3.5, results_follow=False))))
    detect(engine, since=FAR_PAST)
    spikes = graded(engine, alert_type="cost_spike", campaign_id="FACEBOOK_runaway2")
    assert [a["date"] for a in spikes] == [day(40)]


def test_a_small_campaign_is_held_to_the_overdispersion_of_its_peers() -> None:
    # Two campaigns over the same 80 days: a big one whose counts swing far beyond Poisson
    # (its state drifts), and a small one whose few counts cannot show such a drift. Alone,
    # the small one's α is what chance makes of it; beside its peer, at least the pooled α.
    from demetra.alerts.detection import _dispersion

    rng = np.random.default_rng(3)
    days = 80
    state = np.exp(rng.normal(0.0, 0.4, days))
    big_e, small_e = np.full(days, 200.0), np.full(days, 3.0)
    big_o = rng.poisson(big_e * state).astype(float)
    small_o = rng.poisson(small_e).astype(float)
    observed, expected = np.concatenate([big_o, small_o]), np.concatenate([big_e, small_e])
    pos = np.concatenate([np.arange(days), np.arange(days)])
    valid = np.ones(2 * days, dtype=bool)
    group = np.concatenate([np.arange(days), np.arange(days)])  # one peer group a day
    alone = _dispersion(observed, expected, valid, pos, 56)
    pooled = _dispersion(observed, expected, valid, pos, 56, group)
    last_small = 2 * days - 1
    assert alone[days - 1] > 0.1                   # the big one tells its drift
    assert alone[last_small] < 0.05                # the small one, alone, does not
    assert pooled[last_small] >= 0.1               # beside its peer it is held to it
    assert pooled[days - 1] == alone[days - 1]     # the big one keeps its own


def test_a_drifting_state_makes_a_shortfall_of_few_counts_less_extreme() -> None:
    from scipy import stats

    from demetra.alerts.detection import _state_tail

    observed, expected = np.array([1.0, 1.0, 1.0]), np.array([11.0, 11.0, 11.0])
    z = _state_tail(observed, expected, np.array([1e-9, 0.05, 0.2]))
    # Without drift it is the Poisson tail; the more the state drifts, the nearer to chance.
    assert abs(z[0] - stats.norm.ppf(stats.poisson.cdf(1, 11.0))) < 1e-3
    assert z[0] < z[1] < z[2] < 0


def test_a_day_within_the_factor_of_a_budget_raised_days_ago_is_a_lead(
        engine: sa.Engine) -> None:
    # The budget rose to 1.6x two days before a day at 3.2x the old median whose results
    # stay at the new budget's (above the usual day's, short of the spend's pace): the new
    # budget spent (a lead), not a runaway.
    peak = {**_raise(3.2, results_follow=False), "conversions": 80.0, "revenue": 4000.0}
    rows = campaign("FACEBOOK_raised001", "facebook", 45,
                    bad={38: _raise(1.6, results_follow=True),
                         39: _raise(1.6, results_follow=True), 40: peak})
    insert(engine, rows)
    detect(engine, since=FAR_PAST)
    spikes = alerts(engine, alert_type="cost_spike", campaign_id="FACEBOOK_raised001")
    assert spikes and all(a["severity"] == "low" for a in spikes)


def _results_only(cid: str, results: float, bad: dict[int, dict]) -> list[dict]:
    rows = campaign(cid, "facebook", 41, bad=bad,
                    level={"cost": 100.0, "clicks": 100, "conversions": results})
    for row in rows:
        row["revenue"] = None  # a lead-generation account: revenue not tracked
    return rows


def test_a_spike_whose_few_results_cannot_tell_a_runaway_is_a_lead(engine: sa.Engine) -> None:
    # Spend triples for a day on three lead-generation campaigns whose results stay at their
    # usual level, each on a day of its own (spikes of channel-mates on one day are a move
    # they share). 40 results where the spend, had it been a budget change, should have
    # bought about 120 prove a runaway; 2 where it should have bought 6 are as likely a budget
    # step of a campaign whose few results happened to lag (not ten times less likely). A
    # campaign that never brings a result (an awareness campaign) is judged on its spend
    # alone, as one that tracks none: its runaway is graded.
    spike = {"cost": 300.0, "clicks": 300}
    insert(engine, _results_only("FACEBOOK_fewres01", 2.0, {40: {**spike, "conversions": 2.0}}),
           _results_only("FACEBOOK_manyres1", 40.0, {38: {**spike, "conversions": 40.0}}),
           _results_only("FACEBOOK_nores001", 0.0, {36: {**spike, "conversions": 0.0}}))
    detect(engine, since=FAR_PAST)
    few = alerts(engine, alert_type="cost_spike", campaign_id="FACEBOOK_fewres01")
    assert [(a["date"], a["severity"]) for a in few] == [(day(40), "low")]
    for cid, when in (("FACEBOOK_manyres1", 38), ("FACEBOOK_nores001", 36)):
        spikes = alerts(engine, alert_type="cost_spike", campaign_id=cid)
        assert [a["date"] for a in spikes] == [day(when)] and spikes[0]["severity"] != "low", cid

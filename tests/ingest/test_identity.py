"""The same campaigns exported in another shape are the same campaigns: with or without the
Campaign ID column, with or without Google's Campaign type, with or without Meta's Platform
breakdown. Importing the second shape after the first changes nothing (or updates what
changed), in either order, and never doubles the overlap."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from demetra import ingest
from demetra.errors import ImportFileError


def meta(*, ids: bool, platform: bool, spend: tuple[float, float] = (60.0, 40.0)) -> bytes:
    """Two campaigns over two days; with ``platform`` each day is split Facebook/Instagram."""
    head = ["Campaign name", *(["Campaign ID"] if ids else []), "Day",
            *(["Platform"] if platform else []), "Amount spent (USD)", "Impressions",
            "Link clicks"]
    lines = [",".join(head)]
    for name, cid in (("Spring Sale", "120210001"), ("Brand", "120210002")):
        for day in ("2026-09-01", "2026-09-02"):
            parts = ((("Facebook", spend[0], 600, 30), ("Instagram", spend[1], 400, 20))
                     if platform else (("", sum(spend), 1000, 50),))
            for where, cost, impressions, clicks in parts:
                cells = [name, *([cid] if ids else []), day, *([where] if platform else []),
                         f"{cost:.2f}", str(impressions), str(clicks)]
                lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def google(*, ids: bool, typed: bool) -> bytes:
    head = ["Campaign", *(["Campaign ID"] if ids else []), *(["Campaign type"] if typed else []),
            "Day", "Cost", "Impr.", "Clicks", "Conversions", "Conv. value"]
    lines = [",".join(head)]
    for name, cid, kind in (("Search Brand", "9001", "Search"), ("Launch Video", "9002", "Video")):
        for day in ("2026-09-01", "2026-09-02"):
            cells = [name, *([cid] if ids else []), *([kind] if typed else []), day, "25.00",
                     "500", "20", "2", "90.00"]
            lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()


def stored(engine: sa.Engine) -> dict[tuple[str, str], tuple[int, float]]:
    """(channel, name) -> (campaign-days, spend)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT channel, campaign_name, COUNT(*), SUM(cost) FROM campaigns "
            "GROUP BY channel, campaign_name ORDER BY 1, 2")).all()
    return {(ch, name): (int(n), round(float(cost), 2)) for ch, name, n, cost in rows}


def rollups_agree(engine: sa.Engine) -> bool:
    with engine.connect() as conn:
        raw = conn.execute(sa.text("SELECT SUM(cost), COUNT(*) FROM campaigns")).one()
        days = conn.execute(sa.text("SELECT SUM(cost), SUM(campaign_days) FROM channel_days")).one()
        months = conn.execute(sa.text("SELECT SUM(cost), SUM(days) FROM campaign_months")).one()
    return (round(raw[0], 6), raw[1]) == (round(days[0], 6), days[1]) == (round(months[0], 6),
                                                                         months[1])


@pytest.mark.parametrize("first_ids", [True, False])
def test_with_and_without_the_campaign_id_column_is_one_campaign(engine, first_ids) -> None:
    ingest.import_file(engine, meta(ids=first_ids, platform=False), name="a.csv")
    before = stored(engine)
    again = ingest.import_file(engine, meta(ids=not first_ids, platform=False), name="b.csv")
    assert stored(engine) == before == {("facebook", "Brand"): (2, 200.0),
                                        ("facebook", "Spring Sale"): (2, 200.0)}
    assert (again.inserted, again.updated) == (0, 0)
    assert any("found by name" in w for w in again.preview.warnings)
    assert rollups_agree(engine)


def test_a_campaign_stored_without_an_id_takes_the_platform_id(engine) -> None:
    ingest.import_file(engine, meta(ids=False, platform=False), name="a.csv")
    ingest.import_file(engine, meta(ids=True, platform=False), name="b.csv")
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT campaign_id FROM campaigns"))}
        months = {r[0] for r in conn.execute(sa.text("SELECT campaign_id FROM campaign_months"))}
    assert ids == months == {"FACEBOOK_120210001", "FACEBOOK_120210002"}
    # From now on the id is the key: a renamed campaign stays one campaign.
    renamed = meta(ids=True, platform=False).replace(b"Spring Sale", b"Spring Sale 2026")
    ingest.import_file(engine, renamed, name="c.csv")
    assert sum(n for n, _ in stored(engine).values()) == 4


@pytest.mark.parametrize("ids", [True, False])
@pytest.mark.parametrize("typed_first", [True, False])
def test_with_and_without_campaign_type_stays_on_one_channel(engine, ids, typed_first) -> None:
    ingest.import_file(engine, google(ids=ids, typed=typed_first), name="a.csv")
    ingest.import_file(engine, google(ids=ids, typed=not typed_first), name="b.csv")
    # Whichever came first, the video campaign is on YouTube once the type is known, and the
    # overlap is stored once.
    assert stored(engine) == {("google_ads", "Search Brand"): (2, 50.0),
                              ("youtube", "Launch Video"): (2, 50.0)}
    assert rollups_agree(engine)


@pytest.mark.parametrize("ids", [True, False])
def test_totals_after_a_platform_breakdown_change_nothing(engine, ids) -> None:
    ingest.import_file(engine, meta(ids=ids, platform=True), name="by_platform.csv")
    before = stored(engine)
    totals = ingest.import_file(engine, meta(ids=ids, platform=False), name="totals.csv")
    assert stored(engine) == before == {
        ("facebook", "Brand"): (2, 120.0), ("facebook", "Spring Sale"): (2, 120.0),
        ("instagram", "Brand"): (2, 80.0), ("instagram", "Spring Sale"): (2, 80.0)}
    assert (totals.inserted, totals.updated) == (0, 0)
    assert any("4 campaign-days" in w and "left as they are" in w
               for w in totals.preview.warnings)


def test_changed_totals_after_a_breakdown_replace_the_split(engine) -> None:
    ingest.import_file(engine, meta(ids=True, platform=True), name="by_platform.csv")
    # A later export without the breakdown: spend settled at 110 a day, not 100.
    result = ingest.import_file(engine, meta(ids=True, platform=False, spend=(70.0, 40.0)),
                                name="totals.csv")
    assert stored(engine) == {("facebook", "Brand"): (2, 220.0),
                              ("facebook", "Spring Sale"): (2, 220.0)}
    assert any("4 campaign-days" in w and "no longer split" in w
               for w in result.preview.warnings)
    assert rollups_agree(engine)


@pytest.mark.parametrize("ids", [True, False])
def test_a_breakdown_after_totals_splits_them(engine, ids) -> None:
    ingest.import_file(engine, meta(ids=ids, platform=False), name="totals.csv")
    ingest.import_file(engine, meta(ids=ids, platform=True), name="by_platform.csv")
    assert stored(engine) == {
        ("facebook", "Brand"): (2, 120.0), ("facebook", "Spring Sale"): (2, 120.0),
        ("instagram", "Brand"): (2, 80.0), ("instagram", "Spring Sale"): (2, 80.0)}
    assert rollups_agree(engine)


def test_a_breakdown_with_ids_after_totals_without_ids(engine) -> None:
    ingest.import_file(engine, meta(ids=False, platform=False), name="totals.csv")
    ingest.import_file(engine, meta(ids=True, platform=True), name="by_platform.csv")
    assert sum(cost for _, cost in stored(engine).values()) == 400.0
    again = ingest.import_file(engine, meta(ids=False, platform=False), name="totals.csv")
    assert (again.inserted, again.updated) == (0, 0)
    assert sum(cost for _, cost in stored(engine).values()) == 400.0


def test_a_file_without_ids_cannot_pick_between_two_stored_campaigns_of_one_name(engine) -> None:
    twins = (b"Campaign name,Campaign ID,Day,Amount spent (USD),Impressions,Link clicks\n"
             b"Retargeting,111,2026-09-01,10.00,100,5\nRetargeting,222,2026-09-01,20.00,100,5\n")
    ingest.import_file(engine, twins, name="twins.csv")
    plain = b"Campaign name,Day,Amount spent (USD),Impressions,Link clicks\n" \
            b"Retargeting,2026-09-02,30.00,100,5\n"
    with pytest.raises(ImportFileError, match=r"2 stored campaigns are named “Retargeting” "
                                              r"\(FACEBOOK_111, FACEBOOK_222\).*Campaign ID"):
        ingest.import_file(engine, plain, name="plain.csv")
    assert stored(engine) == {("facebook", "Retargeting"): (2, 30.0)}

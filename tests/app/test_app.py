"""The app through its entry script (AppTest), on SQLite and PostgreSQL: every page with demo
data and empty, the shared filters, search, the empty state's demo loader, and the errors for a
database that is down or a DATABASE_URL that is malformed."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest
import sqlalchemy as sa

from demetra.app import pages
from tests.app.helpers import last_day, metric, money, spend_in_db, start, texts

PAGES = tuple(page.path for page in pages.PAGES)


# --------------------------------------------------------------------------------------------
# Every page renders


def test_every_page_renders_with_demo_data(seeded_engine: sa.Engine, db_url: str) -> None:
    at = start(db_url)
    assert not at.exception and not at.error
    assert [m.label for m in at.metric][:8] == ["Spend", "Revenue", "ROI", "Conversions", "CTR",
                                                "Conversion rate", "CPC", "CPA"]
    assert at.title[0].value == "Overview"
    assert len(at.get("plotly_chart")) == 3
    for page in PAGES:
        at.switch_page(page).run()
        assert not at.exception, page
        assert not at.error, page
    # Campaigns: a table, page info and a campaign's history.
    at.switch_page("app_pages/campaigns.py").run()
    assert len(at.dataframe[0].value) == 25
    assert any("Page **1** of **2** · 50 campaigns" in m.value for m in at.markdown)
    assert at.selectbox(key="cmp_pick_box").value
    assert {"Spend", "Revenue", "ROI", "CPA", "Conversion rate"} <= {m.label for m in at.metric}
    first_page = set(at.dataframe[0].value["campaign_id"])
    at.button(key="cmp_next").click().run()
    assert any("Page **2** of **2**" in m.value for m in at.markdown)
    assert not first_page & set(at.dataframe[0].value["campaign_id"])
    assert at.button(key="cmp_next").disabled
    # Data: what is in the database, and the download of the filtered rows.
    at.switch_page("app_pages/data.py").run()
    with seeded_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT COUNT(*) FROM campaigns")).scalar_one()
    assert metric(at, "Campaign rows") == f"{rows:,}"
    assert at.get("download_button")


@pytest.mark.parametrize("page", PAGES)
def test_pages_render_on_an_empty_database(engine: sa.Engine, db_url: str, page: str) -> None:
    at = start(db_url)
    at.switch_page(page).run()
    assert not at.exception and not at.error
    buttons = {b.key: b for b in at.button}
    if page == "app_pages/data.py":
        assert "data_load_demo" in buttons and not buttons["data_load_demo"].disabled
        assert any("Nothing to download yet" in i.value for i in at.info)
    elif page == "app_pages/alerts.py":
        assert any(i.value.startswith("No alerts.") for i in at.info)
    else:
        assert "empty_load_demo" in buttons
        assert any("No campaign data yet" in s.value for s in at.subheader)
        assert not at.metric


# --------------------------------------------------------------------------------------------
# Interactions


def test_channel_filter_drives_spend_and_holds_across_pages(seeded_engine: sa.Engine,
                                                            db_url: str) -> None:
    at = start(db_url)
    end = last_day(seeded_engine)
    start_ = end - dt.timedelta(days=29)  # the default preset: the data's last 30 days
    assert metric(at, "Spend") == money(spend_in_db(seeded_engine, start_, end))

    at.multiselect(key="flt_channels").select("google_ads").run()
    assert not at.exception
    expected = money(spend_in_db(seeded_engine, start_, end, ("google_ads",)))
    assert metric(at, "Spend") == expected

    # The sidebar filter holds across pages.
    at.switch_page("app_pages/campaigns.py").run()
    assert set(at.dataframe[0].value["channel"]) == {"Google Ads"}
    at.switch_page("app_pages/overview.py").run()
    assert at.multiselect(key="flt_channels").value == ["google_ads"]
    assert metric(at, "Spend") == expected

    at.selectbox(key="flt_period").select("Last 7 days").run()
    week = money(spend_in_db(seeded_engine, end - dt.timedelta(days=6), end, ("google_ads",)))
    assert metric(at, "Spend") == week


def test_search_narrows_the_campaign_table(seeded_engine: sa.Engine, db_url: str) -> None:
    at = start(db_url)
    at.switch_page("app_pages/campaigns.py").run()
    everything = at.dataframe[0].value
    target = everything.iloc[3]
    suffix = target["campaign_id"].split("_")[-1].upper()  # search is case-insensitive

    at.text_input(key="cmp_search_box").input(suffix).run()
    assert not at.exception
    found = at.dataframe[0].value
    assert list(found["campaign_id"]) == [target["campaign_id"]]
    assert any("1 campaign ·" in m.value for m in at.markdown)
    assert at.selectbox(key="cmp_pick_box").value == target["campaign_id"]

    word = target["campaign_name"].split()[-1]
    at.text_input(key="cmp_search_box").input(word).run()
    found = at.dataframe[0].value
    assert 0 < len(found) < 50
    assert found["campaign_name"].str.lower().str.contains(word.lower()).all()

    at.text_input(key="cmp_search_box").input("no-such-campaign-zzz").run()
    assert not at.exception and not at.dataframe
    assert any("No campaign matches" in i.value for i in at.info)


def test_empty_state_loads_the_demo_world(engine: sa.Engine, db_url: str, tmp_path) -> None:
    at = start(db_url, MODEL_DIR=str(tmp_path / "models"))
    at.button(key="empty_load_demo").click().run()
    assert not at.exception and not at.error
    assert metric(at, "Spend").startswith("$")
    assert not any("No campaign data yet" in s.value for s in at.subheader)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM campaigns")).scalar_one() > 1000
        # The whole demo, not only the campaigns: every page opens on something.
        for table in ("model_runs", "predictions", "alerts", "recommendations"):
            assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one() > 0, table
    at.switch_page("app_pages/predictions.py").run()
    assert any(c.value.startswith("The 15 riskiest ROI forecasts") for c in at.caption)
    assert not any("No predictions yet" in c.value for c in at.caption)
    at.switch_page("app_pages/alerts.py").run()
    assert any(c.value.endswith("see the campaign") and " alerts · " in c.value
               for c in at.caption), [c.value for c in at.caption]
    at.switch_page("app_pages/recommendations.py").run()
    assert any("Written by the rules engine: the demo loader" in i.value for i in at.info)


def test_data_page_replaces_data_only_when_confirmed(seeded_engine: sa.Engine,
                                                    db_url: str, tmp_path) -> None:
    at = start(db_url, MODEL_DIR=str(tmp_path / "models"))
    at.switch_page("app_pages/data.py").run()
    assert at.button(key="data_load_demo").disabled
    at.number_input(key="data_demo_campaigns").set_value(5)
    at.number_input(key="data_demo_days").set_value(10)
    at.checkbox(key="data_replace").check().run()
    at.button(key="data_load_demo").click().run()
    assert not at.exception and not at.error
    with seeded_engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT COUNT(*) FROM campaigns")).scalar_one()
        ids = conn.execute(sa.text("SELECT COUNT(DISTINCT campaign_id) FROM campaigns")).scalar_one()
    assert ids == 5 and 0 < rows <= 50
    assert metric(at, "Campaign rows") == f"{rows:,}"  # caches were cleared after the write


# --------------------------------------------------------------------------------------------
# A database that is down, a URL that is wrong


def test_unreachable_database_is_named_without_its_password() -> None:
    at = start("postgresql://u:secretpw@127.0.0.1:1/x")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "127.0.0.1:1" in errors[0]
    assert "Cannot connect to the database" in errors[0]
    assert all("secretpw" not in t for t in texts(at.main) + texts(at.sidebar))
    at.switch_page("app_pages/data.py").run()
    assert not at.exception and at.error


@pytest.mark.parametrize("url", ["postgresql://u:secretpw@db.example:notaport/app",
                                 "this is not a url", "mysql://u:secretpw@localhost/app"])
def test_malformed_database_url_gets_a_clear_error(url: str) -> None:
    at = start(url)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert errors and "DATABASE_URL is malformed" in errors[0]
    assert all("secretpw" not in t for t in texts(at.main) + texts(at.sidebar))


# --------------------------------------------------------------------------------------------
# Building blocks the pages rely on


def test_csv_download_streams_the_filtered_rows(seeded_engine: sa.Engine) -> None:
    from demetra.app.widgets import csv_export, csv_file_name
    from demetra.queries import Filters

    end = last_day(seeded_engine)
    f = Filters(end - dt.timedelta(days=6), end, ("facebook",))
    handle = csv_export(seeded_engine, f)()
    rows = list(csv.DictReader(io.TextIOWrapper(handle, encoding="utf-8")))
    assert rows and {r["channel"] for r in rows} == {"facebook"}
    assert sum(float(r["cost"]) for r in rows) == pytest.approx(
        spend_in_db(seeded_engine, f.start, f.end, f.channels))
    assert csv_file_name(f) == (f"demetra_campaigns_{f.start.isoformat()}_{end.isoformat()}"
                                   "_facebook.csv")


def test_formatting() -> None:
    from demetra import format as fmt
    from demetra.app.filters import preset_range

    assert fmt.money(12345.4) == "$12,345"
    assert fmt.money(1234.561, decimals=2) == "$1,234.56"
    assert fmt.money(987.654) == "$987.65"
    assert fmt.money(-1500) == "-$1,500"
    assert fmt.pct(0.03214) == "3.21%"
    assert fmt.roi(2.4137) == "2.41×"
    assert fmt.count(20841.4) == "20,841" and fmt.count(12.5) == "12.5"
    assert fmt.change(0.1234) == "+12.3%" and fmt.change(None) is None
    for show in (fmt.money, fmt.pct, fmt.roi, fmt.count):
        assert show(None) == "—" and show(float("nan")) == "—"
    assert fmt.date_range(dt.date(2026, 6, 1), dt.date(2026, 6, 30)) == "Jun 1 – Jun 30, 2026"
    assert fmt.date_range(dt.date(2025, 12, 1), dt.date(2026, 1, 15)) == \
        "Dec 1, 2025 – Jan 15, 2026"
    first, last = dt.date(2026, 4, 2), dt.date(2026, 6, 30)
    assert preset_range("Last 7 days", first, last) == (dt.date(2026, 6, 24), last)
    assert preset_range("This month", first, last) == (dt.date(2026, 6, 1), last)
    assert preset_range("Last 90 days", first, last) == (first, last)
    assert preset_range("All time", first, last) == (first, last)


def test_charts_say_when_there_is_nothing_to_show() -> None:
    from demetra import charts

    empty = pd.DataFrame(columns=["period", "channel", "cost", "revenue", "roi"])
    for fig in (charts.trend_figure(empty, "roi"), charts.channel_mix_figure(empty),
                charts.channel_roi_figure(empty), charts.campaign_history_figure(empty)):
        assert not fig.data and fig.layout.annotations
    assert charts.channel_color("facebook") == charts.channel_color("facebook")
    assert len({charts.channel_color(c) for c in charts.CHANNEL_COLORS}) == len(charts.CHANNEL_COLORS)


def test_the_page_registry_keeps_every_page_and_address() -> None:
    from tests.app.helpers import ROOT

    assert [(p.path, p.title, p.icon, p.url_path, p.section) for p in pages.PAGES] == [
        ("app_pages/overview.py", "Overview", ":material/dashboard:", None, "Analytics"),
        ("app_pages/campaigns.py", "Campaigns", ":material/campaign:", "campaigns", "Analytics"),
        ("app_pages/predictions.py", "Predictions", ":material/online_prediction:",
         "predictions", "Analytics"),
        ("app_pages/budget.py", "Budget", ":material/savings:", "budget", "Analytics"),
        ("app_pages/recommendations.py", "Recommendations", ":material/lightbulb:",
         "recommendations", "Analytics"),
        ("app_pages/alerts.py", "Alerts", ":material/notifications:", "alerts", "Monitor"),
        ("app_pages/charts.py", "Charts", ":material/insert_chart:", "charts", "Share"),
        ("app_pages/data.py", "Data", ":material/database:", "data", "Manage"),
    ]
    assert [p for p in pages.PAGES if p.default] == [pages.OVERVIEW]
    on_disk = {f"app_pages/{p.name}" for p in (ROOT / "app_pages").glob("*.py")}
    assert on_disk == {p.path for p in pages.PAGES}

"""A platform "result" is whatever the campaign optimises for: results that are link clicks,
reach or views are not conversions (stored as not tracked), and a file that does not say what
its results are is imported with a warning that says so."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from demetra import ingest, queries
from demetra.ingest.platforms import result_is_conversion

HEAD = "Campaign name,Day,{type}Results,Amount spent (USD),Impressions,Link clicks\n"


@pytest.mark.parametrize(("kind", "conversion"), [
    ("Link clicks", False), ("actions:link_click", False), ("Reach", False), ("ThruPlays", False),
    ("Post engagement", False), ("Landing page views", False), ("Meta leads", True),
    ("actions:offsite_conversion.fb_pixel_lead", True), ("quoteReceived", True),
    ("Purchases", True), ("Website registrations completed", True), ("", True), ("-", True)])
def test_what_a_result_type_says(kind: str, conversion: bool) -> None:
    assert result_is_conversion(kind) is conversion


def test_clicks_counted_as_results_are_not_conversions(engine: sa.Engine) -> None:
    data = (HEAD.format(type="Result type,")
            + "Traffic,2026-09-01,Link clicks,610,100.00,10000,610\n"
            + "Leads,2026-09-01,Meta leads,12,60.00,5000,100\n").encode()
    preview = ingest.preview(data, name="meta.csv")
    assert any(w.startswith("1 row counts results that are not conversions (Link clicks (1 row))")
               and "not tracked" in w for w in preview.warnings)
    ingest.import_file(engine, data, name="meta.csv")
    k = queries.kpis(engine, queries.Filters("2026-09-01", "2026-09-01"))
    # 610 clicks are not 610 conversions: the account has 12 results at $5 each, not a 100 %
    # conversion rate, and the traffic campaign's spend is not counted in the CPA.
    assert k["conversions"] == 12 and k["cpa"] == pytest.approx(5.0)
    assert k["conversion_rate"] == pytest.approx(0.12)
    rows, _ = queries.campaign_table(engine, queries.Filters("2026-09-01", "2026-09-01"))
    traffic = rows.set_index("campaign_name").loc["Traffic"]
    assert traffic["conversions"] != traffic["conversions"]  # NaN: not tracked


def test_results_of_an_unknown_type_are_read_as_conversions_with_a_warning() -> None:
    data = (HEAD.format(type="") + "Leads,2026-09-01,12,60.00,5000,100\n").encode()
    preview = ingest.preview(data, name="meta.csv")
    assert preview.totals["conversions"] == 12
    assert any("“Results” is read as conversions, but the file does not say what a result is"
               in w for w in preview.warnings)

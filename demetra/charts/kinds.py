"""The persisted chart types and their names, apart from the renderers (``png``), so the
command line and the API can name them without loading matplotlib."""

CHART_TYPES: dict[str, str] = {
    "roi_analysis": "ROI by channel",
    "conversion_analysis": "Click-through and conversion by channel",
    "spend_efficiency": "Spend and what it returned",
    "forecast": "Forecasts of the riskiest campaigns",
    "alerts_timeline": "Alerts over time",
}

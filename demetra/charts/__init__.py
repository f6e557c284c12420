"""Every figure Demetra draws, apart from the maths that feeds it.

``theme`` is the one look (channel palette, fonts, layout, formats); each page has its module
(``overview``, ``campaigns``, ``predictions``, ``budget``, ``alerts``) of pure functions from
small, already-aggregated frames or domain objects to plotly figures. No Streamlit here, and
no domain module builds a figure.
"""

from demetra.charts.alerts import mark_incident
from demetra.charts.budget import curves_figure, marginal_figure, split_figure
from demetra.charts.campaigns import campaign_history_figure
from demetra.charts.overview import (
    TREND_METRICS,
    channel_cpa_figure,
    channel_mix_figure,
    channel_roi_figure,
    trend_figure,
)
from demetra.charts.predictions import (
                                     RISK_COLORS,
                                     forecast_band,
                                     forecast_intervals_figure,
                                     metric_bars_figure,
)
from demetra.charts.theme import (
                                     BREAK_EVEN_COLOR,
                                     CHANNEL_COLORS,
                                     COST_COLOR,
                                     FONT,
                                     REVENUE_COLOR,
                                     ROI_COLOR,
                                     channel_color,
                                     channel_label,
                                     empty_figure,
)

__all__ = ["BREAK_EVEN_COLOR", "CHANNEL_COLORS", "COST_COLOR", "FONT", "REVENUE_COLOR",
           "RISK_COLORS", "ROI_COLOR", "TREND_METRICS", "campaign_history_figure",
           "channel_color", "channel_label", "channel_cpa_figure", "channel_mix_figure",
           "channel_roi_figure",
           "curves_figure", "empty_figure", "forecast_band", "forecast_intervals_figure",
           "marginal_figure", "mark_incident", "metric_bars_figure", "split_figure",
           "trend_figure"]

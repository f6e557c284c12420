"""The Alerts page's marks on a campaign's daily chart."""

from __future__ import annotations

from typing import Any

import pandas as pd
import plotly.graph_objects as go


def mark_incident(fig: go.Figure, first: Any, last: Any) -> go.Figure:
    """Shade the incident's days on a daily chart."""
    start = pd.Timestamp(first) - pd.Timedelta(hours=12)
    end = pd.Timestamp(last) + pd.Timedelta(hours=12)
    fig.add_vrect(x0=start, x1=end, fillcolor="#DC2626", opacity=0.12, line_width=0,
                  annotation_text="incident", annotation_position="top left",
                  annotation_font={"color": "#B91C1C", "size": 11})
    return fig

"""The Charts page: its layout lives in `demetra/app/views/charts.py`."""

from demetra.app.views import charts

charts.render()

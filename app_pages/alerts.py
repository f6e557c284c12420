"""The Alerts page: its layout lives in `demetra/app/views/alerts.py`."""

from demetra.app.views import alerts

alerts.render()

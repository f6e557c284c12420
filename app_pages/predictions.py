"""The Predictions page: its layout lives in `demetra/app/views/predictions.py`."""

from demetra.app.views import predictions

predictions.render()

"""The Data page: its layout lives in `demetra/app/views/data.py`."""

from demetra.app.views import data

data.render()

"""The Overview page: its layout lives in `demetra/app/views/overview.py`."""

from demetra.app.views import overview

overview.render()

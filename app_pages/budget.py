"""The Budget page: its layout lives in `demetra/app/views/budget.py`."""

from demetra.app.views import budget

budget.render()

"""The Recommendations page: its layout lives in `demetra/app/views/recommendations.py`."""

from demetra.app.views import recommendations

recommendations.render()

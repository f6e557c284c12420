"""The Campaigns page: its layout lives in `demetra/app/views/campaigns.py`."""

from demetra.app.views import campaigns

campaigns.render()

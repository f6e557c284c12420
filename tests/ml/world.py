"""The small seeded world the ML tests train on."""

import datetime as dt
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
END = dt.date(2026, 6, 30)
# Small enough to train in seconds, big enough that the backtest means something.
WORLD = dict(campaigns=40, days=120, seed=3, end_date=END)

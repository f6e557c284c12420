"""Demetra: a self-hosted AI analytics dashboard for paid advertising."""

__version__ = "0.1.0"

"""Fixtures of the app tests: every test runs without the developer's settings and with empty
Streamlit caches (the database fixtures come from ``tests/conftest.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st

from demetra.config import SETTINGS


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # The app reads the environment before st.secrets: keep the developer's settings out.
    for spec in SETTINGS:
        monkeypatch.delenv(spec.name, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield
    st.cache_data.clear()
    st.cache_resource.clear()  # disposes the app's engines (on_release)

"""What every page run needs before it draws anything, and the few moves every page makes.

* ``settings()``: the environment first, then ``st.secrets``; a bad value stops the page with
  a message that says where to fix it;
* ``get_engine()``: one engine per database URL per process (``st.cache_resource``; migrated
  on creation), or a message that names the database (never its password) and stops;
* ``database_errors``: a database that stops answering mid-session is a message too;
* ``rerun_with(message)``: after a write, forget the cached reads, leave a message for the
  next run (``flash()`` shows it) and rerun;
* ``progress(label)``: an ``st.status`` with a progress bar, for the long tasks (training,
  loading the demo world, importing a file).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn

import sqlalchemy as sa
import streamlit as st

from demetra.config import Settings, load_settings
from demetra.db.engine import DatabaseUnavailable, make_engine, normalize_url, safe_url
from demetra.errors import DemetraError, SettingsError

FLASH_KEY = "_flash"

Progress = Callable[[float, str], None]


def _secrets(*, report: bool = False) -> Mapping[str, Any]:
    try:
        return st.secrets.to_dict()
    except FileNotFoundError as exc:
        # StreamlitSecretNotFoundError: no secrets.toml anywhere (fine: env and defaults), or
        # one that is not valid TOML (say so rather than silently ignoring it).
        if report and "pars" in str(exc).lower():
            fatal("`.streamlit/secrets.toml` is not valid TOML",
                  f"{exc}\n\nFix the file (see `.streamlit/secrets.toml.example`), then reload.")
        return {}


def settings() -> Settings:
    """Settings from the environment, then ``st.secrets``; a bad value stops the page."""
    try:
        return load_settings(secrets=_secrets(report=True))
    except SettingsError as exc:
        fatal("A setting has a value Demetra cannot use",
              f"{exc}.\n\nFix it in the environment or in `.streamlit/secrets.toml` "
              "(see `.streamlit/secrets.toml.example`), then reload the page.")


def cache_ttl() -> int:
    """CACHE_TTL_SECONDS, read once when the caches are declared."""
    try:
        return load_settings(secrets=_secrets()).cache_ttl_seconds
    except DemetraError:  # a bad value is reported by settings() on the page itself
        return 300


def fatal(title: str, body: str) -> NoReturn:
    """An error box, then the page stops."""
    st.error(f"**{title}**\n\n{body}", icon=":material/error:")
    st.stop()
    raise AssertionError("unreachable")  # st.stop() raises; keeps type checkers honest


@st.cache_resource(show_spinner="Connecting to the database…", max_entries=4,
                   on_release=lambda engine: engine.dispose())
def _engine_for(url: str) -> sa.Engine:
    # One engine per URL per process, shared by every session; migrated on creation.
    return make_engine(url)


def get_engine() -> sa.Engine:
    """The engine for DATABASE_URL; on any problem an error that names the target (never its
    password) and says what to check, then the page stops."""
    url_text = settings().database_url
    try:
        url = normalize_url(url_text)
    except SettingsError as exc:
        fatal("DATABASE_URL is malformed",
              f"{exc}.\n\nSet DATABASE_URL in the environment or in `.streamlit/secrets.toml`, "
              "then reload the page.")
    shown = url.render_as_string(hide_password=True)
    try:
        return _engine_for(url.render_as_string(hide_password=False))
    except DatabaseUnavailable as exc:
        fatal("Cannot connect to the database",
              f"{exc}\n\nDatabase in use: `{shown}` (from DATABASE_URL).")
    except OSError as exc:
        fatal("Cannot open the database",
              f"`{shown}`: {exc.strerror or type(exc).__name__}. Check that the folder exists "
              "and is writable, or point DATABASE_URL at another location.")
    except sa.exc.SQLAlchemyError as exc:
        fatal("The database could not be prepared",
              f"Bringing the schema of `{shown}` up to date failed ({type(exc).__name__}). "
              "Check that the user may create tables there, or run `python -m demetra migrate` "
              "to see the full error.")


@contextlib.contextmanager
def database_errors(engine: sa.Engine) -> Iterator[None]:
    """Turn a database that stops answering mid-session into a message instead of a traceback
    (st.stop / st.rerun pass through: they are not database errors)."""
    try:
        yield
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
        detail = str(getattr(exc, "orig", None) or type(exc).__name__).strip().splitlines()[0]
        if engine.url.password:
            detail = detail.replace(str(engine.url.password), "***")
        fatal("The database stopped answering",
              f"`{safe_url(engine.url)}`: {detail[:200]}.\n\nCheck that the server is running "
              "and reachable, then reload the page.")


def backend_name(engine: sa.Engine) -> str:
    return {"sqlite": "SQLite", "postgresql": "PostgreSQL"}.get(engine.dialect.name,
                                                                 engine.dialect.name)


def clear_caches() -> None:
    """Forget every cached query result: call after anything writes to the database."""
    st.cache_data.clear()


def rerun_with(message: str, *, clear: bool = True) -> NoReturn:
    """After a write: forget the cached reads (``clear=False`` only where the write touches
    nothing that is read through the cache), leave ``message`` for the next run, rerun."""
    if clear:
        clear_caches()
    st.session_state[FLASH_KEY] = message
    st.rerun()
    raise AssertionError("unreachable")  # st.rerun() raises


def flash() -> None:
    """Show (once) the message a write left for the next run."""
    message = st.session_state.pop(FLASH_KEY, None)
    if message:
        st.toast(message, icon=":material/check_circle:")


@contextlib.contextmanager
def progress(label: str, first_step: str = "Starting") -> Iterator[tuple[Any, Progress]]:
    """``st.status`` with a progress bar: yields the status (to ``update`` its label and state)
    and the ``progress(fraction, text)`` callback the long-running function takes."""
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0, text=first_step)

        def report(fraction: float, text: str) -> None:
            bar.progress(min(max(float(fraction), 0.0), 1.0), text=text)

        yield status, report

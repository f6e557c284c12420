"""The app: the only package that imports Streamlit.

* ``runtime``: settings (environment, then ``st.secrets``), the engine per URL, database
  errors turned into messages, the flash-then-rerun and progress helpers;
* ``cache``: the ``st.cache_data`` reads, keyed by the database URL;
* ``filters``: the shared sidebar filters;
* ``widgets``: what several pages draw (header, KPI cards, tables, empty state, settings form);
* ``pages``: the page registry that ``streamlit_app.py``, the tests and the docs test read;
* ``views``: one module per page, each with its ``render()``; ``app_pages/*.py`` call them.

Nothing here builds SQL: every read goes through ``demetra.queries`` or the domain package
that owns it. The domain packages (ml, budget, llm, seed, ingest) are imported inside the views
that need them, so the first page stays free of scikit-learn, scipy and openai.
"""

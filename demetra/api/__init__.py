"""The JSON API (``python -m demetra api``): the dashboard's figures for scripts, BI tools and
bots, read through the same ``demetra.queries`` and domain packages as the pages.

* ``app``: ``create_app`` (the engine, the bearer token, errors as JSON) and ``serve``.
* ``routes``: the endpoints, ``/health`` and ``/api/…``.
* ``schemas``: the response models, which the OpenAPI document (``/openapi.json``) shows.
"""

from demetra.api.app import create_app, serve

__all__ = ["create_app", "serve"]

"""One module per page, named as the page is; each has a ``render()`` that draws it.

Import a view only from its ``app_pages/`` script: views import their domain packages, and the
first page must not pay for the others'.
"""

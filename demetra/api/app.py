"""The FastAPI application: the engine it reads, the bearer token it asks for, and errors as
JSON that name the cause (422 for input, 404, 503 when the database is away; never a stack
trace in a body).

``create_app(settings, engine=None)`` builds it (tests pass an engine); ``serve`` runs it with
uvicorn and refuses a non-loopback address without ``API_TOKEN``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Sequence
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from demetra.config import Settings, load_settings
from demetra.errors import DatabaseUnavailable, DemetraError

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="the API_TOKEN setting, when it is set")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(401, detail, headers={"WWW-Authenticate": "Bearer"})


def require_token(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    """Every /api request carries ``Authorization: Bearer <API_TOKEN>`` when a token is set."""
    token: str = request.app.state.settings.api_token
    if not token:
        return
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("this API needs a bearer token: send 'Authorization: Bearer <API_TOKEN>'")
    # Constant time, so the answer's timing does not tell how much of a guess was right.
    if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        raise _unauthorized("the bearer token is not the API's token")


def engine_of(request: Request) -> sa.Engine:
    return request.app.state.engine


def _where(loc: Sequence[Any]) -> str:
    kinds = {"query": "query parameter", "path": "path parameter", "header": "header",
             "body": "body field"}
    if len(loc) >= 2 and loc[0] in kinds:
        # A repeated parameter's position is said after its name: 'severity' (value 2).
        nth = [x for x in loc[2:] if isinstance(x, int)]
        return (f"{kinds[loc[0]]} '{loc[1]}'"
                + (f" (value {nth[0] + 1})" if nth else ""))
    return "'" + ".".join(str(x) for x in loc) + "'"


def _problem(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # The parameter and what is wrong with it; the value sent is not echoed back.
        text = "; ".join(f"{_where(e.get('loc', ()))}: {e.get('msg', 'invalid')}"
                         for e in exc.errors())
        return _problem(422, text or "invalid request")

    @app.exception_handler(DatabaseUnavailable)
    async def unavailable(_request: Request, exc: DatabaseUnavailable) -> JSONResponse:
        return _problem(503, str(exc))

    @app.exception_handler(DemetraError)
    async def refused(_request: Request, exc: DemetraError) -> JSONResponse:
        return _problem(422, str(exc))

    @app.exception_handler(sa.exc.OperationalError)
    async def database_away(_request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        log.warning("database error: %s", type(exc.orig).__name__)
        return _problem(503, "the database cannot be reached or used right now")

    @app.exception_handler(Exception)
    async def bug(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error in the API")
        return _problem(500, f"internal error ({type(exc).__name__}); the server log has "
                             "the details")


def create_app(settings: Settings | None = None, engine: sa.Engine | None = None) -> FastAPI:
    """The API over ``engine`` (by default the settings' database, migrated to head)."""
    from demetra.api import routes
    from demetra.db.engine import make_engine

    settings = settings or load_settings()
    app = FastAPI(
        title="Demetra API",
        version="1",
        summary="The dashboard's figures for scripts, BI tools and bots: campaigns, KPIs, "
                "forecasts, recommendations and alerts.",
        description="Dates are ISO 8601. Money is a number beside the `currency` it is in. A "
                    "figure that cannot be given (not tracked, or a ratio whose denominator is "
                    "0) is null with its reason in `missing`, never 0. With `API_TOKEN` set, "
                    "every `/api` request needs `Authorization: Bearer <token>`.",
    )
    app.state.settings = settings
    app.state.engine = engine if engine is not None else make_engine(settings.database_url)
    _install_errors(app)
    app.include_router(routes.health)
    app.include_router(routes.api, prefix="/api", dependencies=[Depends(require_token)])
    return app


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(host: str, port: int, settings: Settings, *, workers: int = 1) -> None:
    """Run the API with uvicorn (``workers`` processes); a non-loopback address needs
    ``API_TOKEN``."""
    import uvicorn

    if not is_loopback(host) and not settings.api_token:
        raise DemetraError(f"refusing to serve the API on {host} without a token: anyone who "
                           "can reach it would read the account. Set API_TOKEN, or serve on "
                           "127.0.0.1")
    if workers == 1:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="info")
    else:
        # Each worker process builds its own app (and engine) from the environment.
        uvicorn.run("demetra.api.app:create_app", factory=True, host=host, port=port,
                    workers=workers, log_level="info")

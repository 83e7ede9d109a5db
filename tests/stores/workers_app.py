"""The app the worker tests run under ``uvicorn`` several times: cookie sessions.

Configured from the environment: ``LOGTO_*`` (``LogtoConfig.from_env``) and
``COORDINATION``: unset for the default (host-wide), ``host:<folder>`` for a host-wide
coordination in its own folder (another "host"), ``redis:<url>`` for ``RedisCoordination``.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from logto_asgi import HostCoordination, LogtoConfig, LogtoMiddleware, RedisCoordination, get_context
from logto_asgi.coordination import Coordination

RESOURCE = "https://shopping.example.com/api"


async def health(request: Request) -> Response:
    """Never touches the session."""
    return PlainTextResponse(f"ok {os.getpid()}")


async def me(request: Request) -> Response:
    user = request.state.user
    if user is None:
        return JSONResponse({"user": None}, status_code=401)
    return JSONResponse({"sub": user.sub, "pid": os.getpid()})


async def token(request: Request) -> Response:
    value = await get_context(request).get_access_token(request.query_params.get("resource") or None)
    return JSONResponse({"token_suffix": value[-12:], "pid": os.getpid()})


def coordination() -> Coordination | None:
    kind, _, where = os.environ.get("COORDINATION", "").partition(":")
    if kind == "host":
        return HostCoordination(folder=Path(where))
    if kind == "redis":
        return RedisCoordination(url=where)
    return None


config = LogtoConfig.from_env(resources=[RESOURCE], coordination=coordination())
app = LogtoMiddleware(
    Starlette(routes=[Route("/", health), Route("/me", me), Route("/token", token)]), config=config
)

"""The app the two-process test runs under ``uvicorn`` twice, sharing one Redis (or, with
``POSTGRES_DSN`` and ``POSTGRES_TABLE``, one PostgreSQL).

Configured from the environment: ``LOGTO_ENDPOINT``, ``LOGTO_APP_ID``,
``LOGTO_APP_SECRET``, ``LOGTO_COOKIE_SECRET`` (read by ``LogtoConfig.from_env``),
``REDIS_URL`` and ``REDIS_PREFIX``. No ``base_url``: each process takes its origin from
the request, so the redirect URI names the port that served the sign-in.
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from logto_asgi import LogtoConfig, LogtoMiddleware, PostgresStore, RedisStore, SessionStore, get_context

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


def store() -> SessionStore:
    if "POSTGRES_DSN" in os.environ:
        return PostgresStore(os.environ["POSTGRES_DSN"], table=os.environ["POSTGRES_TABLE"])
    return RedisStore(os.environ["REDIS_URL"], prefix=os.environ.get("REDIS_PREFIX", "logto:"))


config = LogtoConfig.from_env(
    store=store(),
    resources=[RESOURCE],
)
app = LogtoMiddleware(
    Starlette(routes=[Route("/", health), Route("/me", me), Route("/token", token)]), config=config
)

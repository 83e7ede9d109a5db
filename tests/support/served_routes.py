"""The routes of the apps the multi-process tests run under uvicorn (``workers_app``,
``two_process_app``): each answer names the process that served it."""

from __future__ import annotations

import os

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from logto_asgi import get_context

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


def routes() -> list[Route]:
    return [Route("/", health), Route("/me", me), Route("/token", token)]

"""The apps under test.

Every app answers ``GET /me`` with the signed-in user's ``sub`` (``anonymous`` when there
is none), so the three differ only in what sits in front of the handler:

* the bare Starlette app (the physical limit);
* the same app behind ``LogtoMiddleware``;
* the baseline: Authlib's Starlette client with Starlette's ``SessionMiddleware``, whose
  session holds the user and the tokens as Authlib's docs suggest.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from logto_asgi import LogtoConfig, LogtoMiddleware, get_context

ANONYMOUS = "anonymous"
APP_ORIGIN = "http://app.test"
BASELINE_CALLBACK = "/callback"


async def me(request: Request) -> Response:
    """The measured handler: the user's ``sub`` from ``request.state.user``.

    The bare app has no ``state.user``; asking ``getattr(request.state, "user", None)``
    there would make Starlette's ``State`` raise and catch an AttributeError on every
    request (a couple of µs), which would flatter every middleware compared with it.
    """
    state = request.state
    user = state.user if "user" in request.scope["state"] else None
    return PlainTextResponse(user.sub if user is not None else ANONYMOUS)


async def baseline_me(request: Request) -> Response:
    """The same handler for the baseline, which keeps the user in ``request.session``."""
    user = request.session.get("user")
    return PlainTextResponse(user["sub"] if user is not None else ANONYMOUS)


async def token(request: Request) -> Response:
    """An access token (``resource``/``org`` query parameters), refreshed when expired."""
    resource = request.query_params.get("resource") or None
    org = request.query_params.get("org") or None
    value = await get_context(request).get_access_token(resource, org)
    return PlainTextResponse(value[-12:])


async def userinfo(request: Request) -> Response:
    """One call to the provider's userinfo endpoint."""
    info = await get_context(request).fetch_user_info()
    return JSONResponse({"sub": info.sub})


def bare_app() -> Starlette:
    return Starlette(routes=[Route("/me", me)])


def inner_app() -> Starlette:
    """What ``LogtoMiddleware`` wraps: ``/me`` first, as in the bare app."""
    return Starlette(routes=[Route("/me", me), Route("/token", token), Route("/userinfo", userinfo)])


def logto_app(config: LogtoConfig) -> LogtoMiddleware:
    return LogtoMiddleware(inner_app(), config=config)


def register_authlib(*, client_id: str, client_secret: str, discovery_url: str) -> Any:
    """Authlib's Starlette OAuth client, registered the way its docs show, with PKCE S256."""
    from authlib.integrations.starlette_client import (  # type: ignore[import-untyped]  # noqa: PLC0415 - warns on import
        OAuth,
    )

    oauth = OAuth()
    oauth.register(
        "logto",
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=discovery_url,
        client_kwargs={"code_challenge_method": "S256", "scope": "openid profile offline_access"},
    )
    return oauth.create_client("logto")


def baseline_app(secret_key: str, client: Any = None) -> Starlette:
    """The baseline; with an Authlib ``client`` it also signs in (``/login``, ``/callback``)."""
    routes = [Route("/me", baseline_me)]
    if client is not None:

        async def login(request: Request) -> Response:
            response: Response = await client.authorize_redirect(
                request, APP_ORIGIN + BASELINE_CALLBACK, prompt="consent"
            )
            return response

        async def callback(request: Request) -> Response:
            tokens = await client.authorize_access_token(request)
            user = tokens.pop("userinfo")
            request.session["user"] = dict(user)
            request.session["token"] = dict(tokens)
            return RedirectResponse("/", status_code=302)

        routes += [Route("/login", login), Route(BASELINE_CALLBACK, callback)]
    return Starlette(routes=routes, middleware=[Middleware(SessionMiddleware, secret_key=secret_key)])

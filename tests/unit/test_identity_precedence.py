"""Who a request is when several logto-asgi middlewares see it: decided by rank and
configured precedence, the same in either stacking order (no provider needed)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from logto_asgi import BearerAuthMiddleware, LogtoMiddleware, current, current_auth
from logto_asgi.testing import TestIssuer, signed_in_cookies
from support.guards_apps import context_kind as kind

pytestmark = pytest.mark.anyio

API = "https://api.example.com"


async def whoami(request: Request) -> JSONResponse:
    ctx = request.state.logto
    session = current()
    return JSONResponse(
        {
            "via": kind(ctx),
            "authenticated": ctx.is_authenticated,
            "user": type(request.user).__name__,
            "current": kind(session),
            "session_signed_in": session.is_authenticated,
            "current_auth": kind(current_auth()),
            "state_user_sub": getattr(request.state.user, "get", lambda _: None)("sub"),
        }
    )


Stack = Callable[[TestIssuer, ASGIApp, dict[str, Any]], ASGIApp]


def session_outside(issuer: TestIssuer, app: ASGIApp, options: dict[str, Any]) -> ASGIApp:
    bearer = BearerAuthMiddleware(
        app,
        endpoint=issuer.endpoint,
        audience=API,
        http_client=issuer.http_client(),
        **options.get("bearer", {}),
    )
    return LogtoMiddleware(bearer, config=options["config"], **options.get("session", {}))


def bearer_outside(issuer: TestIssuer, app: ASGIApp, options: dict[str, Any]) -> ASGIApp:
    session = LogtoMiddleware(app, config=options["config"], **options.get("session", {}))
    return BearerAuthMiddleware(
        session,
        endpoint=issuer.endpoint,
        audience=API,
        http_client=issuer.http_client(),
        **options.get("bearer", {}),
    )


STACKS = [
    pytest.param(session_outside, id="session-outside"),
    pytest.param(bearer_outside, id="bearer-outside"),
]


async def ask(stack: Stack, *, cookie: bool, token: str | None, **options: Any) -> tuple[int, dict[str, Any]]:
    issuer = TestIssuer()
    config = issuer.config()
    app = stack(issuer, Starlette(routes=[Route("/", whoami)]), {"config": config, **options})
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        if cookie:
            client.cookies.update(signed_in_cookies(config, claims={"sub": "user-session"}))
        if token == "valid":
            headers["Authorization"] = "Bearer " + issuer.access_token(API, sub="user-token")
        response = await client.get("/", headers=headers)
    return response.status_code, response.json()


@pytest.mark.parametrize("stack", STACKS)
async def test_a_valid_token_outranks_a_session_in_either_order(stack: Stack) -> None:
    """Cookie and token together: the token authenticates the request; current() stays the session."""
    status, body = await ask(stack, cookie=True, token="valid")
    assert status == 200
    assert body == {
        "via": "BearerContext",
        "authenticated": True,
        "user": "BearerUser",
        "current": "LogtoContext",
        "session_signed_in": True,
        "current_auth": "BearerContext",
        "state_user_sub": "user-token",
    }


@pytest.mark.parametrize("stack", STACKS)
async def test_a_session_without_token_is_the_session_in_either_order(stack: Stack) -> None:
    """No token: the session's context and user, whichever middleware is outside."""
    status, body = await ask(stack, cookie=True, token=None)
    assert status == 200
    assert (body["via"], body["user"], body["current_auth"], body["state_user_sub"]) == (
        "LogtoContext",
        "LogtoUser",
        "LogtoContext",
        "user-session",
    )


@pytest.mark.parametrize("stack", STACKS)
async def test_anonymous_gets_the_session_context_not_the_bearer_fallback(stack: Stack) -> None:
    """Nobody at all: the anonymous session context (it can sign in), never the bearer's fallback."""
    status, body = await ask(stack, cookie=False, token=None)
    assert status == 200
    assert (body["via"], body["authenticated"], body["user"]) == (
        "LogtoContext",
        False,
        "UnauthenticatedUser",
    )


@pytest.mark.parametrize("stack", STACKS)
async def test_precedence_is_configuration(stack: Stack) -> None:
    """A session configured above the token's precedence wins over a valid token, in either order."""
    status, body = await ask(stack, cookie=True, token="valid", session={"precedence": 30})
    assert status == 200
    assert (body["via"], body["current_auth"], body["state_user_sub"]) == (
        "LogtoContext",
        "LogtoContext",
        "user-session",
    )


@pytest.mark.parametrize("stack", STACKS)
async def test_an_invalid_token_is_refused_in_either_order(stack: Stack) -> None:
    """A forged token is a 401 invalid_token even with a good session cookie."""
    status, body = await ask(stack, cookie=True, token="not.a.token")
    assert status == 401
    assert body["error"] == "invalid_token"


async def test_bearer_alone_without_token_is_its_anonymous_context() -> None:
    """With only the bearer middleware, a request without a token gets an anonymous BearerContext."""
    issuer = TestIssuer()
    seen: dict[str, Any] = {}

    async def app(request: Request) -> JSONResponse:
        seen["via"] = kind(request.state.logto)
        seen["auth"] = kind(current_auth())
        return JSONResponse({})

    api = BearerAuthMiddleware(
        Starlette(routes=[Route("/", app)]),
        endpoint=issuer.endpoint,
        audience=API,
        http_client=issuer.http_client(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=api), base_url="http://test") as client:
        assert (await client.get("/")).status_code == 200
    assert seen == {"via": "BearerContext", "auth": "BearerContext"}
    with pytest.raises(LookupError):
        current_auth()

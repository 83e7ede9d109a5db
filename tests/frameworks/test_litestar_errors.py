"""Litestar: a ``LogtoError`` raised in a handler gets the middleware's answer through
``logto_asgi.litestar``, against the real provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import httpx
import pytest
from litestar import Litestar, Request, get
from litestar.response import Response as LitestarResponse
from litestar.types import ExceptionHandlersMap
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from frameworks.error_answers import (
    ADMIN_SCOPE,
    JSON,
    NO_STORE,
    beside_reference,
    check_signed_in_refusals,
    check_signed_out_401,
)
from logto_asgi import InsufficientScope, LogtoError, get_context
from logto_asgi.litestar import error_handler, logto_error_handler
from support.app import APP_ORIGIN, SHOPPING, Harness, make_harness
from support.faults import FaultyTransport, refuse
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


@get("/me")
async def me(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"sub": str(get_context(request.scope).require_user().sub)}


@get("/orders")
async def orders(request: Request[Any, Any, Any]) -> dict[str, int]:
    token = await get_context(request.scope).get_access_token(SHOPPING)
    return {"parts": len(token.split("."))}


@get("/admin")
async def admin(request: Request[Any, Any, Any]) -> str:
    claims = await get_context(request.scope).get_access_token_claims(SHOPPING)
    if ADMIN_SCOPE not in claims.scopes:
        raise InsufficientScope("this page needs the admin scope", scopes=[ADMIN_SCOPE])
    return "admin"


@get("/orgs")
async def organization(request: Request[Any, Any, Any]) -> dict[str, int]:
    token = await get_context(request.scope).get_organization_token(request.query_params["org"])
    return {"parts": len(token.split("."))}


def litestar(handlers: ExceptionHandlersMap | None = None) -> ASGIApp:
    app = Litestar(route_handlers=[me, orders, admin, organization], exception_handlers=handlers)
    return cast("ASGIApp", app)


def with_handler(handler: Any = logto_error_handler) -> ASGIApp:
    """The Litestar app behind a plain wrapper (so only the explicit handler can help)."""
    return beside_reference(litestar({LogtoError: handler}))


async def harness_for(provider: OidcTestProvider, app: ASGIApp, **overrides: Any) -> Harness:
    return await make_harness(provider, app=app, **overrides)


async def test_without_the_handler_litestar_answers_its_own_500(provider: OidcTestProvider) -> None:
    """A NotAuthenticated that Litestar catches first becomes its generic 500: the handler matters."""
    harness = await harness_for(provider, beside_reference(litestar()))
    try:
        response = await harness.client.get(f"{APP_ORIGIN}/me", headers=JSON)
        assert response.status_code == 500
        assert response.json() == {"status_code": 500, "detail": "Internal Server Error"}
    finally:
        await harness.aclose()


@pytest.mark.parametrize("accept", [JSON, {}], ids=["json", "browser"])
async def test_signed_out_is_the_boundarys_401(provider: OidcTestProvider, accept: Mapping[str, str]) -> None:
    """require_user() signed out: the boundary's very 401 (JSON for APIs, the page for browsers)."""
    harness = await harness_for(provider, with_handler())
    try:
        await check_signed_out_401(harness.client, APP_ORIGIN, dict(accept))
    finally:
        await harness.aclose()


async def test_signed_in_refusals_are_403s(provider: OidcTestProvider) -> None:
    """A missing scope: 403 with its challenge; an organization the user is not in: 403 access_denied."""
    harness = await harness_for(provider, with_handler())
    try:
        await harness.sign_in("alice")
        await check_signed_in_refusals(harness.client, APP_ORIGIN, "/orgs?org={org}")
    finally:
        await harness.aclose()


async def test_provider_down_is_a_503(provider: OidcTestProvider) -> None:
    """A token fetch that cannot reach the provider is the boundary's 503, not Litestar's 500."""
    transport = FaultyTransport()
    http = httpx.AsyncClient(transport=transport)
    harness = await harness_for(provider, with_handler(), http_client=http)
    try:
        await harness.sign_in("alice")
        transport.fault = refuse
        response = await harness.client.get(f"{APP_ORIGIN}/orders", headers=JSON)
        assert response.status_code == 503
        assert response.json()["error"] == "provider_unavailable"
        assert response.headers["cache-control"] == NO_STORE
        transport.fault = None
        assert (await harness.client.get(f"{APP_ORIGIN}/orders", headers=JSON)).json() == {"parts": 3}
    finally:
        await harness.aclose()
        await http.aclose()


async def test_the_apps_on_error_hook_answers(provider: OidcTestProvider) -> None:
    """LogtoConfig(on_error=...) renders the error, as it does for errors reaching the middleware."""

    async def on_error(request: StarletteRequest, error: LogtoError) -> JSONResponse:
        return JSONResponse({"ours": error.error, "path": request.url.path}, status_code=418)

    harness = await harness_for(provider, with_handler(), on_error=on_error)
    try:
        response = await harness.client.get(f"{APP_ORIGIN}/me")
        assert response.status_code == 418
        assert response.json() == {"ours": "not_authenticated", "path": "/me"}
    finally:
        await harness.aclose()


async def test_redirect_sends_signed_out_browsers_to_sign_in(provider: OidcTestProvider) -> None:
    """error_handler(redirect=True): a 303 to sign in and back, and the sign-in lands there."""
    harness = await harness_for(provider, with_handler(error_handler(redirect=True)))
    try:
        response = await harness.client.get(f"{APP_ORIGIN}/me?tab=1")
        assert response.status_code == 303
        assert response.headers["location"] == "/sign-in?return_to=%2Fme%3Ftab%3D1"
        assert response.headers["cache-control"] == NO_STORE
        callback = await harness.sign_in("alice", return_to="/me?tab=1")
        assert callback.headers["location"] == "/me?tab=1"
        assert (await harness.client.get(f"{APP_ORIGIN}/me?tab=1")).json() == {"sub": "user-alice"}
    finally:
        await harness.aclose()


async def test_wrapping_litestar_registers_the_handler_itself(provider: OidcTestProvider) -> None:
    """LogtoMiddleware(Litestar(...)) answers 401 without a handler line; an app's own handler stays."""

    def mine(request: Request[Any, Any, Any], exc: Exception) -> LitestarResponse[str]:
        return LitestarResponse("mine", status_code=499)

    bare = await harness_for(provider, litestar())
    own = await harness_for(provider, litestar({LogtoError: mine}))
    try:
        response = await bare.client.get(f"{APP_ORIGIN}/me", headers=JSON)
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert (await own.client.get(f"{APP_ORIGIN}/me")).status_code == 499
    finally:
        await bare.aclose()
        await own.aclose()

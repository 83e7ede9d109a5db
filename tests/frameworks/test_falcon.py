"""Falcon (ASGI): the middleware wraps a ``falcon.asgi.App``, a user signs in over real
uvicorn, and a ``LogtoError`` raised in a responder gets the middleware's answer through
``logto_asgi.falcon``, against the real provider."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import falcon
import falcon.asgi
import httpx
import pytest
from starlette.requests import Request as StarletteRequest
from starlette.responses import JSONResponse
from starlette.types import ASGIApp

from docs.markdown import ROOT, page_blocks
from frameworks.error_answers import (
    ADMIN_SCOPE,
    JSON,
    NO_STORE,
    beside_reference,
    check_signed_in_refusals,
    check_signed_out_401,
)
from logto_asgi import InsufficientScope, LogtoError, LogtoMiddleware, get_context
from logto_asgi.falcon import ErrorHandler, error_handler, logto_error_handler
from quickstarts.quickstart import load_app
from quickstarts.quickstart import serve as serve_in_process
from support.app import APP_ORIGIN, SHOPPING, USERS, Harness, make_harness, register_app
from support.asgi import websocket_session
from support.faults import FaultyTransport, refuse
from support.provider import OidcTestProvider, provider_login, provider_logout
from support.server import listen, serve

pytestmark = pytest.mark.anyio


class Home:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        logto = get_context(req)
        resp.text = f"hello {logto.user.sub}" if logto.user else "not signed in"


class Me:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        resp.media = {"sub": get_context(req).require_user().sub}

    async def on_websocket(self, req: falcon.asgi.Request, ws: falcon.asgi.WebSocket) -> None:
        user = get_context(req).require_user()
        await ws.accept()
        await ws.send_text(str(user.sub))


class Orders:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        token = await get_context(req).get_access_token(SHOPPING)
        resp.media = {"parts": len(token.split("."))}


class Admin:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        claims = await get_context(req).get_access_token_claims(SHOPPING)
        if ADMIN_SCOPE not in claims.scopes:
            raise InsufficientScope("this page needs the admin scope", scopes=[ADMIN_SCOPE])
        resp.text = "admin"


class Organization:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response, org: str) -> None:
        token = await get_context(req).get_organization_token(org)
        resp.media = {"parts": len(token.split("."))}


def falcon_app(handler: ErrorHandler | None = None) -> ASGIApp:
    """The test routes; Falcon types ASGI with its own hints, hence the cast."""
    app: falcon.asgi.App[Any, Any] = falcon.asgi.App()
    app.add_route("/", Home())
    app.add_route("/me", Me())
    app.add_route("/orders", Orders())
    app.add_route("/admin", Admin())
    app.add_route("/orgs/{org}", Organization())
    if handler is not None:
        app.add_error_handler(LogtoError, handler)
    return cast("ASGIApp", app)


def with_handler(handler: ErrorHandler = logto_error_handler) -> ASGIApp:
    """The Falcon app behind a plain wrapper (so only the explicit handler can help)."""
    return beside_reference(falcon_app(handler))


async def harness_for(provider: OidcTestProvider, app: ASGIApp, **overrides: Any) -> Harness:
    return await make_harness(provider, app=app, **overrides)


async def test_sign_in_token_and_sign_out_over_uvicorn(provider: OidcTestProvider) -> None:
    """Over real HTTP: signed out, sign in and back, the user, a resource token, sign out."""
    with listen() as listener:
        registration = await register_app(provider, listener.url, prefix="falcon")
        config = registration.config(listener.url, scopes=["shopping:read"], resources=[SHOPPING])
        with serve(LogtoMiddleware(falcon_app(), config=config), listener) as url:
            async with httpx.AsyncClient(timeout=15) as browser:
                assert (await browser.get(f"{url}/")).text == "not signed in"
                assert (await browser.get(f"{url}/me", headers=JSON)).status_code == 401
                start = await browser.get(f"{url}/sign-in", params={"return_to": "/orders"})
                callback = await provider_login(
                    browser, start.headers["location"], username="alice", password=USERS["alice"]
                )
                assert callback.status_code == 302 and callback.headers["location"] == "/orders"
                assert (await browser.get(f"{url}/orders")).json() == {"parts": 3}
                assert (await browser.get(f"{url}/")).text == "hello user-alice"
                back = await provider_logout(browser, f"{url}/sign-out")
                assert str(back.url) == f"{url}/"
                assert back.text == "not signed in"
                assert (await browser.get(f"{url}/me", headers=JSON)).status_code == 401


async def test_the_falcon_page_as_written(
    provider: OidcTestProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/getting-started/falcon.md's app: the user, a 401 signed out, a token fetch, sign-out."""
    block = page_blocks(ROOT / "docs" / "getting-started" / "falcon.md")[0]
    app: ASGIApp = load_app(block, await register_app(provider), monkeypatch)
    async with serve_in_process(app) as site:
        signed_out = "Not authenticated <a href='/sign-in'>Sign in</a>"
        assert (await site.get("/")).text == signed_out
        refused = await site.get("/orders", headers=JSON)
        assert refused.status_code == 401
        assert refused.json()["error"] == "not_authenticated"
        await site.sign_in()
        assert (await site.get("/")).text == "Hello Alice Liddell <a href='/sign-out'>Sign out</a>"
        assert (await site.get("/orders")).json() == {"user": "user-alice", "token_parts": 3}
        assert (await site.sign_out()).text == signed_out


async def test_without_the_handler_falcon_answers_its_own_500(provider: OidcTestProvider) -> None:
    """A NotAuthenticated that Falcon catches first becomes its generic 500: the handler matters."""
    harness = await harness_for(provider, beside_reference(falcon_app()))
    try:
        response = await harness.client.get(f"{APP_ORIGIN}/me", headers=JSON)
        assert response.status_code == 500
        assert response.json() == {"title": "500 Internal Server Error"}
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
        await check_signed_in_refusals(harness.client, APP_ORIGIN, "/orgs/{org}")
    finally:
        await harness.aclose()


async def test_provider_down_is_a_503(provider: OidcTestProvider) -> None:
    """A token fetch that cannot reach the provider is the boundary's 503, not Falcon's 500."""
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
    """LogtoConfig(on_error=...) renders the error, its cookie and header included."""

    async def on_error(request: StarletteRequest, error: LogtoError) -> JSONResponse:
        response = JSONResponse({"ours": error.error, "path": request.url.path}, status_code=418)
        response.set_cookie("seen", "1")
        response.set_cookie("again", "2")
        return response

    harness = await harness_for(provider, with_handler(), on_error=on_error)
    try:
        response = await harness.client.get(f"{APP_ORIGIN}/me")
        assert response.status_code == 418
        assert response.json() == {"ours": "not_authenticated", "path": "/me"}
        assert len(response.headers.get_list("set-cookie")) == 2
        assert {"seen", "again"} <= {cookie.name for cookie in harness.client.cookies.jar}
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


async def test_wrapping_falcon_registers_the_handler_itself(provider: OidcTestProvider) -> None:
    """LogtoMiddleware(falcon_app) answers 401 without a handler line; an app's own handler stays."""

    async def mine(req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: Exception, params: Any) -> None:
        resp.status = 499

    bare = await harness_for(provider, falcon_app())
    own = await harness_for(provider, falcon_app(mine))
    try:
        response = await bare.client.get(f"{APP_ORIGIN}/me", headers=JSON)
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert (await own.client.get(f"{APP_ORIGIN}/me")).status_code == 499
    finally:
        await bare.aclose()
        await own.aclose()


async def test_a_refused_websocket_is_closed_before_it_is_accepted(provider: OidcTestProvider) -> None:
    """require_user() in on_websocket, signed out: closed with 1008 (policy), never accepted."""
    harness = await harness_for(provider, with_handler())
    try:
        sent = await websocket_session(harness.middleware, "/me")
        assert [message["type"] for message in sent] == ["websocket.close"]
        assert sent[0]["code"] == 1008
    finally:
        await harness.aclose()

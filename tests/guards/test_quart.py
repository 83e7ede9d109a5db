"""Quart: the guide's Flask sample ported to Quart, signed in end to end in-process, and
requires_auth on Quart handlers (no request argument) for sessions, tokens and websockets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest
from quart import Quart, request, websocket
from starlette.types import ASGIApp

from logto_asgi import current, requires_auth
from support.app import APP_ORIGIN, SHOPPING, cookie_names, make_harness
from support.asgi import websocket_session
from support.guards_apps import JSON, Example, Guarded, bearer, context_kind, load_example
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


@pytest.fixture
async def example(provider: OidcTestProvider) -> AsyncIterator[Example]:
    """examples/quart_app.py configured for a fresh client of the test provider."""
    loaded = await load_example(provider, "quart")
    try:
        yield loaded
    finally:
        await loaded.aclose()


async def test_example_guide_routes_end_to_end(example: Example) -> None:
    """Home, a guarded page that sends to sign-in and back, user info, organization tokens, sign-out."""
    client = example.client
    assert "Not authenticated <a href='/sign-in'>Sign in</a>" in (await client.get(f"{APP_ORIGIN}/")).text
    guarded = await client.get(f"{APP_ORIGIN}/protected/userinfo")
    assert (guarded.status_code, guarded.headers["location"]) == (
        303,
        "/sign-in?return_to=%2Fprotected%2Fuserinfo",
    )

    callback = await example.sign_in("alice", path="/protected/userinfo")
    assert callback.headers["location"] == "/protected/userinfo"
    userinfo = await client.get(f"{APP_ORIGIN}/protected/userinfo")
    assert "<h2>User info</h2>" in userinfo.text and "&quot;plan&quot;: &quot;pro&quot;" in userinfo.text
    claims = await client.get(f"{APP_ORIGIN}/protected")
    assert "<h2>ID token claims</h2>" in claims.text and "user-alice" in claims.text
    organizations = (await client.get(f"{APP_ORIGIN}/protected/organizations")).text
    assert "<h3>org-acme</h3>" in organizations and "read:members invite:members" in organizations
    assert "urn:logto:organization:org-globex" in organizations
    assert "Authenticated <a href='/sign-out'>Sign out</a>" in (await client.get(f"{APP_ORIGIN}/")).text

    await example.sign_out()
    assert cookie_names(client) == set()
    assert "Not authenticated" in (await client.get(f"{APP_ORIGIN}/")).text


async def test_example_user_without_organizations(example: Example) -> None:
    """Bob belongs to no organization: the page says so instead of failing."""
    await example.sign_in("bob")
    page = await example.client.get(f"{APP_ORIGIN}/protected/organizations")
    assert "You are not a member of any organization." in page.text


def quart_api() -> Quart:
    app = Quart(__name__)

    @app.route("/orgs/<org_id>/invite")
    @requires_auth(scopes=["invite:members"], organization_id="{org_id}")
    async def invite(org_id: str) -> dict[str, Any]:
        user = current().user
        return {"org": org_id, "sub": user.sub if user else None}

    @app.route("/orders")
    @requires_auth(scopes=["shopping:read"], resource=SHOPPING)
    async def orders() -> dict[str, Any]:
        state = request.scope["state"]
        return {"sub": state["user"].sub, "via": context_kind(state["logto"])}

    @app.route("/token")
    async def token() -> dict[str, Any]:
        return {"access_token": await current().get_access_token(request.args.get("resource"))}

    @app.websocket("/ws")
    @requires_auth()
    async def ws() -> None:
        await websocket.accept()
        user = current().user
        await websocket.send(str(user.sub) if user else "")

    return app


@pytest.fixture
async def quart_guarded(provider: OidcTestProvider) -> AsyncIterator[Guarded]:
    """The Quart app above behind LogtoMiddleware(BearerAuthMiddleware(app))."""
    middleware = bearer(cast(ASGIApp, quart_api()), provider)
    guarded = Guarded(await make_harness(provider, app=middleware), middleware)
    try:
        yield guarded
    finally:
        await guarded.aclose()


async def test_quart_handlers_with_session_and_token(quart_guarded: Guarded) -> None:
    """Quart: 401 signed out, the organization from view_args (200 / 403), a bearer token on /orders."""
    client = quart_guarded.client
    signed_out = await client.get(f"{APP_ORIGIN}/orgs/org-acme/invite", headers=JSON)
    assert (signed_out.status_code, signed_out.json()["error"]) == (401, "not_authenticated")
    assert signed_out.headers["cache-control"] == "no-store"
    await quart_guarded.harness.sign_in("alice")
    allowed = await client.get(f"{APP_ORIGIN}/orgs/org-acme/invite")
    assert allowed.json() == {"org": "org-acme", "sub": "user-alice"}
    refused = await client.get(f"{APP_ORIGIN}/orgs/org-globex/invite", headers=JSON)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="invite:members"'
    assert (await client.get(f"{APP_ORIGIN}/orders")).json() == {"sub": "user-alice", "via": "LogtoContext"}
    token = await quart_guarded.token_of("bob", resource=SHOPPING)
    api = quart_guarded.api_client(token)
    assert (await api.get(f"{APP_ORIGIN}/orders")).json() == {"sub": "user-bob", "via": "BearerContext"}


async def test_quart_websocket_refused_then_accepted(quart_guarded: Guarded) -> None:
    """A Quart websocket handler behind requires_auth closes 1008 unaccepted, then serves a session."""
    app = quart_guarded.harness.middleware
    refused = await websocket_session(app, "/ws")
    assert [(m["type"], m["code"]) for m in refused] == [("websocket.close", 1008)]
    await quart_guarded.harness.sign_in("alice")
    cookie = "; ".join(f"{c.name}={c.value}" for c in quart_guarded.client.cookies.jar)
    served = await websocket_session(app, "/ws", headers=[(b"cookie", cookie.encode())])
    assert [m["type"] for m in served][:2] == ["websocket.accept", "websocket.send"]
    assert served[1]["text"] == "user-alice"

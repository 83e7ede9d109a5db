"""One guard, two ways in: the same route reached with a session cookie and with a bearer
token, allowed, 401 and 403 each, against the real provider."""

from __future__ import annotations

import httpx
import pytest

from support.app import APP_ORIGIN, SHOPPING, STORE
from support.guards_apps import JSON, Guarded

pytestmark = pytest.mark.anyio


async def caller(guarded: Guarded, how: str, username: str | None) -> httpx.AsyncClient:
    """A client for ``username`` (``None``: anonymous) by session cookie or bearer token."""
    if how == "session":
        client = guarded.harness.browser()
        client.headers.update(JSON)
        if username is not None:
            await guarded.harness.sign_in(username, client=client)
        return client
    token = await guarded.token_of(username, resource=SHOPPING) if username is not None else None
    return guarded.api_client(token)


@pytest.mark.parametrize("how", ["session", "bearer"])
async def test_allowed_with_the_resource_scope(guarded: Guarded, how: str) -> None:
    """Alice has shopping:read on the shopping API: the guard lets her in, by cookie or by token."""
    client = await caller(guarded, how, "alice")
    response = await client.get(f"{APP_ORIGIN}/orders")
    assert response.status_code == 200, response.text
    via = "LogtoContext" if how == "session" else "BearerContext"
    assert response.json() == {"sub": "user-alice", "via": via}


@pytest.mark.parametrize("how", ["session", "bearer"])
async def test_anonymous_gets_401_json(guarded: Guarded, how: str) -> None:
    """Nobody signed in and no token: 401 JSON not_authenticated, WWW-Authenticate, no-store."""
    client = await caller(guarded, how, None)
    response = await client.get(f"{APP_ORIGIN}/orders")
    assert response.status_code == 401
    assert response.json()["error"] == "not_authenticated"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("how", ["session", "bearer"])
async def test_missing_scope_gets_403_insufficient_scope(guarded: Guarded, how: str) -> None:
    """Bob has shopping:read only: shopping:write answers 403 naming the scope, both ways."""
    client = await caller(guarded, how, "bob")
    assert (await client.get(f"{APP_ORIGIN}/orders")).status_code == 200
    response = await client.get(f"{APP_ORIGIN}/orders/write")
    assert response.status_code == 403
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="shopping:write"'
    assert response.headers["cache-control"] == "no-store"


async def test_a_token_for_another_resource_is_refused(guarded: Guarded) -> None:
    """A valid token whose audience is not an accepted API is a 401 invalid_token."""
    token = await guarded.token_of("alice", resource=STORE)
    response = await guarded.api_client(token).get(f"{APP_ORIGIN}/orders")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'


async def test_sign_in_scopes_for_sessions_token_scopes_for_bearers(guarded: Guarded) -> None:
    """Without a resource the guard checks the sign-in scopes (session) or the token's scope claim."""
    session = await caller(guarded, "session", "alice")
    assert (await session.get(f"{APP_ORIGIN}/email")).status_code == 200
    bearer = await caller(guarded, "bearer", "alice")
    response = await bearer.get(f"{APP_ORIGIN}/email")
    assert response.status_code == 403
    assert response.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="email"'
    assert (await bearer.get(f"{APP_ORIGIN}/signed-in")).json()["via"] == "BearerContext"


@pytest.mark.parametrize("how", ["session", "bearer"])
async def test_starlette_requires_reads_request_auth(guarded: Guarded, how: str) -> None:
    """starlette.authentication.requires works on request.auth: sign-in scopes or token scopes."""
    anonymous = await caller(guarded, how, None)
    assert (await anonymous.get(f"{APP_ORIGIN}/starlette/email")).status_code == 403
    client = await caller(guarded, how, "alice")
    email = await client.get(f"{APP_ORIGIN}/starlette/email")
    shopping = await client.get(f"{APP_ORIGIN}/starlette/shopping")
    authenticated = await client.get(f"{APP_ORIGIN}/starlette/authenticated")
    assert (authenticated.status_code, authenticated.text) == (200, "authenticated: user-alice")
    assert (await anonymous.get(f"{APP_ORIGIN}/starlette/authenticated")).status_code == 403
    if how == "session":
        assert (email.status_code, email.text) == (200, "email scope for Alice Liddell")
        assert shopping.status_code == 403
    else:
        assert email.status_code == 403
        assert (shopping.status_code, shopping.text) == (200, "shopping:read for user-alice")

"""FastAPI: the example app end to end against the real provider, its OpenAPI security
scheme and per-route scopes, and requires_auth on FastAPI endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from fastapi import FastAPI

from logto_asgi import current, requires_auth
from logto_asgi.fastapi import CurrentUser, OptionalUser
from support.app import APP_ORIGIN, make_harness
from support.guards_apps import JSON, Example, load_example
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio

LOGTO_SCHEME = "logto"


@pytest.fixture
async def example(provider: OidcTestProvider) -> AsyncIterator[Example]:
    """examples/fastapi_app.py configured for a fresh client of the test provider."""
    loaded = await load_example(provider, "fastapi")
    try:
        yield loaded
    finally:
        await loaded.aclose()


async def test_example_end_to_end(example: Example, provider: OidcTestProvider) -> None:
    """Sign in as bob, read orders, 403 on writing and on an organization, sign out: 401 again."""
    client = example.client
    assert "Not authenticated" in (await client.get(f"{APP_ORIGIN}/")).text
    assert (await client.get(f"{APP_ORIGIN}/api/orders", headers=JSON)).status_code == 401
    profile = await client.get(f"{APP_ORIGIN}/profile")
    assert (profile.status_code, profile.headers["location"]) == (303, "/sign-in?return_to=%2Fprofile")

    callback = await example.sign_in("bob", path="/profile")
    assert callback.headers["location"] == "/profile"
    assert "Bob Builder" in (await client.get(f"{APP_ORIGIN}/profile")).text
    assert (await client.get(f"{APP_ORIGIN}/api/orders", headers=JSON)).json() == {"orders": []}
    write = await client.post(f"{APP_ORIGIN}/api/orders", params={"item": "hammer"}, headers=JSON)
    assert write.status_code == 403
    assert write.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="shopping:write"'
    org = await client.get(f"{APP_ORIGIN}/orgs/org-acme/members", headers=JSON)
    assert (org.status_code, org.json()["error"]) == (403, "access_denied")

    await example.sign_out()
    assert (await client.get(f"{APP_ORIGIN}/api/orders", headers=JSON)).status_code == 401


async def test_example_api_with_a_bearer_token(example: Example) -> None:
    """Alice's token from /token calls the API without cookies: read, write, and the claims."""
    await example.sign_in("alice")
    organizations = await example.client.post(
        f"{APP_ORIGIN}/orgs/org-acme/invitations", params={"email": "carol@example.com"}, headers=JSON
    )
    assert organizations.status_code == 201
    token = (await example.client.get(f"{APP_ORIGIN}/token")).json()["access_token"]
    example.client.cookies.clear()
    bearer = {**JSON, "authorization": f"Bearer {token}"}
    created = await example.client.post(f"{APP_ORIGIN}/api/orders", params={"item": "anvil"}, headers=bearer)
    assert (created.status_code, created.json()) == (201, {"id": 1, "item": "anvil"})
    assert (await example.client.get(f"{APP_ORIGIN}/api/orders", headers=bearer)).json()["orders"] == [
        {"id": 1, "item": "anvil"}
    ]
    me = (await example.client.get(f"{APP_ORIGIN}/api/me", headers=bearer)).json()
    assert me["claims"]["aud"] == "https://shopping.example.com/api"
    refused = await example.client.get(f"{APP_ORIGIN}/orgs/org-acme/members", headers=bearer)
    assert refused.status_code == 403


async def test_openapi_has_the_scheme_and_per_route_scopes(
    example: Example, provider: OidcTestProvider
) -> None:
    """/openapi.json declares the openIdConnect scheme (discovery URL) and each route's scopes."""
    schema = (await example.client.get(f"{APP_ORIGIN}/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"][LOGTO_SCHEME]
    assert scheme["type"] == "openIdConnect"
    assert scheme["openIdConnectUrl"] == provider.discovery_url
    paths = schema["paths"]
    assert paths["/api/orders"]["get"]["security"] == [{LOGTO_SCHEME: ["shopping:read"]}]
    assert paths["/api/orders"]["post"]["security"] == [{LOGTO_SCHEME: ["shopping:write"]}]
    assert paths["/orgs/{org_id}/members"]["get"]["security"] == [{LOGTO_SCHEME: ["read:members"]}]
    assert paths["/orgs/{org_id}/invitations"]["post"]["security"] == [{LOGTO_SCHEME: ["invite:members"]}]
    assert paths["/api/me"]["get"]["security"] == [{LOGTO_SCHEME: []}]
    assert "security" not in paths["/profile"]["get"]
    assert "security" not in paths["/"]["get"]  # OptionalUser: open to everyone


def decorated_api() -> FastAPI:
    """requires_auth on FastAPI endpoints that take no request, async and sync."""
    api = FastAPI()

    @api.get("/orgs/{org_id}/report")
    @requires_auth(scopes=["read:members"], organization_id="{org_id}")
    async def report(org_id: str, fmt: str = "json") -> dict[str, Any]:
        return {"org": org_id, "fmt": fmt}

    @api.get("/me")
    @requires_auth(redirect=True)
    def me() -> dict[str, Any]:  # sync: runs in the threadpool, where current() still works
        user = current().user
        return {"sub": user.sub if user else None}

    @api.get("/plain")
    async def plain(user: CurrentUser) -> dict[str, Any]:
        return {"sub": user.sub}

    @api.get("/maybe")
    async def maybe(user: OptionalUser) -> dict[str, Any]:
        return {"sub": user.sub if user else None}

    return api


async def test_requires_auth_on_fastapi_endpoints(provider: OidcTestProvider) -> None:
    """The decorator keeps FastAPI's parameters (path, query, dependencies) and adds no new one."""
    harness = await make_harness(provider, app=decorated_api())
    try:
        client = harness.client
        assert (await client.get(f"{APP_ORIGIN}/maybe")).json() == {"sub": None}
        assert (await client.get(f"{APP_ORIGIN}/orgs/org-acme/report", headers=JSON)).status_code == 401
        assert (await client.get(f"{APP_ORIGIN}/me")).headers["location"] == "/sign-in?return_to=%2Fme"
        await harness.sign_in("alice")
        report = await client.get(f"{APP_ORIGIN}/orgs/org-acme/report", params={"fmt": "csv"})
        assert report.json() == {"org": "org-acme", "fmt": "csv"}
        assert (await client.get(f"{APP_ORIGIN}/me")).json() == {"sub": "user-alice"}
        assert (await client.get(f"{APP_ORIGIN}/maybe")).json() == {"sub": "user-alice"}
        schema = (await client.get(f"{APP_ORIGIN}/openapi.json")).json()
        params = {p["name"] for p in schema["paths"]["/orgs/{org_id}/report"]["get"]["parameters"]}
        assert params == {"org_id", "fmt"}
    finally:
        await harness.aclose()


async def test_current_user_is_401_when_signed_out(provider: OidcTestProvider) -> None:
    """CurrentUser answers 401 not_authenticated (JSON, WWW-Authenticate) when nobody signed in."""
    harness = await make_harness(provider, app=decorated_api())
    try:
        response = await harness.client.get(f"{APP_ORIGIN}/plain", headers=JSON)
        assert response.status_code == 401
        assert response.json()["error"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
        await harness.sign_in("bob")
        assert (await harness.client.get(f"{APP_ORIGIN}/plain")).json() == {"sub": "user-bob"}
    finally:
        await harness.aclose()

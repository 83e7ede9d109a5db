"""Role guards against the real provider (npm oidc-provider set up like Logto): the ID
token's roles and organization_roles claims as its users have them — alice is an admin
(and admin of org-acme, member of org-globex), bob has ``roles: []`` — and a step-up that
goes through the provider's login again."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logto_asgi import UserInfoScope, requires_auth
from support.app import APP_ORIGIN, SHOPPING, STORE, Harness, make_harness
from support.guards_apps import JSON
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio

#: What the guard tests' harness asks for, plus the roles scope (without it: no roles claim).
SCOPES: list[str] = [
    "email",
    UserInfoScope.roles,
    UserInfoScope.organizations,
    UserInfoScope.organization_roles,
    "shopping:read",
    "read:members",
    "invite:members",
]


async def whoami(request: Request) -> Response:
    return JSONResponse({"sub": request.state.user.sub})


async def claims(request: Request) -> Response:
    user = request.state.user
    keys = ("roles", "organization_roles", "auth_time")
    return JSONResponse({key: user.get(key, "absent") for key in keys} if user else None)


def role_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/claims", claims),
            Route("/admin", requires_auth(roles=["admin"])(whoami)),
            Route(
                "/orgs/{org_id}/admin",
                requires_auth(organization_roles=["admin"], organization_id="{org_id}")(whoami),
            ),
            Route(
                "/orgs/{org_id}/invite",
                requires_auth(
                    scopes=["invite:members"], organization_roles="admin", organization_id="{org_id}"
                )(whoami),
            ),
            Route("/recent", requires_auth(max_age=300, redirect=True)(whoami)),
        ]
    )


async def harness_for(provider: OidcTestProvider, scopes: list[str]) -> Harness:
    return await make_harness(provider, app=role_app(), scopes=scopes, resources=[SHOPPING, STORE])


@pytest.fixture
async def harness(provider: OidcTestProvider) -> AsyncIterator[Harness]:
    h = await harness_for(provider, SCOPES)
    try:
        yield h
    finally:
        await h.aclose()


async def signed_in(harness: Harness, username: str) -> dict[str, Any]:
    """Sign ``username`` in; the roles claims of the ID token the provider sent."""
    await harness.sign_in(username)
    answer: dict[str, Any] = (await harness.client.get(f"{APP_ORIGIN}/claims")).json()
    return answer


async def test_an_admin_passes(harness: Harness) -> None:
    """alice's ID token says roles ["admin"]: roles=["admin"] lets her in."""
    assert (await signed_in(harness, "alice"))["roles"] == ["admin"]
    response = await harness.client.get(f"{APP_ORIGIN}/admin", headers=JSON)
    assert response.json() == {"sub": "user-alice"}


async def test_a_user_with_no_roles_is_refused(harness: Harness) -> None:
    """bob's ID token says roles []: 403 access_denied naming the role, not bob's claims."""
    assert (await signed_in(harness, "bob"))["roles"] == []
    response = await harness.client.get(f"{APP_ORIGIN}/admin", headers=JSON)
    assert response.status_code == 403
    assert response.json() == {
        "error": "access_denied",
        "error_description": "this route requires the role 'admin'",
    }


async def test_without_the_roles_scope_there_is_no_roles_claim(provider: OidcTestProvider) -> None:
    """scopes=["roles"] must be requested: else even an admin's ID token has no roles, and is refused."""
    harness = await harness_for(provider, [s for s in SCOPES if s != UserInfoScope.roles])
    try:
        assert (await signed_in(harness, "alice"))["roles"] == "absent"
        assert (await harness.client.get(f"{APP_ORIGIN}/admin", headers=JSON)).status_code == 403
    finally:
        await harness.aclose()


async def test_organization_roles_from_the_id_token(harness: Harness) -> None:
    """alice is admin of org-acme and member of org-globex: the claim says so, the guard follows."""
    organization_roles = (await signed_in(harness, "alice"))["organization_roles"]
    assert sorted(organization_roles) == ["org-acme:admin", "org-globex:member"]
    client = harness.client
    assert (await client.get(f"{APP_ORIGIN}/orgs/org-acme/admin", headers=JSON)).status_code == 200
    globex = await client.get(f"{APP_ORIGIN}/orgs/org-globex/admin", headers=JSON)
    assert globex.json()["error_description"] == (
        "this route requires the organization role 'admin' in organization 'org-globex'"
    )
    # With scopes too: the organization token (fetched from the provider) and the claim.
    assert (await client.get(f"{APP_ORIGIN}/orgs/org-acme/invite", headers=JSON)).status_code == 200
    assert (await client.get(f"{APP_ORIGIN}/orgs/org-globex/invite", headers=JSON)).status_code == 403


async def test_step_up_signs_in_again_at_the_provider(harness: Harness) -> None:
    """An ordinary sign-in sends no auth_time: max_age sends the browser to log in again
    (prompt=login, max_age) and back, and the fresh ID token lets it in."""
    assert (await signed_in(harness, "alice"))["auth_time"] == "absent"
    client = harness.client
    response = await client.get(f"{APP_ORIGIN}/recent?tab=1")
    assert response.status_code == 303
    location = response.headers["location"]
    assert parse_qs(urlsplit(location).query) == {
        "return_to": ["/recent?tab=1"],
        "prompt": ["login"],
        "max_age": ["300"],
    }
    start = await client.get(f"{APP_ORIGIN}{location}")
    authorize = parse_qs(urlsplit(start.headers["location"]).query)
    assert "login" in authorize["prompt"][0].split() and authorize["max_age"] == ["300"]
    # The provider's session is still alive: prompt=login makes it authenticate alice again.
    callback = await provider_login(
        client, start.headers["location"], username="alice", password="alice-password"
    )
    assert callback.headers["location"] == "/recent?tab=1"
    auth_time = (await client.get(f"{APP_ORIGIN}/claims")).json()["auth_time"]
    assert isinstance(auth_time, int) and abs(time.time() - auth_time) < 60
    assert (await client.get(f"{APP_ORIGIN}/recent?tab=1")).json() == {"sub": "user-alice"}

"""FastAPI: ``require(roles=..., organization_roles=..., claims=..., max_age=...)`` answers
what ``requires_auth`` answers, returns the caller's claims, and leaves OpenAPI's scopes
to the scopes (roles are not OAuth scopes)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from guards.role_apps import API, JSON
from logto_asgi import (
    AccessTokenClaims,
    BearerAuthMiddleware,
    ConfigurationError,
    IdTokenClaims,
    LogtoMiddleware,
)
from logto_asgi.fastapi import require, setup_openapi
from logto_asgi.testing import TestIssuer, signed_in_cookies

pytestmark = pytest.mark.anyio

LOGTO_SCHEME = "logto"


async def is_pro(claims: Mapping[str, Any]) -> bool:
    return claims.get("plan") == "pro"


Admin = Annotated[IdTokenClaims | AccessTokenClaims, Depends(require(roles=["admin"]))]


def build_api() -> FastAPI:
    api = FastAPI()

    @api.get("/admin")
    async def admin(user: Admin) -> dict[str, Any]:
        return {"sub": user.sub, "claims": type(user).__name__}

    @api.get("/admin/email", dependencies=[Depends(require(scopes=["email"], roles="admin"))])
    async def admin_email() -> dict[str, Any]:
        return {"ok": True}

    @api.get(
        "/orgs/{org_id}/settings",
        dependencies=[Depends(require(organization_roles=["admin"], organization_id="{org_id}"))],
    )
    async def settings(org_id: str) -> dict[str, Any]:
        return {"org": org_id}

    @api.get("/pro", dependencies=[Depends(require(claims=is_pro))])
    async def pro() -> dict[str, Any]:
        return {"ok": True}

    @api.get("/recent", dependencies=[Depends(require(max_age=300))])
    async def recent() -> dict[str, Any]:
        return {"ok": True}

    @api.get("/any", dependencies=[Depends(require(any_role=["ops", "sre"]))])
    async def any_role() -> dict[str, Any]:
        return {"ok": True}

    return api


class Kit:
    def __init__(self) -> None:
        self.issuer = TestIssuer()
        self.config = self.issuer.config(resources=[API])
        api = build_api()
        setup_openapi(api, self.config)
        bearer = BearerAuthMiddleware(
            api, endpoint=self.issuer.endpoint, audience=API, http_client=self.issuer.http_client()
        )
        self.app = LogtoMiddleware(bearer, config=self.config)

    def client(self, claims: Mapping[str, Any] | None = None, **options: Any) -> httpx.AsyncClient:
        cookies = (
            signed_in_cookies(self.config, claims={"sub": "user-1", **claims}, **options)
            if claims is not None
            else None
        )
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://test", headers=JSON, cookies=cookies
        )


@pytest.fixture
async def kit() -> AsyncIterator[Kit]:
    yield Kit()


async def test_require_roles_for_sessions_and_tokens(kit: Kit) -> None:
    """The dependency returns the claims of an admin, refuses others with the role named."""
    async with kit.client({"roles": ["admin"]}) as client:
        assert (await client.get("/admin")).json() == {"sub": "user-1", "claims": "IdTokenClaims"}
    async with kit.client({"roles": ["viewer"]}) as client:
        refused = await client.get("/admin")
    assert refused.status_code == 403
    assert refused.json() == {
        "error": "access_denied",
        "error_description": "this route requires the role 'admin'",
    }
    token = kit.issuer.access_token(API, roles=["admin"])
    async with kit.client() as client:
        answer = await client.get("/admin", headers={"authorization": f"Bearer {token}"})
        assert answer.json() == {"sub": "user-test", "claims": "AccessTokenClaims"}
        assert (await client.get("/admin")).status_code == 401


async def test_require_combines_roles_scopes_organization_roles_and_claims(kit: Kit) -> None:
    """Each requirement of require(...) holds or says why not."""
    async with kit.client({"roles": ["admin"]}, scopes=["email"]) as client:
        assert (await client.get("/admin/email")).status_code == 200
    async with kit.client({"roles": ["admin"]}, scopes=[]) as client:
        assert (await client.get("/admin/email")).json()["error"] == "insufficient_scope"
    async with kit.client({"organization_roles": ["org-1:admin"], "plan": "pro", "roles": ["sre"]}) as client:
        assert (await client.get("/orgs/org-1/settings")).json() == {"org": "org-1"}
        other = await client.get("/orgs/org-2/settings")
        assert other.json()["error_description"] == (
            "this route requires the organization role 'admin' in organization 'org-2'"
        )
        assert (await client.get("/pro")).status_code == 200
        assert (await client.get("/any")).status_code == 200
    async with kit.client({"plan": "free"}) as client:
        assert (await client.get("/pro")).json()["error_description"] == "the claims check refused this user"
        assert (await client.get("/any")).status_code == 403


async def test_require_max_age(kit: Kit) -> None:
    """A dependency cannot redirect: a sign-in too old is the 401 insufficient_user_authentication."""
    async with kit.client({"auth_time": int(time.time())}) as client:
        assert (await client.get("/recent")).status_code == 200
    async with kit.client({"auth_time": int(time.time()) - 301}) as client:
        stale = await client.get("/recent")
    assert (stale.status_code, stale.json()["error"]) == (401, "insufficient_user_authentication")


async def test_openapi_scopes_are_the_scopes_only(kit: Kit) -> None:
    """Roles and claims checks mark a route as protected; only scopes are listed as scopes."""
    async with kit.client() as client:
        paths = (await client.get("/openapi.json")).json()["paths"]
    assert paths["/admin"]["get"]["security"] == [{LOGTO_SCHEME: []}]
    assert paths["/admin/email"]["get"]["security"] == [{LOGTO_SCHEME: ["email"]}]
    assert paths["/orgs/{org_id}/settings"]["get"]["security"] == [{LOGTO_SCHEME: []}]
    assert paths["/pro"]["get"]["security"] == [{LOGTO_SCHEME: []}]
    assert paths["/recent"]["get"]["security"] == [{LOGTO_SCHEME: []}]


def test_require_checks_its_options_at_once() -> None:
    """Organization roles without an organization, a bad max_age: ConfigurationError at build time."""
    with pytest.raises(ConfigurationError, match="organization_roles"):
        require(organization_roles=["admin"])
    with pytest.raises(ConfigurationError, match="max_age"):
        require(max_age=0)
    with pytest.raises(ConfigurationError, match="roles"):
        require(roles=[""])

"""Role, organization-role and claims guards: the claim matrix for sessions and bearer
tokens alike, combined with scopes, the 403 naming the requirement (never the user's own
claims), anonymous callers, websockets and mounted apps, and the options checked when
decorating."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from guards.role_apps import API, JSON, NAVIGATION, RoleKit, make_kit
from logto_asgi import (
    AccessTokenClaims,
    ConfigurationError,
    IdTokenClaims,
    RequireAuth,
    UserInfoScope,
    requires_auth,
)
from support.asgi import websocket_session

pytestmark = pytest.mark.anyio

BOTH = pytest.mark.parametrize("how", ["session", "bearer"])


@pytest.fixture
async def kit() -> AsyncIterator[RoleKit]:
    yield make_kit()


async def status(kit: RoleKit, how: str, claims: dict[str, Any], path: str) -> int:
    async with kit.caller(how, claims) as client:
        return (await client.get(path)).status_code


def assert_denied(response: httpx.Response, description: str) -> None:
    """403 access_denied, no-store, the requirement named, no insufficient_scope challenge."""
    assert response.status_code == 403, response.text
    assert response.json() == {"error": "access_denied", "error_description": description}
    assert response.headers["cache-control"] == "no-store"
    assert "www-authenticate" not in response.headers


# Roles ----------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        (["admin"], True),
        (["viewer", "admin"], True),
        (["admin", {"not": "a string"}, 7, None], True),  # other items are skipped, not a 500
        (["viewer"], False),
        ([], False),
        (None, False),  # sent as null
        ("admin", False),  # a string is not a list of roles
        ({"admin": True}, False),
        (["Admin"], False),  # role names are compared exactly
        (["administrator"], False),
    ],
)
async def test_roles_claim_matrix(kit: RoleKit, how: str, roles: Any, allowed: bool) -> None:
    """roles=["admin"] lets in exactly the users whose roles claim is a list holding "admin"."""
    expected = 200 if allowed else 403
    assert await status(kit, how, {"roles": roles}, "/roles/admin") == expected


@BOTH
async def test_roles_claim_absent(kit: RoleKit, how: str) -> None:
    """No roles claim at all (the roles scope was not granted): refused, with the role named."""
    async with kit.caller(how, {"name": "Ada"}) as client:
        assert_denied(await client.get("/roles/admin"), "this route requires the role 'admin'")


@BOTH
async def test_roles_are_all_of(kit: RoleKit, how: str) -> None:
    """roles=[...] needs every role; the refusal names the whole requirement, not what is missing."""
    assert await status(kit, how, {"roles": ["ops", "x", "admin"]}, "/roles/admin-ops") == 200
    for roles in (["admin"], ["ops"], []):
        async with kit.caller(how, {"roles": roles}) as client:
            response = await client.get("/roles/admin-ops")
        assert_denied(response, "this route requires the roles 'admin', 'ops'")


@BOTH
async def test_any_role_is_one_of(kit: RoleKit, how: str) -> None:
    """any_role=[...] needs one of them; combined with roles=[...], both must hold."""
    assert await status(kit, how, {"roles": ["ops"]}, "/roles/any") == 200
    assert await status(kit, how, {"roles": ["admin"]}, "/roles/any") == 200
    async with kit.caller(how, {"roles": ["viewer"]}) as client:
        assert_denied(await client.get("/roles/any"), "this route requires one of the roles 'admin', 'ops'")
    assert await status(kit, how, {}, "/roles/any") == 403
    assert await status(kit, how, {"roles": ["admin", "sre"]}, "/roles/admin-any") == 200
    assert await status(kit, how, {"roles": ["admin"]}, "/roles/admin-any") == 403
    assert await status(kit, how, {"roles": ["ops", "sre"]}, "/roles/admin-any") == 403


async def test_roles_combine_with_scopes(kit: RoleKit) -> None:
    """scopes=["email"] and roles=["admin"]: each is checked, each refusal says its own reason."""
    email = [UserInfoScope.email]
    async with kit.session({"roles": ["admin"]}, scopes=email) as client:
        assert (await client.get("/roles/admin-email")).status_code == 200
    async with kit.session({"roles": ["admin"]}, scopes=[]) as client:
        no_scope = await client.get("/roles/admin-email")
    assert (no_scope.status_code, no_scope.json()["error"]) == (403, "insufficient_scope")
    assert no_scope.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="email"'
    async with kit.session({"roles": ["viewer"]}, scopes=email) as client:
        assert_denied(await client.get("/roles/admin-email"), "this route requires the role 'admin'")
    # A bearer token: the scope comes from its scope claim, the roles from its roles claim.
    async with kit.bearer({"roles": ["admin"]}, scopes=["email"]) as client:
        assert (await client.get("/roles/admin-email")).status_code == 200
    async with kit.bearer({"roles": ["admin"]}) as client:
        assert (await client.get("/roles/admin-email")).json()["error"] == "insufficient_scope"


@BOTH
async def test_the_refusal_never_echoes_the_users_claims(kit: RoleKit, how: str) -> None:
    """What the user holds stays out of the answer, in JSON and in the HTML page."""
    claims = {"roles": ["secret-role-x"], "organization_roles": ["org-1:secret-org-role"]}
    async with kit.caller(how, claims) as client:
        for path in ("/roles/admin", "/roles/any", "/orgs/org-1/admin"):
            for headers in (JSON, NAVIGATION):
                response = await client.get(path, headers=headers)
                assert response.status_code == 403
                assert "secret" not in response.text


async def test_the_html_refusal_names_the_requirement(kit: RoleKit) -> None:
    """A browser gets the 403 page with the requirement, escaped, and no sign-in link."""
    async with kit.session({"roles": []}) as client:
        response = await client.get("/roles/admin", headers=NAVIGATION)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "this route requires the role &#x27;admin&#x27;" in response.text
    assert "/sign-in" not in response.text


# Anonymous ------------------------------------------------------------------------------


async def test_anonymous_gets_the_usual_401_or_redirect(kit: RoleKit) -> None:
    """Checks run for signed-in users only: nobody gets 401 (or the sign-in redirect), not 403."""
    async with kit.client(**JSON) as client:
        for path in ("/roles/admin", "/orgs/org-1/admin", "/check/sync", "/check/broken", "/admin/"):
            response = await client.get(path)
            assert (response.status_code, response.json()["error"]) == (401, "not_authenticated"), path
            assert response.headers["www-authenticate"] == "Bearer"
        page = await client.get("/roles/admin-page?tab=1")
    assert (page.status_code, page.headers["location"]) == (
        303,
        "/sign-in?return_to=%2Froles%2Fadmin-page%3Ftab%3D1",
    )
    assert kit.checks.seen == []  # the claims check never ran for nobody


async def test_signed_in_without_the_role_is_not_redirected(kit: RoleKit) -> None:
    """redirect=True sends signed-out browsers to sign in, never a signed-in one who lacks a role."""
    async with kit.session({"roles": []}) as client:
        response = await client.get("/roles/admin-page", headers=NAVIGATION)
    assert response.status_code == 403
    async with kit.session({"roles": ["admin"]}) as client:
        assert (await client.get("/roles/admin-page")).status_code == 200


# Organization roles ---------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("claim", "allowed"),
    [
        (["org-1:admin"], True),
        (["org-2:member", "org-1:admin"], True),
        (["org-2:admin"], False),  # admin elsewhere
        (["org-1:member"], False),
        (["admin"], False),  # a role without its organization
        (["org-10:admin"], False),
        (["org-1:administrator"], False),
        (["xorg-1:admin"], False),
        ("org-1:admin", False),  # a string is not a list
        ([], False),
        (None, False),
    ],
)
async def test_organization_roles_matrix(kit: RoleKit, how: str, claim: Any, allowed: bool) -> None:
    """organization_roles=["admin"] for "{org_id}" needs "<org_id>:admin" exactly, in a list."""
    expected = 200 if allowed else 403
    assert await status(kit, how, {"organization_roles": claim}, "/orgs/org-1/admin") == expected


@BOTH
async def test_organization_roles_name_the_organization_of_the_path(kit: RoleKit, how: str) -> None:
    """The organization is the one in the URL; the refusal names it and the roles (all of them)."""
    async with kit.caller(how, {"organization_roles": ["org-1:admin"]}) as client:
        assert (await client.get("/orgs/org-1/admin")).status_code == 200
        assert_denied(
            await client.get("/orgs/org-2/admin"),
            "this route requires the organization role 'admin' in organization 'org-2'",
        )
        assert_denied(
            await client.get("/orgs/org-1/admin-owner"),
            "this route requires the organization roles 'admin', 'owner' in organization 'org-1'",
        )
        assert (await client.get("/org-admin/org-1/")).status_code == 200
        assert (await client.get("/org-admin/org-2/")).status_code == 403
    both = {"organization_roles": ["org-1:owner", "org-1:admin"]}
    assert await status(kit, how, both, "/orgs/org-1/admin-owner") == 200


@BOTH
async def test_organization_roles_with_a_literal_organization(kit: RoleKit, how: str) -> None:
    """organization_id="org-acme" checks that organization whatever the path."""
    assert await status(kit, how, {"organization_roles": ["org-acme:admin"]}, "/acme/admin") == 200
    assert await status(kit, how, {"organization_roles": ["org-1:admin"]}, "/acme/admin") == 403


async def test_organization_roles_alone_need_no_organization_token(kit: RoleKit) -> None:
    """The claim is enough: no organizations scope configured, no organization token in the
    session (fetching one would fail: ConfigurationError, or the session ends)."""
    async with kit.session({"organization_roles": ["org-1:admin"]}) as client:
        response = await client.get("/orgs/org-1/admin")
    assert response.status_code == 200, response.text


async def test_organization_roles_combine_with_organization_scopes() -> None:
    """With scopes=[...] too, the organization token's scopes and the claim must both hold."""
    kit = make_kit(scopes=[UserInfoScope.organizations, UserInfoScope.organization_roles])
    admin = {"organization_roles": ["org-1:admin"]}

    def tokens(*scopes: str) -> dict[str, str]:
        return {"org-1": kit.issuer.organization_token("org-1", scopes=scopes, sub="user-1")}

    async with kit.session(admin, organization_tokens=tokens("invite:members")) as client:
        assert (await client.get("/orgs/org-1/invite")).status_code == 200
    async with kit.session(admin, organization_tokens=tokens("read:members")) as client:
        assert (await client.get("/orgs/org-1/invite")).json()["error"] == "insufficient_scope"
    member = {"organization_roles": ["org-1:member"]}
    async with kit.session(member, organization_tokens=tokens("invite:members")) as client:
        assert_denied(
            await client.get("/orgs/org-1/invite"),
            "this route requires the organization role 'admin' in organization 'org-1'",
        )
    # A bearer: an organization token of org-1, whose claims carry the role (a custom claim).
    token = kit.issuer.organization_token("org-1", scopes=["invite:members"], sub="user-1", **admin)
    async with kit.client(**JSON, authorization=f"Bearer {token}") as client:
        assert (await client.get("/orgs/org-1/invite")).status_code == 200
        assert (await client.get("/orgs/org-2/admin")).status_code == 403


# Claims checks --------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("path", ["/check/sync", "/check/async"])
async def test_claims_check_sync_and_async(kit: RoleKit, how: str, path: str) -> None:
    """claims=check gets the caller's claims (ID token or access token): True passes, False is 403."""
    assert await status(kit, how, {"plan": "pro"}, path) == 200
    async with kit.caller(how, {"plan": "free"}) as client:
        assert_denied(await client.get(path), "the claims check refused this user")
    claims_type = IdTokenClaims if how == "session" else AccessTokenClaims
    assert kit.checks.seen == [claims_type, claims_type]


async def test_claims_check_combines_with_roles(kit: RoleKit) -> None:
    """roles and claims: both hold, or the first that fails says so."""
    assert await status(kit, "session", {"roles": ["admin"], "plan": "pro"}, "/check/admin-pro") == 200
    async with kit.session({"roles": ["admin"], "plan": "free"}) as client:
        assert_denied(await client.get("/check/admin-pro"), "the claims check refused this user")
    async with kit.session({"roles": [], "plan": "pro"}) as client:
        assert_denied(await client.get("/check/admin-pro"), "this route requires the role 'admin'")


async def test_an_exception_in_the_claims_check_is_the_apps_500(kit: RoleKit) -> None:
    """A bug in the check is not a refusal and not swallowed: it propagates, the server says 500."""
    async with kit.session({"plan": "pro"}) as client:
        response = await client.get("/check/broken")
    assert response.status_code == 500
    assert "access_denied" not in response.text
    app = kit.app
    transport = httpx.ASGITransport(app=app)  # raise_app_exceptions: the exception itself
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", cookies=kit.cookies({})
    ) as client:
        with pytest.raises(RuntimeError, match="bug in the claims check"):
            await client.get("/check/broken")


async def test_a_claims_check_may_raise_its_own_refusal(kit: RoleKit) -> None:
    """A LogtoError raised by the check (AccessDenied("...")) is answered as itself."""
    async with kit.session({}) as client:
        assert_denied(await client.get("/check/denies"), "the shop is closed on Sundays")


async def test_a_claims_check_must_answer_a_bool(kit: RoleKit) -> None:
    """A truthy non-bool is a programming error (500), never a pass."""
    transport = httpx.ASGITransport(app=kit.app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://test", cookies=kit.cookies({"plan": "pro"})
    ) as client:
        with pytest.raises(TypeError, match="must return True or False, not str"):
            await client.get("/check/not-a-bool")


# Websockets and mounted apps ------------------------------------------------------------


async def test_websockets_and_mounts_check_roles(kit: RoleKit) -> None:
    """A websocket without the role is closed before it is accepted; a mounted app is guarded."""
    for path in ("/ws/admin", "/admin/ws"):
        refused = await websocket_session(kit.app, path, headers=cookie_header(kit, {"roles": ["viewer"]}))
        assert [(m["type"], m.get("code")) for m in refused] == [("websocket.close", 1008)], path
        served = await websocket_session(kit.app, path, headers=cookie_header(kit, {"roles": ["admin"]}))
        assert [m["type"] for m in served] == ["websocket.accept", "websocket.send", "websocket.close"]
    async with kit.session({"roles": ["admin"]}) as client:
        assert (await client.get("/admin/")).json() == {"sub": "user-1", "via": "LogtoContext"}
    async with kit.bearer({"roles": ["viewer"]}) as client:
        assert_denied(await client.get("/admin/"), "this route requires the role 'admin'")


def cookie_header(kit: RoleKit, claims: dict[str, Any]) -> list[tuple[bytes, bytes]]:
    cookies = "; ".join(f"{name}={value}" for name, value in kit.cookies(claims).items())
    return [(b"cookie", cookies.encode())]


# Options --------------------------------------------------------------------------------


def test_role_options_are_checked_when_decorating() -> None:
    """Bad roles, organization roles without an organization, a claims check that is not callable."""
    with pytest.raises(ConfigurationError, match="roles"):
        requires_auth(roles=[""])
    with pytest.raises(ConfigurationError, match="roles"):
        requires_auth(roles=["admin", 1])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="any_role"):
        RequireAuth(make_kit().app, any_role=[""])
    with pytest.raises(ConfigurationError, match="organization_roles: name the organization"):
        requires_auth(organization_roles=["admin"])
    with pytest.raises(ConfigurationError, match="organization_roles"):
        requires_auth(organization_roles=[""], organization_id="{org_id}")
    with pytest.raises(ConfigurationError, match="claims"):
        requires_auth(claims=True)  # type: ignore[arg-type]
    assert requires_auth(roles="admin", any_role=("a b", "c")) is not None  # names may have spaces


async def test_a_role_given_as_a_string_is_one_role(kit: RoleKit) -> None:
    """roles="admin" means ["admin"] (not the roles "a", "d", ...)."""
    assert await status(kit, "session", {"roles": ["admin"]}, "/roles/admin-page") == 200
    assert await status(kit, "session", {"roles": list("admin")}, "/roles/admin-page") == 403


async def test_bearer_tokens_are_checked_against_their_own_claims(kit: RoleKit) -> None:
    """A bearer request is judged by its token, not by a session cookie riding along."""
    token = kit.issuer.access_token(API, sub="user-1", roles=[])
    async with kit.client(**JSON, authorization=f"Bearer {token}") as client:
        client.cookies.update(kit.cookies({"roles": ["admin"]}))
        response = await client.get("/roles/admin")
    assert response.status_code == 403


async def test_organization_id_alone_still_checks_the_organization_token(kit: RoleKit) -> None:
    """Without organization roles, organization_id="{org_id}" keeps asking for the organization's
    token: an API token that is not for the organization is refused, whatever its claims say."""
    async with kit.bearer({"organization_roles": ["org-1:admin"]}) as client:
        response = await client.get("/orgs/org-1/members")
    assert (response.status_code, response.json()["error"]) == (403, "access_denied")
    token = kit.issuer.organization_token("org-1", sub="user-1")
    async with kit.client(**JSON, authorization=f"Bearer {token}") as client:
        assert (await client.get("/orgs/org-1/members")).status_code == 200


async def test_a_route_without_the_named_path_parameter_is_a_configuration_error(kit: RoleKit) -> None:
    """organization_id="{org_id}" on a path without {org_id}: a 500 naming it, never a check of "None"."""
    async with kit.session({"organization_roles": ["None:admin"]}) as client:
        response = await client.get("/no-org/admin")
    assert response.status_code == 500
    assert response.json()["error"] == "configuration_error"
    assert "no path parameter 'org_id'" in response.json()["error_description"]


@pytest.mark.parametrize(
    "organization_id", ["", 5, "{org_id", "org_id}", "{org_id}x", "x{org_id}", "{org-id}"]
)
def test_organization_id_is_checked_when_decorating(organization_id: Any) -> None:
    """An organization id is a non-empty string; braces only around a whole path parameter name."""
    with pytest.raises(ConfigurationError, match="organization_id"):
        requires_auth(organization_roles=["admin"], organization_id=organization_id)
    assert requires_auth(organization_roles=["admin"], organization_id="{org_id}") is not None
    assert requires_auth(organization_roles=["admin"], organization_id="org-1") is not None

"""What requires_auth and RequireAuth do beyond allow / 401 / 403: redirects, organizations
from the path, user info, mounted sub-apps and websockets, and errors met while checking."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from logto_asgi import ConfigurationError, RequireAuth, requires_auth
from support.app import APP_ORIGIN, cookie_names
from support.asgi import websocket_session
from support.faults import FaultyTransport, refuse
from support.guards_apps import JSON, NAVIGATION, Guarded, build_guarded_app, make_guarded
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


def cookie_header(client: httpx.AsyncClient) -> list[tuple[bytes, bytes]]:
    cookies = "; ".join(
        f"{c.name}={c.value}" for c in client.cookies.jar if c.domain.lstrip(".") == "app.test"
    )
    return [(b"cookie", cookies.encode())]


async def test_redirect_sends_to_sign_in_and_back(guarded: Guarded) -> None:
    """redirect=True: 303 to /sign-in?return_to=<path and query>, and sign-in lands back there."""
    response = await guarded.client.get(f"{APP_ORIGIN}/page?tab=2&x=%2F")
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?return_to=%2Fpage%3Ftab%3D2%26x%3D%252F"
    assert response.headers["cache-control"] == "no-store"
    return_to = parse_qs(urlsplit(response.headers["location"]).query)["return_to"][0]
    callback = await guarded.harness.sign_in("alice", return_to=return_to)
    assert callback.headers["location"] == "/page?tab=2&x=%2F"
    assert (await guarded.client.get(f"{APP_ORIGIN}{callback.headers['location']}")).status_code == 200


async def test_browser_navigation_without_redirect_gets_a_401_page(guarded: Guarded) -> None:
    """Without redirect a browser gets a 401 HTML page whose link signs in and comes back."""
    response = await guarded.client.get(f"{APP_ORIGIN}/signed-in?a=1", headers=NAVIGATION)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert 'href="/sign-in?return_to=%2Fsigned-in%3Fa%3D1"' in response.text
    assert response.headers["www-authenticate"] == "Bearer"


async def test_organization_from_the_path(guarded: Guarded) -> None:
    """organization_id="{org_id}" checks the token of the organization named in the URL."""
    await guarded.harness.sign_in("alice")
    client = guarded.client
    assert (await client.get(f"{APP_ORIGIN}/orgs/org-acme/invite", headers=JSON)).status_code == 200
    assert (await client.get(f"{APP_ORIGIN}/orgs/org-globex/members", headers=JSON)).status_code == 200
    member_only = await client.get(f"{APP_ORIGIN}/orgs/org-globex/invite", headers=JSON)
    assert member_only.status_code == 403
    assert (
        member_only.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="invite:members"'
    )
    stranger = await client.get(f"{APP_ORIGIN}/orgs/org-initech/members", headers=JSON)
    assert stranger.status_code == 403
    assert stranger.json()["error"] == "access_denied"


async def test_organization_token_as_bearer(guarded: Guarded) -> None:
    """An organization token opens its own organization's routes only, and no resource route."""
    client = guarded.api_client(await guarded.token_of("alice", org="org-acme"))
    invite = await client.get(f"{APP_ORIGIN}/orgs/org-acme/invite")
    assert invite.json() == {"sub": "user-alice", "via": "BearerContext"}
    other = await client.get(f"{APP_ORIGIN}/orgs/org-globex/members")
    assert (other.status_code, other.json()["error"]) == (403, "access_denied")
    assert (await client.get(f"{APP_ORIGIN}/orders")).status_code == 403
    assert (await client.get(f"{APP_ORIGIN}/starlette/shopping")).status_code == 403


async def test_fetch_user_info_before_the_handler(guarded: Guarded) -> None:
    """fetch_user_info=True puts the userinfo answer in ctx.user_info (custom_data included)."""
    await guarded.harness.sign_in("alice")
    info = (await guarded.client.get(f"{APP_ORIGIN}/profile")).json()["user_info"]
    assert info["sub"] == "user-alice"
    assert info["custom_data"] == {"plan": "pro"}


async def test_require_auth_guards_a_mounted_app(guarded: Guarded) -> None:
    """RequireAuth on a Mount: 401 signed out, 403 without the resource scope, 200 with it."""
    client = guarded.client
    assert (await client.get(f"{APP_ORIGIN}/admin/", headers=JSON)).status_code == 401
    signed_out = await client.get(f"{APP_ORIGIN}/shop-admin/", headers=JSON)
    assert (signed_out.status_code, signed_out.json()["error"]) == (401, "not_authenticated")
    await guarded.harness.sign_in("bob")
    assert (await client.get(f"{APP_ORIGIN}/admin/", headers=JSON)).json()["sub"] == "user-bob"
    refused = await client.get(f"{APP_ORIGIN}/shop-admin/", headers=JSON)
    assert refused.status_code == 403
    assert refused.headers["www-authenticate"] == 'Bearer error="insufficient_scope", scope="shopping:write"'
    alice = guarded.harness.browser()
    await guarded.harness.sign_in("alice", client=alice)
    assert (await alice.get(f"{APP_ORIGIN}/shop-admin/")).json()["app"] == "shop"


async def test_require_auth_reads_the_mount_path_parameters(guarded: Guarded) -> None:
    """RequireAuth(organization_id="{org_id}") under Mount("/org-admin/{org_id}") checks that organization."""
    await guarded.harness.sign_in("alice")
    allowed = await guarded.client.get(f"{APP_ORIGIN}/org-admin/org-acme/")
    assert allowed.json() == {"app": "org", "sub": "user-alice", "org": "org-acme"}
    assert (await guarded.client.get(f"{APP_ORIGIN}/org-admin/org-globex/", headers=JSON)).status_code == 403


@pytest.mark.parametrize("path", ["/admin/ws", "/ws"])
async def test_websocket_refused_before_accept_then_accepted(guarded: Guarded, path: str) -> None:
    """A guarded websocket without a session is closed with 1008 unaccepted; with one it is served."""
    app = guarded.harness.middleware
    refused = await websocket_session(app, path)
    assert [m["type"] for m in refused] == ["websocket.close"]
    assert refused[0]["code"] == 1008
    await guarded.harness.sign_in("alice")
    served = await websocket_session(app, path, headers=cookie_header(guarded.client))
    assert [m["type"] for m in served] == ["websocket.accept", "websocket.send", "websocket.close"]
    assert served[1]["text"] == "user-alice"


async def test_session_ended_while_checking_is_a_401(guarded: Guarded, provider: OidcTestProvider) -> None:
    """A refresh refused while checking (grant revoked) answers 401 session_expired and clears the cookie."""
    await guarded.harness.sign_in("alice")
    await provider.revoke_grants("user-alice")
    response = await guarded.client.get(f"{APP_ORIGIN}/orders", headers=JSON)
    assert response.status_code == 401
    assert response.json()["error"] == "session_expired"
    assert response.headers["www-authenticate"] == "Bearer"
    assert cookie_names(guarded.client) == set()


async def test_session_ended_while_checking_redirects_with_redirect(
    guarded: Guarded, provider: OidcTestProvider
) -> None:
    """With redirect=True an ended session goes to sign in, like a signed-out visitor."""
    await guarded.harness.sign_in("alice")
    await provider.revoke_grants("user-alice")
    response = await guarded.client.get(f"{APP_ORIGIN}/orders/page", headers=NAVIGATION)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?return_to=%2Forders%2Fpage"
    assert cookie_names(guarded.client) == set()


async def test_provider_down_while_checking_is_a_503(provider: OidcTestProvider) -> None:
    """An unreachable provider during the check answers 503, never 500."""
    transport = FaultyTransport()
    guarded = await make_guarded(provider, http_client=httpx.AsyncClient(transport=transport))
    try:
        await guarded.harness.sign_in("alice")
        transport.fault = refuse
        response = await guarded.client.get(f"{APP_ORIGIN}/orders", headers=JSON)
        assert response.status_code == 503
        assert response.json()["error"] == "provider_unavailable"
        assert response.headers["cache-control"] == "no-store"
    finally:
        await guarded.aclose()
        await transport.aclose()


def test_guard_options_are_checked_when_decorating() -> None:
    """A scope with a space, an empty resource or a malformed path parameter fail at once."""
    with pytest.raises(ConfigurationError, match="scopes"):
        requires_auth(scopes=["read write"])
    with pytest.raises(ConfigurationError, match="resource"):
        RequireAuth(build_guarded_app(), resource="")
    with pytest.raises(ConfigurationError, match="organization_id"):
        requires_auth(organization_id="{org-id}")
    with pytest.raises(TypeError, match="parentheses"):
        requires_auth(build_guarded_app)  # type: ignore[arg-type]
    assert requires_auth(scopes="read:members") is not None  # one scope as a string is fine


async def test_a_guard_without_a_middleware_says_what_is_missing() -> None:
    """A guarded route with neither middleware installed raises a LookupError naming them."""
    app = RequireAuth(build_guarded_app())
    with pytest.raises(LookupError, match="LogtoMiddleware or BearerAuthMiddleware"):
        await websocket_session(app, "/ws")

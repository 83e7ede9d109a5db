"""Tokens on demand: resource, organization and userinfo tokens, refreshed without races."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from logto_asgi import LogtoError
from logto_asgi.context import LogtoContext
from logto_asgi.sessions.base import token_key
from support.app import APP_ORIGIN, SHOPPING, STORE, Harness, browser_cookies, make_harness
from support.faults import FaultyTransport, refuse
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio

ACCESS_TTL = 300


@pytest.fixture
async def short_tokens(provider: OidcTestProvider) -> AsyncIterator[None]:
    """Access tokens live ACCESS_TTL seconds at the provider (ID tokens keep an hour)."""
    await provider.set_ttl(AccessToken=ACCESS_TTL)
    yield
    await provider.reset_ttl()


def advance(harness: Harness, seconds: float) -> list[float]:
    """Move the middleware's clock forward (tokens look expired) without sleeping.

    Tests that refresh pair it with short access tokens at the provider (``short_tokens``)
    so the provider's ID tokens, issued on its own clock, are still valid on ours.
    """
    offset = [seconds]
    harness.middleware.core.clock = lambda: time.time() + offset[0]
    return offset


async def get_token(
    harness: Harness, client: httpx.AsyncClient | None = None, **params: str
) -> httpx.Response:
    """GET /token; with a shifted clock pass raw="1" (claims would be checked against a clock
    the provider does not share)."""
    return await (client or harness.client).get(f"{APP_ORIGIN}/token", params=params)


async def test_resource_token_is_a_jwt_for_that_resource(
    harness: Harness, provider: OidcTestProvider
) -> None:
    """get_access_token(resource) is a JWT whose verified claims name the resource and scopes."""
    await harness.sign_in("alice")
    await provider.reset_counts()
    body = (await get_token(harness, resource=SHOPPING)).json()
    claims = body["claims"]
    assert claims["aud"] == SHOPPING and claims["sub"] == "user-alice"
    assert {"shopping:read", "shopping:write"} <= set(claims["scope"].split())
    assert (await provider.counts()).get("token:refresh_token") == 1


async def test_resource_token_is_cached_in_the_session(harness: Harness, provider: OidcTestProvider) -> None:
    """A second request for the same resource token makes no provider call and sets no cookie."""
    await harness.sign_in("alice")
    first = await get_token(harness, resource=STORE)
    assert "logto=" in first.headers["set-cookie"]  # the refreshed session is written back
    await provider.reset_counts()
    second = await get_token(harness, resource=STORE)
    assert second.json()["token_suffix"] == first.json()["token_suffix"]
    assert "set-cookie" not in second.headers
    counts = await provider.counts()
    assert not counts.get("token:refresh_token") and not counts.get("jwks")


async def test_default_token_is_the_opaque_userinfo_token(
    harness: Harness, provider: OidcTestProvider
) -> None:
    """get_access_token() without resource is the opaque token from sign-in; no refresh needed."""
    await harness.sign_in("alice")
    await provider.reset_counts()
    body = (await get_token(harness)).json()
    assert "claims" not in body
    assert not (await provider.counts()).get("token:refresh_token")


async def test_fetch_user_info_keeps_every_claim(harness: Harness) -> None:
    """fetch_user_info returns custom_data, identities and organization_data (unknown claims kept)."""
    await harness.sign_in("alice")
    info = (await harness.client.get(f"{APP_ORIGIN}/userinfo")).json()
    assert info["sub"] == "user-alice"
    assert info["custom_data"] == {"plan": "pro"}
    assert "github" in info["identities"]
    assert {o["id"] for o in info["organization_data"]} == {"org-acme", "org-globex"}


async def test_expired_token_is_refreshed_transparently_once(
    harness: Harness, provider: OidcTestProvider, short_tokens: None
) -> None:
    """After expiry the next call refreshes with exactly one refresh grant and the user sees nothing."""
    await harness.sign_in("alice")
    before = (await get_token(harness, resource=SHOPPING, raw="1")).json()
    advance(harness, ACCESS_TTL + 1)
    await provider.reset_counts()
    after = await get_token(harness, resource=SHOPPING, raw="1")
    assert after.status_code == 200
    assert after.json()["token_suffix"] != before["token_suffix"]
    assert (await provider.counts()).get("token:refresh_token") == 1


async def test_refresh_storm_sends_one_refresh_grant(
    harness: Harness, provider: OidcTestProvider, short_tokens: None
) -> None:
    """120 concurrent requests of one session with an expired token: all succeed, one refresh grant."""
    await harness.sign_in("alice")
    await get_token(harness, resource=SHOPPING, raw="1")
    session_before = harness.client.cookies.get("logto", domain="app.test")
    advance(harness, ACCESS_TTL + 1)
    await provider.reset_counts()
    responses = await asyncio.gather(*(get_token(harness, resource=SHOPPING, raw="1") for _ in range(120)))
    assert [r.status_code for r in responses] == [200] * 120
    assert len({r.json()["token_suffix"] for r in responses}) == 1
    assert (await provider.counts()).get("token:refresh_token") == 1
    assert harness.client.cookies.get("logto", domain="app.test") != session_before
    # The grant is alive: the rotated refresh token still works later.
    advance(harness, 2 * ACCESS_TTL + 2)
    await provider.reset_counts()
    assert (await get_token(harness, resource=SHOPPING, raw="1")).status_code == 200
    assert (await provider.counts()).get("token:refresh_token") == 1


async def test_stale_cookie_reuses_the_recent_refresh(
    harness: Harness, provider: OidcTestProvider, short_tokens: None
) -> None:
    """A pre-refresh cookie reuses the refresh result instead of replaying the consumed token."""
    await harness.sign_in("alice")
    stale = harness.client.cookies.get("logto", domain="app.test")
    assert stale
    advance(harness, ACCESS_TTL + 1)
    await provider.reset_counts()
    first = await get_token(harness, resource=SHOPPING, raw="1")
    assert first.status_code == 200
    other = harness.browser()
    other.cookies.set("logto", stale, domain="app.test")
    second = await get_token(harness, client=other, resource=SHOPPING, raw="1")
    assert second.status_code == 200
    assert second.json()["token_suffix"] == first.json()["token_suffix"]
    assert "logto=" in second.headers["set-cookie"]  # the stale browser gets the new session
    assert (await provider.counts()).get("token:refresh_token") == 1
    # Nothing was revoked: the current session refreshes again later.
    advance(harness, 2 * ACCESS_TTL + 2)
    later = await get_token(harness, resource=SHOPPING, raw="1")
    assert later.status_code == 200, later.text


async def test_organization_token_for_a_member(harness: Harness) -> None:
    """get_organization_token_claims(org) has aud urn:logto:organization:<id> and the member's org scopes."""
    await harness.sign_in("alice")
    claims = (await get_token(harness, org="org-acme")).json()["claims"]
    assert claims["aud"] == "urn:logto:organization:org-acme"
    assert set(claims["scope"].split()) == {"read:members", "invite:members"}
    globex = (await get_token(harness, org="org-globex")).json()["claims"]
    assert set(globex["scope"].split()) == {"read:members"}


async def test_resource_token_inside_an_organization(harness: Harness) -> None:
    """get_access_token(resource, organization_id) is a resource JWT carrying organization_id."""
    await harness.sign_in("alice")
    claims = (await get_token(harness, resource=SHOPPING, org="org-acme")).json()["claims"]
    assert claims["aud"] == SHOPPING and claims["organization_id"] == "org-acme"


async def test_non_member_gets_403_and_keeps_the_session(harness: Harness) -> None:
    """A user outside the organization gets a clear 403 and stays signed in."""
    await harness.sign_in("bob")
    response = await get_token(harness, org="org-acme")
    assert response.status_code == 403
    assert "access_denied" in response.text
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 200


async def test_organizations_scope_missing_from_config_says_what_to_add(provider: OidcTestProvider) -> None:
    """Without the organizations scope configured, asking for an org token names the fix."""
    h = await make_harness(provider, scopes=["email"], resources=[SHOPPING])
    try:
        await h.sign_in("alice")
        response = await get_token(h, org="org-acme")
        assert response.status_code == 500
        assert "UserInfoScope.organizations" in response.text
    finally:
        await h.aclose()


async def test_revoked_grant_ends_the_session_with_401(
    harness: Harness, provider: OidcTestProvider, short_tokens: None
) -> None:
    """When the provider revoked the grant, the next refresh answers 401 and clears the cookies."""
    await harness.sign_in("alice")
    await provider.revoke_grants("user-alice")
    advance(harness, ACCESS_TTL + 1)
    response = await get_token(harness, resource=SHOPPING, raw="1")
    assert response.status_code == 401
    assert "session_expired" in response.text
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 401


async def test_provider_down_during_refresh_is_503_and_keeps_the_session(
    provider: OidcTestProvider, short_tokens: None
) -> None:
    """A refresh that cannot reach the provider answers 503; once it is back, the same session works."""
    transport = FaultyTransport()
    http = httpx.AsyncClient(transport=transport)
    h = await make_harness(provider, http_client=http)
    try:
        await h.sign_in("alice")
        advance(h, ACCESS_TTL + 1)
        transport.fault = refuse
        down = await get_token(h, resource=SHOPPING, raw="1")
        assert down.status_code == 503
        assert "Max-Age=0" not in down.headers.get("set-cookie", "")
        transport.fault = None
        back = await get_token(h, resource=SHOPPING, raw="1")
        assert back.status_code == 200
    finally:
        await h.aclose()
        await http.aclose()


async def test_refreshed_session_holds_the_rotated_refresh_token(harness: Harness) -> None:
    """After a refresh the session keeps the new refresh token, never the consumed one."""
    await harness.sign_in("alice")
    backend = harness.middleware.core.backend
    jar = browser_cookies(harness.client)
    before = await backend.load(jar)
    await get_token(harness, resource=SHOPPING)
    jar = browser_cookies(harness.client)
    after = await backend.load(jar)
    assert before is not None and after is not None
    assert after.refresh_token and after.refresh_token != before.refresh_token
    assert token_key(SHOPPING, None) in after.access_tokens


async def test_opaque_token_claims_give_a_clear_error(harness: Harness) -> None:
    """Asking for claims of the opaque default token explains what to do instead of crashing."""
    await harness.sign_in("alice")
    jar = browser_cookies(harness.client)
    session = await harness.middleware.core.backend.load(jar)
    ctx = LogtoContext(harness.middleware.core, {"type": "http", "headers": []}, session)
    with pytest.raises(LogtoError, match="pass resource="):
        await ctx.get_access_token_claims()


@pytest.fixture
async def no_rotation(provider: OidcTestProvider) -> AsyncIterator[None]:
    """The provider keeps the same refresh token across grants (LemonLDAP::NG's habit)."""
    await provider.set_rotation(False)
    try:
        yield
    finally:
        await provider.set_rotation(True)


async def test_without_rotation_each_refresh_gives_a_fresh_token(
    provider: OidcTestProvider, no_rotation: None
) -> None:
    """Short access tokens and a provider that does not rotate: each expiry refreshes again
    with the same refresh token and gets a fresh, unexpired token (never the remembered,
    expired one)."""
    await provider.set_ttl(AccessToken=5)
    h = await make_harness(provider)
    try:
        await h.sign_in("alice")
        offset = advance(h, 0)
        suffixes: list[str] = []
        for round_ in range(1, 4):
            offset[0] = round_ * 10.0  # past the last token's expiry, on our clock
            await provider.reset_counts()
            response = await get_token(h, resource=SHOPPING, raw="1")
            assert response.status_code == 200, response.text
            assert (await provider.counts()).get("token:refresh_token") == 1
            suffixes.append(response.json()["token_suffix"])
        assert len(set(suffixes)) == 3
    finally:
        await h.aclose()
        await provider.reset_ttl()

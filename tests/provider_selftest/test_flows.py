"""Sign-in, tokens, organizations and refresh rotation against the real test provider."""

from __future__ import annotations

import httpx
import pytest

from support.provider import OidcTestProvider, provider_login

from .helpers import (
    REDIRECT_URI,
    SHOPPING,
    exchange,
    sign_in,
    token_request,
    verify_jwt,
)

pytestmark = pytest.mark.anyio


async def test_discovery_issuer(provider: OidcTestProvider) -> None:
    """Discovery is served under /oidc with the Logto-shaped issuer and ES384."""
    async with httpx.AsyncClient() as client:
        config = (await client.get(provider.discovery_url)).json()
    assert config["issuer"] == provider.issuer == f"{provider.url}/oidc"
    assert config["token_endpoint"] == provider.token_endpoint
    assert config["end_session_endpoint"] == provider.end_session_endpoint
    assert "ES384" in config["id_token_signing_alg_values_supported"]
    assert config["code_challenge_methods_supported"] == ["S256"]


async def test_sign_in_and_code_exchange(
    provider: OidcTestProvider, client_id: str, browser: httpx.AsyncClient
) -> None:
    """Alice signs in; the code gives an ES384 ID token, a refresh token and an opaque token."""
    tokens = await exchange(provider, await sign_in(browser, provider, username="alice"))
    header, claims = await verify_jwt(provider, tokens["id_token"])
    assert header["alg"] == "ES384"
    assert claims["sub"] == "user-alice"
    assert claims["aud"] == client_id
    assert claims["iss"] == provider.issuer
    assert claims["organizations"] == ["org-acme", "org-globex"]
    assert claims["name"] == "Alice Liddell"
    assert claims["email_verified"] is True
    assert isinstance(claims["created_at"], int) and claims["created_at"] > 10**12
    assert "custom_data" not in claims and "organization_data" not in claims
    assert tokens["refresh_token"]
    assert tokens["access_token"].count(".") == 0  # opaque, for userinfo
    assert tokens["token_type"] == "Bearer"


async def test_userinfo_has_userinfo_only_claims(
    provider: OidcTestProvider, client_id: str, browser: httpx.AsyncClient
) -> None:
    """The opaque access token works at userinfo, which adds custom_data and organization_data."""
    tokens = await exchange(provider, await sign_in(browser, provider, username="alice"))
    async with httpx.AsyncClient() as client:
        response = await client.get(
            provider.userinfo_endpoint,
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
        )
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["custom_data"] == {"plan": "pro"}
    assert {"id": "org-acme", "name": "Acme Corp"}.items() <= info["organization_data"][0].items()
    assert info["email"] == "alice@example.com"


async def test_resource_and_organization_tokens(
    provider: OidcTestProvider, client_id: str, browser: httpx.AsyncClient
) -> None:
    """Refresh grants give a resource JWT, then an organization JWT, rotating the token."""
    tokens = await exchange(provider, await sign_in(browser, provider, username="alice"))

    response = await token_request(
        provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"], resource=SHOPPING
    )
    assert response.status_code == 200, response.text
    resource = response.json()
    header, claims = await verify_jwt(provider, resource["access_token"])
    assert header["alg"] == "ES384" and header["typ"] == "at+jwt"
    assert claims["aud"] == SHOPPING
    assert "shopping:read" in claims["scope"].split()
    assert resource["refresh_token"] != tokens["refresh_token"]
    assert resource["id_token"]

    response = await token_request(
        provider,
        grant_type="refresh_token",
        refresh_token=resource["refresh_token"],
        organization_id="org-acme",
    )
    assert response.status_code == 200, response.text
    organization = response.json()
    header, claims = await verify_jwt(provider, organization["access_token"])
    assert header["typ"] == "at+jwt"
    assert claims["aud"] == "urn:logto:organization:org-acme"
    assert set(claims["scope"].split()) == {"read:members", "invite:members"}
    assert claims["sub"] == "user-alice" and claims["client_id"] == client_id
    assert organization["scope"] == claims["scope"]
    assert organization["id_token"] and organization["refresh_token"]

    response = await token_request(
        provider,
        grant_type="refresh_token",
        refresh_token=organization["refresh_token"],
        organization_id="org-globex",
        resource=SHOPPING,
    )
    assert response.status_code == 200, response.text
    _, claims = await verify_jwt(provider, response.json()["access_token"])
    assert claims["aud"] == SHOPPING and claims["organization_id"] == "org-globex"


async def test_organization_token_denied_to_non_member(
    provider: OidcTestProvider, client_id: str, browser: httpx.AsyncClient
) -> None:
    """Bob is no member of org-acme: 403 access_denied, and his refresh token still works."""
    tokens = await exchange(provider, await sign_in(browser, provider, username="bob"))
    response = await token_request(
        provider,
        grant_type="refresh_token",
        refresh_token=tokens["refresh_token"],
        organization_id="org-acme",
    )
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "access_denied"
    response = await token_request(
        provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert response.status_code == 200, response.text


async def test_reused_refresh_token_revokes_grant(
    provider: OidcTestProvider, client_id: str, browser: httpx.AsyncClient
) -> None:
    """Replaying a consumed refresh token fails and revokes the grant: the rotated one dies too."""
    tokens = await exchange(provider, await sign_in(browser, provider, username="alice"))
    first = await token_request(provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert first.status_code == 200, first.text
    replay = await token_request(provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    rotated = await token_request(
        provider, grant_type="refresh_token", refresh_token=first.json()["refresh_token"]
    )
    assert rotated.status_code == 400
    assert rotated.json()["error"] == "invalid_grant"


async def test_counts_and_ttl(provider: OidcTestProvider, client_id: str, browser: httpx.AsyncClient) -> None:
    """Counts follow the requests; set_ttl(AccessToken=1) gives expires_in 1."""
    await provider.reset_counts()
    await provider.set_ttl(AccessToken=1)
    try:
        await browser.get(provider.discovery_url)
        tokens = await exchange(provider, await sign_in(browser, provider, username="alice"))
        assert tokens["expires_in"] == 1
        response = await token_request(
            provider, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        )
        assert response.json()["expires_in"] == 1
    finally:
        await provider.reset_ttl()
    counts = await provider.counts()
    assert counts["discovery"] == 1
    assert counts["authorization"] == 1
    assert counts["authorization_resume"] == 2  # after login, after consent
    assert counts["token:authorization_code"] == 1
    assert counts["token:refresh_token"] == 1
    assert counts["interaction"] == 3  # login page, form post, consent
    assert "userinfo" not in counts


async def test_wrong_password_and_sign_up_screen(
    provider: OidcTestProvider, client_id: str, browser: httpx.AsyncClient
) -> None:
    """A wrong password gets stuck on the form; first_screen=register shows Create account."""
    with pytest.raises(AssertionError, match="Invalid username or password"):
        await provider_login(
            browser,
            f"{provider.authorization_endpoint}?client_id={client_id}&response_type=code"
            f"&redirect_uri={REDIRECT_URI}&scope=openid&code_challenge_method=S256"
            "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            username="alice",
            password="nope",
        )
    url = (
        f"{provider.authorization_endpoint}?client_id={client_id}&response_type=code"
        f"&redirect_uri={REDIRECT_URI}&scope=openid&code_challenge_method=S256"
        "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        "&first_screen=register&login_hint=someone%40example.com"
    )
    page = await browser.get(url, follow_redirects=True)
    assert "<h1>Create account</h1>" in page.text
    assert 'value="someone@example.com"' in page.text

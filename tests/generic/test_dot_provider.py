"""Self-tests of the django-oauth-toolkit test provider, with httpx only (no logto_asgi code).

They pin down what the second provider really does, since the generic tests rely on it:
issuer ``{url}/o``, RS256 ID tokens typed ``JWT``, opaque access tokens, rotation switchable
at runtime, RFC 7662 introspection fields, ``invalid_scope`` for ``offline_access``, scoped
userinfo claims and RP-initiated logout without a prompt.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from support.dot import DotClient, DotProvider, dot_login, dot_logout, start_dot_provider

pytestmark = pytest.mark.anyio

APP = "http://app.test"
REDIRECT_URI = f"{APP}/callback"
SIGNED_OUT = f"{APP}/signed-out"


@dataclass
class Tokens:
    """A token response with the client it was issued to."""

    client: DotClient
    body: dict[str, Any]

    @property
    def refresh_token(self) -> str:
        token: str = self.body["refresh_token"]
        return token


@pytest.fixture
async def browser() -> AsyncIterator[httpx.AsyncClient]:
    """A fresh cookie jar playing the browser (nothing is served at http://app.test)."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        yield client


@pytest.fixture
async def client(dot_provider: DotProvider) -> DotClient:
    return await dot_provider.register_client(
        redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[SIGNED_OUT]
    )


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def _authorize(
    browser: httpx.AsyncClient,
    provider: DotProvider,
    client: DotClient,
    *,
    scope: str = "openid profile email",
    username: str = "alice",
    nonce: str = "nonce-1",
) -> tuple[str, str]:
    """Signs in with PKCE; returns (callback URL, code verifier)."""
    verifier, challenge = _pkce()
    params = {
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": scope,
        "state": "state-1",
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    callback = await dot_login(browser, f"{provider.authorization_endpoint}?{urlencode(params)}", username)
    return callback, verifier


async def _token(provider: DotProvider, client: DotClient, **form: str) -> httpx.Response:
    secret = client["client_secret"]
    assert secret is not None
    async with httpx.AsyncClient(timeout=10.0) as http:
        return await http.post(provider.token_endpoint, data=form, auth=(client["client_id"], secret))


async def _sign_in(
    browser: httpx.AsyncClient, provider: DotProvider, client: DotClient, **options: str
) -> Tokens:
    callback, verifier = await _authorize(browser, provider, client, **options)
    assert callback.startswith(f"{REDIRECT_URI}?"), callback
    query = _query(callback)
    assert query["state"] == ["state-1"]
    response = await _token(
        provider,
        client,
        grant_type="authorization_code",
        code=query["code"][0],
        redirect_uri=REDIRECT_URI,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    return Tokens(client, response.json())


async def _refresh(provider: DotProvider, tokens: Tokens, refresh_token: str | None = None) -> httpx.Response:
    token = refresh_token if refresh_token is not None else tokens.refresh_token
    return await _token(provider, tokens.client, grant_type="refresh_token", refresh_token=token)


async def _verify(provider: DotProvider, id_token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    async with httpx.AsyncClient(timeout=10.0) as http:
        jwks = (await http.get(provider.jwks_uri)).json()
    decoded = jwt.decode(id_token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    return dict(decoded.header), dict(decoded.claims)


async def _introspect(provider: DotProvider, token: str, auth: tuple[str, str] | None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10.0, auth=auth) as http:
        return await http.post(provider.introspection_endpoint, data={"token": token})


async def _resource_server_auth(provider: DotProvider) -> tuple[str, str]:
    server = await provider.register_resource_server()
    assert server["client_secret"] is not None
    return server["client_id"], server["client_secret"]


# -- discovery ---------------------------------------------------------------------------------


async def test_discovery(dot_provider: DotProvider) -> None:
    """DOT derives the issuer {url}/o (no trailing slash); RS256; S256 only; end-session."""
    async with httpx.AsyncClient() as http:
        config = (await http.get(dot_provider.discovery_url)).json()
        metadata = (await http.get(dot_provider.oauth_metadata_url)).json()
    assert config["issuer"] == dot_provider.issuer == f"{dot_provider.url}/o"
    assert config["id_token_signing_alg_values_supported"] == ["RS256", "HS256"]
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["scopes_supported"] == ["openid", "profile", "email"]
    assert config["end_session_endpoint"] == dot_provider.end_session_endpoint
    assert config["token_endpoint"] == dot_provider.token_endpoint
    assert config["userinfo_endpoint"] == dot_provider.userinfo_endpoint
    assert config["jwks_uri"] == dot_provider.jwks_uri
    assert set(config["claims_supported"]) == {
        "sub",
        "email",
        "email_verified",
        "name",
        "given_name",
        "family_name",
        "preferred_username",
    }
    # Not advertised in OIDC discovery; introspection/revocation only in the RFC 8414 document.
    for absent in (
        "introspection_endpoint",
        "revocation_endpoint",
        "frontchannel_logout_supported",
        "backchannel_logout_supported",
        "authorization_response_iss_parameter_supported",
    ):
        assert absent not in config
    assert metadata["issuer"] == dot_provider.issuer
    assert metadata["introspection_endpoint"] == dot_provider.introspection_endpoint
    assert metadata["revocation_endpoint"] == dot_provider.revocation_endpoint


async def test_jwks_has_one_rsa_key(dot_provider: DotProvider) -> None:
    async with httpx.AsyncClient() as http:
        keys = (await http.get(dot_provider.jwks_uri)).json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA"
    assert keys[0]["alg"] == "RS256"
    assert keys[0]["use"] == "sig"
    assert keys[0]["kid"]


# -- sign-in and tokens ------------------------------------------------------------------------


async def test_code_flow_with_pkce(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """The code gives an RS256 ID token typed JWT, an opaque access token and a refresh token."""
    await dot_provider.reset_counts()
    tokens = await _sign_in(browser, dot_provider, client)
    body = tokens.body
    assert set(body) == {"access_token", "expires_in", "token_type", "scope", "refresh_token", "id_token"}
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email"
    assert "." not in body["access_token"]  # opaque
    assert body["refresh_token"]
    header, claims = await _verify(dot_provider, body["id_token"])
    assert header["typ"] == "JWT"
    assert header["alg"] == "RS256"
    assert claims["iss"] == dot_provider.issuer
    assert claims["aud"] == client["client_id"]
    assert claims["nonce"] == "nonce-1"
    assert claims["email"] == "alice@example.com"
    assert claims["email_verified"] is True
    assert claims["name"] == "Alice Liddell"
    assert claims["given_name"] == "Alice"
    assert claims["family_name"] == "Liddell"
    assert claims["preferred_username"] == "alice"
    assert claims["sub"].isdigit()  # DOT's sub is the Django user's primary key
    assert {"at_hash", "auth_time", "jti", "iat", "exp"} <= set(claims)
    assert "sid" not in claims
    counts = await dot_provider.counts()
    assert counts["token:authorization_code"] == 1
    assert counts["authorize"] == 2  # before and after the login form
    assert "token:refresh_token" not in counts


async def test_approval_page_is_approved(dot_provider: DotProvider, browser: httpx.AsyncClient) -> None:
    """Without skip_authorization DOT shows its consent form; dot_login submits allow."""
    client = await dot_provider.register_client(redirect_uris=[REDIRECT_URI], skip_authorization=False)
    await dot_provider.reset_counts()
    tokens = await _sign_in(browser, dot_provider, client)
    assert tokens.body["scope"] == "openid profile email"
    assert (await dot_provider.counts())["authorize"] == 3  # before login, after it, the consent POST


async def test_wrong_password_is_reported(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    _, challenge = _pkce()
    params = {
        "client_id": client["client_id"],
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = f"{dot_provider.authorization_endpoint}?{urlencode(params)}"
    with pytest.raises(AssertionError, match="sign-in stuck"):
        await dot_login(browser, url, "alice", "not-her-password")


async def test_id_token_claims_follow_scopes(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """Without profile, the ID token has email but no name (DOT's oidc_claim_scope)."""
    tokens = await _sign_in(browser, dot_provider, client, scope="openid email", username="bob")
    _, claims = await _verify(dot_provider, tokens.body["id_token"])
    assert claims["email"] == "bob@example.com"
    assert not {"name", "given_name", "family_name", "preferred_username"} & set(claims)


async def test_refresh_with_rotation(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """Rotation on: a new refresh token, the old one refused; a new ID token without nonce."""
    tokens = await _sign_in(browser, dot_provider, client)
    await dot_provider.reset_counts()
    response = await _refresh(dot_provider, tokens)
    assert response.status_code == 200, response.text
    refreshed = response.json()
    assert refreshed["refresh_token"] != tokens.refresh_token
    assert refreshed["access_token"] != tokens.body["access_token"]
    _, claims = await _verify(dot_provider, refreshed["id_token"])
    _, first = await _verify(dot_provider, tokens.body["id_token"])
    assert "nonce" not in claims
    assert claims["jti"] != first["jti"]
    assert claims["auth_time"] == first["auth_time"]
    reused = await _refresh(dot_provider, tokens)
    assert reused.status_code == 400
    assert reused.json() == {"error": "invalid_grant"}
    assert (await dot_provider.counts())["token:refresh_token"] == 2


async def test_refresh_without_rotation(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """set_rotation(False) takes effect at once: the same refresh token comes back, reusable."""
    tokens = await _sign_in(browser, dot_provider, client)
    await dot_provider.set_rotation(False)
    try:
        first = await _refresh(dot_provider, tokens)
        second = await _refresh(dot_provider, tokens)
    finally:
        await dot_provider.set_rotation(True)
    assert first.status_code == second.status_code == 200
    assert first.json()["refresh_token"] == second.json()["refresh_token"] == tokens.refresh_token
    assert first.json()["access_token"] != second.json()["access_token"]
    rotated = await _refresh(dot_provider, tokens)  # rotation back on
    assert rotated.status_code == 200
    assert rotated.json()["refresh_token"] != tokens.refresh_token


async def test_introspection(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """Basic credentials of a resource server: RFC 7662 fields, no sub and no aud."""
    tokens = await _sign_in(browser, dot_provider, client)
    auth = await _resource_server_auth(dot_provider)
    await dot_provider.reset_counts()
    active = await _introspect(dot_provider, tokens.body["access_token"], auth)
    assert active.status_code == 200
    body = active.json()
    assert set(body) == {"active", "scope", "exp", "client_id", "username"}
    assert body["active"] is True
    assert body["scope"] == "openid profile email"
    assert body["client_id"] == client["client_id"]
    assert body["username"] == "alice"
    assert isinstance(body["exp"], int)
    garbage = await _introspect(dot_provider, "not-a-token", auth)
    assert garbage.status_code == 200
    assert garbage.json() == {"active": False}
    anonymous = await _introspect(dot_provider, tokens.body["access_token"], None)
    assert anonymous.status_code == 403
    wrong = await _introspect(dot_provider, tokens.body["access_token"], (auth[0], "wrong"))
    assert wrong.status_code == 403
    assert (await dot_provider.counts())["introspect"] == 4


async def test_offline_access_is_invalid_scope(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """offline_access is not a DOT scope: after the login, a redirect with error=invalid_scope."""
    callback, _ = await _authorize(browser, dot_provider, client, scope="openid offline_access")
    assert callback == f"{REDIRECT_URI}?error=invalid_scope&state=state-1"


async def test_userinfo(dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient) -> None:
    tokens = await _sign_in(browser, dot_provider, client)
    await dot_provider.reset_counts()
    async with httpx.AsyncClient(timeout=10.0) as http:
        response = await http.get(
            dot_provider.userinfo_endpoint, headers={"authorization": f"Bearer {tokens.body['access_token']}"}
        )
        refused = await http.get(dot_provider.userinfo_endpoint, headers={"authorization": "Bearer nope"})
    assert response.status_code == 200
    _, id_claims = await _verify(dot_provider, tokens.body["id_token"])
    assert response.json() == {
        "sub": id_claims["sub"],
        "email": "alice@example.com",
        "email_verified": True,
        "name": "Alice Liddell",
        "given_name": "Alice",
        "family_name": "Liddell",
        "preferred_username": "alice",
    }
    assert refused.status_code == 401
    assert (await dot_provider.counts())["userinfo"] == 2


# -- logout ------------------------------------------------------------------------------------


async def test_rp_initiated_logout_without_prompt(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """id_token_hint of the signed-in user: no prompt; session ended and tokens deleted."""
    await dot_provider.revoke_all("alice")
    tokens = await _sign_in(browser, dot_provider, client)
    assert await dot_provider.active_sessions("alice") == 1
    await dot_provider.reset_counts()
    params = {
        "id_token_hint": tokens.body["id_token"],
        "post_logout_redirect_uri": SIGNED_OUT,
        "state": "bye",
    }
    landed = await dot_logout(browser, f"{dot_provider.end_session_endpoint}?{urlencode(params)}")
    assert landed == f"{SIGNED_OUT}?state=bye"
    assert await dot_provider.active_sessions("alice") == 0
    assert (await dot_provider.counts())["logout"] == 1  # one GET: no confirm page
    auth = await _resource_server_auth(dot_provider)
    assert (await _introspect(dot_provider, tokens.body["access_token"], auth)).json() == {"active": False}
    assert (await _refresh(dot_provider, tokens)).status_code == 400


async def test_logout_without_hint_prompts(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """Without id_token_hint DOT asks; dot_logout submits the confirm form."""
    await dot_provider.revoke_all("bob")
    await _sign_in(browser, dot_provider, client, username="bob")
    assert await dot_provider.active_sessions("bob") == 1
    await dot_provider.reset_counts()
    params = {"client_id": client["client_id"], "post_logout_redirect_uri": SIGNED_OUT}
    landed = await dot_logout(browser, f"{dot_provider.end_session_endpoint}?{urlencode(params)}")
    assert landed == SIGNED_OUT
    assert await dot_provider.active_sessions("bob") == 0
    assert (await dot_provider.counts())["logout"] == 2  # the page, then the confirm POST


# -- load and variants -------------------------------------------------------------------------


async def test_thirty_concurrent_sign_ins(
    dot_provider: DotProvider, client: DotClient, browser: httpx.AsyncClient
) -> None:
    """30 authorization requests and code exchanges at once (SQLite writes in parallel)."""
    await _sign_in(browser, dot_provider, client)  # one login; the session serves the rest
    results: list[Tokens] = []

    async def one() -> None:
        results.append(await _sign_in(browser, dot_provider, client))

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for _ in range(30):
                group.start_soon(one)
    assert len({tokens.body["access_token"] for tokens in results}) == 30


async def test_trailing_slash_issuer_variant() -> None:
    """issuer_trailing_slash=True: discovery, ID tokens and logout all use {url}/o/."""
    with start_dot_provider(issuer_trailing_slash=True) as provider:
        async with httpx.AsyncClient(timeout=10.0) as http:
            config = (await http.get(provider.discovery_url)).json()
            assert config["issuer"] == provider.issuer == f"{provider.url}/o/"
            assert config["token_endpoint"] == provider.token_endpoint
            client = await provider.register_client(
                redirect_uris=[REDIRECT_URI], post_logout_redirect_uris=[SIGNED_OUT]
            )
            tokens = await _sign_in(http, provider, client)
            _, claims = await _verify(provider, tokens.body["id_token"])
            assert claims["iss"] == f"{provider.url}/o/"
            params = {"id_token_hint": tokens.body["id_token"], "post_logout_redirect_uri": SIGNED_OUT}
            landed = await dot_logout(http, f"{provider.end_session_endpoint}?{urlencode(params)}")
            assert landed == SIGNED_OUT
            assert await provider.active_sessions("alice") == 0
    assert not provider.running

"""Helpers for the provider selftests: a hand-made PKCE sign-in and token requests."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from support.provider import OidcTestProvider, provider_login

APP = "http://app.test"
REDIRECT_URI = f"{APP}/callback"
CLIENT_ID = "selftest-app"
CLIENT_SECRET = "selftest-secret"
SHOPPING = "https://shopping.example.com/api"
ORGANIZATIONS_RESOURCE = "urn:logto:resource:organizations"
ORGANIZATIONS_SCOPE = "urn:logto:scope:organizations"
DEFAULT_SCOPES = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "custom_data",
    ORGANIZATIONS_SCOPE,
    "shopping:read",
    "shopping:write",
)


@dataclass
class SignIn:
    code: str
    verifier: str


async def sign_in(
    browser: httpx.AsyncClient,
    provider: OidcTestProvider,
    *,
    username: str,
    scopes: tuple[str, ...] = DEFAULT_SCOPES,
    resources: tuple[str, ...] = (SHOPPING, ORGANIZATIONS_RESOURCE),
    **extra: str,
) -> SignIn:
    """Runs the authorization request with PKCE by hand and returns the code."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    state = secrets.token_urlsafe(12)
    params: list[tuple[str, str]] = [
        ("client_id", CLIENT_ID),
        ("redirect_uri", REDIRECT_URI),
        ("response_type", "code"),
        ("scope", " ".join(scopes)),
        ("state", state),
        ("prompt", "consent"),
        ("code_challenge", challenge.rstrip(b"=").decode()),
        ("code_challenge_method", "S256"),
        *(("resource", resource) for resource in resources),
        *extra.items(),
    ]
    url = f"{provider.authorization_endpoint}?{urlencode(params)}"
    response = await provider_login(browser, url, username=username, password=f"{username}-password")
    assert str(response.request.url).startswith(REDIRECT_URI)
    query = parse_qs(urlsplit(str(response.request.url)).query)
    assert query["state"] == [state], query
    return SignIn(code=query["code"][0], verifier=verifier)


async def token_request(provider: OidcTestProvider, **form: str) -> httpx.Response:
    """A token request authenticated with client_secret_basic."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        return await client.post(provider.token_endpoint, data=form, auth=(CLIENT_ID, CLIENT_SECRET))


async def exchange(provider: OidcTestProvider, signed_in: SignIn) -> dict[str, Any]:
    response = await token_request(
        provider,
        grant_type="authorization_code",
        code=signed_in.code,
        code_verifier=signed_in.verifier,
        redirect_uri=REDIRECT_URI,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def verify_jwt(provider: OidcTestProvider, token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Verifies a JWT against the provider's JWKS; returns (header, claims)."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        jwks = (await client.get(provider.jwks_uri)).json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["ES384", "RS256"])
    return dict(decoded.header), dict(decoded.claims)

"""The world every target runs in: a fixed clock, fixed keys, an in-process provider
(``httpx.MockTransport``) and the middlewares configured against it.

Everything is deterministic (keys derived from fixed strings, a fixed ``NOW``) so that a
crash input written by one run reproduces in any other: ``python -m fuzz NAME FILE``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from joserfc.jwk import ECKey, OKPKey

from logto_asgi import BearerAuthMiddleware, InProcessCoordination, LogtoConfig, LogtoMiddleware
from logto_asgi.sessions import CookieStore

from ._harness import complete, ok_app

NOW = 1_900_000_000.0
ORIGIN = "https://app.fuzz.test"
ENDPOINT = "https://id.fuzz.test"
ISSUER = f"{ENDPOINT}/oidc"
AUTHORIZE = f"{ISSUER}/auth"
APP_ID = "fuzz-app"
API = "https://api.fuzz.test"
COOKIE_SECRET = "fuzz-cookie-secret-not-for-production-" + "0" * 16
#: A well-formed state (``[A-Za-z0-9_-]{20,128}``) and its attempt's nonce.
STATE = "fuzzState_0123456789abcdefghijklmnop"
NONCE = "fuzzNonce_0123456789abcdefghijklmnop"
SUB = "user-1"

# Keys -----------------------------------------------------------------------------------


def _scalar(label: str) -> int:
    return int.from_bytes(hashlib.sha256(f"logto-asgi fuzz {label}".encode()).digest(), "big")


@dataclass(frozen=True)
class SigningKey:
    """A private key of the provider, the JWS ``alg`` it signs with and its ``kid``."""

    alg: str
    kid: str | None
    private: Any  # a cryptography private key
    public_jwk: Mapping[str, Any]

    def sign(self, signing_input: bytes) -> bytes:
        if self.alg == "EdDSA":
            return bytes(self.private.sign(signing_input))
        digest = {"ES256": hashes.SHA256(), "ES384": hashes.SHA384()}[self.alg]
        size = {"ES256": 32, "ES384": 48}[self.alg]
        r, s = decode_dss_signature(self.private.sign(signing_input, ec.ECDSA(digest)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def _ec(alg: str, curve: ec.EllipticCurve, kid: str) -> SigningKey:
    private = ec.derive_private_key(_scalar(kid) % (2**200), curve)
    jwk = ECKey.import_key(private.public_key(), {"kid": kid, "use": "sig"}).as_dict(private=False)
    return SigningKey(alg, kid, private, jwk)


def _ed25519() -> SigningKey:
    private = ed25519.Ed25519PrivateKey.from_private_bytes(_scalar("ed25519").to_bytes(32, "big"))
    # No kid: tokens it signs make the validators try every key.
    jwk = OKPKey.import_key(private.public_key()).as_dict(private=False)
    return SigningKey("EdDSA", None, private, jwk)


EC256 = _ec("ES256", ec.SECP256R1(), "ec-256")
EC384 = _ec("ES384", ec.SECP384R1(), "ec-384")
ED25519 = _ed25519()
SIGNING_KEYS = (EC256, EC384, ED25519)
#: A 2048-bit RSA public key with no private half anywhere: RS256/PS256 tokens naming it
#: can only fail, which is what alg/key confusion needs.
RSA_PUBLIC = {
    "kty": "RSA",
    "kid": "rsa-1",
    "e": "AQAB",
    "n": (
        "tigs39NhQk8hk1gNSocW9uq38R_oDbcghXdwlmi_r50wJR7lY1zSdbl145H-va4Tjy1m-lXwkeJCOXuj6jJOAbNH4v"
        "BscspQXrSl5YB0vlP88vswoE3Sp9pNDOW5tNL1JgMbnmXnQXA8M1iSmEmSQkVL-S_AzRLtEJwsmlYihD7-faQ6R3yS"
        "Z-hO2jZM6m8E5h8Jm-Tn9XEqsFYv0kJj0pqm_7ZM-nKqOMp1J5ZkGFMfAX4MYGLcj21lNkF_0MTup1F5FeZ6oOHOfF"
        "fS2f5ys3d91xVEIJJ6zyrGvSbwd3WvsZJEe2bJ2JBzsiQOhGRquLsgJYb4sy89fda8rr4NaQ"
    ),
}
JWKS: dict[str, Any] = {"keys": [*(dict(k.public_jwk) for k in SIGNING_KEYS), RSA_PUBLIC]}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64(part: str) -> bytes | None:
    """Lenient base64url decoding for mutators (``None`` when it is not base64)."""
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, TypeError):
        return None


def sign_raw(header: bytes, payload: bytes, key: SigningKey) -> str:
    """A compact JWS over exactly these header and payload bytes (JSON or not)."""
    signing_input = f"{b64(header)}.{b64(payload)}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{b64(key.sign(signing_input))}"


def jwt(claims: Mapping[str, Any], key: SigningKey = EC256, **header: Any) -> str:
    """A token signed by ``key`` (header: its ``alg`` and ``kid`` unless overridden)."""
    head: dict[str, Any] = {"alg": key.alg, "typ": "JWT"}
    if key.kid:
        head["kid"] = key.kid
    head.update(header)
    return sign_raw(json.dumps(head).encode(), json.dumps(claims).encode(), key)


def id_claims(**overrides: Any) -> dict[str, Any]:
    """ID token claims valid at ``NOW`` for ``APP_ID``; an override of ``None`` drops."""
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": APP_ID,
        "sub": SUB,
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
        "nonce": NONCE,
        "name": "Fuzz User",
        "sid": "sid-1",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def access_claims(**overrides: Any) -> dict[str, Any]:
    """JWT access token claims valid at ``NOW`` for ``API``."""
    base = {"aud": API, "scope": "read write", "client_id": APP_ID, "nonce": None, "name": None, "sid": None}
    return id_claims(**{**base, **overrides})


def logout_claims(**overrides: Any) -> dict[str, Any]:
    """Back-channel logout token claims (OIDC Back-Channel Logout 2.4)."""
    base: dict[str, Any] = {
        "jti": "jti-1",
        "events": {"http://schemas.openid.net/event/backchannel-logout": {}},
        "exp": int(NOW) + 120,
        "nonce": None,
        "name": None,
    }
    return id_claims(**{**base, **overrides})


# The provider -----------------------------------------------------------------------


DISCOVERY: dict[str, Any] = {
    "issuer": ISSUER,
    "authorization_endpoint": AUTHORIZE,
    "token_endpoint": f"{ISSUER}/token",
    "jwks_uri": f"{ISSUER}/jwks",
    "userinfo_endpoint": f"{ISSUER}/me",
    "end_session_endpoint": f"{ISSUER}/session/end",
    "revocation_endpoint": f"{ISSUER}/token/revocation",
}


def token_response(nonce: str) -> dict[str, Any]:
    """A successful code exchange for the attempt with ``nonce``."""
    return {
        "access_token": "opaque-access-token",
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "openid profile offline_access",
        "refresh_token": "a-refresh-token",
        "id_token": jwt(id_claims(nonce=nonce)),
    }


def provider(request: httpx.Request) -> httpx.Response:
    """Discovery, JWKS, and a token endpoint that accepts exactly the codes
    ``good.<nonce>`` (and answers ``invalid_grant`` to everything else)."""
    path = request.url.path
    if path.endswith("/openid-configuration"):
        return httpx.Response(200, json=DISCOVERY)
    if path.endswith("/jwks"):
        return httpx.Response(200, json=JWKS)
    if path.endswith("/token"):
        form = dict(parse_qsl(request.content.decode()))
        code = form.get("code", "")
        if form.get("grant_type") == "authorization_code" and code.startswith("good."):
            return httpx.Response(200, json=token_response(code.removeprefix("good.")))
        return httpx.Response(400, json={"error": "invalid_grant"})
    if path.endswith("/revocation"):
        return httpx.Response(200)
    return httpx.Response(404)


def http_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.MockTransport(provider))


def clock() -> float:
    return NOW


def logto_middleware(**overrides: Any) -> LogtoMiddleware:
    """``LogtoMiddleware`` around ``ok_app``, cookie sessions in 500-byte chunks, the
    coordination in memory, discovery and keys already fetched."""
    options: dict[str, Any] = {
        "endpoint": ENDPOINT,
        "app_id": APP_ID,
        "app_secret": "fuzz-app-secret",
        "cookie_secret": COOKIE_SECRET,
        "base_url": ORIGIN,
        "post_sign_in_redirect": "/home",
        "store": CookieStore(chunk_size=500),
        "coordination": InProcessCoordination(),
        "http_client": http_client(),
    }
    options.update(overrides)
    middleware = LogtoMiddleware(ok_app, config=LogtoConfig(**options), clock=clock)
    complete(middleware.core.provider.signing_keys(None))
    return middleware


def bearer_middleware() -> BearerAuthMiddleware:
    """``BearerAuthMiddleware`` for ``API`` (organization tokens too), keys fetched."""
    middleware = BearerAuthMiddleware(
        ok_app,
        endpoint=ENDPOINT,
        audience=API,
        organization_tokens=True,
        http_client=http_client(),
        clock=clock,
    )
    complete(middleware.provider.signing_keys(None))
    return middleware


def set_cookies(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """The cookies a list of ``Set-Cookie`` headers sets (name -> value)."""
    cookies: dict[str, str] = {}
    for name, raw in headers:
        if name.lower() == b"set-cookie":
            pair = raw.decode("latin-1").split(";", 1)[0]
            key, _, value = pair.partition("=")
            cookies[key] = value
    return cookies


def cookie_header(cookies: Mapping[str, str] | list[tuple[str, str]]) -> str:
    pairs = list(cookies.items()) if isinstance(cookies, Mapping) else cookies
    return "; ".join(f"{name}={value}" for name, value in pairs)

"""Forge JWTs for unit tests: a key pair of our own and helpers to sign anything with it,
including what a real provider never sends (``alg: none``, HS256 with the public key)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

ISSUER = "https://id.example.com/oidc"
CLIENT_ID = "test-app"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Signer:
    """A signing key and its public JWKS."""

    def __init__(self, kind: str = "EC", kid: str | None = "key-1") -> None:
        params: Any = {"kid": kid} if kid else {}
        if kind == "EC":
            self.key: Any = ECKey.generate_key("P-384", parameters=params)
            self.alg = "ES384"
        else:
            self.key = RSAKey.generate_key(2048, parameters=params)
            self.alg = "RS256"
        self.kid = kid

    def jwk(self) -> dict[str, Any]:
        return dict(self.key.as_dict(private=False))

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        head: dict[str, Any] = {"alg": self.alg, "typ": "JWT"}
        if self.kid:
            head["kid"] = self.kid
        head.update(header)
        return jwt.encode(head, claims, self.key, algorithms=[head["alg"]])


def with_overrides(claims: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """``claims`` changed by ``overrides``; an override of ``None`` removes the claim."""
    result = dict(claims)
    for key, value in overrides.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def id_claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "user-1",
        "iat": now,
        "exp": now + 3600,
        "nonce": "n-0123456789",
        "name": "Test User",
    }
    return with_overrides(claims, overrides)


def mock_provider(keys: list[Any], **discovery: Any) -> httpx.MockTransport:
    """A provider at ISSUER serving only discovery (plus ``discovery`` entries) and this JWKS."""
    document = {
        "issuer": ISSUER,
        "authorization_endpoint": f"{ISSUER}/auth",
        "token_endpoint": f"{ISSUER}/token",
        "jwks_uri": f"{ISSUER}/jwks",
        **discovery,
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(200, json=document)
        if request.url.path.endswith("/jwks"):
            return httpx.Response(200, json={"keys": keys})
        return httpx.Response(404)

    return httpx.MockTransport(handler)


def unsigned(claims: dict[str, Any]) -> str:
    """``alg: none``."""
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{b64(json.dumps(claims).encode())}."


def hs256_with_public_key(claims: dict[str, Any], public_jwk: dict[str, Any]) -> str:
    """The classic confusion attack: HMAC keyed with the public key's JSON."""
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": public_jwk.get("kid")}).encode())
    payload = b64(json.dumps(claims).encode())
    secret = json.dumps(public_jwk).encode()
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64(mac)}"


def flip_signature_bit(token: str) -> str:
    head, payload, sig = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
    raw[len(raw) // 2] ^= 0x01
    return f"{head}.{payload}.{b64(bytes(raw))}"

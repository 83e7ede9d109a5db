"""JWTs: the ID token of a sign-in, a session's JWT access token, a back-channel logout
token — each through the validator its request path calls.

Input: a compact token (UTF-8; invalid bytes become lone surrogates, as a JSON string from
the provider could carry). It goes through ``TokenService.validate_id_token`` (the
callback; the session it makes is encoded and decoded again), ``TokenService.
access_token_claims`` (``get_access_token_claims``), and the back-channel logout route
(a form POST, as the provider sends it), against the provider's real JWKS.

Allowed outcomes: claims, ``TokenValidationError`` (any check), or the ``LogtoError``
``access_token_claims`` documents for an opaque token; the logout route's 200 or 400.
Anything else is a crash.

The mutator re-signs what it mutates with the provider's keys, so the claim checks and
the models see hostile claims behind a valid signature.
"""

from __future__ import annotations

import itertools
import json
import random
from typing import Any
from urllib.parse import quote_from_bytes

from logto_asgi.errors import LogtoError, TokenValidationError
from logto_asgi.flows import TokenResponse
from logto_asgi.models import IdTokenClaims
from logto_asgi.sessions import MemoryStore
from logto_asgi.sessions.base import Session

from . import _mutate
from ._fixtures import (
    API,
    APP_ID,
    EC256,
    EC384,
    ED25519,
    NONCE,
    NOW,
    RSA_PUBLIC,
    SIGNING_KEYS,
    access_claims,
    b64,
    id_claims,
    jwt,
    logout_claims,
    logto_middleware,
    sign_raw,
    unb64,
)
from ._harness import HarnessError, Target, complete, http_scope, request

ORGANIZATION = "urn:logto:organization:org-1"
LOGOUT_PATH = "/backchannel-logout"


def token_seeds() -> list[str]:
    """Genuine tokens of each kind and key, and the classic forgeries."""
    genuine = jwt(access_claims(), EC384, typ="at+jwt")
    head, payload, signature = genuine.split(".")
    return [
        jwt(id_claims()),
        jwt(id_claims(aud=[APP_ID, "other"], azp=APP_ID), EC384),
        jwt(id_claims(), ED25519),
        genuine,
        jwt(access_claims(aud=ORGANIZATION, organization_id="org-1"), typ="at+jwt"),
        jwt(access_claims(nbf=int(NOW) + 3600, exp=int(NOW) - 3600), typ="at+jwt"),
        jwt(access_claims(), ED25519),  # typ JWT: refused as a bearer token, fine for a session
        jwt(id_claims(), EC256, typ="at+jwt"),  # an ID token typed as an access token
        jwt(logout_claims(), ED25519, typ="logout+jwt"),
        jwt(logout_claims(sub=None), EC256),  # typ JWT, only a sid
        jwt(logout_claims(), EC384, typ="at+jwt"),  # an access token's type: refused
        jwt(id_claims(), EC256, kid="unknown-kid"),
        jwt(id_claims(), EC256, kid=RSA_PUBLIC["kid"], alg="RS256"),
        f"{b64(json.dumps({'alg': 'none'}).encode())}.{payload}.",
        f"{b64(json.dumps({'alg': 'HS256', 'kid': 'ec-256'}).encode())}.{payload}.{signature}",
        f"{head}.{payload}",
        f"{head}.{payload}.{signature}.{signature}",
        "e30.e30.e30",
        "",
    ]


def mutate_token(token: str, rng: random.Random, max_size: int) -> str:
    """``token`` mutated: bytes, or its header or claims mutated and signed again."""
    parts = token.split(".")
    header = unb64(parts[0]) if len(parts) == 3 else None
    payload = unb64(parts[1]) if len(parts) == 3 else None
    if header is None or payload is None or rng.random() < 0.3:
        data = token.encode("utf-8", "surrogateescape")
        return _mutate.raw(data, max_size).decode("utf-8", "surrogateescape")
    key = rng.choice(SIGNING_KEYS)
    if rng.random() < 0.5:
        header = _mutate.plaintext(header, rng, max_size)
    else:
        payload = _mutate.plaintext(payload, rng, max_size)
    if rng.random() < 0.7:  # mostly name the key that signs, so the claims are reached
        try:
            fields: Any = json.loads(header)
        except ValueError:
            fields = None
        if isinstance(fields, dict):
            fields["alg"] = key.alg
            if key.kid:
                fields["kid"] = key.kid
            else:
                fields.pop("kid", None)
            header = _mutate.dumps(fields)
    return sign_raw(header, payload, key)


def build() -> Target:
    core = logto_middleware().core
    tokens = core.tokens
    # Back-channel logout needs a server-side store. Its clock jumps a day per read, so
    # nothing (a logout token's jti) outlives the input that stored it.
    ticks = itertools.count(step=86_400)
    backchannel = logto_middleware(
        store=MemoryStore(clock=lambda: float(next(ticks))), backchannel_logout_path=LOGOUT_PATH
    )
    form = [(b"content-type", b"application/x-www-form-urlencoded")]
    opaque = TokenResponse("opaque-access-token", NOW + 3600, "openid", None, "a-refresh-token")

    def id_token(token: str) -> None:
        try:
            claims = complete(tokens.validate_id_token(token, nonce=NONCE))
        except TokenValidationError:
            return
        IdTokenClaims(claims)
        session = tokens.new_session(id_token=token, claims=claims, tokens=opaque, now=NOW)
        Session.from_json(session.to_json())

    def access_token(token: str) -> None:
        for organization in (None, "org-1"):
            try:
                claims = complete(
                    tokens.access_token_claims(token, API if organization is None else None, organization)
                )
            except LogtoError:  # TokenValidationError, or the opaque-token error
                continue
            claims.scopes, claims.organization_id  # noqa: B018 - what a handler reads

    def logout_token(token: bytes) -> None:
        body = b"logout_token=" + quote_from_bytes(token, safe="").encode("ascii")
        answer = request(backchannel, http_scope(LOGOUT_PATH, method="POST", headers=form), body)
        if answer.status not in (200, 400):
            raise HarnessError(f"the back-channel logout answered HTTP {answer.status}: {answer.body!r}")

    def test_one_input(data: bytes) -> None:
        token = data.decode("utf-8", "surrogateescape")
        id_token(token)
        access_token(token)
        logout_token(data)

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        token = mutate_token(data.decode("utf-8", "surrogateescape"), random.Random(seed), max_size)
        return token.encode("utf-8", "surrogateescape")[:max_size]

    return Target("jwt", test_one_input, lambda: [t.encode() for t in token_seeds()], mutator, 16384)

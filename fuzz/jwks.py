"""The provider's JWKS: the reply parser and ``KeySet.parse`` (what ``ProviderClient``
does with the ``jwks_uri`` answer), then signature checks against whatever keys came out.

Input: the JWKS response body (HTTP 200, JSON expected). The keys it yields verify a fixed
set of tokens (each of our keys, with and without ``kid``, and alg/key mismatches) through
``verify_signature``, as the ID-token, access-token and logout-token validators do.

Allowed outcomes: ``ProviderError`` for a body that is not a JWKS; keys (broken entries
skipped); then claims or ``TokenValidationError`` for each token. Anything else — say a
key type a JOSE library trips over in a way the validator does not expect — is a crash.
"""

from __future__ import annotations

import json
import random
from typing import Any

from logto_asgi import protocol
from logto_asgi.discovery import KeySet
from logto_asgi.errors import ProviderError, TokenValidationError
from logto_asgi.protocol import ProviderReply
from logto_asgi.tokens import verify_signature

from . import _mutate
from ._fixtures import EC256, EC384, ED25519, JWKS, RSA_PUBLIC, SIGNING_KEYS, b64, id_claims, jwt
from ._harness import Target, complete


class _Keys:
    """A ``KeySource`` over one parsed ``KeySet`` (``ProviderClient.signing_keys``'s
    answer once the JWKS is fetched)."""

    def __init__(self, keys: KeySet) -> None:
        self.keys = keys

    async def signing_keys(self, kid: str | None, *, refetch: bool = False) -> list[Any]:
        return self.keys.candidates(kid)


def _tokens() -> list[str]:
    claims = id_claims()
    tokens = [jwt(claims, key) for key in SIGNING_KEYS]
    tokens.append(jwt(claims, EC256, kid=None))
    tokens.append(jwt(claims, EC384, alg="ES256"))  # a P-384 key named for ES256
    tokens.append(jwt(claims, EC256, kid=RSA_PUBLIC["kid"], alg="RS256"))
    tokens.append(jwt(claims, EC256, kid=RSA_PUBLIC["kid"], alg="PS256"))
    tokens.append(jwt(claims, ED25519, kid="ec-256"))
    return tokens


def _seeds() -> list[bytes]:
    ec = dict(EC256.public_jwk)
    documents: list[Any] = [
        JWKS,
        {"keys": []},
        {"keys": [ec, ec]},
        {"keys": [{**ec, "use": "enc"}, {**ec, "kid": 7}, {**ec, "kid": None}]},
        {"keys": [{**ec, "d": b64(b"\x01" * 32)}]},  # private material: must be skipped
        {"keys": [{"kty": "oct", "k": b64(b"secret" * 6), "kid": "ec-256"}]},  # HMAC key, same kid
        {"keys": [{**ec, "crv": "P-384"}, {**ec, "x": "AAAA"}, {"kty": "EC"}, {"kty": "XYZ"}]},
        {"keys": [{**RSA_PUBLIC, "e": "AAAA"}, {**RSA_PUBLIC, "n": "AQAB"}, {**RSA_PUBLIC, "alg": "RS256"}]},
        {
            "keys": [
                {**dict(ED25519.public_jwk), "crv": "X25519"},
                {**dict(ED25519.public_jwk), "crv": "Ed448"},
            ]
        },
        {"keys": [{**ec, "key_ops": ["verify"], "x5c": ["junk"], "alg": "ES512"}]},
        {"keys": {"kid": "x"}},
        [],
        None,
    ]
    return [json.dumps(d).encode() for d in documents] + [b"{", b"\xff\xfe", b""]


def build() -> Target:
    tokens = _tokens()

    def test_one_input(data: bytes) -> None:
        try:
            keys = KeySet.parse(protocol.json_object("JWKS", ProviderReply(200, "application/json", data)))
        except ProviderError:
            return
        source = _Keys(keys)
        for token in tokens:
            try:
                complete(verify_signature(token, source))
            except TokenValidationError:
                pass

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        return _mutate.plaintext(data, random.Random(seed), max_size)[:max_size]

    return Target("jwks", test_one_input, _seeds, mutator, 16384)

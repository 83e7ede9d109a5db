"""Defective ID tokens at the callback, over real HTTP: each one is refused on its own.

Every test drives the app's real /sign-in → hostile provider → /callback. A refused sign-in
sets no session cookie, answers a clear 4xx page naming the failed check, and never calls
the provider's userinfo endpoint.

Signature and key attacks live here (they need a real JWKS and signer); of the per-claim
rules only one representative runs end to end — the nonce, which only the callback can
check against its transaction. Every claim rule has its own vectors in
``tests/unit/test_token_claim_vectors.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from hostile.harness import HostileHarness, assert_refused
from hostile.hostile_provider import RSA_KEY, Key, public_jwk
from support.tokens import flip_signature_bit, hs256_with_public_key, unsigned

pytestmark = pytest.mark.anyio


async def test_good_id_token_signs_in(h: HostileHarness) -> None:
    """Control: the well-behaved hostile provider signs the user in."""
    response = await h.sign_in(return_to="/orders")
    assert response.status_code == 302 and response.headers["location"] == "/orders"
    assert (await h.get("/orders")).text == "orders of user-hostile"


async def test_flipped_signature_bit_es384_is_refused(h: HostileHarness) -> None:
    """One flipped bit in an ES384 signature is refused."""
    h.provider.forge = lambda token, claims, key: flip_signature_bit(token)
    await assert_refused(h, await h.sign_in(), says="signature is invalid")


async def test_flipped_signature_bit_rs256_is_refused(h: HostileHarness) -> None:
    """One flipped bit in an RS256 signature is refused."""
    h.provider.keys = [*h.provider.keys, RSA_KEY]
    h.provider.signing_key = RSA_KEY
    h.provider.forge = lambda token, claims, key: flip_signature_bit(token)
    await assert_refused(h, await h.sign_in(), says="signature is invalid")


async def test_alg_none_is_refused(h: HostileHarness) -> None:
    """An unsigned ID token (alg none) is refused by the algorithm allowlist."""
    h.provider.forge = lambda token, claims, key: unsigned(claims)
    await assert_refused(h, await h.sign_in(), says="'none' is not allowed")


async def test_hs256_keyed_with_the_public_key_is_refused(h: HostileHarness) -> None:
    """HS256 keyed with the provider's public RSA key (algorithm confusion) is refused."""
    h.provider.keys = [RSA_KEY]
    h.provider.signing_key = RSA_KEY

    def confuse(token: str, claims: dict[str, Any], key: Key) -> str:
        return hs256_with_public_key(claims, public_jwk(key))

    h.provider.forge = confuse
    await assert_refused(h, await h.sign_in(), says="'HS256' is not allowed")


async def test_changed_nonce_is_refused(h: HostileHarness) -> None:
    """An ID token whose nonce is not this sign-in's is refused (the representative claim check)."""
    h.provider.id_token_claims = {"nonce": "n-replayed-from-another-sign-in"}
    await assert_refused(h, await h.sign_in(), says="nonce does not match")

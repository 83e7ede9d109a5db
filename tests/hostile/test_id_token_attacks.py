"""Defective ID tokens at the callback, over real HTTP: each one is refused on its own.

Every test drives the app's real /sign-in → hostile provider → /callback. A refused sign-in
sets no session cookie, answers a clear 4xx page naming the failed check, and never calls
the provider's userinfo endpoint.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from hostile.harness import HostileHarness, assert_refused
from hostile.hostile_provider import CLIENT_ID, RSA_KEY, Key, public_jwk
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


async def test_changed_iss_is_refused(h: HostileHarness) -> None:
    """An ID token from another issuer is refused."""
    h.provider.id_token_claims = {"iss": "http://evil.test/oidc"}
    await assert_refused(h, await h.sign_in(), says="not issued by the configured provider")


async def test_changed_aud_is_refused(h: HostileHarness) -> None:
    """An ID token for another application is refused."""
    h.provider.id_token_claims = {"aud": "another-app"}
    await assert_refused(h, await h.sign_in(), says="not meant for this application")


async def test_missing_aud_is_refused(h: HostileHarness) -> None:
    """An ID token without aud is refused."""
    h.provider.id_token_claims = {"aud": None}
    await assert_refused(h, await h.sign_in(), says="'aud' claim is missing")


async def test_several_audiences_without_azp_are_refused(h: HostileHarness) -> None:
    """Several audiences without azp are refused (OIDC Core 3.1.3.7, step 4)."""
    h.provider.id_token_claims = {"aud": [CLIENT_ID, "another-app"]}
    await assert_refused(h, await h.sign_in(), says="several audiences but no 'azp'")


async def test_several_audiences_with_azp_of_another_app_are_refused(h: HostileHarness) -> None:
    """Several audiences whose azp names another application are refused."""
    h.provider.id_token_claims = {"aud": [CLIENT_ID, "another-app"], "azp": "another-app"}
    await assert_refused(h, await h.sign_in(), says="authorized party is another application")


async def test_missing_sub_is_refused(h: HostileHarness) -> None:
    """An ID token without sub is refused."""
    h.provider.id_token_claims = {"sub": None}
    await assert_refused(h, await h.sign_in(), says="has no subject")


async def test_missing_iat_is_refused(h: HostileHarness) -> None:
    """An ID token without iat is refused."""
    h.provider.id_token_claims = {"iat": None}
    await assert_refused(h, await h.sign_in(), says="'iat' claim is missing")


async def test_exp_in_the_past_beyond_the_skew_is_refused(h: HostileHarness) -> None:
    """An ID token that expired longer ago than clock_skew is refused."""
    h.provider.id_token_claims = {"exp": int(time.time()) - h.config.clock_skew - 30}
    await assert_refused(h, await h.sign_in(), says="has expired")


async def test_iat_far_in_the_future_is_refused(h: HostileHarness) -> None:
    """An ID token issued an hour from now is refused."""
    h.provider.id_token_claims = {"iat": int(time.time()) + 3600, "exp": int(time.time()) + 7200}
    await assert_refused(h, await h.sign_in(), says="issued in the future")


async def test_changed_nonce_is_refused(h: HostileHarness) -> None:
    """An ID token whose nonce is not this sign-in's is refused."""
    h.provider.id_token_claims = {"nonce": "n-replayed-from-another-sign-in"}
    await assert_refused(h, await h.sign_in(), says="nonce does not match")


async def test_missing_nonce_is_refused(h: HostileHarness) -> None:
    """An ID token without the nonce that was sent is refused."""
    h.provider.id_token_claims = {"nonce": None}
    await assert_refused(h, await h.sign_in(), says="nonce does not match")

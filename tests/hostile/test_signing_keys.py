"""Signing keys: tokens without kid, rotation, unknown kids and junk in the JWKS.

The JWKS hits are counted at the hostile provider: rotation costs exactly one re-fetch and
a stream of unknown kids cannot make the app hammer the provider.
"""

from __future__ import annotations

import pytest

from hostile.harness import HostileHarness, assert_refused, assert_signed_in
from hostile.hostile_provider import RSA_KEY, new_key, public_jwk
from logto_asgi.provider import JWKS_REFETCH_INTERVAL

pytestmark = pytest.mark.anyio

OTHER_EC = new_key("EC", "hostile-es-other")


async def test_no_kid_with_one_key_is_accepted(h: HostileHarness) -> None:
    """A token without kid verifies with the JWKS's only key."""
    h.provider.send_kid = False
    assert_signed_in(await h.sign_in())


async def test_no_kid_with_several_keys_uses_the_one_that_verifies(h: HostileHarness) -> None:
    """Without kid and with EC and RSA keys published, the key that verifies is used."""
    h.provider.keys = [OTHER_EC, RSA_KEY, *h.provider.keys]
    h.provider.send_kid = False
    assert_signed_in(await h.sign_in())


async def test_no_kid_with_several_keys_none_verifying_is_refused(h: HostileHarness) -> None:
    """Without kid, a token that no published key verifies is refused, not a crash."""
    h.provider.keys = [OTHER_EC, RSA_KEY]
    h.provider.send_kid = False
    await assert_refused(h, await h.sign_in(), says="signature is invalid")


async def test_key_rotated_between_sign_ins_costs_exactly_one_jwks_fetch(h: HostileHarness) -> None:
    """After a rotation, the new kid is found with one JWKS re-fetch, then served from cache."""
    assert_signed_in(await h.sign_in())
    assert h.provider.counts["jwks"] == 1
    h.provider.rotate("EC", drop_old=True)
    h.advance(JWKS_REFETCH_INTERVAL + 1)
    assert_signed_in(await h.sign_in())
    assert h.provider.counts["jwks"] == 2
    assert_signed_in(await h.sign_in())
    assert h.provider.counts["jwks"] == 2


async def test_rotation_to_an_rsa_key_is_accepted(h: HostileHarness) -> None:
    """A switch from ES384 to a new RS256 key is accepted after one re-fetch."""
    assert_signed_in(await h.sign_in())
    h.provider.rotate("RSA", drop_old=False)
    h.advance(JWKS_REFETCH_INTERVAL + 1)
    assert_signed_in(await h.sign_in())
    assert h.provider.counts["jwks"] == 2


async def test_unknown_kids_refetch_the_jwks_at_most_once_per_interval(h: HostileHarness) -> None:
    """Tokens signed with an unpublished key are refused; re-fetches stay rate-limited."""
    h.provider.signing_key = new_key("EC", "hostile-unpublished")
    for _ in range(3):
        await assert_refused(h, await h.sign_in(), says="key the provider does not publish")
    assert h.provider.counts["jwks"] == 1
    h.advance(JWKS_REFETCH_INTERVAL + 1)
    for _ in range(3):
        await assert_refused(h, await h.sign_in(), says="key the provider does not publish")
    assert h.provider.counts["jwks"] == 2


async def test_unparseable_extra_keys_are_ignored(h: HostileHarness) -> None:
    """Broken, unknown, symmetric, encryption and private entries are skipped; the real key verifies."""
    private = dict(OTHER_EC.as_dict(private=True))
    h.provider.jwks_junk = [
        "not a key",
        42,
        None,
        {},
        {"kty": "weird", "kid": "weird"},
        {"kty": "EC", "crv": "P-999", "x": "zz", "y": "zz", "kid": "hostile-es-1"},
        {"kty": "RSA", "n": "!!!", "e": "AQAB", "kid": "hostile-es-1"},
        {"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0", "kid": "hmac"},
        {**public_jwk(OTHER_EC), "use": "enc", "kid": "hostile-es-1"},
        {**private, "kid": "hostile-es-1"},
        {"keys": "nested"},
    ]
    assert_signed_in(await h.sign_in())


async def test_a_kid_shared_by_two_keys_finds_the_one_that_verifies(h: HostileHarness) -> None:
    """Two published keys with the signing key's kid (RFC 7517 allows it across key types)."""
    h.provider.jwks_junk = [{**public_jwk(RSA_KEY), "kid": "hostile-es-1"}]
    assert_signed_in(await h.sign_in())


async def test_no_kid_after_rotation_is_accepted_after_one_jwks_fetch(h: HostileHarness) -> None:
    """A provider that rotates its only key and sends no kid: one re-fetch finds the new key."""
    h.provider.send_kid = False
    assert_signed_in(await h.sign_in())
    h.provider.rotate("EC", drop_old=True)
    h.advance(JWKS_REFETCH_INTERVAL + 1)
    assert_signed_in(await h.sign_in())
    assert h.provider.counts["jwks"] == 2

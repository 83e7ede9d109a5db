"""Each ID token check fails on its own, with the check named.

These tokens are forged with a key of our own and served through httpx's MockTransport:
a real provider cannot be made to sign them (the hostile-provider suite covers the same
ground over real HTTP).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from logto_asgi import LogtoConfig, TokenValidationError
from logto_asgi.core import LogtoCore
from support.tokens import (
    CLIENT_ID,
    Signer,
    flip_signature_bit,
    hs256_with_public_key,
    id_claims,
    mock_provider,
    unsigned,
)

NONCE = "n-0123456789"


def core_for(keys: list[dict[str, Any]], *, clock: float | None = None) -> LogtoCore:
    config = LogtoConfig(
        endpoint="https://id.example.com",
        app_id=CLIENT_ID,
        cookie_secret="c" * 32,
        http_client=httpx.AsyncClient(transport=mock_provider(keys)),
        clock_skew=60,
    )
    return LogtoCore(config, clock=(lambda: clock) if clock else time.time)


async def check(core: LogtoCore, token: str, nonce: str | None = NONCE) -> dict[str, Any]:
    return await core.tokens.validate_id_token(token, nonce=nonce)


async def expect_failure(core: LogtoCore, token: str, check_name: str) -> None:
    with pytest.raises(TokenValidationError) as info:
        await check(core, token)
    assert info.value.check == check_name, info.value.description


SIGNER = Signer("EC")
RSA = Signer("RSA", kid="rsa-1")


@pytest.mark.anyio
async def test_valid_token_passes() -> None:
    """A well-formed ES384 ID token validates and returns its claims."""
    claims = await check(core_for([SIGNER.jwk()]), SIGNER.sign(id_claims()))
    assert claims["sub"] == "user-1"


@pytest.mark.anyio
async def test_rs256_token_passes() -> None:
    """RS256 (older Logto tenants) is accepted."""
    claims = await check(core_for([RSA.jwk()]), RSA.sign(id_claims()))
    assert claims["sub"] == "user-1"


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("claims", "check_name"),
    [
        (id_claims(iss="https://evil.example/oidc"), "iss"),
        (id_claims(iss=None), "iss"),
        (id_claims(aud="other-app"), "aud"),
        (id_claims(aud=None), "aud"),
        (id_claims(aud=[CLIENT_ID, "other"]), "azp"),
        (id_claims(aud=[CLIENT_ID, "other"], azp="other"), "azp"),
        (id_claims(sub=None), "sub"),
        (id_claims(exp=int(time.time()) - 3600), "exp"),
        (id_claims(exp=None), "exp"),
        (id_claims(iat=int(time.time()) + 3600), "iat"),
        (id_claims(iat=None), "iat"),
        (id_claims(nonce="another"), "nonce"),
        (id_claims(nonce=None), "nonce"),
    ],
)
async def test_each_claim_check_fails_alone(claims: dict[str, Any], check_name: str) -> None:
    """Changing one claim fails exactly that check."""
    await expect_failure(core_for([SIGNER.jwk()]), SIGNER.sign(claims), check_name)


@pytest.mark.anyio
async def test_several_audiences_with_our_azp_pass() -> None:
    """Several audiences are fine when azp names us."""
    token = SIGNER.sign(id_claims(aud=[CLIENT_ID, "other"], azp=CLIENT_ID))
    assert (await check(core_for([SIGNER.jwk()]), token))["azp"] == CLIENT_ID


@pytest.mark.anyio
async def test_expiry_within_clock_skew_passes() -> None:
    """A token that expired less than clock_skew ago is still accepted."""
    token = SIGNER.sign(id_claims(exp=int(time.time()) - 30))
    assert await check(core_for([SIGNER.jwk()]), token)


@pytest.mark.anyio
async def test_flipped_signature_bit_fails() -> None:
    """One flipped signature bit fails the signature check (EC and RSA)."""
    await expect_failure(core_for([SIGNER.jwk()]), flip_signature_bit(SIGNER.sign(id_claims())), "signature")
    await expect_failure(core_for([RSA.jwk()]), flip_signature_bit(RSA.sign(id_claims())), "signature")


@pytest.mark.anyio
async def test_alg_none_fails() -> None:
    """An unsigned token (alg none) is refused by the algorithm allowlist."""
    await expect_failure(core_for([SIGNER.jwk()]), unsigned(id_claims()), "alg")


@pytest.mark.anyio
async def test_hs256_with_public_key_as_secret_fails() -> None:
    """HS256 keyed with the public key is refused (no HMAC algorithms allowed)."""
    await expect_failure(core_for([RSA.jwk()]), hs256_with_public_key(id_claims(), RSA.jwk()), "alg")


@pytest.mark.anyio
async def test_token_signed_by_unknown_key_fails() -> None:
    """A token signed by a key that is not in the JWKS fails."""
    stranger = Signer("EC", kid="key-1")
    await expect_failure(core_for([SIGNER.jwk()]), stranger.sign(id_claims()), "signature")


@pytest.mark.anyio
async def test_alg_and_key_type_mismatch_fails() -> None:
    """An RS256 header on an EC key's kid does not verify."""
    token = RSA.sign(id_claims(), kid="key-1")
    await expect_failure(core_for([SIGNER.jwk()]), token, "signature")


@pytest.mark.anyio
async def test_no_kid_with_one_key_passes_and_with_several_keys_finds_the_right_one() -> None:
    """Without kid, the one key is used; with several, only a key that verifies is accepted."""
    plain = Signer("EC", kid=None)
    other = Signer("EC", kid="other")
    token = plain.sign(id_claims())
    assert await check(core_for([plain.jwk()]), token)
    assert await check(core_for([other.jwk(), plain.jwk()]), token)
    await expect_failure(core_for([other.jwk()]), token, "signature")


@pytest.mark.anyio
async def test_unparseable_extra_keys_are_ignored() -> None:
    """Broken or unknown JWKS entries are skipped; the good key still verifies."""
    junk = [{"kty": "EC", "crv": "P-999", "x": "zz", "kid": "junk"}, {"kty": "weird"}, "not a dict"]
    token = SIGNER.sign(id_claims())
    assert await check(core_for([*junk, SIGNER.jwk()]), token)  # type: ignore[list-item]


@pytest.mark.anyio
@pytest.mark.parametrize("token", ["", "a.b", "a.b.c.d", "!!!.???.***", "x" * 20000])
async def test_garbage_tokens_fail_cleanly(token: str) -> None:
    """Malformed tokens raise TokenValidationError, never another exception."""
    with pytest.raises(TokenValidationError):
        await check(core_for([SIGNER.jwk()]), token)

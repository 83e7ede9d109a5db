"""Signed userinfo responses (``application/jwt``) from a hostile provider: a good one is
decoded; a forged, confused, encrypted or garbled one is a clear error page, the session
kept, never a traceback."""

from __future__ import annotations

from typing import Any

import pytest

from hostile.harness import HostileHarness, assert_plain_page, assert_signed_in
from hostile.hostile_provider import CLIENT_ID, SUBJECT, Key, new_key, public_jwk
from support.tokens import flip_signature_bit, hs256_with_public_key, unsigned

pytestmark = pytest.mark.anyio


async def test_a_signed_answer_is_verified_and_decoded(h: HostileHarness) -> None:
    assert_signed_in(await h.sign_in())
    h.provider.userinfo_jwt = True
    h.provider.userinfo_claims = {"iss": h.provider.issuer, "aud": CLIENT_ID, "email": "signed@example.com"}
    response = await h.get("/userinfo")
    assert response.status_code == 200, response.text
    assert response.json()["email"] == "signed@example.com" and response.json()["sub"] == SUBJECT


def _hs256(token: str, claims: dict[str, Any], key: Key) -> str:
    return hs256_with_public_key(claims, public_jwk(key))


@pytest.mark.parametrize(
    ("forge", "claims", "status", "error"),
    [
        (lambda t, c, k: flip_signature_bit(t), {}, 400, "invalid_token"),
        (lambda t, c, k: unsigned(c), {}, 400, "invalid_token"),
        (_hs256, {}, 400, "invalid_token"),
        (None, {"iss": "https://elsewhere.example/oidc"}, 400, "invalid_token"),
        (None, {"iss": "<issuer>/"}, 400, "invalid_token"),
        (None, {"aud": "another-app"}, 400, "invalid_token"),
        (None, {"sub": "someone-else"}, 400, "invalid_token"),
    ],
    ids=[
        "bad-signature",
        "alg-none",
        "hs256",
        "other-issuer",
        "other-issuer-slash",
        "other-client",
        "other-sub",
    ],
)
async def test_a_forged_answer_is_refused(
    h: HostileHarness, forge: Any, claims: dict[str, Any], status: int, error: str
) -> None:
    assert_signed_in(await h.sign_in())
    h.provider.userinfo_jwt = True
    if claims.get("iss") == "<issuer>/":  # exact: not even one more slash
        claims = {"iss": h.provider.issuer + "/"}
    h.provider.userinfo_claims = claims
    h.provider.forge = forge
    response = await h.get("/userinfo")
    assert_plain_page(response, status, error)
    assert "set-cookie" not in response.headers
    h.provider.userinfo_jwt, h.provider.userinfo_claims, h.provider.forge = False, {}, None
    assert (await h.get("/userinfo")).json()["sub"] == SUBJECT


async def test_a_key_the_provider_does_not_publish_is_refused(h: HostileHarness) -> None:
    assert_signed_in(await h.sign_in())
    h.provider.userinfo_jwt = True
    h.provider.signing_key = new_key("EC", "unpublished")
    assert_plain_page(await h.get("/userinfo"), 400, "invalid_token")


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        ("not a jwt", 400, "invalid_token"),
        ("a.b.c", 400, "invalid_token"),
        ("eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d", 502, "provider_error"),
        ("", 400, "invalid_token"),
    ],
    ids=["garbage", "three-junk-parts", "jwe", "empty"],
)
async def test_a_garbled_answer_is_a_clear_error(
    h: HostileHarness, body: str, status: int, error: str
) -> None:
    assert_signed_in(await h.sign_in())
    h.provider.userinfo_jwt = body
    assert_plain_page(await h.get("/userinfo"), status, error)

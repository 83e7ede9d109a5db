"""Which key may verify which algorithm, and signed userinfo responses' own checks."""

from __future__ import annotations

import base64
import json
import warnings
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OKPKey, RSAKey

from logto_asgi.errors import ProviderError, TokenValidationError
from logto_asgi.signed_userinfo import verify_signed_userinfo
from logto_asgi.tokens import ALLOWED_ALGORITHMS, key_suits, verify_signature

pytestmark = pytest.mark.anyio

ISSUER = "https://op.example/"


class Keys:
    """A ``KeySource`` over fixed keys."""

    def __init__(self, *keys: Any) -> None:
        self.keys = list(keys)

    async def signing_keys(self, kid: str | None, *, refetch: bool = False) -> list[Any]:
        return [k for k in self.keys if kid is None or k.kid == kid]


RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa"})
P256 = ECKey.generate_key("P-256", parameters={"kid": "p256"})
P384 = ECKey.generate_key("P-384", parameters={"kid": "p384"})
P521 = ECKey.generate_key("P-521", parameters={"kid": "p521"})
ED = OKPKey.generate_key("Ed25519", parameters={"kid": "ed"})


def public(key: Any) -> Any:
    return type(key).import_key(key.as_dict(private=False))


@pytest.mark.parametrize(
    ("key", "suits"),
    [
        (RSA, {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}),
        (P256, {"ES256"}),
        (P384, {"ES384"}),
        (P521, {"ES512"}),
        (ED, {"EdDSA", "Ed25519"}),
    ],
)
def test_each_key_suits_exactly_its_algorithms(key: Any, suits: set[str]) -> None:
    assert {alg for alg in ALLOWED_ALGORITHMS if key_suits(public(key), alg)} == suits


def test_a_key_that_names_its_algorithm_suits_only_that_one() -> None:
    key = RSAKey.import_key({**RSA.as_dict(private=False), "alg": "RS384"})
    assert [alg for alg in ALLOWED_ALGORITHMS if key_suits(key, alg)] == ["RS384"]


def test_none_and_hmac_are_never_allowed() -> None:
    assert not {"none", "HS256", "HS384", "HS512"} & set(ALLOWED_ALGORITHMS)


@pytest.mark.parametrize(
    ("alg", "key"),
    [
        ("RS384", RSA),
        ("RS512", RSA),
        ("PS384", RSA),
        ("PS512", RSA),
        ("ES512", P521),
        ("EdDSA", ED),
        ("Ed25519", ED),
    ],
)
async def test_tokens_of_every_algorithm_verify(alg: str, key: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # joserfc: "EdDSA is deprecated via RFC 9864"
        token = jwt.encode({"alg": alg, "kid": key.kid}, {"sub": "u"}, key, algorithms=[alg])
    assert (await verify_signature(token, Keys(public(key)))) == {"sub": "u"}


async def test_a_token_is_not_verified_by_a_key_of_the_wrong_curve() -> None:
    """A P-384 token claiming ES256 under a kid whose key is P-384: refused before joserfc."""
    token = jwt.encode({"alg": "ES384", "kid": "p384"}, {"sub": "u"}, P384, algorithms=["ES384"])
    _, body, signature = token.split(".")
    forged_head = base64.urlsafe_b64encode(json.dumps({"alg": "ES256", "kid": "p384"}).encode()).rstrip(b"=")
    with pytest.raises(TokenValidationError) as info:
        await verify_signature(f"{forged_head.decode()}.{body}.{signature}", Keys(public(P384)))
    assert info.value.check == "signature"


def userinfo_token(claims: dict[str, Any], key: Any = P256, alg: str = "ES256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


async def test_signed_userinfo_is_verified_and_decoded() -> None:
    token = userinfo_token({"sub": "u", "email": "a@b", "iss": ISSUER, "aud": "client"})
    claims = await verify_signed_userinfo(token, Keys(public(P256)), issuer=ISSUER, client_id="client")
    assert claims["email"] == "a@b"
    # iss and aud are optional (SHOULD, not MUST)
    bare = userinfo_token({"sub": "u"})
    assert await verify_signed_userinfo(bare, Keys(public(P256)), issuer=ISSUER, client_id="client") == {
        "sub": "u"
    }


@pytest.mark.parametrize(
    ("claims", "check"),
    [
        ({"sub": "u", "iss": "https://evil.example/"}, "iss"),
        ({"sub": "u", "iss": "https://op.example"}, "iss"),
        ({"sub": "u", "aud": "other-client"}, "aud"),
        ({"sub": "u", "aud": ["other-client", "third"]}, "aud"),
    ],
)
async def test_signed_userinfo_for_another_issuer_or_client_is_refused(
    claims: dict[str, Any], check: str
) -> None:
    with pytest.raises(TokenValidationError) as info:
        await verify_signed_userinfo(
            userinfo_token(claims), Keys(public(P256)), issuer=ISSUER, client_id="client"
        )
    assert info.value.check == check


async def test_signed_userinfo_with_a_bad_signature_is_refused() -> None:
    token = userinfo_token({"sub": "u"}, key=ECKey.generate_key("P-256", parameters={"kid": "p256"}))
    with pytest.raises(TokenValidationError) as info:
        await verify_signed_userinfo(token, Keys(public(P256)), issuer=ISSUER, client_id="client")
    assert info.value.check == "signature"


async def test_encrypted_userinfo_is_a_clear_provider_error() -> None:
    with pytest.raises(ProviderError, match="encrypted"):
        await verify_signed_userinfo("a.b.c.d.e", Keys(), issuer=ISSUER, client_id="client")

"""Claim-by-claim vectors for ID, access and logout tokens, and the JOSE header checks.

Each vector changes one thing in otherwise valid claims and names the check that must
fail (and a fragment of its description), so a weakened comparison (a prefix match, a
missing type check, an off-by-one bound) fails a vector of its own. The claims are
checked directly (``tokens.check_*``): no signature, no provider, a fixed clock.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from logto_asgi import TokenValidationError
from logto_asgi._crypto import b64url_encode
from logto_asgi.tokens import (
    ALLOWED_ALGORITHMS,
    MAX_TOKEN_LENGTH,
    check_access_token,
    check_id_token,
    check_issuer,
    check_logout_token,
    organization_audience,
    read_header,
    verify_signature,
)
from support.tokens import with_overrides

ISSUER = "https://a.test/oidc"
CLIENT_ID = "app"
API = "https://api.a.test"
NONCE = "n-0123456789abcdef"
NOW = 1_700_000_000
LEEWAY = 60
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"

Check = Callable[[dict[str, Any]], None]


def id_claims(**overrides: Any) -> dict[str, Any]:
    """Valid ID token claims at ``NOW``; an override of ``None`` removes the claim."""
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "user-1",
        "iat": NOW,
        "exp": NOW + 3600,
        "nonce": NONCE,
    }
    return with_overrides(claims, overrides)


def access_claims(**overrides: Any) -> dict[str, Any]:
    """Valid JWT access token claims for ``API``."""
    claims = {"iss": ISSUER, "aud": API, "sub": "user-1", "iat": NOW, "exp": NOW + 3600}
    return with_overrides(claims, overrides)


def logout_claims(**overrides: Any) -> dict[str, Any]:
    """Valid back-channel logout token claims."""
    claims = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "user-1",
        "iat": NOW,
        "exp": NOW + 120,
        "jti": "jti-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    return with_overrides(claims, overrides)


def check_id(claims: dict[str, Any]) -> None:
    check_id_token(claims, issuer=ISSUER, client_id=CLIENT_ID, nonce=NONCE, now=NOW, leeway=LEEWAY)


def check_access(claims: dict[str, Any]) -> None:
    check_access_token(claims, issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY)


def check_logout(claims: dict[str, Any]) -> None:
    header = {"alg": "ES384", "typ": "logout+jwt"}
    check_logout_token(claims, header=header, issuer=ISSUER, client_id=CLIENT_ID, now=NOW, leeway=LEEWAY)


def refused(check: Check, claims: dict[str, Any]) -> TokenValidationError:
    with pytest.raises(TokenValidationError) as info:
        check(claims)
    return info.value


# Issuer: exact match only --------------------------------------------------------------

BAD_ISSUERS = [
    pytest.param("https://a.test/oidc-evil", id="longer-by-suffix"),
    pytest.param("https://a.test/oid", id="shorter-prefix"),
    pytest.param("https://a.test/oidc/", id="trailing-slash"),
    pytest.param("https://a.test/oidc/evil", id="sub-path"),
    pytest.param("https://a.test", id="origin-only"),
    pytest.param("HTTPS://A.TEST/oidc", id="other-case"),
    pytest.param(" https://a.test/oidc", id="leading-space"),
    pytest.param("https://evil.test/oidc", id="other-host"),
    pytest.param("", id="empty"),
    pytest.param(None, id="missing"),
    pytest.param(1, id="number"),
    pytest.param([ISSUER], id="list"),
]
CHECKERS = [
    pytest.param(check_id, id_claims, id="id-token"),
    pytest.param(check_access, access_claims, id="access-token"),
    pytest.param(check_logout, logout_claims, id="logout-token"),
]


@pytest.mark.parametrize("iss", BAD_ISSUERS)
def test_check_issuer_refuses_anything_but_the_exact_issuer(iss: Any) -> None:
    """check_issuer accepts only the configured issuer, byte for byte (no prefix match)."""
    with pytest.raises(TokenValidationError) as info:
        check_issuer(with_overrides({"iss": ISSUER}, {"iss": iss}), ISSUER)
    assert info.value.check == "iss"
    assert "not issued by the configured provider" in info.value.description


@pytest.mark.parametrize(("check", "claims"), CHECKERS)
@pytest.mark.parametrize("iss", BAD_ISSUERS)
def test_every_token_kind_refuses_a_near_miss_issuer(
    check: Check, claims: Callable[..., dict[str, Any]], iss: Any
) -> None:
    """ID, access and logout tokens all refuse an issuer that is only close, as iss."""
    assert refused(check, claims(iss=iss)).check == "iss"


@pytest.mark.parametrize(("check", "claims"), CHECKERS)
def test_every_token_kind_accepts_its_valid_claims(
    check: Check, claims: Callable[..., dict[str, Any]]
) -> None:
    """Control: the unchanged claims of each token kind pass."""
    check(claims())


# ID token: one vector per rule ---------------------------------------------------------

ID_TOKEN_VECTORS = [
    # aud (OIDC Core 3.1.3.7 step 3)
    pytest.param({"aud": "other-app"}, "aud", "not meant for this application", id="aud-other-app"),
    pytest.param({"aud": None}, "aud", "'aud' claim is missing", id="aud-missing"),
    pytest.param({"aud": []}, "aud", "'aud' claim is missing", id="aud-empty-list"),
    pytest.param({"aud": 1}, "aud", "'aud' claim is missing", id="aud-number"),
    pytest.param({"aud": ""}, "aud", "not meant for this application", id="aud-empty-string"),
    pytest.param({"aud": "ap"}, "aud", "not meant for this application", id="aud-prefix-of-client-id"),
    pytest.param({"aud": [CLIENT_ID, 1]}, "aud", "'aud' claim is missing", id="aud-list-with-number"),
    pytest.param(
        {"aud": [CLIENT_ID, 1], "azp": CLIENT_ID}, "aud", "malformed", id="aud-list-with-number-and-our-azp"
    ),
    pytest.param({"aud": [CLIENT_ID, None]}, "aud", "malformed", id="aud-list-with-null"),
    pytest.param({"aud": [["app"]]}, "aud", "malformed", id="aud-nested-list"),
    # azp (steps 4 and 5)
    pytest.param(
        {"aud": [CLIENT_ID, "other-app"]}, "azp", "several audiences but no 'azp'", id="several-aud-no-azp"
    ),
    pytest.param(
        {"aud": [CLIENT_ID, "other-app"], "azp": "other-app"},
        "azp",
        "authorized party is another application",
        id="several-aud-azp-of-another-app",
    ),
    pytest.param(
        {"azp": "other-app"}, "azp", "authorized party is another application", id="azp-of-another-app"
    ),
    # sub
    pytest.param({"sub": None}, "sub", "has no subject", id="sub-missing"),
    pytest.param({"sub": ""}, "sub", "has no subject", id="sub-empty"),
    pytest.param({"sub": 123}, "sub", "has no subject", id="sub-number"),
    pytest.param({"sub": ["user-1"]}, "sub", "has no subject", id="sub-list"),
    # exp (step 9), iat (step 10), nbf
    pytest.param({"exp": NOW - LEEWAY - 1}, "exp", "has expired", id="exp-past-beyond-leeway"),
    pytest.param({"exp": NOW - 3600}, "exp", "has expired", id="exp-an-hour-ago"),
    pytest.param({"exp": None}, "exp", "'exp' claim is missing", id="exp-missing"),
    pytest.param({"exp": True}, "exp", "not a number", id="exp-boolean"),
    pytest.param({"exp": str(NOW + 3600)}, "exp", "not a number", id="exp-string"),
    pytest.param({"iat": None}, "iat", "'iat' claim is missing", id="iat-missing"),
    pytest.param({"iat": False}, "iat", "not a number", id="iat-boolean"),
    pytest.param(
        {"iat": NOW + LEEWAY + 1, "exp": NOW + 7200},
        "iat",
        "issued in the future",
        id="iat-future-beyond-leeway",
    ),
    pytest.param(
        {"iat": NOW + 3600, "exp": NOW + 7200}, "iat", "issued in the future", id="iat-an-hour-ahead"
    ),
    pytest.param({"nbf": NOW + LEEWAY + 1}, "nbf", "not valid yet", id="nbf-future-beyond-leeway"),
    pytest.param({"nbf": "soon"}, "nbf", "not a number", id="nbf-string"),
    # nonce (step 11)
    pytest.param(
        {"nonce": "n-replayed-from-another-sign-in"}, "nonce", "nonce does not match", id="nonce-other"
    ),
    pytest.param({"nonce": None}, "nonce", "nonce does not match", id="nonce-missing"),
    pytest.param({"nonce": NONCE[:-1]}, "nonce", "nonce does not match", id="nonce-prefix"),
    pytest.param({"nonce": NONCE + "x"}, "nonce", "nonce does not match", id="nonce-longer"),
    pytest.param({"nonce": ""}, "nonce", "nonce does not match", id="nonce-empty"),
    pytest.param({"nonce": 0}, "nonce", "nonce does not match", id="nonce-number"),
]


@pytest.mark.parametrize(("overrides", "check", "says"), ID_TOKEN_VECTORS)
def test_id_token_vector_fails_its_own_check(overrides: dict[str, Any], check: str, says: str) -> None:
    """One changed claim fails exactly the check that guards it, with a clear description."""
    error = refused(check_id, id_claims(**overrides))
    assert (error.check, error.error, error.status_code) == (check, "invalid_token", 400)
    assert says in error.description


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({}, id="unchanged"),
        pytest.param({"aud": [CLIENT_ID]}, id="aud-list-of-one"),
        pytest.param({"aud": [CLIENT_ID, "other-app"], "azp": CLIENT_ID}, id="several-aud-with-our-azp"),
        pytest.param({"azp": CLIENT_ID}, id="one-aud-with-our-azp"),
        pytest.param({"exp": NOW - LEEWAY}, id="exp-at-the-edge-of-the-leeway"),
        pytest.param({"iat": NOW + LEEWAY, "exp": NOW + 3600}, id="iat-at-the-edge-of-the-leeway"),
        pytest.param({"nbf": NOW + LEEWAY}, id="nbf-at-the-edge-of-the-leeway"),
        pytest.param({"exp": float(NOW + 1), "iat": float(NOW)}, id="float-times"),
        pytest.param({"sub": "x"}, id="one-character-sub"),
    ],
)
def test_id_token_accepts_the_edges(overrides: dict[str, Any]) -> None:
    """Valid claims at the edge of each rule pass (bounds are inclusive, lists are fine)."""
    check_id(id_claims(**overrides))


def test_id_token_nonce_is_not_checked_when_none_was_sent() -> None:
    """nonce=None (a refresh) skips the nonce comparison."""
    claims = id_claims(nonce="anything")
    check_id_token(claims, issuer=ISSUER, client_id=CLIENT_ID, nonce=None, now=NOW, leeway=LEEWAY)


# Access and logout tokens: audience shapes ---------------------------------------------


@pytest.mark.parametrize(
    ("aud", "check_name"),
    [
        pytest.param([API, 1], "aud", id="list-with-number"),
        pytest.param([], "aud", id="empty-list"),
        pytest.param(None, "aud", id="missing"),
        pytest.param("https://api.a.test/other", "aud", id="other-resource"),
        pytest.param(API + "x", "aud", id="longer-by-suffix"),
    ],
)
def test_access_token_refuses_bad_audiences(aud: Any, check_name: str) -> None:
    """An access token whose aud is malformed or not this resource is refused as aud."""
    assert refused(check_access, access_claims(aud=aud)).check == check_name


@pytest.mark.parametrize(
    "aud",
    [
        pytest.param([CLIENT_ID, 1], id="list-with-number"),
        pytest.param([], id="empty-list"),
        pytest.param(None, id="missing"),
        pytest.param("other-app", id="other-app"),
    ],
)
def test_logout_token_refuses_bad_audiences(aud: Any) -> None:
    """A logout token whose aud is malformed or another application's is refused as aud."""
    assert refused(check_logout, logout_claims(aud=aud)).check == "aud"


# JOSE header ---------------------------------------------------------------------------


def compact(header: dict[str, Any], length: int | None = None) -> str:
    """A compact JWS with ``header``; its payload padded so the token is ``length`` long."""
    head = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    payload = b64url_encode(b"{}")
    token = f"{head}.{payload}.sig"
    if length is not None:
        token = f"{head}.{payload}{'A' * (length - len(token))}.sig"
        assert len(token) == length
    return token


class RecordingProvider:
    """Stands in for the provider client: no keys, and remembers every key lookup."""

    def __init__(self) -> None:
        self.lookups: list[Any] = []

    async def signing_keys(self, kid: Any, *, refetch: bool = False) -> list[Any]:
        self.lookups.append(kid)
        return []


async def verify(token: str, provider: RecordingProvider) -> dict[str, Any]:
    """``verify_signature`` against the stand-in (duck-typed: only signing_keys is used)."""
    client: Any = provider
    return await verify_signature(token, client)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "kid",
    [
        pytest.param(1, id="number"),
        pytest.param(True, id="boolean"),
        pytest.param(["key-1"], id="list"),
        pytest.param({"kid": "key-1"}, id="object"),
        pytest.param(1.5, id="float"),
    ],
)
async def test_non_string_kid_is_refused_as_kid_before_any_key_lookup(kid: Any) -> None:
    """A kid that is not a string fails the kid check (not signature), and no keys are fetched."""
    provider = RecordingProvider()
    with pytest.raises(TokenValidationError) as info:
        await verify(compact({"alg": "ES384", "kid": kid}), provider)
    assert info.value.check == "kid"
    assert provider.lookups == []


def test_token_of_exactly_max_length_is_parsed() -> None:
    """A token of exactly MAX_TOKEN_LENGTH characters still has its header read."""
    header = {"alg": "ES384", "kid": "key-1"}
    assert read_header(compact(header, MAX_TOKEN_LENGTH)) == header


@pytest.mark.parametrize("extra", [1, 2, 1000])
def test_token_longer_than_max_length_is_refused_as_format(extra: int) -> None:
    """A token longer than MAX_TOKEN_LENGTH is refused as format, whatever its header."""
    with pytest.raises(TokenValidationError) as info:
        read_header(compact({"alg": "ES384", "kid": "key-1"}, MAX_TOKEN_LENGTH + extra))
    assert info.value.check == "format"


@pytest.mark.anyio
async def test_overlong_token_is_refused_before_any_key_lookup() -> None:
    """verify_signature refuses an overlong token as format without asking for keys."""
    provider = RecordingProvider()
    with pytest.raises(TokenValidationError) as info:
        await verify(compact({"alg": "ES384"}, MAX_TOKEN_LENGTH + 1), provider)
    assert info.value.check == "format"
    assert provider.lookups == []


def test_allowlist_holds_asymmetric_algorithms_only() -> None:
    """No 'none' and no HMAC algorithm is ever allowed (a public key is not a secret)."""
    assert ALLOWED_ALGORITHMS
    for alg in ALLOWED_ALGORITHMS:
        assert alg.lower() != "none" and not alg.upper().startswith("HS"), alg


ORG_AUDIENCE = "urn:logto:organization:org-1"


def test_an_organization_token_passes_only_where_organization_tokens_are_accepted() -> None:
    """aud = urn:logto:organization:<id>: refused for an API audience alone, accepted with
    organization_tokens=True (also when no API audience is configured)."""
    claims = access_claims(aud=ORG_AUDIENCE)
    with pytest.raises(TokenValidationError) as refusal:
        check_access_token(claims, issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY)
    assert refusal.value.check == "aud"
    check_access_token(claims, issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY, organization_tokens=True)
    check_access_token(claims, issuer=ISSUER, audience=(), now=NOW, leeway=LEEWAY, organization_tokens=True)


@pytest.mark.parametrize(
    "aud",
    [
        "urn:logto:organization:",
        "urn:logto:organisation:org-1",
        "https://api.a.test/urn:logto:organization:x",
    ],
    ids=["empty-id", "misspelt-prefix", "prefix-not-at-the-start"],
)
def test_what_is_not_an_organization_audience_is_refused(aud: str) -> None:
    """An empty organization id or a look-alike is no organization token, even where those are accepted."""
    assert organization_audience(aud) is None
    with pytest.raises(TokenValidationError) as refusal:
        check_access_token(
            access_claims(aud=aud),
            issuer=ISSUER,
            audience=API,
            now=NOW,
            leeway=LEEWAY,
            organization_tokens=True,
        )
    assert refusal.value.check == "aud"


def test_organization_audience_gives_the_id() -> None:
    """The id after the prefix, as sent."""
    assert organization_audience(ORG_AUDIENCE) == "org-1"

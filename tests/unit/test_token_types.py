"""Telling token kinds apart, one vector per rule: the ``typ`` header of access and logout
tokens, access tokens shaped like ID tokens, and the logout token's time window.

The checks are called directly (``tokens.check_*``, ``verify_access_token`` against a key
source that records lookups): no provider, a fixed clock.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from logto_asgi import TokenValidationError
from logto_asgi._crypto import b64url_encode
from logto_asgi.tokens import (
    ACCESS_TOKEN_TYPES,
    BACKCHANNEL_EVENT,
    FETCHED_ACCESS_TOKEN_TYPES,
    ID_TOKEN_CLAIMS,
    JWT_ACCESS_TOKEN_TYPES,
    LOGOUT_TOKEN_TYPES,
    MAX_LOGOUT_TOKEN_AGE,
    check_access_token,
    check_logout_token,
    check_type,
    media_type,
    verify_access_token,
)
from support.tokens import with_overrides

ISSUER = "https://a.test/oidc"
CLIENT_ID = "app"
API = "https://api.a.test"
NOW = 1_700_000_000
LEEWAY = 60
LOGOUT_HEADER = {"alg": "ES384", "typ": "logout+jwt"}
ABSENT = object()  # a header without typ


def header(typ: Any) -> dict[str, Any]:
    return {"alg": "ES384"} if typ is ABSENT else {"alg": "ES384", "typ": typ}


def refused(call: Any, *args: Any, **kwargs: Any) -> TokenValidationError:
    with pytest.raises(TokenValidationError) as info:
        call(*args, **kwargs)
    return info.value


# The typ header as a media type (RFC 7515 4.1.9) ---------------------------------------


@pytest.mark.parametrize(
    ("typ", "media"),
    [
        ("at+jwt", "application/at+jwt"),
        ("AT+JWT", "application/at+jwt"),
        ("application/at+jwt", "application/at+jwt"),
        ("Application/At+Jwt", "application/at+jwt"),
        ("JWT", "application/jwt"),
        ("x/at+jwt", "x/at+jwt"),
        ("", "application/"),
        (ABSENT, None),
        (None, None),
    ],
)
def test_media_type_prefixes_application_and_ignores_case(typ: Any, media: str | None) -> None:
    """A typ without '/' means application/<typ>; media types compare case-insensitively."""
    assert media_type(header(typ)) == media


@pytest.mark.parametrize("typ", [1, True, ["at+jwt"], {"typ": "at+jwt"}])
def test_a_typ_that_is_not_a_string_is_refused(typ: Any) -> None:
    """A typ header that is not a string fails the typ check, whatever the accepted set."""
    assert refused(check_type, header(typ), FETCHED_ACCESS_TOKEN_TYPES, "an access token").check == "typ"


ACCESS_TYPED = ["at+jwt", "application/at+jwt", "AT+JWT", "Application/AT+JWT"]
GENERIC = ["JWT", "jwt", "application/jwt"]
OTHER_KINDS = [
    "logout+jwt",
    "application/logout+jwt",
    "secevent+jwt",
    "token-introspection+jwt",
    "at+jwt ",
    " at+jwt",
    "",
    "x/at+jwt",
    "application/at+jwt+x",
    "at+jwt; charset=utf-8",
    "ID",
]


@pytest.mark.parametrize(
    ("accepted", "passes", "fails"),
    [
        pytest.param(ACCESS_TOKEN_TYPES, ACCESS_TYPED, [*GENERIC, ABSENT, *OTHER_KINDS], id="access-strict"),
        pytest.param(
            JWT_ACCESS_TOKEN_TYPES, [*ACCESS_TYPED, *GENERIC], [ABSENT, *OTHER_KINDS], id="access-jwt"
        ),
        pytest.param(
            FETCHED_ACCESS_TOKEN_TYPES, [*ACCESS_TYPED, *GENERIC, ABSENT], OTHER_KINDS, id="fetched"
        ),
        pytest.param(
            LOGOUT_TOKEN_TYPES,
            ["logout+jwt", "application/logout+jwt", "LOGOUT+JWT", *GENERIC, ABSENT],
            [*ACCESS_TYPED, "secevent+jwt", "logout+jwt ", "", "application/logout", "x/logout+jwt", "ID"],
            id="logout",
        ),
    ],
)
def test_each_kind_accepts_exactly_its_types(
    accepted: frozenset[str | None], passes: list[Any], fails: list[Any]
) -> None:
    """Every accepted typ passes; every other one fails the typ check."""
    for typ in passes:
        check_type(header(typ), accepted, "it")
    for typ in fails:
        assert refused(check_type, header(typ), accepted, "it").check == "typ", typ


class RecordingKeys:
    """A key source without keys that remembers every lookup."""

    def __init__(self) -> None:
        self.lookups: list[Any] = []

    async def signing_keys(self, kid: Any, *, refetch: bool = False) -> list[Any]:
        self.lookups.append(kid)
        return []


def compact(head: dict[str, Any]) -> str:
    encoded = b64url_encode(json.dumps(head).encode())
    return f"{encoded}.{b64url_encode(b'{}')}.sig"


@pytest.mark.anyio
@pytest.mark.parametrize("typ", ["JWT", ABSENT, "logout+jwt"])
async def test_verify_access_token_refuses_the_type_before_any_key_lookup(typ: Any) -> None:
    """verify_access_token (strict by default) refuses another typ as typ, without fetching keys."""
    keys = RecordingKeys()
    with pytest.raises(TokenValidationError) as info:
        await verify_access_token(
            compact({"alg": "ES384", "kid": "k", **({} if typ is ABSENT else {"typ": typ})}),
            keys,
            issuer=ISSUER,
            audience=API,
            now=NOW,
            leeway=LEEWAY,
        )
    assert info.value.check == "typ"
    assert keys.lookups == []


@pytest.mark.anyio
async def test_verify_access_token_checks_the_signature_of_an_accepted_type() -> None:
    """With typ: JWT among token_types the type passes and the signature is looked up."""
    keys = RecordingKeys()
    with pytest.raises(TokenValidationError) as info:
        await verify_access_token(
            compact({"alg": "ES384", "kid": "k", "typ": "JWT"}),
            keys,
            issuer=ISSUER,
            audience=API,
            now=NOW,
            leeway=LEEWAY,
            token_types=JWT_ACCESS_TOKEN_TYPES,
        )
    assert info.value.check == "signature"
    assert keys.lookups == ["k"]


# Access tokens shaped like ID tokens ---------------------------------------------------


def access_claims(**overrides: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": API, "sub": "user-1", "iat": NOW, "exp": NOW + 3600, "scope": "read"}
    return with_overrides(claims, overrides)


def test_the_id_token_claims_are_the_four_of_oidc() -> None:
    """The claims that only ID tokens carry."""
    assert set(ID_TOKEN_CLAIMS) == {"nonce", "at_hash", "c_hash", "s_hash"}


@pytest.mark.parametrize("name", ID_TOKEN_CLAIMS)
@pytest.mark.parametrize("value", ["abc", "", None, 0])
def test_an_access_token_with_a_claim_of_id_tokens_is_refused(name: str, value: Any) -> None:
    """nonce, at_hash, c_hash or s_hash in an access token (any value, even null): typ."""
    claims = {**access_claims(), name: value}
    error = refused(check_access_token, claims, issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY)
    assert error.check == "typ"
    assert f"'{name}', a claim of ID tokens" in error.description


@pytest.mark.parametrize("typ", ["ID", "id", "Id"])
def test_keycloaks_id_typ_claim_is_refused(typ: str) -> None:
    """Keycloak marks ID tokens with a typ claim "ID": refused as an access token."""
    error = refused(
        check_access_token, access_claims(typ=typ), issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY
    )
    assert error.check == "typ"
    assert "says it is an ID token" in error.description


@pytest.mark.parametrize("typ", ["Bearer", "IDs", "I", 1])
def test_other_typ_claims_pass(typ: Any) -> None:
    """Keycloak's access tokens say typ "Bearer"; only "ID" means an ID token."""
    check_access_token(access_claims(typ=typ), issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY)


# Logout tokens: exp required, iat bounded, the replay window ---------------------------


def logout_claims(**overrides: Any) -> dict[str, Any]:
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


def check_logout(claims: dict[str, Any], head: dict[str, Any] = LOGOUT_HEADER) -> float:
    return check_logout_token(claims, header=head, issuer=ISSUER, client_id=CLIENT_ID, now=NOW, leeway=LEEWAY)


OLDEST = NOW - MAX_LOGOUT_TOKEN_AGE - LEEWAY


@pytest.mark.parametrize(
    ("overrides", "check", "says"),
    [
        pytest.param({"exp": None}, "exp", "'exp' claim is missing", id="exp-missing"),
        pytest.param({"exp": "soon"}, "exp", "not a number", id="exp-string"),
        pytest.param({"exp": NOW - LEEWAY - 1, "iat": NOW - 120}, "exp", "has expired", id="exp-past"),
        pytest.param({"iat": None}, "iat", "'iat' claim is missing", id="iat-missing"),
        pytest.param({"iat": OLDEST - 1, "exp": NOW + 3600}, "iat", "too old", id="iat-older-than-the-bound"),
        pytest.param({"iat": NOW - 86400, "exp": NOW + 86400}, "iat", "too old", id="iat-a-day-old"),
        pytest.param({"iat": NOW + LEEWAY + 1, "exp": NOW + 600}, "iat", "in the future", id="iat-future"),
    ],
)
def test_logout_token_time_vectors(overrides: dict[str, Any], check: str, says: str) -> None:
    """A logout token without exp, expired, or issued too long ago (or ahead) is refused."""
    error = refused(check_logout, logout_claims(**overrides))
    assert (error.check, error.status_code) == (check, 400)
    assert says in error.description


@pytest.mark.parametrize(
    ("overrides", "until"),
    [
        pytest.param({}, NOW + 120 + LEEWAY, id="exp-sooner-than-the-age-bound"),
        pytest.param({"exp": NOW + 86400}, NOW + MAX_LOGOUT_TOKEN_AGE + LEEWAY, id="age-bound-sooner"),
        pytest.param({"iat": OLDEST, "exp": NOW + 3600}, NOW, id="iat-at-the-edge-of-the-bound"),
        pytest.param({"iat": NOW - 120, "exp": NOW - LEEWAY}, NOW, id="exp-at-the-edge-of-the-leeway"),
        pytest.param(
            {"iat": NOW + LEEWAY, "exp": NOW + 600},
            NOW + LEEWAY + MAX_LOGOUT_TOKEN_AGE + LEEWAY,
            id="iat-ahead-within-leeway",
        ),
    ],
)
def test_logout_token_is_accepted_until_the_end_of_its_window(
    overrides: dict[str, Any], until: float
) -> None:
    """Accepted at the edges; the returned moment is the sooner of exp and iat plus the age
    bound, plus the leeway: the jti's memory must last that long."""
    assert check_logout(logout_claims(**overrides)) == until


def test_the_age_bound_is_five_minutes() -> None:
    """Providers send logout tokens as a session ends: five minutes (plus the skew) is ample."""
    assert MAX_LOGOUT_TOKEN_AGE == 300


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "secevent+jwt", 1])
def test_logout_token_typed_as_another_kind_is_refused(typ: Any) -> None:
    """A logout token whose typ header names another kind of token is refused as typ."""
    assert refused(check_logout, logout_claims(), header(typ)).check == "typ"


# Logout tokens: the other claims, one vector per rule ----------------------------------

LOGOUT_VECTORS = [
    pytest.param({"jti": None}, "jti", id="jti-missing"),
    pytest.param({"jti": ""}, "jti", id="jti-empty"),
    pytest.param({"jti": 123}, "jti", id="jti-number"),
    pytest.param({"events": None}, "events", id="events-missing"),
    pytest.param({"events": "logout"}, "events", id="events-string"),
    pytest.param({"events": [BACKCHANNEL_EVENT]}, "events", id="events-list"),
    pytest.param({"events": {"urn:other": {}}}, "events", id="another-event"),
    pytest.param({"events": {BACKCHANNEL_EVENT: "yes"}}, "events", id="event-not-an-object"),
    pytest.param({"nonce": "n-1"}, "nonce", id="nonce"),
    pytest.param({"sub": None}, "sub", id="neither-sub-nor-sid"),
    pytest.param({"sub": ""}, "sub", id="empty-sub-no-sid"),
    pytest.param({"sub": 1}, "sub", id="number-sub-no-sid"),
    pytest.param({"sub": None, "sid": ""}, "sub", id="empty-sid-no-sub"),
    pytest.param({"sub": None, "sid": 1}, "sub", id="number-sid-no-sub"),
]


@pytest.mark.parametrize(("overrides", "check"), LOGOUT_VECTORS)
def test_logout_token_vector_fails_its_own_check(overrides: dict[str, Any], check: str) -> None:
    """One changed claim of a logout token fails exactly the check that guards it."""
    assert refused(check_logout, logout_claims(**overrides)).check == check


def test_a_null_nonce_is_still_a_nonce() -> None:
    """A nonce claim of null is present all the same: refused."""
    assert refused(check_logout, {**logout_claims(), "nonce": None}).check == "nonce"


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"sub": None, "sid": "sid-1"}, id="sid-only"),
        pytest.param({"sub": "", "sid": "sid-1"}, id="empty-sub-with-sid"),
        pytest.param({"sid": ""}, id="empty-sid-with-sub"),
        pytest.param({"sid": "sid-1"}, id="both"),
        pytest.param({"jti": "j"}, id="one-character-jti"),
        pytest.param({"events": {BACKCHANNEL_EVENT: {}, "urn:other": {}}}, id="another-event-besides"),
    ],
)
def test_logout_token_accepts_the_edges(overrides: dict[str, Any]) -> None:
    """sub or sid (either may be empty when the other is not), any jti, extra events."""
    check_logout(logout_claims(**overrides))


@pytest.mark.parametrize(
    ("overrides", "passes"),
    [
        pytest.param({"iat": None}, True, id="no-iat"),
        pytest.param({"iat": NOW + LEEWAY}, True, id="iat-at-the-edge-of-the-leeway"),
        pytest.param({"iat": NOW + LEEWAY + 1}, False, id="iat-in-the-future"),
    ],
)
def test_access_token_iat_is_optional_but_checked_when_sent(overrides: dict[str, Any], passes: bool) -> None:
    """RFC 9068 makes iat required, Logto sends it; an access token without one passes,
    one issued in the future does not."""
    claims = access_claims(**overrides)
    if passes:
        check_access_token(claims, issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY)
    else:
        error = refused(check_access_token, claims, issuer=ISSUER, audience=API, now=NOW, leeway=LEEWAY)
        assert error.check == "iat"

"""Untrusted inputs of the protocol steps: ``return_to``, the sign-in options forwarded to
Logto, and the provider's token response. One table of vectors per rule."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from logto_asgi import ProviderError
from logto_asgi.flows import parse_token_response
from logto_asgi.redirects import safe_return_to
from logto_asgi.sign_in_options import sign_in_extras

NOW = 1_700_000_000.0

# return_to: raw whitespace ----------------------------------------------------------------

#: Every character Python calls whitespace, plus the zero-width ones browsers also strip.
WHITESPACE = sorted({chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace()} | {"\u200b", "\ufeff"})


def _name(char: str) -> str:
    return f"U+{ord(char):04X}"


@pytest.mark.parametrize("char", [pytest.param(c, id=_name(c)) for c in WHITESPACE])
@pytest.mark.parametrize("where", ["inside", "trailing", "after-slash"])
def test_return_to_with_raw_whitespace_is_refused(char: str, where: str) -> None:
    """A return_to holding any raw whitespace character (ASCII or Unicode) gives None."""
    value = {"inside": f"/a{char}b", "trailing": f"/orders{char}", "after-slash": f"/{char}/evil.example"}[
        where
    ]
    assert safe_return_to(value) is None


def test_whitespace_table_holds_the_ascii_and_unicode_spaces() -> None:
    """The table above covers space, tab, CR, LF, VT, FF, NBSP, NEL and the ideographic space."""
    assert {" ", "\t", "\r", "\n", "\x0b", "\x0c", "\u00a0", "\x85", "\u3000", "\u2028"} <= set(WHITESPACE)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("/path%20with%20space", "/path%20with%20space", id="percent-encoded-space-kept"),
        pytest.param("/caf\u00e9", "/caf%C3%A9", id="non-ascii-letter-percent-encoded"),
    ],
)
def test_return_to_encoded_space_and_letters_are_kept(value: str, expected: str) -> None:
    """Encoded whitespace is a harmless path byte; non-ASCII letters come back percent-encoded."""
    assert safe_return_to(value) == expected


# Sign-in options forwarded to Logto --------------------------------------------------------


@pytest.mark.parametrize(
    ("hint", "kept"),
    [
        pytest.param("a" * 256, True, id="256-kept"),
        pytest.param("a" * 255, True, id="255-kept"),
        pytest.param("user@example.com", True, id="email-kept"),
        pytest.param("a" * 257, False, id="257-dropped"),
        pytest.param("a" * 10_000, False, id="10000-dropped"),
        pytest.param("", False, id="empty-dropped"),
        pytest.param("user@example.com\n", False, id="newline-dropped"),
        pytest.param("user\x00", False, id="nul-dropped"),
    ],
)
def test_login_hint_is_bounded_and_printable(hint: str, kept: bool) -> None:
    """login_hint is forwarded only when 1 to 256 printable characters long."""
    extras = sign_in_extras({"login_hint": hint})
    assert extras == ({"login_hint": hint} if kept else {})


DIRECT_SIGN_IN_KEPT = [
    pytest.param("social:google", id="social"),
    pytest.param("sso:0123-abc", id="sso"),
    pytest.param("social:a.b_c-d", id="dots-underscores-dashes"),
    pytest.param("social:" + "x" * 128, id="128-character-connector"),
]
DIRECT_SIGN_IN_DROPPED = [
    pytest.param("social:", id="no-connector"),
    pytest.param("github:me", id="unknown-method"),
    pytest.param("social:goo gle", id="space"),
    pytest.param("social:google&x=1", id="query-injection"),
    pytest.param("\nsocial:google", id="leading-newline"),
    pytest.param("social:" + "x" * 129, id="129-character-connector"),
    pytest.param(" social:google", id="leading-space"),
    pytest.param("social:google ", id="trailing-space"),
]


@pytest.mark.parametrize("value", DIRECT_SIGN_IN_KEPT)
def test_direct_sign_in_well_formed_is_kept(value: str) -> None:
    """direct_sign_in of the form social:<id> or sso:<id> is forwarded unchanged."""
    assert sign_in_extras({"direct_sign_in": value}) == {"direct_sign_in": value}


@pytest.mark.parametrize("value", DIRECT_SIGN_IN_DROPPED)
def test_direct_sign_in_malformed_is_dropped(value: str) -> None:
    """Any other direct_sign_in value is dropped."""
    assert sign_in_extras({"direct_sign_in": value}) == {}


@pytest.mark.parametrize("value", ["social:google\n", "sso:abc\n"])
def test_direct_sign_in_with_trailing_newline_is_dropped(value: str) -> None:
    """A direct_sign_in ending in a newline is dropped (the pattern must match the whole value)."""
    assert sign_in_extras({"direct_sign_in": value}) == {}


# Token response --------------------------------------------------------------------------


def token_body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"access_token": "at-1", "token_type": "Bearer", "expires_in": 3600}
    body.update(fields)
    return body


@pytest.mark.parametrize(
    "token_type",
    [
        pytest.param("mac", id="mac"),
        pytest.param("bearerx", id="bearer-with-suffix"),
        pytest.param("bear", id="bearer-prefix"),
        pytest.param("Bearer ", id="trailing-space"),
        pytest.param(" Bearer", id="leading-space"),
        pytest.param("dpopx", id="dpop-with-suffix"),
        pytest.param("", id="empty"),
        pytest.param("N_A", id="other-name"),
        pytest.param(1, id="number"),
        pytest.param(None, id="null"),
        pytest.param(["Bearer"], id="list"),
    ],
)
def test_unknown_token_type_is_refused(token_type: Any) -> None:
    """A token_type other than Bearer or DPoP (any case) is a ProviderError."""
    with pytest.raises(ProviderError, match="token_type"):
        parse_token_response(token_body(token_type=token_type), now=NOW)


@pytest.mark.parametrize("token_type", ["Bearer", "bearer", "BEARER", "DPoP", "dpop"])
def test_bearer_and_dpop_token_types_are_accepted(token_type: str) -> None:
    """Bearer and DPoP are accepted whatever their case (RFC 6749 5.1: case-insensitive)."""
    assert parse_token_response(token_body(token_type=token_type), now=NOW).access_token == "at-1"


def test_missing_token_type_means_bearer() -> None:
    """A response without token_type is taken as Bearer."""
    body = token_body()
    del body["token_type"]
    assert parse_token_response(body, now=NOW).access_token == "at-1"


@pytest.mark.parametrize(
    "expires_in",
    [
        pytest.param(-1, id="minus-one"),
        pytest.param(-0.5, id="negative-float"),
        pytest.param(-3600, id="minus-an-hour"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param("3600", id="string"),
        pytest.param(None, id="null"),
        pytest.param([3600], id="list"),
    ],
)
def test_invalid_expires_in_is_refused(expires_in: Any) -> None:
    """A negative, boolean or non-numeric expires_in is a ProviderError."""
    with pytest.raises(ProviderError, match="expires_in"):
        parse_token_response(token_body(expires_in=expires_in), now=NOW)


@pytest.mark.parametrize(
    ("expires_in", "expires_at"),
    [
        pytest.param(0, NOW, id="zero"),
        pytest.param(1, NOW + 1, id="one"),
        pytest.param(1.5, NOW + 1.5, id="float"),
        pytest.param(3600, NOW + 3600, id="an-hour"),
    ],
)
def test_valid_expires_in_sets_expires_at(expires_in: float, expires_at: float) -> None:
    """expires_in of 0 or more is accepted and counted from now."""
    assert parse_token_response(token_body(expires_in=expires_in), now=NOW).expires_at == expires_at


def test_missing_expires_in_means_an_hour() -> None:
    """A response without expires_in is taken to last an hour."""
    body = token_body()
    del body["expires_in"]
    assert parse_token_response(body, now=NOW).expires_at == NOW + 3600


@pytest.mark.parametrize("access_token", ["", None, 42], ids=["empty", "missing", "not-a-string"])
def test_token_response_without_a_usable_access_token_is_refused(access_token: Any) -> None:
    """An empty, missing or non-string access_token is a ProviderError."""
    with pytest.raises(ProviderError, match="access_token"):
        parse_token_response(token_body(access_token=access_token), now=NOW)


@pytest.mark.parametrize("field", ["scope", "id_token", "refresh_token"])
@pytest.mark.parametrize("value", [42, ["a"], {"a": 1}, True], ids=["number", "list", "object", "boolean"])
def test_token_response_optional_fields_must_be_strings(field: str, value: Any) -> None:
    """scope, id_token and refresh_token, when present, are strings or a ProviderError."""
    with pytest.raises(ProviderError, match=field):
        parse_token_response(token_body(**{field: value}), now=NOW)

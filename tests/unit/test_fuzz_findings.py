"""Regressions for what the first ``make fuzz`` run found: values that parsed but broke
later arithmetic or encoding. Each is now a clean refusal of the input it came in."""

from __future__ import annotations

import json

import pytest

from logto_asgi import ProviderError, TokenValidationError
from logto_asgi._crypto import fingerprint
from logto_asgi._json import MAX_INT, loads
from logto_asgi.discovery import ProviderMetadata
from logto_asgi.flows import parse_token_response
from logto_asgi.sessions.base import Session
from logto_asgi.tokens import check_issuer, check_time


@pytest.mark.parametrize(
    "raw", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", str(10**400), str(MAX_INT + 1), "[1e999]"]
)
def test_non_finite_and_huge_numbers_do_not_parse(raw: str) -> None:
    """NaN, Infinity, 1e400 and integers past 2**53 are a ValueError at parse time."""
    with pytest.raises(ValueError):
        loads(raw)


def test_ordinary_numbers_parse() -> None:
    """Times, sizes, floats and the bound itself parse as usual."""
    assert loads(f'{{"exp": 1767225600, "x": 0.5, "n": -3, "m": {MAX_INT}}}') == {
        "exp": 1767225600,
        "x": 0.5,
        "n": -3,
        "m": MAX_INT,
    }


@pytest.mark.parametrize("exp", [10**400, float("inf")])
def test_huge_token_times_are_a_clean_refusal(exp: float) -> None:
    """A huge or infinite ``exp`` (already parsed) never raises OverflowError."""
    with pytest.raises(TokenValidationError):
        check_time({"exp": exp, "iat": 1}, now=1e9, leeway=60)


def test_a_lone_surrogate_in_iss_is_a_mismatch() -> None:
    """``"iss": "\\ud800"`` is refused as another issuer, not a UnicodeEncodeError."""
    claims = json.loads('{"iss": "\\ud800"}')
    with pytest.raises(TokenValidationError):
        check_issuer(claims, "https://id.example.com/oidc")


def test_fingerprints_take_lone_surrogates() -> None:
    """Store keys are built from provider values (jti, sid): a lone surrogate hashes."""
    assert fingerprint("\ud800") != fingerprint("\ud801")


def test_an_invalid_ipv6_endpoint_is_a_provider_error() -> None:
    """``http://[::1`` in discovery is the document's fault: ProviderError, not ValueError."""
    document = {
        "issuer": "http://id.example.com",
        "authorization_endpoint": "http://[::1",
        "token_endpoint": "http://id.example.com/token",
        "jwks_uri": "http://id.example.com/jwks",
    }
    with pytest.raises(ProviderError):
        ProviderMetadata.parse(document)


@pytest.mark.parametrize("refresh", [{}, 5, ["x"]])
def test_a_session_whose_refresh_token_is_not_a_string_is_malformed(refresh: object) -> None:
    """A refresh token that is not a string is a malformed session (ValueError)."""
    session = Session(
        id_token="t",
        claims={"sub": "u"},
        refresh_token="r",
        scope="openid",
        created_at=1000,
        updated_at=1000,
        expires_at=5000,
        access_tokens={},
    )
    data = json.loads(session.to_json())
    data["r"] = refresh
    with pytest.raises(ValueError):
        Session.from_json(json.dumps(data).encode())


def test_a_huge_expires_in_is_a_provider_error() -> None:
    """``expires_in: 1e300`` would make a session that cannot be read back: refused."""
    with pytest.raises(ProviderError):
        parse_token_response({"access_token": "a", "token_type": "Bearer", "expires_in": 1e300}, now=1000)

"""The token service's bookkeeping without a provider: what a new session and a cached
token keep of a token response, and how refused grants map to domain errors."""

from __future__ import annotations

import pytest

from logto_asgi import (
    AccessDenied,
    AuthorizationError,
    ConfigurationError,
    InProcessCoordination,
    InsufficientScope,
    SessionExpired,
)
from logto_asgi.core import LogtoCore
from logto_asgi.flows import TokenResponse
from logto_asgi.testing import TestIssuer
from logto_asgi.token_service import TokenService, grant_error

NOW = 1_700_000_000.0


def service() -> TokenService:
    return LogtoCore(TestIssuer().config(scopes=["email"], coordination=InProcessCoordination())).tokens


def response(scope: str | None, expires_in: float = 3600) -> TokenResponse:
    return TokenResponse("at", NOW + expires_in, scope, "id.token.x", "rt")


def test_a_cached_token_keeps_the_scopes_the_provider_granted() -> None:
    """The token's own scope string is kept (guards check it); none sent keeps none."""
    assert service().cached_token(response("openid shopping:read"), now=NOW).scope == "openid shopping:read"
    assert service().cached_token(response(None), now=NOW).scope == ""


def test_a_cached_token_expires_a_little_early() -> None:
    """Kept until clock_skew before expiry, at most half a short token's lifetime."""
    assert service().cached_token(response("x"), now=NOW).expires_at == NOW + 3600 - 60
    assert service().cached_token(response("x", expires_in=10), now=NOW).expires_at == NOW + 5


def test_a_new_session_keeps_the_granted_scopes_else_the_requested_ones() -> None:
    """The token response's scope when sent (it may be narrower than asked), else what was asked."""
    tokens = service()
    granted = tokens.new_session(
        id_token="i", claims={"sub": "u"}, tokens=response("openid profile"), now=NOW
    )
    assert granted.scope == "openid profile"
    asked = tokens.new_session(id_token="i", claims={"sub": "u"}, tokens=response(None), now=NOW)
    assert asked.scope == "openid profile offline_access email"
    assert asked.access_tokens[""].token == "at" and asked.refresh_token == "rt"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("invalid_grant", SessionExpired),
        ("access_denied", AccessDenied),
        ("insufficient_scope", InsufficientScope),
        ("invalid_target", ConfigurationError),
        ("temporarily_unavailable", AuthorizationError),
    ],
)
def test_a_refused_grant_maps_to_what_it_means(code: str, expected: type[Exception]) -> None:
    """Each provider error code of a refresh grant becomes the domain error the app answers."""
    mapped = grant_error(AuthorizationError("refused", provider_error=code), "https://api", None)
    assert type(mapped) is expected

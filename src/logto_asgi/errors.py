"""The exception tree: one root, a machine-readable ``error`` code and an HTTP status.

Every error says what happened in ``description`` in words a developer can act on. No
error ever carries a token, an authorization code or a secret: descriptions are built
from claim names, endpoint names and provider error codes only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

__all__ = [
    "AccessDenied",
    "AuthorizationError",
    "ConfigurationError",
    "InsufficientScope",
    "InvalidRequest",
    "LogtoError",
    "NotAuthenticated",
    "ProviderError",
    "ProviderTimeout",
    "ProviderUnavailable",
    "SessionExpired",
    "StoreUnavailable",
    "TokenValidationError",
    "TransactionError",
]


class LogtoError(Exception):
    """Root of every error raised by logto-asgi.

    ``error`` is a stable, machine-readable code; ``description`` a sentence for humans;
    ``status_code`` the HTTP status the middleware answers with when the error escapes a
    handler.
    """

    error: ClassVar[str] = "logto_error"
    status_code: ClassVar[int] = 500
    #: Seconds after which the same request may succeed, when known: the answer carries
    #: ``Retry-After`` (rounded up).
    retry_after: float | None = None

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def __repr__(self) -> str:
        return f"{type(self).__name__}(error={self.error!r}, description={self.description!r})"


class ConfigurationError(LogtoError, ValueError):
    """The configuration cannot work; ``field`` names the option to fix."""

    error = "configuration_error"
    status_code = 500

    def __init__(self, field: str, description: str) -> None:
        super().__init__(f"{field}: {description}")
        self.field = field


class ProviderError(LogtoError):
    """The OpenID Provider answered with something we cannot use (a token response without
    a token, a discovery document for another issuer…).

    ``retry_after`` is set when the failure is remembered: a failed discovery or JWKS fetch
    is not retried for that many seconds (see ``ProviderClient``).
    """

    error = "provider_error"
    status_code = 502

    def __init__(self, description: str, *, retry_after: float | None = None) -> None:
        super().__init__(description)
        self.retry_after = retry_after


class ProviderUnavailable(ProviderError):
    """The OpenID Provider could not be reached, failed (HTTP 5xx, a maintenance page
    instead of its discovery document or JWKS), or failed a moment ago and is left alone
    for ``retry_after`` seconds."""

    error = "provider_unavailable"
    status_code = 503


class ProviderTimeout(ProviderError):
    """The OpenID Provider did not answer in time."""

    error = "provider_timeout"
    status_code = 504


class AuthorizationError(LogtoError):
    """The provider refused the authorization (``error=access_denied`` on the callback,
    ``invalid_grant`` at the token endpoint…). ``provider_error`` keeps its code."""

    error = "authorization_error"
    status_code = 400

    def __init__(self, description: str, *, provider_error: str = "") -> None:
        super().__init__(description)
        self.provider_error = provider_error


class InvalidRequest(LogtoError):
    """The request to one of the middleware's routes is malformed (too many query
    parameters, a bad form body…)."""

    error = "invalid_request"
    status_code = 400


class TransactionError(LogtoError):
    """The callback does not match a sign-in started here: missing, expired, already used
    or forged ``state``."""

    error = "invalid_transaction"
    status_code = 400


class TokenValidationError(LogtoError):
    """A token from the provider failed validation; ``check`` names the failed check
    (``signature``, ``iss``, ``aud``, ``exp``, ``nonce``…)."""

    error = "invalid_token"
    status_code = 400

    def __init__(self, description: str, *, check: str) -> None:
        super().__init__(description)
        self.check = check


class NotAuthenticated(LogtoError):
    """The request has no signed-in session."""

    error = "not_authenticated"
    status_code = 401


class SessionExpired(NotAuthenticated):
    """The session ended: its refresh token was rejected by the provider, or it timed out."""

    error = "session_expired"


class StepUpRequired(NotAuthenticated):
    """Signed in, but longer ago than the route's ``max_age`` allows: sign in again.

    Answered ``401`` with RFC 9470's challenge, ``WWW-Authenticate: Bearer
    error="insufficient_user_authentication", max_age="<seconds>"``; a browser session is
    sent (``redirect=True``) or linked to a sign-in with ``prompt=login`` and ``max_age``.
    """

    error = "insufficient_user_authentication"

    def __init__(self, description: str, *, max_age: int) -> None:
        super().__init__(description)
        self.max_age = max_age


class AccessDenied(LogtoError):
    """Signed in, but the provider refuses this token (e.g. not a member of the
    organization)."""

    error = "access_denied"
    status_code = 403


class InsufficientScope(LogtoError):
    """Signed in, but the token lacks the scopes the route requires."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, description: str, *, scopes: Sequence[str] = ()) -> None:
        super().__init__(description)
        self.scopes = tuple(scopes)


class StoreUnavailable(LogtoError):
    """The server-side session store (e.g. Redis) cannot be reached."""

    error = "store_unavailable"
    status_code = 503

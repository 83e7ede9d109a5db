"""What the callback's query must prove before any code exchange.

RFC 9207 (authorization server issuer identification): the ``iss`` parameter names the
provider that answered, so a response from another provider the browser also signs in
with (a "mix-up") is refused. Provider errors (``error=access_denied``…) get a fixed
message per code: ``error_description`` is the provider's (or an attacker's) words, so it
goes to the log, bounded, and never onto the app's page.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping

from . import telemetry
from .discovery import ProviderMetadata
from .errors import AuthorizationError, TransactionError

logger = logging.getLogger("logto_asgi")

#: How much of a provider's ``error_description`` the log keeps.
MAX_LOGGED_DESCRIPTION = 300
MAX_ERROR_CODE = 64

_CANCELLED = "The sign-in was cancelled or refused at the provider."
_INTERACTION = "The provider needs you to sign in again before going on."
_MISCONFIGURED = "The provider refused this application's sign-in request: its configuration may need fixing."
_UNAVAILABLE = "The provider could not complete the sign-in just now: try again in a moment."
_OTHER = "The provider did not sign you in."

#: OAuth 2.0 (RFC 6749 4.1.2.1) and OpenID Connect Core 3.1.2.6 error codes.
MESSAGES = {
    "access_denied": _CANCELLED,
    "login_required": _INTERACTION,
    "interaction_required": _INTERACTION,
    "consent_required": _INTERACTION,
    "account_selection_required": _INTERACTION,
    "invalid_request": _MISCONFIGURED,
    "unauthorized_client": _MISCONFIGURED,
    "unsupported_response_type": _MISCONFIGURED,
    "invalid_scope": _MISCONFIGURED,
    "invalid_request_uri": _MISCONFIGURED,
    "invalid_request_object": _MISCONFIGURED,
    "request_not_supported": _MISCONFIGURED,
    "request_uri_not_supported": _MISCONFIGURED,
    "registration_not_supported": _MISCONFIGURED,
    "server_error": _UNAVAILABLE,
    "temporarily_unavailable": _UNAVAILABLE,
}


def check_issuer(query: Mapping[str, str], metadata: ProviderMetadata) -> None:
    """RFC 9207 2.4: where the provider advertises the ``iss`` parameter it must be
    present and equal the issuer; where it does not, an ``iss`` that is present must
    still match."""
    iss = query.get("iss")
    if iss is None:
        if metadata.raw.get("authorization_response_iss_parameter_supported") is True:
            raise TransactionError(
                "the sign-in response does not say which provider sent it ('iss' is missing): start again"
            )
        return
    if not hmac.compare_digest(iss.encode("utf-8", "surrogatepass"), metadata.issuer.encode()):
        raise TransactionError(
            "the sign-in response comes from another provider than the configured one: start again"
        )


#: Refusals a silent sign-in (``prompt=none``) expects: the user must interact, so they
#: stay anonymous on the page they were on (OIDC Core 3.1.2.6).
SILENT_REFUSALS = frozenset(
    {"login_required", "interaction_required", "consent_required", "account_selection_required"}
)


def back_to_app(refusal: AuthorizationError, *, silent: bool) -> bool:
    """Whether a refusal of a sign-in this browser started returns the user to the app
    (anonymous) instead of an error page: the user cancelled (``access_denied``), or a
    silent sign-in found no session to reuse."""
    code = refusal.provider_error
    return code == "access_denied" or (silent and code in SILENT_REFUSALS)


def provider_refusal(query: Mapping[str, str]) -> AuthorizationError | None:
    """The error the provider answered with (a fixed message for its code), or ``None``."""
    if "error" not in query:
        return None
    code = query["error"][:MAX_ERROR_CODE]
    description = query.get("error_description", "")[:MAX_LOGGED_DESCRIPTION]
    logger.warning(
        "the provider refused the sign-in: %r (%r)",
        code,
        description,
        **telemetry.log_fields("callback", "provider_refused", AuthorizationError.error),
    )
    # ``provider_error`` keeps the code for the app's own handling; the page shows only
    # the fixed message.
    return AuthorizationError(MESSAGES.get(code, _OTHER), provider_error=code)

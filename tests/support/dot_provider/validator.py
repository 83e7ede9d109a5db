# Django and django-oauth-toolkit ship no type information (django-stubs is not a dependency).
# mypy: disable-error-code="import-untyped"
# mypy: allow-untyped-decorators, allow-subclassing-any
"""The OAuth2Validator of the test provider: standard profile and email claims.

``get_additional_claims`` takes no request (DOT's "request agnostic" form) so that DOT lists
the claims in discovery (``claims_supported``); each value is a callable DOT calls with the
oauthlib request. DOT's ``oidc_claim_scope`` then keeps a claim only when its scope
(``profile`` or ``email``) was granted, in the ID token and at userinfo alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from oauth2_provider.oauth2_validators import OAuth2Validator

Claim = Callable[[Any], Any]


class TestOAuth2Validator(OAuth2Validator):
    oidc_claim_scope: ClassVar[dict[str, str]] = {
        **OAuth2Validator.oidc_claim_scope,
        "email": "email",
        "email_verified": "email",
        "name": "profile",
        "given_name": "profile",
        "family_name": "profile",
        "preferred_username": "profile",
    }

    def get_additional_claims(self) -> dict[str, Claim]:
        return {
            "email": lambda request: request.user.email,
            "email_verified": lambda request: bool(request.user.email),
            "name": lambda request: request.user.get_full_name(),
            "given_name": lambda request: request.user.first_name,
            "family_name": lambda request: request.user.last_name,
            "preferred_username": lambda request: request.user.get_username(),
        }

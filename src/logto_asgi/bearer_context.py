"""``BearerContext``: what a handler behind ``BearerAuthMiddleware`` sees of the request's
access token (``request.state.logto``), and which scopes it grants where."""

from __future__ import annotations

import time
from collections.abc import Callable

from .errors import AccessDenied, NotAuthenticated, TokenValidationError
from .models import AccessTokenClaims
from .tokens import audiences, organization_audience

__all__ = ["BearerContext"]


def _sent_audiences(claims: AccessTokenClaims) -> list[str]:
    try:
        return audiences(claims)
    except TokenValidationError:
        return []


class BearerContext:
    """``request.state.logto`` on a request that carried a valid bearer token (and, when
    no ``LogtoMiddleware`` runs, on anonymous requests: ``is_authenticated`` is false).

    An organization token (``aud = urn:logto:organization:<id>``, or a resource token
    with an ``organization_id`` claim) grants its scopes inside that organization only:
    a guard must name the organization to use them, and ``request.auth`` lists none.
    """

    __slots__ = ("_claims", "_clock", "_token", "user_info")

    def __init__(
        self,
        claims: AccessTokenClaims | None = None,
        token: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._claims = claims
        self._clock = clock
        self._token = token
        #: Always ``None``: a resource access token cannot read the userinfo endpoint.
        self.user_info: None = None

    def now(self) -> float:
        """The middleware's clock (``BearerAuthMiddleware(clock=...)``)."""
        return self._clock()

    @property
    def is_authenticated(self) -> bool:
        """Whether a valid token came with the request."""
        return self._claims is not None

    @property
    def user(self) -> AccessTokenClaims | None:
        """The validated claims of the token."""
        return self._claims

    @property
    def access_token(self) -> str | None:
        """The raw token (to forward it to another API of the same resource)."""
        return self._token

    @property
    def organization_id(self) -> str | None:
        """The organization the token is for, if any."""
        claims = self._claims
        if claims is None:
            return None
        for aud in _sent_audiences(claims):
            organization = organization_audience(aud)
            if organization is not None:
                return organization
        org = claims.organization_id
        return org if isinstance(org, str) and org else None

    @property
    def scopes(self) -> frozenset[str]:
        """The scopes the token grants outside any organization."""
        if self._claims is None or self.organization_id is not None:
            return frozenset()
        return self._claims.scopes

    async def granted_scopes(
        self, resource: str | None = None, organization_id: str | None = None
    ) -> frozenset[str]:
        """The token's scopes, when it is meant for ``resource`` and the organization."""
        claims = self._claims
        if claims is None:
            raise NotAuthenticated("send an access token: Authorization: Bearer <token>")
        token_organization = self.organization_id
        if organization_id is not None and token_organization != organization_id:
            raise AccessDenied(f"the access token is not for organization {organization_id!r}")
        if resource is not None and resource not in _sent_audiences(claims):
            raise AccessDenied(f"the access token is not meant for resource {resource!r}")
        if organization_id is None and token_organization is not None:
            return frozenset()
        return claims.scopes

    def __repr__(self) -> str:
        sub = self._claims.sub if self._claims is not None else None
        return f"BearerContext(is_authenticated={self.is_authenticated}, sub={sub!r})"

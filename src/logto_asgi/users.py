"""Starlette's ``request.user`` for requests we authenticated (``BaseUser``)."""

from __future__ import annotations

from starlette.authentication import BaseUser

from .models import AccessTokenClaims, IdTokenClaims

__all__ = ["BearerUser", "LogtoUser"]


class _ClaimsUser(BaseUser):
    __slots__ = ()

    @property
    def is_authenticated(self) -> bool:
        return True


class LogtoUser(_ClaimsUser):
    """``request.user`` for a signed-in browser session."""

    __slots__ = ("claims",)

    def __init__(self, claims: IdTokenClaims) -> None:
        self.claims = claims

    @property
    def display_name(self) -> str:
        c = self.claims
        return str(c.name or c.username or c.email or c.sub or "")

    @property
    def identity(self) -> str:
        return str(self.claims.sub)


class BearerUser(_ClaimsUser):
    """``request.user`` for a request authenticated by a bearer token."""

    __slots__ = ("claims",)

    def __init__(self, claims: AccessTokenClaims) -> None:
        self.claims = claims

    @property
    def display_name(self) -> str:
        return str(self.claims.sub or self.claims.client_id or "")

    @property
    def identity(self) -> str:
        return str(self.claims.sub or "")

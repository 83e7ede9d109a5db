"""``LogtoBackend``: the ``AUTHENTICATION_BACKENDS`` entry for Logto users.

It grants the permissions ``LOGTO_DJANGO["permissions"]`` maps the user's roles to — to
``User`` rows of database mode as well as to lightweight users (Django asks every
backend in ``user.has_perm``; ``ModelBackend`` keeps answering for the rows' own
permissions and groups) — and finds users: ``authenticate(request, logto_claims=…)``
and ``get_user(pk)`` for Django's own session logins of database users.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model

from ..models import IdTokenClaims
from .conf import options, permissions_for
from .identity import auser_for_claims, user_for_claims

__all__ = ["LogtoBackend"]


def _claims(user_obj: Any) -> IdTokenClaims | None:
    if not getattr(user_obj, "is_active", False):
        return None
    claims = getattr(user_obj, "logto_claims", None)
    return claims if isinstance(claims, IdTokenClaims) else None


class LogtoBackend:
    """Users and role permissions from Logto's claims."""

    def authenticate(self, request: Any, logto_claims: IdTokenClaims | None = None, **kwargs: Any) -> Any:
        """The user of ``logto_claims`` (``None`` for other credentials, or no active user)."""
        if logto_claims is None:
            return None
        user = user_for_claims(logto_claims)
        return user if user.is_authenticated else None

    async def aauthenticate(
        self, request: Any, logto_claims: IdTokenClaims | None = None, **kwargs: Any
    ) -> Any:
        if logto_claims is None:
            return None
        user = await auser_for_claims(logto_claims)
        return user if user.is_authenticated else None

    def get_user(self, user_id: Any) -> Any:
        """A database user by primary key (Django's session login), active only."""
        if not options().database:
            return None
        model = get_user_model()
        user = model._default_manager.filter(pk=user_id).first()
        return user if user is not None and getattr(user, "is_active", True) else None

    async def aget_user(self, user_id: Any) -> Any:
        return await sync_to_async(self.get_user)(user_id)

    def get_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        claims = _claims(user_obj)
        if claims is None or obj is not None:
            return set()
        return set(permissions_for(claims, options()))

    def get_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    def get_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self.get_user_permissions(user_obj, obj)

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return perm in self.get_user_permissions(user_obj, obj)

    async def aget_user_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self.get_user_permissions(user_obj, obj)  # no I/O: the claims are at hand

    async def aget_group_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return set()

    async def aget_all_permissions(self, user_obj: Any, obj: Any = None) -> set[str]:
        return self.get_user_permissions(user_obj, obj)

    async def ahas_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return self.has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return any(perm.partition(".")[0] == app_label for perm in self.get_user_permissions(user_obj))

"""The lightweight user: what Django sees of a signed-in user when no row stands behind it.

``request.user`` is a ``LogtoDjangoUser`` built from the session's ID token claims
(``LOGTO_DJANGO = {"users": "lightweight"}``, the default): no database, no query. It
answers what Django's views, decorators, templates and permission checks ask of a user;
it cannot be saved, and its ``pk`` is the user's ``sub`` (a string), so nothing in the
database can point at it (the admin's change log does: use database mode for the admin).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from ..models import IdTokenClaims
from .conf import Options, options, permissions_for

__all__ = ["LogtoDjangoUser"]

#: What ``request.user.backend`` says, as Django's ``authenticate()`` sets it.
BACKEND = "logto_asgi.django.LogtoBackend"


class LogtoDjangoUser:
    """``request.user`` for a signed-in user in lightweight mode.

    ``pk``, ``id`` and ``username`` are the ``sub`` claim (stable and unique, unlike a
    display name); ``email``, ``first_name`` and ``last_name`` come from the claims
    through ``LOGTO_DJANGO["user_fields"]``; ``is_staff`` / ``is_superuser`` from the
    role rules; ``claims`` are the ID token claims.
    """

    is_active = True
    is_authenticated = True
    is_anonymous = False
    backend = BACKEND

    def __init__(self, claims: IdTokenClaims, opts: Options | None = None) -> None:
        opts = opts if opts is not None else options()
        self.claims = claims
        self._opts = opts
        sub = str(claims.sub or "")
        self.pk = self.id = self.username = sub
        fields = opts.user_fields(claims)
        self.email: str = str(fields.get("email") or "")
        self.first_name: str = str(fields.get("first_name") or "")
        self.last_name: str = str(fields.get("last_name") or "")
        self.is_superuser: bool = bool(opts.is_superuser(claims))
        self.is_staff: bool = bool(opts.is_staff(claims))
        self._permissions = permissions_for(claims, opts)

    @property
    def logto_claims(self) -> IdTokenClaims:
        """The ID token claims (the name a database user carries them under, too)."""
        return self.claims

    def get_username(self) -> str:
        return self.username

    def natural_key(self) -> tuple[str]:
        return (self.username,)

    def get_full_name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or str(self.claims.get("name") or "")

    def get_short_name(self) -> str:
        return self.first_name or str(self.claims.get("name") or "")

    # Permissions (Django's PermissionsMixin API) ---------------------------------------

    def get_user_permissions(self, obj: Any = None) -> set[str]:
        return set() if obj is not None else set(self._permissions)

    def get_group_permissions(self, obj: Any = None) -> set[str]:
        return set()

    def get_all_permissions(self, obj: Any = None) -> set[str]:
        return self.get_user_permissions(obj)

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        """A superuser has every permission; others those their roles map to
        (``LOGTO_DJANGO["permissions"]``), and none on a particular object, as with
        Django's ``ModelBackend``."""
        if self.is_superuser:
            return True
        return obj is None and perm in self._permissions

    def has_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        if isinstance(perm_list, str):
            raise ValueError("perm_list must be an iterable of permissions.")
        return all(self.has_perm(perm, obj) for perm in perm_list)

    def has_module_perms(self, app_label: str) -> bool:
        if self.is_superuser:
            return True
        return any(perm.partition(".")[0] == app_label for perm in self._permissions)

    # Django 5.2's async spellings: nothing here does I/O.

    async def aget_user_permissions(self, obj: Any = None) -> set[str]:
        return self.get_user_permissions(obj)

    async def aget_group_permissions(self, obj: Any = None) -> set[str]:
        return set()

    async def aget_all_permissions(self, obj: Any = None) -> set[str]:
        return self.get_all_permissions(obj)

    async def ahas_perm(self, perm: str, obj: Any = None) -> bool:
        return self.has_perm(perm, obj)

    async def ahas_perms(self, perm_list: Iterable[str], obj: Any = None) -> bool:
        return self.has_perms(perm_list, obj)

    async def ahas_module_perms(self, app_label: str) -> bool:
        return self.has_module_perms(app_label)

    # Not a row -------------------------------------------------------------------------

    def check_password(self, raw_password: str) -> bool:
        return False

    def has_usable_password(self) -> bool:
        return False

    def _not_a_row(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise NotImplementedError(
            "a lightweight Logto user has no database row: use LOGTO_DJANGO = {'users': 'database'}"
        )

    save = delete = set_password = set_unusable_password = _not_a_row

    def __str__(self) -> str:
        return self.username

    def __repr__(self) -> str:
        return f"<LogtoDjangoUser {self.username!r}>"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogtoDjangoUser):
            return NotImplemented
        return (self.claims.get("iss"), self.pk) == (other.claims.get("iss"), other.pk)

    def __hash__(self) -> int:
        return hash((self.claims.get("iss"), self.pk))

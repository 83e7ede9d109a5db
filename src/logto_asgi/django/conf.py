"""``settings.LOGTO_DJANGO``: how the signed-in user looks to Django, read and checked once.

::

    LOGTO_DJANGO = {
        "users": "lightweight",        # or "database": a real User row per Logto user
        "roles_claim": "roles",        # the claim holding the user's role names
        "staff_roles": ["admin"],      # is_staff when the user holds one of these roles
        "superuser_roles": [],         # is_superuser (and every permission) likewise
        "permissions": {"editor": ["blog.change_post"]},  # role -> permissions
        "user_fields": "myproject.auth.user_fields",      # claims -> User fields (database mode)
    }

Every key is optional. ``staff_roles`` / ``superuser_roles`` left out (``None``) mean:
nobody is staff in lightweight mode, and in database mode the flags are left to whoever
edits the row (the admin); set, they decide the flags at every sign-in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.conf import settings
from django.utils.module_loading import import_string

from ..errors import ConfigurationError
from ..models import IdTokenClaims

__all__ = ["Options", "UserFields", "default_user_fields", "options", "permissions_for"]

#: ``claims -> {field: value}`` for the ``User`` row (database mode) and the names of a
#: lightweight user.
UserFields = Callable[[IdTokenClaims], dict[str, Any]]

_KEYS = frozenset({"users", "roles_claim", "staff_roles", "superuser_roles", "permissions", "user_fields"})


def default_user_fields(claims: IdTokenClaims) -> dict[str, Any]:
    """The default mapping: ``username`` (the ``username`` claim, else
    ``preferred_username``, else ``sub``), ``email``, and ``first_name`` / ``last_name``
    from ``given_name`` / ``family_name``, else split from ``name``. Missing claims give
    empty strings, as Django's ``User`` fields expect."""
    name = str(claims.get("name") or "").strip()
    first, _, rest = name.partition(" ")
    return {
        "username": str(claims.get("username") or claims.get("preferred_username") or claims.sub or ""),
        "email": str(claims.get("email") or ""),
        "first_name": str(claims.get("given_name") or first),
        "last_name": str(claims.get("family_name") or rest.strip()),
    }


def _setting(key: str) -> str:
    return f"LOGTO_DJANGO[{key!r}]"


def _roles(key: str, value: object) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence | frozenset | set):
        raise ConfigurationError(_setting(key), f"must be a list of role names, got {value!r}")
    if not all(isinstance(role, str) and role for role in value):
        raise ConfigurationError(_setting(key), "each role must be a non-empty string")
    return frozenset(value)


def _permissions(value: object) -> Mapping[str, frozenset[str]]:
    if not isinstance(value, Mapping):
        raise ConfigurationError(
            _setting("permissions"), f"must map role names to permissions, got {value!r}"
        )
    result: dict[str, frozenset[str]] = {}
    for role, perms in value.items():
        if not isinstance(role, str) or isinstance(perms, str) or not isinstance(perms, Sequence | set):
            raise ConfigurationError(_setting("permissions"), f"{role!r} must map to a list of permissions")
        if not all(isinstance(perm, str) and perm.count(".") >= 1 for perm in perms):
            raise ConfigurationError(
                _setting("permissions"), f"{role!r}: permissions are '<app_label>.<codename>' strings"
            )
        result[role] = frozenset(perms)
    return result


def _user_fields(value: object) -> UserFields:
    if value is None:
        return default_user_fields
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ConfigurationError(_setting("user_fields"), f"cannot import {value!r}: {exc}") from None
    if not callable(value):
        raise ConfigurationError(_setting("user_fields"), f"must be a function of the claims, got {value!r}")
    fields: UserFields = value
    return fields


@dataclass(frozen=True)
class Options:
    """``LOGTO_DJANGO``, validated."""

    users: Literal["lightweight", "database"] = "lightweight"
    roles_claim: str = "roles"
    staff_roles: frozenset[str] | None = None
    superuser_roles: frozenset[str] | None = None
    permissions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    user_fields: UserFields = default_user_fields

    @classmethod
    def parse(cls, raw: object) -> Options:
        """Check a ``LOGTO_DJANGO`` value; ``ConfigurationError`` naming the key to fix."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ConfigurationError("LOGTO_DJANGO", f"must be a dict, got {type(raw).__name__}")
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise ConfigurationError("LOGTO_DJANGO", f"unknown key(s) {unknown}; known: {sorted(_KEYS)}")
        users = raw.get("users", "lightweight")
        if users not in ("lightweight", "database"):
            raise ConfigurationError(_setting("users"), f"must be 'lightweight' or 'database', got {users!r}")
        roles_claim = raw.get("roles_claim", "roles")
        if not isinstance(roles_claim, str) or not roles_claim:
            raise ConfigurationError(_setting("roles_claim"), "must be a claim name")
        return cls(
            users=users,
            roles_claim=roles_claim,
            staff_roles=_roles("staff_roles", raw.get("staff_roles")),
            superuser_roles=_roles("superuser_roles", raw.get("superuser_roles")),
            permissions=_permissions(raw.get("permissions", {})),
            user_fields=_user_fields(raw.get("user_fields")),
        )

    @property
    def database(self) -> bool:
        """Whether users are rows of ``AUTH_USER_MODEL``."""
        return self.users == "database"

    def roles(self, claims: Mapping[str, Any]) -> frozenset[str]:
        """The user's role names (a claim that is not a list of strings counts as none)."""
        value = claims.get(self.roles_claim)
        if not isinstance(value, list):
            return frozenset()
        return frozenset(item for item in value if isinstance(item, str))

    def is_superuser(self, claims: Mapping[str, Any]) -> bool | None:
        """The rule's verdict, ``None`` when no rule is configured."""
        if self.superuser_roles is None:
            return None
        return bool(self.roles(claims) & self.superuser_roles)

    def is_staff(self, claims: Mapping[str, Any]) -> bool | None:
        """The rule's verdict (superusers are staff), ``None`` when no rule is configured."""
        if self.staff_roles is None and self.superuser_roles is None:
            return None
        return bool(self.roles(claims) & (self.staff_roles or frozenset())) or bool(self.is_superuser(claims))


def permissions_for(claims: Mapping[str, Any], opts: Options) -> frozenset[str]:
    """The permissions ``LOGTO_DJANGO["permissions"]`` grants the user's roles."""
    held = opts.roles(claims)
    return frozenset(perm for role, perms in opts.permissions.items() if role in held for perm in perms)


_cache: tuple[object, Options] | None = None


def options() -> Options:
    """The current ``settings.LOGTO_DJANGO``, parsed once per value (``override_settings``
    in the app's own tests gets a fresh parse)."""
    global _cache
    raw = getattr(settings, "LOGTO_DJANGO", None)
    cached = _cache
    if cached is not None and cached[0] is raw:
        return cached[1]
    parsed = Options.parse(raw)
    _cache = (raw, parsed)
    return parsed

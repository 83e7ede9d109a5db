"""Database mode: a real ``User`` row per provider account, made or updated at sign-in.

``LogtoConfig(on_sign_in=sync_user)`` creates the row at the first sign-in (fields from
``LOGTO_DJANGO["user_fields"]``, an unusable password, the staff flags from the role
rules) with a ``LogtoIdentity`` holding the issuer and ``sub``, and updates both at every
later sign-in. A deactivated user (``is_active=False``) may not sign in: a 403 page.

Rows are never matched by username or email: an account at the provider whose username
is already taken here gets a username with a suffix, not the other account.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from ..hooks import SignInEvent
from ..models import IdTokenClaims
from .conf import Options, options

__all__ = ["aget_linked_user", "get_linked_user", "link_user", "sync_user"]

T = TypeVar("T")


def _fresh_connections(func: Callable[..., T]) -> Callable[..., T]:
    """Run ``func`` with the thread's database connections checked before and after, as
    Django does around each request (a hook runs outside Django's request cycle)."""

    def run(*args: Any) -> T:
        close_old_connections()
        try:
            return func(*args)
        finally:
            close_old_connections()

    return run


def get_linked_user(claims: IdTokenClaims) -> Any:
    """The active user linked to the claims' issuer and ``sub``, or ``None``; it carries
    the claims as ``user.logto_claims``. Sync: a database query."""
    from .models import LogtoIdentity  # noqa: PLC0415 - models load once Django's apps are ready

    identity = (
        LogtoIdentity.objects.select_related("user")
        .filter(issuer=str(claims.get("iss") or ""), sub=str(claims.sub or ""))
        .first()
    )
    user = identity.user if identity is not None else None
    if user is None or not getattr(user, "is_active", True):
        return None
    user.logto_claims = claims
    return user


async def aget_linked_user(claims: IdTokenClaims) -> Any:
    """``get_linked_user`` for async code (in Django's thread for sync code)."""
    return await sync_to_async(get_linked_user, thread_sensitive=True)(claims)


def _free_username(model: Any, wanted: str, claims: IdTokenClaims, exclude: Any = None) -> str:
    """``wanted``, or ``wanted`` with a short suffix derived from the issuer and ``sub``
    when another row has it (never that row), within the field's length."""
    field = model._meta.get_field(model.USERNAME_FIELD)
    limit = field.max_length or 150
    wanted = (wanted or str(claims.sub))[:limit]
    taken = model._default_manager.filter(**{model.USERNAME_FIELD: wanted}).exclude(pk=exclude).exists()
    if not taken:
        return wanted
    digest = hashlib.sha256(f"{claims.get('iss')}\n{claims.sub}".encode()).hexdigest()[:8]
    return f"{wanted[: limit - 9]}-{digest}"


def _apply_flags(user: Any, claims: IdTokenClaims, opts: Options) -> None:
    superuser = opts.is_superuser(claims)
    staff = opts.is_staff(claims)
    if superuser is not None:
        user.is_superuser = superuser
    if staff is not None:
        user.is_staff = staff


def _create(claims: IdTokenClaims, opts: Options) -> Any:
    from .models import LogtoIdentity  # noqa: PLC0415 - models load once Django's apps are ready

    model = get_user_model()
    fields = opts.user_fields(claims)
    username = _free_username(model, str(fields.get("username") or ""), claims)
    user = model(**{**fields, model.USERNAME_FIELD: username})
    user.set_unusable_password()
    _apply_flags(user, claims, opts)
    user.last_login = timezone.now()
    user.save()
    LogtoIdentity.objects.create(user=user, issuer=str(claims.get("iss") or ""), sub=str(claims.sub))
    return user


def _update(user: Any, claims: IdTokenClaims, opts: Options) -> Any:
    model = type(user)
    fields = opts.user_fields(claims)
    for name, value in fields.items():
        if name == model.USERNAME_FIELD:
            if value and value != getattr(user, name):
                setattr(user, name, _free_username(model, str(value), claims, exclude=user.pk))
        else:
            setattr(user, name, value)
    _apply_flags(user, claims, opts)
    user.last_login = timezone.now()
    user.save()
    return user


def link_user(claims: IdTokenClaims, opts: Options | None = None) -> Any:
    """Create or update the user linked to the claims and return it; ``None`` when that
    user is deactivated. Sync: runs in one transaction (a concurrent first sign-in of the
    same account finds the row the other one made)."""
    from .models import LogtoIdentity  # noqa: PLC0415 - models load once Django's apps are ready

    opts = opts if opts is not None else options()
    issuer, sub = str(claims.get("iss") or ""), str(claims.sub or "")
    if not sub:
        raise ValueError("the ID token has no sub")
    for _ in range(2):
        try:
            with transaction.atomic():
                identity = (
                    LogtoIdentity.objects.select_for_update()
                    .select_related("user")
                    .filter(issuer=issuer, sub=sub)
                    .first()
                )
                if identity is None:
                    return _create(claims, opts)
                if not identity.user.is_active:
                    return None
                identity.save(update_fields=["updated_at"])
                return _update(identity.user, claims, opts)
        except IntegrityError:
            continue  # the other first sign-in won: update its row
    raise RuntimeError(f"could not link a user to {sub!r} at {issuer!r}")


async def sync_user(event: SignInEvent) -> None:
    """``LogtoConfig(on_sign_in=sync_user)``: the user's row, made or updated at sign-in.

    Call it from your own hook to do more: ``await sync_user(event)`` first, then your
    code. A deactivated user's sign-in is refused (403, no session)."""
    user = await sync_to_async(_fresh_connections(link_user), thread_sensitive=True)(event.claims)
    if user is None:
        event.refuse("This account is deactivated.")

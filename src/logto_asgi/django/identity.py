"""Who ``request.user`` is: the Logto session's user, else Django's own session login.

The user comes from the session context ``LogtoMiddleware`` put in the ASGI scope:

- a live Logto session: a ``LogtoDjangoUser`` (lightweight mode) or the linked, active
  ``User`` row (database mode; ``AnonymousUser`` when there is none);
- no Logto session, or no ``LogtoMiddleware`` in front (Django's test ``Client``): the
  user of Django's own session (``django.contrib.auth.login``, the admin's password
  form, ``Client.force_login``), as ``AuthenticationMiddleware`` would find it.

The answer is computed once per request, whichever of ``request.user`` and
``await request.auser()`` asks first.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import sync_to_async
from django.contrib import auth

from .._scope_keys import session_context
from ..context import LogtoContext
from ..models import IdTokenClaims
from .conf import options
from .database import aget_linked_user, get_linked_user
from .users import LogtoDjangoUser

__all__ = ["aget_request_user", "auser_for_claims", "get_request_user", "logto_context", "user_for_claims"]

_CACHE = "_logto_user"


def logto_context(request_or_scope: Any) -> LogtoContext | None:
    """The request's session context, or ``None`` without ``LogtoMiddleware``."""
    scope = getattr(request_or_scope, "scope", request_or_scope)
    ctx = session_context(scope) if isinstance(scope, dict) else None
    return ctx if isinstance(ctx, LogtoContext) else None


def _anonymous() -> Any:
    from django.contrib.auth.models import AnonymousUser  # noqa: PLC0415 - needs Django's apps ready

    return AnonymousUser()


def user_for_claims(claims: IdTokenClaims) -> Any:
    """The Django user of a signed-in user's claims (sync: may query the database)."""
    opts = options()
    if not opts.database:
        return LogtoDjangoUser(claims, opts)
    return get_linked_user(claims) or _anonymous()


async def auser_for_claims(claims: IdTokenClaims) -> Any:
    """``user_for_claims`` for async code."""
    opts = options()
    if not opts.database:
        return LogtoDjangoUser(claims, opts)
    return await aget_linked_user(claims) or _anonymous()


def _session_claims(request: Any) -> IdTokenClaims | None:
    """The claims of the request's live Logto session, if it has one."""
    ctx = logto_context(request)
    return ctx.user if ctx is not None and ctx.is_authenticated else None


def get_request_user(request: Any) -> Any:
    """``request.user``."""
    cached = getattr(request, _CACHE, None)
    if cached is not None:
        return cached
    claims = _session_claims(request)
    if claims is not None:
        user = user_for_claims(claims)
    elif hasattr(request, "session"):
        user = auth.get_user(request)
    else:
        user = _anonymous()
    setattr(request, _CACHE, user)
    return user


async def aget_request_user(request: Any) -> Any:
    """``await request.auser()``."""
    cached = getattr(request, _CACHE, None)
    if cached is not None:
        return cached
    claims = _session_claims(request)
    if claims is not None:
        user = await auser_for_claims(claims)
    elif hasattr(request, "session"):
        aget_user = getattr(auth, "aget_user", None)  # Django 5.0+
        user = await (aget_user(request) if aget_user else sync_to_async(auth.get_user)(request))
    else:
        user = _anonymous()
    setattr(request, _CACHE, user)
    return user

"""``requires_auth`` for Django views, sync and async, with the options of
``logto_asgi.requires_auth`` and the same answers: signed out 401 (``redirect=True``: a
303 to the sign-in route and back), a missing scope 403 ``insufficient_scope``, a missing
role 403 ``access_denied``, a sign-in older than ``max_age`` 401 (or 303 to sign in
again), the provider down while a token is fetched 503.

In database mode the Logto session must also have an active ``User`` row (made at
sign-in by ``sync_user``): else 403 — a deactivated account stays out even while its
session lives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from asgiref.sync import async_to_sync, iscoroutinefunction

from ..errors import AccessDenied, LogtoError
from ..guard_rules import ClaimsCheck, Rule
from ..guards import auth_context
from .conf import options
from .identity import aget_request_user, logto_context
from .responses import http_response, request_scope

__all__ = ["requires_auth"]

F = TypeVar("F", bound=Callable[..., Any])


async def _refusal(rule: Rule, request: Any, path_params: Mapping[str, Any]) -> Any:
    """``None`` when the request may go on, else the ``HttpResponse`` refusing it."""
    scope = request_scope(request)
    ctx = auth_context(scope)
    try:
        await rule.check(ctx, path_params)
        if options().database and logto_context(request) is ctx:
            user = await aget_request_user(request)
            if not user.is_authenticated:
                raise AccessDenied("this account is not active here")
    except LogtoError as exc:
        status, headers, body = await rule.refusal(scope, ctx, exc)
        return http_response(request, status, headers, body, error=exc.error)
    return None


def requires_auth(
    scopes: Sequence[str] | str = (),
    resource: str | None = None,
    organization_id: str | None = None,
    redirect: bool = False,
    fetch_user_info: bool = False,
    *,
    roles: Sequence[str] | str = (),
    any_role: Sequence[str] | str = (),
    organization_roles: Sequence[str] | str = (),
    claims: ClaimsCheck | None = None,
    max_age: int | None = None,
) -> Callable[[F], F]:
    """Guard a Django view (a function taking the request first; for a class-based view,
    ``method_decorator(requires_auth(...), name="dispatch")``).

    The options mean what they mean for ``logto_asgi.requires_auth``;
    ``organization_id="{org_id}"`` reads the URL pattern's ``org_id``. A sync view's
    check runs on the server's event loop (``async_to_sync``), as token fetches must.
    """
    if callable(scopes):
        raise TypeError("requires_auth takes options: write @requires_auth() with parentheses")
    rule = Rule.build(
        scopes,
        resource,
        organization_id,
        redirect,
        fetch_user_info,
        roles=roles,
        any_role=any_role,
        organization_roles=organization_roles,
        claims=claims,
        max_age=max_age,
    )

    def decorate(view: F) -> F:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def guarded_async(request: Any, *args: Any, **kwargs: Any) -> Any:
                refused = await _refusal(rule, request, kwargs)
                return refused if refused is not None else await view(request, *args, **kwargs)

            return cast(F, guarded_async)

        @functools.wraps(view)
        def guarded(request: Any, *args: Any, **kwargs: Any) -> Any:
            refused = async_to_sync(_refusal)(rule, request, kwargs)
            return refused if refused is not None else view(request, *args, **kwargs)

        return cast(F, guarded)

    return decorate

"""``sign_in``: the view behind ``LOGIN_URL``, so ``@login_required`` comes back.

Django sends signed-out users to ``LOGIN_URL?next=/the/page`` (``@login_required``,
``LoginRequiredMixin``, ``LoginRequiredMiddleware``, ``permission_required``); the sign-in
route of ``LogtoMiddleware`` takes ``return_to``. This view maps one onto the other::

    path("accounts/login/", sign_in)   # Django's default LOGIN_URL

A signed-out visitor is redirected to the sign-in route with ``return_to=next`` (a
same-origin path only). A signed-in one — sent here by ``permission_required`` or
``user_passes_test``, which send users who lack the permission to ``LOGIN_URL`` — gets a
403 page: signing in again would only bring them back (a loop).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseRedirect

from ..errors import AccessDenied
from ..redirects import safe_return_to
from .identity import aget_request_user, logto_context
from .responses import error_response

__all__ = ["sign_in"]


async def sign_in(request: Any, *args: Any, **kwargs: Any) -> Any:
    """``LOGIN_URL``: to the Logto sign-in with ``return_to`` from Django's ``next``."""
    ctx = logto_context(request)
    if ctx is None:
        raise LookupError("sign_in needs LogtoMiddleware around the Django application (asgi.py)")
    user = await aget_request_user(request)
    if user.is_authenticated or ctx.is_authenticated:
        # (a live session without an active row in database mode: the same answer)
        return await error_response(request, AccessDenied("you are signed in, but may not open that page"))
    return_to = safe_return_to(request.GET.get("next"))
    response = HttpResponseRedirect(ctx.sign_in_url(return_to=return_to))
    response.headers["Cache-Control"] = "no-store"
    return response

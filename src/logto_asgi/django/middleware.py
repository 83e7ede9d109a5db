"""``LogtoAuthMiddleware``: Django's ``AuthenticationMiddleware`` for Logto sessions.

It takes the place of ``django.contrib.auth.middleware.AuthenticationMiddleware`` in
``MIDDLEWARE`` (a subclass, so the admin's checks accept it): ``request.user`` and
``await request.auser()`` are the signed-in user (see ``identity``), and a ``LogtoError``
a view lets escape (``NotAuthenticated`` from ``require_user()``, ``ProviderUnavailable``
from a token fetch, …) becomes the response ``LogtoMiddleware`` gives it — 401, 403,
503 — instead of Django's 500 page.
"""

# mypy: allow-subclassing-any

from __future__ import annotations

from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.utils.functional import SimpleLazyObject

from ..errors import LogtoError
from .identity import aget_request_user, get_request_user
from .responses import error_response

__all__ = ["LogtoAuthMiddleware"]


class LogtoAuthMiddleware(AuthenticationMiddleware):
    """``MIDDLEWARE``: in place of ``AuthenticationMiddleware`` (after
    ``SessionMiddleware`` when Django's own logins should keep working)."""

    def process_request(self, request: Any) -> None:
        # No session middleware required: the Logto session is the ASGI middleware's.
        request.user = SimpleLazyObject(partial(get_request_user, request))
        request.auser = partial(aget_request_user, request)

    async def __acall__(self, request: Any) -> Any:
        # Nothing here does I/O: no thread hop, unlike MiddlewareMixin's own __acall__.
        self.process_request(request)
        return await self.get_response(request)

    def process_exception(self, request: Any, exception: Exception) -> Any:
        """A ``LogtoError`` from a view (sync or async) or its template: the boundary's
        answer. Django calls this in a worker thread for both kinds of view."""
        if not isinstance(exception, LogtoError):
            return None
        return async_to_sync(error_response)(request, exception)

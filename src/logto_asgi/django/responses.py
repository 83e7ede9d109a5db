"""A ``LogtoError`` as a Django ``HttpResponse``: the answer the middleware's own boundary
gives (the engine's ``ErrorResponder`` in the scope: the app's ``on_error`` hook, content
negotiation, the sign-in link of a 401, ``no-store``), not Django's 500 page."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

from .._http import NO_STORE
from ..boundary import rendered_for
from ..errors import LogtoError

__all__ = ["error_response", "http_response", "request_scope"]

logger = logging.getLogger("logto_asgi")


def request_scope(request: Any) -> dict[str, Any]:
    """The ASGI scope of a Django request: ``request.scope`` under ASGI; for a request
    that has none (WSGI, Django's test ``Client``) what the error pages need of it."""
    scope = getattr(request, "scope", None)
    if isinstance(scope, dict):
        return scope
    headers = [(b"accept", str(request.headers.get("Accept", "")).encode("latin-1", "replace"))]
    return {
        "type": "http",
        "method": request.method,
        "path": request.path,
        "query_string": request.META.get("QUERY_STRING", "").encode("latin-1", "replace"),
        "headers": headers,
    }


def http_response(
    request: Any, status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes, *, error: str = ""
) -> HttpResponse:
    """An ``HttpResponse`` from raw ASGI parts. A 5xx is logged here, once, as a warning
    without a traceback (the error was answered as designed: a provider outage is not a
    bug in the app), and Django is told it was logged so it adds no ERROR of its own."""
    response = HttpResponse(body, status=status)
    for name, value in headers:
        if name.lower() == b"set-cookie":
            # One header per name in ``response.headers``: every cookie goes through
            # ``response.cookies``, which Django sends as one Set-Cookie each.
            response.cookies.load(value.decode("latin-1"))
        else:
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
    if status >= 500:
        logger.warning("%s %s answered %s %s", request.method, request.path, status, error)
        response._has_been_logged = True  # read by django.utils.log.log_response
    return response


async def error_response(request: Any, exc: LogtoError) -> HttpResponse:
    """How the middleware serving ``request`` answers ``exc``."""
    rendered = await rendered_for(request_scope(request), exc)
    headers = [*NO_STORE, *rendered.headers]
    return http_response(request, rendered.status, headers, rendered.body, error=exc.error)

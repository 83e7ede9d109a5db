"""The error boundary: how a ``LogtoError`` becomes a response, in one place.

``render_error`` is the default renderer (JSON for API clients, a small escaped HTML page
otherwise; ``Cache-Control: no-store`` always; RFC 6750 ``WWW-Authenticate`` where it
applies; ``Retry-After`` when the error knows when a retry may succeed, as for a provider
that failed a moment ago). ``ErrorBoundary`` runs an ASGI app and answers a
``LogtoError`` that escapes it before the response started. ``install_framework_handler``
registers the same rendering with frameworks that turn unknown exceptions into 500 pages
before they reach us, through each framework's documented hook.
"""

from __future__ import annotations

import html
import json
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import Scope, Send

from ._http import NO_STORE, header, send_response
from .errors import InsufficientScope, LogtoError, NotAuthenticated, TokenValidationError

Headers = list[tuple[bytes, bytes]]

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;color:#222}}
code{{background:#f3f3f3;padding:.1rem .3rem}}</style></head>
<body><h1>{title}</h1><p>{message}</p><p><code>{code}</code></p>{link}</body></html>"""

_TITLES = {
    400: "Sign-in failed",
    401: "Not signed in",
    403: "Access denied",
    502: "Provider error",
    503: "Service unavailable",
    504: "Provider timeout",
}


class BearerTokenRejected(TokenValidationError):
    """A bearer token failed validation: RFC 6750's 401 ``invalid_token``, always JSON,
    with no hint of which check failed (that goes to the log)."""

    status_code = 401

    def __init__(self, check: str) -> None:
        super().__init__("the access token is not valid for this API", check=check)


@dataclass(frozen=True, slots=True)
class RenderedError:
    """A response for an error: status, headers (content type included) and body."""

    status: int
    headers: Headers
    body: bytes


#: Turns an error into a response; ``link`` is an optional (href, label) to go on.
ErrorRenderer = Callable[[Scope, LogtoError, "tuple[str, str] | None"], RenderedError]


def wants_json(scope: Scope) -> bool:
    accept = header(scope, b"accept") or ""
    return "application/json" in accept and "text/html" not in accept


def www_authenticate(exc: LogtoError) -> Headers:
    if isinstance(exc, BearerTokenRejected):
        return [(b"www-authenticate", b'Bearer error="invalid_token"')]
    if isinstance(exc, InsufficientScope):
        value = 'Bearer error="insufficient_scope"'
        if exc.scopes:
            value += f', scope="{" ".join(exc.scopes)}"'
        return [(b"www-authenticate", value.encode("latin-1", "replace"))]
    if isinstance(exc, NotAuthenticated):
        return [(b"www-authenticate", b"Bearer")]
    return []


def retry_after(exc: LogtoError) -> Headers:
    """``Retry-After`` in whole seconds (rounded up, at least 1) for an error that carries
    ``retry_after``, such as a provider that failed a moment ago (RFC 9110 10.2.3)."""
    if exc.retry_after is None:
        return []
    return [(b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode())]


def error_body(scope: Scope, exc: LogtoError, *, link: tuple[str, str] | None = None) -> tuple[bytes, bytes]:
    """A body and content type for ``exc``: JSON for API clients (and for rejected
    bearer tokens), else a small HTML page. Everything echoed is escaped."""
    if isinstance(exc, BearerTokenRejected) or wants_json(scope):
        payload: dict[str, Any] = {"error": exc.error, "error_description": exc.description}
        return json.dumps(payload).encode(), b"application/json"
    link_html = ""
    if link is not None:
        link_html = f'<p><a href="{html.escape(link[0])}">{html.escape(link[1])}</a></p>'
    page = _PAGE.format(
        title=html.escape(_TITLES.get(exc.status_code, "Error")),
        message=html.escape(exc.description),
        code=html.escape(exc.error),
        link=link_html,
    )
    return page.encode("utf-8"), b"text/html; charset=utf-8"


def render_error(scope: Scope, exc: LogtoError, link: tuple[str, str] | None = None) -> RenderedError:
    """The built-in rendering of ``exc``."""
    body, content_type = error_body(scope, exc, link=link)
    headers = [*www_authenticate(exc), *retry_after(exc), (b"content-type", content_type)]
    return RenderedError(exc.status_code, headers, body)


async def send_error(
    scope: Scope,
    send: Send,
    exc: LogtoError,
    *,
    headers: Iterable[tuple[bytes, bytes]] = (),
    link: tuple[str, str] | None = None,
    renderer: ErrorRenderer = render_error,
) -> None:
    """Answer ``exc`` (``headers`` added, e.g. cookie deletions)."""
    rendered = renderer(scope, exc, link)
    await send_response(send, rendered.status, rendered.body, headers=[*rendered.headers, *headers])


def close_code(exc: LogtoError) -> int:
    """The websocket close code for a refusal: 1011 when the server side failed."""
    return 1011 if exc.status_code >= 500 else 1008


async def refuse(scope: Scope, send: Send, exc: LogtoError, renderer: ErrorRenderer = render_error) -> None:
    """Answer ``exc`` on an HTTP request, or close a websocket before accepting it."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": close_code(exc)})
    else:
        await send_error(scope, send, exc, renderer=renderer)


def str_headers(headers: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """Raw ASGI headers as the ``dict[str, str]`` frameworks' responses take."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in headers}


def install_framework_handler(app: Any, renderer: ErrorRenderer = render_error) -> None:
    """Let a ``LogtoError`` raised in a handler become its own response inside Starlette
    (FastAPI) and Quart, which would otherwise answer 500 before it reaches us. Uses the
    documented hooks: ``Starlette.add_exception_handler``, ``Quart.register_error_handler``.
    Other apps need nothing: the error reaches the middleware's boundary."""
    starlette_apps = sys.modules.get("starlette.applications")
    quart = sys.modules.get("quart")
    if starlette_apps is not None and isinstance(app, starlette_apps.Starlette):
        _install_starlette(app, renderer)
    elif quart is not None and isinstance(app, quart.Quart):
        _install_quart(app, quart, renderer)


def _install_starlette(app: Any, renderer: ErrorRenderer) -> None:
    responses = sys.modules["starlette.responses"]
    if LogtoError in app.exception_handlers:
        return

    async def handle(request: Any, exc: Exception) -> Any:
        assert isinstance(exc, LogtoError)
        rendered = renderer(request.scope, exc, None)
        return responses.Response(
            rendered.body, status_code=rendered.status, headers=str_headers([*NO_STORE, *rendered.headers])
        )

    app.add_exception_handler(LogtoError, handle)


def _install_quart(app: Any, quart: Any, renderer: ErrorRenderer) -> None:
    async def handle(exc: LogtoError) -> tuple[bytes, int, dict[str, str]]:
        scope = quart.request.scope if quart.has_request_context() else {"headers": []}
        rendered = renderer(scope, exc, None)
        return rendered.body, rendered.status, str_headers([*NO_STORE, *rendered.headers])

    app.register_error_handler(LogtoError, handle)

"""Litestar: a ``LogtoError`` raised in a handler answered as the middleware would.

Litestar turns every exception a handler raises into its own 500 page before it reaches
``LogtoMiddleware``. Register the ready handler and a ``NotAuthenticated`` from
``require_user()``, an ``InsufficientScope`` or a ``ProviderUnavailable`` from a token
fetch get the middleware's answer (401, 403, 503, with ``WWW-Authenticate``, JSON or
HTML by ``Accept``, the app's ``on_error`` hook)::

    from logto_asgi import LogtoError
    from logto_asgi.litestar import logto_error_handler

    Litestar(route_handlers=[...], exception_handlers={LogtoError: logto_error_handler})

``LogtoMiddleware(Litestar(...))`` registers it by itself (unless the app already has a
handler for ``LogtoError``); register it yourself when something else stands between the
middleware and the Litestar app. ``error_handler(redirect=True)`` sends a signed-out
browser session to sign in instead of answering 401. Websockets are closed by Litestar
itself (its exception handlers serve HTTP only).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from litestar import Litestar, Request, Response
from litestar.background_tasks import BackgroundTask, BackgroundTasks
from litestar.datastructures import Cookie
from litestar.enums import MediaType
from litestar.response.base import ASGIResponse
from litestar.types import Receive as LitestarReceive
from litestar.types import Scope as LitestarScope
from litestar.types import Send as LitestarSend
from litestar.types import TypeEncodersMap
from starlette.types import Receive, Scope, Send

from ._framework_errors import answer_error
from .boundary import ErrorRenderer, render_error
from .errors import LogtoError

__all__ = ["error_handler", "install", "logto_error_handler"]

#: What Litestar's ``exception_handlers`` take.
ExceptionHandler = Callable[[Request[Any, Any, Any], Exception], Response[Any]]


class _Answer(ASGIResponse):
    """Sends what the boundary would, from inside Litestar's exception middleware."""

    __slots__ = ("_exc", "_redirect", "_renderer")

    def __init__(self, exc: LogtoError, redirect: bool, renderer: ErrorRenderer) -> None:
        super().__init__(status_code=exc.status_code)
        self._exc = exc
        self._redirect = redirect
        self._renderer = renderer

    async def __call__(self, scope: LitestarScope, receive: LitestarReceive, send: LitestarSend) -> None:
        await answer_error(
            cast(Scope, scope),
            cast(Receive, receive),
            cast(Send, send),
            self._exc,
            redirect=self._redirect,
            renderer=self._renderer,
        )


class _ErrorResponse(Response[bytes]):
    """A response whose ASGI form is the boundary's answer to ``exc`` (Litestar's
    handlers are synchronous; the ``on_error`` hook may not be)."""

    def __init__(self, exc: LogtoError, redirect: bool, renderer: ErrorRenderer) -> None:
        super().__init__(b"", status_code=exc.status_code)
        self._answer = _Answer(exc, redirect, renderer)

    def to_asgi_response(
        self,
        app: Litestar | None,
        request: Request[Any, Any, Any],
        *,
        background: BackgroundTask | BackgroundTasks | None = None,
        cookies: Iterable[Cookie] | None = None,
        encoded_headers: Iterable[tuple[bytes, bytes]] | None = None,
        headers: dict[str, str] | None = None,
        is_head_response: bool = False,
        media_type: MediaType | str | None = None,
        status_code: int | None = None,
        type_encoders: TypeEncodersMap | None = None,
    ) -> ASGIResponse:
        return self._answer


def error_handler(*, redirect: bool = False, renderer: ErrorRenderer = render_error) -> ExceptionHandler:
    """A Litestar exception handler for ``LogtoError``. ``redirect=True``: a signed-out
    browser session gets a ``303`` to sign in and back (as ``requires_auth(redirect=True)``);
    ``renderer`` answers requests no logto-asgi middleware serves."""

    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        if not isinstance(exc, LogtoError):
            raise exc
        return _ErrorResponse(exc, redirect, renderer)

    handle.__doc__ = "Answer a LogtoError as logto-asgi's middleware would."
    return handle


#: ``Litestar(..., exception_handlers={LogtoError: logto_error_handler})``.
logto_error_handler: ExceptionHandler = error_handler()


def install(app: Litestar, renderer: ErrorRenderer = render_error) -> None:
    """Register the handler on ``app`` unless it already handles ``LogtoError``
    (``LogtoMiddleware`` calls this for the Litestar app it wraps)."""
    app.exception_handlers.setdefault(LogtoError, error_handler(renderer=renderer))

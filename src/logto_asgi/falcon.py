"""Falcon (ASGI): a ``LogtoError`` raised in a responder answered as the middleware would.

Falcon turns every exception a responder raises into its own 500 before it reaches
``LogtoMiddleware``. Register the ready handler and a ``NotAuthenticated`` from
``require_user()``, an ``InsufficientScope`` or a ``ProviderUnavailable`` from a token
fetch get the middleware's answer (401, 403, 503, with ``WWW-Authenticate``, JSON or
HTML by ``Accept``, the app's ``on_error`` hook)::

    from logto_asgi import LogtoError
    from logto_asgi.falcon import logto_error_handler

    app = falcon.asgi.App()
    app.add_error_handler(LogtoError, logto_error_handler)

``LogtoMiddleware(falcon_app)`` registers it by itself (unless the app already has a
handler for ``LogtoError``); register it yourself when something else stands between the
middleware and the Falcon app. ``error_handler(redirect=True)`` sends a signed-out
browser session to sign in instead of answering 401. A websocket is closed before it
is accepted: 1008, or 1011 when the provider failed.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from falcon.asgi import App, Request, Response, WebSocket
from starlette.types import Scope

from ._framework_errors import collect_error
from .boundary import ErrorRenderer, close_code, render_error
from .errors import LogtoError

__all__ = ["ErrorHandler", "error_handler", "install", "logto_error_handler"]

#: What ``falcon.asgi.App.add_error_handler`` takes.
ErrorHandler = Callable[..., Awaitable[None]]


def error_handler(*, redirect: bool = False, renderer: ErrorRenderer = render_error) -> ErrorHandler:
    """A Falcon ASGI error handler for ``LogtoError``. ``redirect=True``: a signed-out
    browser session gets a ``303`` to sign in and back (as ``requires_auth(redirect=True)``);
    ``renderer`` answers requests no logto-asgi middleware serves."""

    async def handle(
        req: Request,
        resp: Response | None,
        ex: Exception,
        params: dict[str, Any],
        ws: WebSocket | None = None,
    ) -> None:
        if not isinstance(ex, LogtoError):
            raise ex
        if ws is not None or resp is None:
            if ws is not None:
                await ws.close(close_code(ex))
            return
        answer = await collect_error(cast(Scope, req.scope), ex, redirect=redirect, renderer=renderer)
        resp.status = answer.status
        for name, value in answer.headers:
            resp.append_header(name.decode("latin-1"), value.decode("latin-1"))
        resp.data = answer.body

    handle.__doc__ = "Answer a LogtoError as logto-asgi's middleware would."
    return handle


#: ``app.add_error_handler(LogtoError, logto_error_handler)``.
logto_error_handler: ErrorHandler = error_handler()


def install(app: App[Any, Any], renderer: ErrorRenderer = render_error) -> None:
    """Register the handler on ``app`` unless it already handles ``LogtoError``
    (``LogtoMiddleware`` calls this for the Falcon app it wraps). Falcon has no public
    way to ask which handlers an app has; without its ``_error_handlers`` table nothing
    is registered, and the explicit ``add_error_handler`` line is needed."""
    handlers = getattr(app, "_error_handlers", None)
    if isinstance(handlers, dict) and LogtoError not in handlers:
        app.add_error_handler(LogtoError, error_handler(renderer=renderer))

"""``on_error(request, error)``: the app renders a ``LogtoError`` its own way.

``LogtoConfig(on_error=fn)`` (or ``BearerAuthMiddleware(on_error=fn)``) is asked first
wherever the middleware answers an error for an HTTP request: its auth routes, a guard, an
error a handler let escape. It gets a Starlette ``Request`` and the error, and returns a
Starlette ``Response`` to send, or ``None`` for the built-in page. It may be sync or async.
An exception in it, or something that is not a ``Response``, is logged and answered with
the built-in 500 page (``HookFailed``). Headers the middleware must send whatever the page
(a transaction or session cookie being cleared) are added to the hook's response.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ._scope_keys import session_context
from .boundary import ErrorRenderer, RenderedError, send_error
from .errors import LogtoError, NotAuthenticated
from .hooks import HookFailed
from .redirects import request_target, safe_return_to

__all__ = ["ErrorHook", "ErrorResponder"]

logger = logging.getLogger("logto_asgi")


async def _NO_BODY() -> Message:
    return {"type": "http.disconnect"}


ErrorHook = Callable[[Request, LogtoError], "Response | Awaitable[Response | None] | None"]


def sign_in_link(scope: Scope, exc: LogtoError) -> tuple[str, str] | None:
    """For a 401 of a request the session middleware serves: its sign-in route, coming
    back to the request's page (a ``GET``) — so an API client's JSON names ``sign_in_url``
    and a browser's page has the button."""
    if not isinstance(exc, NotAuthenticated) or scope.get("type") != "http":
        return None
    ctx = session_context(scope)
    sign_in_url = getattr(ctx, "sign_in_url", None)
    if not callable(sign_in_url):
        return None
    back = request_target(scope) if scope.get("method") == "GET" else None
    return sign_in_url(return_to=safe_return_to(back)), "Sign in"


class ErrorResponder:
    """Answers an error: the app's ``on_error`` first, else ``renderer``'s page."""

    __slots__ = ("hook", "renderer")

    def __init__(self, hook: ErrorHook | None, renderer: ErrorRenderer) -> None:
        self.hook = hook
        self.renderer = renderer

    async def respond(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        exc: LogtoError,
        *,
        headers: Iterable[tuple[bytes, bytes]] = (),
        link: tuple[str, str] | None = None,
    ) -> None:
        if self.hook is not None and scope["type"] == "http":
            response, exc = await self._ask(scope, receive, exc)
            if response is not None:
                response.raw_headers.extend(headers)
                await response(scope, receive, send)
                return
        link = link or sign_in_link(scope, exc)
        await send_error(scope, send, exc, headers=headers, link=link, renderer=self.renderer)

    async def rendered(self, scope: Scope, exc: LogtoError, link: tuple[str, str] | None) -> RenderedError:
        """The answer as status, headers and body, for responses a framework sends (a
        guard's refusal, an exception handler's): the hook's, if it returns a plain
        ``Response``, else the renderer's."""
        if self.hook is not None and scope.get("type") == "http":
            response, exc = await self._ask(scope, _NO_BODY, exc)
            body = getattr(response, "body", None)
            if response is not None and isinstance(body, (bytes, memoryview)):
                return RenderedError(response.status_code, list(response.raw_headers), bytes(body))
            if response is not None:
                logger.error("on_error returned a %s; a guard can send only a plain Response", type(response))
                exc = HookFailed("the application's on_error hook failed")
        return self.renderer(scope, exc, link or sign_in_link(scope, exc))

    async def _ask(
        self, scope: Scope, receive: Receive, exc: LogtoError
    ) -> tuple[Response | None, LogtoError]:
        """The hook's response (or ``None``), and the error to render without one."""
        assert self.hook is not None
        try:
            result = self.hook(Request(scope, receive), exc)
            if inspect.isawaitable(result):
                result = await result
        except Exception as failure:
            logger.exception("the on_error hook raised %s", type(failure).__name__)
            return None, HookFailed("the application's on_error hook failed")
        if result is None or isinstance(result, Response):
            return result, exc
        logger.error("the on_error hook returned %s, not a Response or None", type(result).__name__)
        return None, HookFailed("the application's on_error hook failed")

"""The one request pipeline behind ``LogtoMiddleware`` and ``BearerAuthMiddleware``.

An ``Engine`` answers its action routes, runs its authenticators in their declared
order, runs the app inside the error boundary, and passes lifespan (with its own startup
and shutdown) and every other scope type straight through.

Who the request is: each authenticator *offers* an identity with ``claim_identity``,
the only writer of ``scope["user"]``, ``scope["auth"]``, ``state["user"]`` and
``state["logto"]``. An offer wins when it ranks higher than what the scope already
holds — an authenticated identity over an anonymous one, then the higher configured
``precedence`` — so stacking several middlewares gives the same answer in either order:
precedence is configuration, not "who ran last". A fallback offer (a bearer middleware
saying "no token") only fills an empty scope.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._http import add_headers, run_lifespan
from .boundary import ErrorRenderer, refuse, render_error, send_error
from .errors import LogtoError

Headers = list[tuple[bytes, bytes]]
Route = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The winning identity's rank, in the scope (private to logto-asgi).
_RANK = "logto_asgi.rank"
#: The request's session context, whoever won (for ``current()``).
_SESSION = "logto_asgi.session"
_AUTHENTICATED = 2000
_ANONYMOUS = 1000

#: ``logto_asgi.current()``: the session context of the request being served.
current_session: contextvars.ContextVar[Any] = contextvars.ContextVar("logto_asgi_session", default=None)
#: ``logto_asgi.current_auth()``: whoever authenticated the request being served.
current_identity: contextvars.ContextVar[Any] = contextvars.ContextVar("logto_asgi_identity", default=None)


def rank(*, authenticated: bool, precedence: int, fallback: bool = False) -> int:
    """How strongly an offer claims the request (see the module docstring)."""
    if authenticated:
        return _AUTHENTICATED + precedence
    return precedence if fallback else _ANONYMOUS + precedence


def claim_identity(
    scope: Scope, offer: int, context: Any, user: Any, auth: Any, claims: Any, *, session: Any = None
) -> bool:
    """Write the request's identity if ``offer`` outranks the one already there.
    ``session`` is the request's session context, kept for ``current()`` either way."""
    if session is not None:
        scope[_SESSION] = session
    if scope.get(_RANK, -1) >= offer:
        return False
    scope[_RANK] = offer
    state = scope.get("state")
    if state is None:
        state = scope["state"] = {}
    state["logto"] = context
    state["user"] = claims
    scope["user"] = user
    scope["auth"] = auth
    return True


class WriteBack(Protocol):
    """Response headers an authenticator may need to add (a session cookie to renew)."""

    def pending(self) -> bool:
        """Whether anything must be written (checked at ``http.response.start``)."""
        ...

    async def headers(self) -> Headers:
        """The headers to add; called only when ``pending()``."""
        ...


class Authenticator(Protocol):
    """Finds who a request is and offers it with ``claim_identity``."""

    async def authenticate(self, scope: Scope) -> WriteBack | None:
        """Offer an identity for ``scope``; raise a ``LogtoError`` to refuse the request."""
        ...


class Engine:
    """Routes, authenticators and the error boundary around one ASGI app."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Mapping[str, Route],
        authenticators: Sequence[Authenticator],
        on_startup: Callable[[], Awaitable[None]],
        on_shutdown: Callable[[], Awaitable[None]],
        renderer: ErrorRenderer = render_error,
    ) -> None:
        self.app = app
        self._routes = dict(routes)
        self._authenticators = tuple(authenticators)
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._renderer = renderer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            route = self._routes.get(scope["path"])
            if route is not None:
                await route(scope, receive, send)
                return
        elif kind == "lifespan":
            await run_lifespan(
                self.app, scope, receive, send, on_startup=self._on_startup, on_shutdown=self._on_shutdown
            )
            return
        elif kind != "websocket":
            await self.app(scope, receive, send)
            return
        write_backs: list[WriteBack] = []
        try:
            for authenticator in self._authenticators:
                write_back = await authenticator.authenticate(scope)
                if write_back is not None:
                    write_backs.append(write_back)
        except LogtoError as exc:
            await refuse(scope, send, exc, self._renderer)
            return
        session_token = current_session.set(scope.get(_SESSION))
        identity_token = current_identity.set(scope["state"]["logto"])
        try:
            if kind == "http":
                await self._serve_http(scope, receive, send, write_backs)
            else:
                await self.app(scope, receive, send)
        finally:
            current_identity.reset(identity_token)
            current_session.reset(session_token)

    async def _serve_http(
        self, scope: Scope, receive: Receive, send: Send, write_backs: list[WriteBack]
    ) -> None:
        started = False

        async def start_with_headers(message: Message) -> None:
            for write_back in write_backs:
                if write_back.pending():
                    add_headers(message, await write_back.headers())
            await send(message)

        # Not a coroutine function: most messages go straight to send's own awaitable,
        # which spares a coroutine per message on the path most requests take.
        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if write_backs and any(write_back.pending() for write_back in write_backs):
                    return start_with_headers(message)
            return send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except LogtoError as exc:
            if started:
                raise
            await send_error(scope, send_wrapper, exc, renderer=self._renderer)

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
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from types import CoroutineType
from typing import Any, Protocol, cast

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._http import add_headers
from ._lifespan import run_lifespan
from ._scope_keys import SESSION
from .boundary import ERRORS_KEY, ErrorRenderer, refuse, render_error
from .cache_headers import private_no_store, sets_cookie
from .error_hook import ErrorHook, ErrorResponder
from .errors import LogtoError

Headers = list[tuple[bytes, bytes]]
Route = Callable[[Scope, Receive, Send], Awaitable[None]]

#: The winning identity's rank, in the scope (private to logto-asgi).
_RANK = "logto_asgi.rank"
#: The request's session context, whoever won (for ``current()``).
_SESSION = SESSION
_AUTHENTICATED = 2000
_ANONYMOUS = 1000

#: How long the first request waits for the startup of a server that sent no lifespan.
FIRST_REQUEST_STARTUP_SECONDS = 5.0

logger = logging.getLogger("logto_asgi")

#: The scope of the request being served: ``current()`` reads its session context,
#: ``current_auth()`` its identity.
current_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("logto_asgi_scope", default=None)


def rank(*, authenticated: bool, precedence: int, fallback: bool = False) -> int:
    """How strongly an offer claims the request (see the module docstring)."""
    if authenticated:
        return _AUTHENTICATED + precedence
    return precedence if fallback else _ANONYMOUS + precedence


def claim_identity(
    scope: Scope, offer: int, context: Any, user: Any, auth: Any, claims: Any, session: Any = None
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

    def decorate(self, message: Message) -> None:
        """Headers that need no I/O (``Vary: Cookie`` of a signed-in response), added to
        the ``http.response.start`` message whatever ``pending()`` says."""
        ...


Found = WriteBack | None


class Authenticator(Protocol):
    """Finds who a request is and offers it with ``claim_identity``.

    ``authenticate`` answers at once when it needs no I/O (the common case: no cookie,
    no token), or returns a coroutine the engine awaits — so the fast path costs no
    coroutine of its own. It raises a ``LogtoError`` to refuse the request."""

    def authenticate(self, scope: Scope) -> Found | Coroutine[Any, Any, Found]:
        """Offer an identity for ``scope``; what to write back on the response, if anything."""
        ...


class _AllWriteBacks:
    """Several authenticators' write-backs as one."""

    __slots__ = ("_all",)

    def __init__(self, write_backs: list[WriteBack]) -> None:
        self._all = write_backs

    def pending(self) -> bool:
        return any(write_back.pending() for write_back in self._all)

    async def headers(self) -> Headers:
        headers: Headers = []
        for write_back in self._all:
            if write_back.pending():
                headers.extend(await write_back.headers())
        return headers

    def decorate(self, message: Message) -> None:
        for write_back in self._all:
            write_back.decorate(message)


async def _authenticate(authenticator: Authenticator, scope: Scope) -> Found:
    found = authenticator.authenticate(scope)
    return cast(Found, await found if type(found) is CoroutineType else found)


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
        on_error: ErrorHook | None = None,
        startup_on_first_request: bool = False,
    ) -> None:
        self.app = app
        self._routes = dict(routes)
        self._authenticators = tuple(authenticators)
        self._single = self._authenticators[0] if len(self._authenticators) == 1 else None
        self._on_startup = on_startup
        self._on_shutdown = on_shutdown
        self._renderer = renderer
        self._errors = ErrorResponder(on_error, renderer)
        # For apps served without any lifespan (Daphne never sends it): the first request
        # runs the startup instead, unless a lifespan startup came first.
        self._unstarted = startup_on_first_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if self._unstarted:
            await self._start_on_first_request(kind)
        # Guards and framework handlers answer errors the way this engine would.
        scope.setdefault(ERRORS_KEY, self._errors)
        if kind != "http" or scope["path"] in self._routes:
            await self._other(kind, scope, receive, send)
            return
        try:
            found = (
                self._single.authenticate(scope)
                if self._single is not None
                else self._authenticate_all(scope)
            )
            # (no cast() call on the hot path: mypy cannot narrow by ``type(...) is``)
            write_back: WriteBack | None = await found if type(found) is CoroutineType else found  # type: ignore[assignment]
        except LogtoError as exc:
            await self._errors.respond(scope, receive, send, exc)
            return
        token = current_scope.set(scope)
        # The request itself, inline: one coroutine fewer per request on the hot path.
        started = False

        # Not a coroutine function: most messages go straight to send's own awaitable,
        # which spares a coroutine per message on the path most requests take.
        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if write_back is not None:
                    if write_back.pending():
                        return _start_with_headers(message, write_back, send)
                    write_back.decorate(message)
            return send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except LogtoError as exc:
            if started:
                raise
            await self._errors.respond(scope, receive, send_wrapper, exc)
        finally:
            current_scope.reset(token)

    async def _other(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        """An action route, lifespan, a websocket (identified like a request), or a scope
        type we pass straight through."""
        if kind == "http":
            await self._serve_route(scope, receive, send)
        elif kind == "lifespan":
            await run_lifespan(
                self.app,
                scope,
                receive,
                send,
                on_startup=self._lifespan_startup,
                on_shutdown=self._on_shutdown,
            )
        elif kind == "websocket":
            await self._serve_websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _serve_websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await (
                _authenticate(self._single, scope)
                if self._single is not None
                else self._authenticate_all(scope)
            )
        except LogtoError as exc:
            await refuse(scope, send, exc, self._renderer)
            return
        token = current_scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            current_scope.reset(token)

    async def _lifespan_startup(self) -> None:
        self._unstarted = False
        await self._on_startup()

    async def _start_on_first_request(self, kind: str) -> None:
        """Our startup, once, on the first request of a server that sent no lifespan:
        that request waits for it, concurrent ones don't."""
        if kind == "lifespan":
            return
        self._unstarted = False
        with anyio.move_on_after(FIRST_REQUEST_STARTUP_SECONDS) as deadline:
            await self._on_startup()
        if deadline.cancelled_caught:
            logger.warning(
                "startup check: not done within %s s of the first request; carrying on",
                FIRST_REQUEST_STARTUP_SECONDS,
            )

    async def _serve_route(self, scope: Scope, receive: Receive, send: Send) -> None:
        """An action route inside the boundary: a ``LogtoError`` it did not answer itself
        (a malformed query) is a clear error page, never a traceback."""
        started = False

        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            return send(message)

        try:
            await self._routes[scope["path"]](scope, receive, send_wrapper)
        except LogtoError as exc:
            if started:
                raise
            await self._errors.respond(scope, receive, send, exc)

    async def _authenticate_all(self, scope: Scope) -> WriteBack | None:
        found = [await _authenticate(authenticator, scope) for authenticator in self._authenticators]
        write_backs = [write_back for write_back in found if write_back is not None]
        return _AllWriteBacks(write_backs) if write_backs else None


async def _start_with_headers(message: Message, write_back: WriteBack, send: Send) -> None:
    extra = await write_back.headers()
    add_headers(message, extra)
    if sets_cookie(extra):
        # A session cookie in a cached response would go to every later visitor.
        private_no_store(message)
    write_back.decorate(message)
    await send(message)

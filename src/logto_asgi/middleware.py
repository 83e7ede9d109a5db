"""``LogtoMiddleware``: answers the auth paths, reads the session of every other request
and puts the user and a ``LogtoContext`` in the scope.

Pure ASGI: per-request state lives in closures, headers are touched only on
``http.response.start``, lifespan passes through (with our startup check and the HTTP
client closed at shutdown), and anything it does not handle goes to the app untouched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._http import (
    NO_STORE,
    add_headers,
    error_body,
    parse_cookies,
    run_lifespan,
    send_error,
    www_authenticate,
)
from .config import LogtoConfig
from .context import LogtoContext, _current
from .core import LogtoCore
from .errors import LogtoError
from .models import IdTokenClaims
from .routes import AuthRoutes
from .sessions._backends import is_expired
from .sessions.base import Session
from .users import LogtoUser

logger = logging.getLogger("logto_asgi")

_ANONYMOUS = UnauthenticatedUser()


class _FrozenCredentials(AuthCredentials):
    """``request.auth`` shared by many requests (every anonymous one, or every request of
    one session): its scopes are a tuple, so no handler can change them for the others."""

    def __init__(self, scopes: tuple[str, ...] = ()) -> None:
        self.scopes = scopes  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class _SessionView:
    """What every request of one session shares: built once per session, read-only."""

    claims: IdTokenClaims
    user: LogtoUser
    auth: _FrozenCredentials


_NO_CREDENTIALS = _FrozenCredentials()
# Parsed Cookie headers kept: at most 2,048 headers of at most 16 KiB (32 MiB at worst).
_PARSED_COOKIES_SIZE = 2048
_PARSED_COOKIE_MAX = 16 * 1024


class _Unavailable:
    """Stands for the user while the session store is down: any use raises the store's
    error, which the middleware (or the framework's handler we install) turns into 503."""

    __slots__ = ("_error",)

    def __init__(self, error: LogtoError) -> None:
        self._error = error

    def __getattr__(self, name: str) -> Any:
        raise self._error

    def __bool__(self) -> bool:
        raise self._error

    def __repr__(self) -> str:
        return "<session store unavailable>"


class LogtoMiddleware:
    """Sign-in with Logto (or any OpenID Connect provider) for any ASGI app.

    ``LogtoMiddleware(app, config=LogtoConfig(...))`` or
    ``app.add_middleware(LogtoMiddleware, config=config)``.
    """

    def __init__(
        self,
        app: ASGIApp,
        config: LogtoConfig | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if config is None:
            config = LogtoConfig.from_env()
        self.app = app
        self.config = config
        self.core = LogtoCore(config, clock=clock)
        self._routes = AuthRoutes(self.core)
        self._paths = self._routes.paths
        self._cookie_marker = config.cookie_name.encode("latin-1")
        self._parsed_cookies: dict[bytes, dict[str, str]] = {}
        # Quart is wrapped as `app.asgi_app = LogtoMiddleware(app.asgi_app, ...)`: a bound method.
        _install_error_handler(getattr(app, "__self__", app))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            route = self._paths.get(scope["path"])
            if route is not None:
                await route(scope, receive, send)
                return
        elif kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        elif kind != "websocket":
            await self.app(scope, receive, send)
            return
        raw: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                # HTTP/2 may split cookies over several headers: join them like browsers do.
                raw = value if raw is None else raw + b"; " + value
        if raw is None or self._cookie_marker not in raw:
            await self._serve_anonymous(scope, receive, send)
            return
        await self._serve(scope, receive, send, raw)

    def _parse_cookies(self, raw: bytes) -> dict[str, str]:
        """The Cookie header as a dict, parsed once per distinct header (a signed-in
        browser sends the same one until its session changes). Treated as read-only."""
        cookies = self._parsed_cookies.get(raw)
        if cookies is None:
            cookies = parse_cookies(raw.decode("latin-1"))
            if len(raw) <= _PARSED_COOKIE_MAX:  # bounded memory, whatever clients send
                if len(self._parsed_cookies) >= _PARSED_COOKIES_SIZE:
                    del self._parsed_cookies[next(iter(self._parsed_cookies))]
                self._parsed_cookies[raw] = cookies
        return cookies

    def _view(self, session: Session) -> _SessionView:
        view: _SessionView | None = session.view
        if view is None:
            claims = IdTokenClaims(session.claims)
            # Starlette's convention: "authenticated" marks a signed-in request.
            scopes = tuple(sorted({"authenticated", *session.scopes}))
            view = session.view = _SessionView(claims, LogtoUser(claims), _FrozenCredentials(scopes))
        return view

    async def _serve(self, scope: Scope, receive: Receive, send: Send, raw: bytes) -> None:
        """A request that carries a cookie whose header mentions our cookie name."""
        core = self.core
        session: Session | None = None
        stale = False
        renew = False
        cookies = self._parse_cookies(raw)
        unavailable: LogtoError | None = None
        if core.backend.present(cookies):
            try:
                session = await core.backend.load(cookies)
            except LogtoError as exc:
                # The store is down. Routes that never look at the session keep working;
                # touching it raises the error (503). The cookie is kept for later.
                unavailable = exc
            now = core.clock()
            if session is None:
                stale = True
            elif is_expired(session, now=now, idle_timeout=core.config.session_idle_timeout):
                session, stale = None, True
            else:
                renew = now - session.updated_at >= core.renew_after

        view = self._view(session) if session is not None else None
        ctx = LogtoContext(
            core, scope, session, unavailable=unavailable, user=view.claims if view is not None else None
        )
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["logto"] = ctx
        if unavailable is not None:
            state["user"] = scope["user"] = scope["auth"] = _Unavailable(unavailable)
        elif view is not None:
            state["user"] = view.claims
            scope["user"] = view.user
            scope["auth"] = view.auth
        else:
            state["user"] = None
            scope["user"] = _ANONYMOUS
            scope["auth"] = AuthCredentials()

        started = False

        async def start_with_session(message: Message) -> None:
            try:
                extra = await self._session_headers(scope, ctx, cookies, stale=stale, renew=renew)
            except LogtoError as exc:
                # Too late to change the answer; the next request will see the store's state.
                logger.error("could not save the session: %s", exc.description)
                extra = []
            if extra:
                add_headers(message, extra)
            await send(message)

        # Not a coroutine function: most messages go straight to send's own awaitable.
        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # Most requests neither change nor end their session: nothing to write.
                if stale or renew or ctx.changed or ctx.ended:
                    return start_with_session(message)
            return send(message)

        token = _current.set(ctx)
        try:
            await self.app(scope, receive, send_wrapper if scope["type"] == "http" else send)
        except LogtoError as exc:
            if started or scope["type"] != "http":
                raise
            await send_error(scope, send_wrapper, exc)
        finally:
            _current.reset(token)

    async def _serve_anonymous(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The fast path: no cookie of ours, nothing to read and nothing to write back."""
        ctx = LogtoContext(self.core, scope, None)
        state = scope.get("state")
        if state is None:
            state = scope["state"] = {}
        state["logto"] = ctx
        state["user"] = None
        scope["user"] = _ANONYMOUS
        scope["auth"] = _NO_CREDENTIALS
        if scope["type"] != "http":
            token = _current.set(ctx)
            try:
                await self.app(scope, receive, send)
            finally:
                _current.reset(token)
            return
        started = False

        # Not a coroutine function: it hands back send's own awaitable, which spares a
        # coroutine per message on the path most requests take.
        def send_wrapper(message: Message) -> Awaitable[None]:
            nonlocal started
            started = True
            return send(message)

        token = _current.set(ctx)
        try:
            await self.app(scope, receive, send_wrapper)
        except LogtoError as exc:
            if started:
                raise
            await send_error(scope, send, exc)
        finally:
            _current.reset(token)

    async def _session_headers(
        self, scope: Scope, ctx: LogtoContext, cookies: dict[str, str], *, stale: bool, renew: bool
    ) -> list[tuple[bytes, bytes]]:
        core = self.core
        if ctx._unavailable is not None:
            return []
        secure = core.jar.secure_for(scope, core.config.base_url)
        if ctx.ended or (stale and ctx.session is None):
            return await core.backend.delete(ctx.session, cookies, secure=secure)
        session = ctx.session
        if session is not None and (ctx.changed or renew):
            # A concurrent request may have refreshed since this one read the session: save
            # its result, never write back a refresh token that was just spent.
            session = await core.refresher.latest(session)
            now = core.clock()
            session = session.copy()  # loaded sessions are shared: never mutate them
            session.updated_at = int(now)
            return await core.backend.save(session, cookies, now=now, secure=secure)
        return []

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        await run_lifespan(
            self.app, scope, receive, send, on_startup=self._startup_check, on_shutdown=self.core.aclose
        )

    async def _startup_check(self) -> None:
        """Check the configuration against the provider once at startup, so a wrong
        endpoint shows up in the logs now, not at the first user's sign-in. Problems are
        logged, not fatal: the provider may simply not be up yet."""
        from .check import run_checks

        report = await run_checks(self.config, self.core.provider)
        for finding in report.findings:
            level = {"ok": logging.DEBUG, "warning": logging.WARNING, "error": logging.ERROR}[finding.level]
            logger.log(level, "startup check: %s", finding.message)
        if report.ok:
            logger.info("logto-asgi ready: issuer %s", (await self.core.provider.metadata()).issuer)


def _install_error_handler(app: Any) -> None:
    """Let a LogtoError raised in a handler become its own response inside frameworks
    that turn unknown exceptions into 500 pages before they reach us."""
    if hasattr(app, "add_exception_handler") and hasattr(app, "exception_handlers"):
        from starlette.requests import Request
        from starlette.responses import Response

        async def handle(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, LogtoError)
            body, content_type = error_body(request.scope, exc)
            headers = {k.decode(): v.decode() for k, v in [*NO_STORE, *www_authenticate(exc)]}
            return Response(
                body, status_code=exc.status_code, media_type=content_type.decode(), headers=headers
            )

        if LogtoError not in app.exception_handlers:
            app.add_exception_handler(LogtoError, handle)
    elif hasattr(app, "register_error_handler") and hasattr(app, "error_handler_spec"):

        async def handle_quart(exc: LogtoError) -> tuple[bytes, int, dict[str, str]]:
            ctx = _current.get()
            scope = ctx.request_scope if ctx is not None else {"headers": []}
            body, content_type = error_body(scope, exc)
            headers = {k.decode(): v.decode() for k, v in [*NO_STORE, *www_authenticate(exc)]}
            headers["content-type"] = content_type.decode()
            return body, exc.status_code, headers

        app.register_error_handler(LogtoError, handle_quart)


__all__ = ["LogtoMiddleware", "LogtoUser"]

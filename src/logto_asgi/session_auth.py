"""The session authenticator: reads the session cookie of a request, offers its user,
and writes the session back on the response when it changed, renewed or ended."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from typing import Any, NamedTuple

from starlette.authentication import AuthCredentials, UnauthenticatedUser
from starlette.types import Message, Scope

from . import telemetry
from ._cache import BoundedCache
from ._http import parse_cookies
from .cache_headers import vary_cookie
from .context import LogtoContext
from .core import LogtoCore
from .engine import claim_identity, rank
from .errors import LogtoError
from .models import IdTokenClaims
from .sessions._backends import CookieBackend
from .sessions.base import Session
from .users import LogtoUser

logger = logging.getLogger("logto_asgi")

Headers = list[tuple[bytes, bytes]]

_ANONYMOUS_USER = UnauthenticatedUser()
# Parsed Cookie headers kept: at most 2,048 headers of at most 16 KiB (32 MiB at worst).
_PARSED_COOKIES_SIZE = 2048
_PARSED_COOKIE_MAX = 16 * 1024
#: Per-session request views kept (claims view, request.user, request.auth).
_VIEWS_SIZE = 4096
#: Cookie headers whose cookie session is known good, kept with the session and its view.
_SEEN_SIZE = 2048


class _FrozenCredentials(AuthCredentials):
    """``request.auth`` shared by many requests (every anonymous one, or every request of
    one session): its scopes are a tuple, so no handler can change them for the others."""

    def __init__(self, scopes: tuple[str, ...] = ()) -> None:
        self.scopes = scopes  # type: ignore[assignment]


_NO_CREDENTIALS = _FrozenCredentials()


class _SessionView(NamedTuple):
    """What every request of one session shares: built once per session, read-only
    (a named tuple: one is built per first-seen cookie)."""

    claims: IdTokenClaims
    user: LogtoUser
    auth: _FrozenCredentials


class _Seen(NamedTuple):
    """A good cookie session as the seen-cookie cache keeps it, with the two instants a
    later request compares its clock with (worked out once, not per request)."""

    raw: bytes  # the whole Cookie header that gave it
    session: Session
    view: _SessionView
    cookies: dict[str, str]
    #: The session is over at this instant: its absolute end, or its idle timeout.
    live_until: float
    #: A request from this instant on renews the cookie (rolling lifetime).
    renew_at: float


#: The seen-cookie cache's key: this many bytes of the Cookie header from our cookie's
#: name on (its JWE header and random IV: unique per session write). Hashing a slice
#: instead of the whole 2 KB header spares a servers' requests, whose header is a new
#: bytes object each time, most of the lookup; a hit still needs the whole header equal.
_SEEN_KEY_BYTES = 160


#: Distinct granted-scope strings whose ``request.auth`` is kept (most sites have a few).
_CREDENTIALS_SIZE = 64


def _new_view(session: Session, credentials: dict[str, _FrozenCredentials]) -> _SessionView:
    """The session's view; ``request.auth`` is shared by every session granted the same
    scopes (``credentials`` keeps one per scope string, read-only as they are)."""
    claims = IdTokenClaims(session.claims)
    auth = credentials.get(session.scope)
    if auth is None:
        # Starlette's convention: "authenticated" marks a signed-in request.
        auth = _FrozenCredentials(tuple(sorted({"authenticated", *session.scopes})))
        if len(credentials) >= _CREDENTIALS_SIZE:
            credentials.clear()
        credentials[session.scope] = auth
    return _SessionView(claims, LogtoUser(claims), auth)


class _Unavailable:
    """Stands for the user while the session store is down: any use raises the store's
    error, which the error boundary (or the framework's handler) turns into 503."""

    __slots__ = ("_error",)

    def __init__(self, error: LogtoError) -> None:
        self._error = error

    def __getattr__(self, name: str) -> Any:
        raise self._error

    def __bool__(self) -> bool:
        raise self._error

    def __repr__(self) -> str:
        return "<session store unavailable>"


class _SessionContext(LogtoContext):
    """The request's ``LogtoContext`` and the engine's ``WriteBack`` in one object (one
    object per signed-in request, not two): the session's ``Set-Cookie`` headers when it
    changed, renewed or ended, or when a stale cookie must be cleared."""

    __slots__ = ("_cookies", "_renew", "_signed_in", "_stale")

    def __init__(
        self,
        core: LogtoCore,
        scope: Scope,
        session: Session | None,
        cookies: dict[str, str],
        *,
        user: IdTokenClaims | None = None,
        unavailable: LogtoError | None = None,
        stale: bool = False,
        renew: bool = False,
    ) -> None:
        super().__init__(core, scope, session, unavailable=unavailable, user=user)
        self._cookies = cookies
        self._stale = stale
        self._renew = renew
        self._signed_in = session is not None

    def decorate(self, message: Message) -> None:
        if self._signed_in and self._core.config.vary_cookie:
            vary_cookie(message)

    def pending(self) -> bool:
        # Most requests neither change nor end their session: nothing to write.
        return self._stale or self._renew or self.changed or self.ended

    async def headers(self) -> Headers:
        try:
            return await self._set_cookie_headers()
        except LogtoError as exc:
            # Too late to change the answer; the next request will see the store's state.
            logger.error(
                "could not save the session: %s",
                exc.description,
                **telemetry.log_fields("store", "error", exc.error),
            )
            return []

    async def _set_cookie_headers(self) -> Headers:
        core = self._core
        if self._unavailable is not None:
            return []
        secure = core.jar.secure_for(self.request_scope, core.config.base_url)
        session = self._session
        if self.ended or session is None:
            return await core.backend.delete(session, self._cookies, secure=secure)
        if self.changed or self._renew:
            if await core.tokens.ended_if_known(session.id):
                # Signed out (here or on another process) while this request ran.
                return await core.backend.delete(None, self._cookies, secure=secure)
            # A concurrent request may have refreshed since this one read the session: save
            # its result, never write back a refresh token that was just spent.
            session = await core.tokens.refresher.latest(session)
            now = core.clock()
            session = session.replace(updated_at=int(now))
            return await core.backend.save(session, self._cookies, now=now, secure=secure)
        return []


class SessionAuthenticator:
    """Offers the user of the request's session (``precedence`` among authenticators)."""

    def __init__(self, core: LogtoCore, *, precedence: int) -> None:
        self.core = core
        self._anonymous_rank = rank(authenticated=False, precedence=precedence)
        self._signed_in_rank = rank(authenticated=True, precedence=precedence)
        self._cookie_marker = core.config.cookie_name.encode("latin-1")
        # Server-side sessions end with their store entry; cookie sessions only by marker.
        self._check_ended = core.config.check_ended_sessions and core.server_sessions is None
        # Front-channel logout ends cookie sessions by their provider session (frontchannel).
        self._check_sid = core.config.frontchannel_logout_path is not None and core.server_sessions is None
        self._parsed_cookies: BoundedCache[bytes, dict[str, str]] = BoundedCache(_PARSED_COOKIES_SIZE)
        self._views: BoundedCache[int, tuple[Session, _SessionView]] = BoundedCache(_VIEWS_SIZE)
        self._idle = core.config.session_idle_timeout
        self._credentials: dict[str, _FrozenCredentials] = {}
        # A cookie session is all in its cookie: a Cookie header that once gave a good
        # session gives the same one again, so a browser's next request skips parsing,
        # decryption and the view (expiry is still checked each time). Not for store
        # sessions (the store decides) nor when a sign-out elsewhere must be looked up.
        backend = core.backend
        self._sealed: tuple[CookieBackend, BoundedCache[bytes, _Seen]] | None = (
            (backend, BoundedCache(_SEEN_SIZE))
            if isinstance(backend, CookieBackend) and not self._check_ended and not self._check_sid
            else None
        )

    @property
    def _seen(self) -> BoundedCache[bytes, _Seen] | None:
        """The seen-cookie cache (``None`` where sessions need a lookup elsewhere)."""
        return None if self._sealed is None else self._sealed[1]

    def authenticate(
        self, scope: Scope
    ) -> _SessionContext | Coroutine[Any, Any, _SessionContext | None] | None:
        raw: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"cookie":
                # HTTP/2 may split cookies over several headers: join them like browsers do.
                raw = value if raw is None else raw + b"; " + value
        if raw is None or (at := raw.find(self._cookie_marker)) < 0:
            # The fast path: no cookie of ours, nothing to read and nothing to write back.
            ctx = LogtoContext(self.core, scope, None)
            claim_identity(scope, self._anonymous_rank, ctx, _ANONYMOUS_USER, _NO_CREDENTIALS, None, ctx)
            return None
        sealed = self._sealed
        if sealed is None:
            return self._authenticate_cookies(scope, raw)
        key = raw[at : at + _SEEN_KEY_BYTES]
        seen = sealed[1].get(key)
        if seen is not None and seen.raw == raw:
            now = self.core.clock()
            if now < seen.live_until:
                return self._signed_in(scope, seen, now)
        # A cookie session with nothing to look up elsewhere needs no I/O: no coroutine.
        return self._authenticate_sealed(scope, raw, key, sealed[0])

    def _parse_cookies(self, raw: bytes) -> dict[str, str]:
        """The Cookie header as a dict, parsed once per distinct header (a signed-in
        browser sends the same one until its session changes). Treated as read-only."""
        cookies = self._parsed_cookies.get(raw)
        if cookies is None:
            cookies = parse_cookies(raw.decode("latin-1"))
            if len(raw) <= _PARSED_COOKIE_MAX:  # bounded memory
                self._parsed_cookies.put(raw, cookies)
        return cookies

    def _signed_in(self, scope: Scope, seen: _Seen, now: float) -> _SessionContext:
        """Offer the session's user; the context writes back a renewal, or a change later."""
        view = seen.view
        ctx = _SessionContext(
            self.core, scope, seen.session, seen.cookies, user=view.claims, renew=now >= seen.renew_at
        )
        claim_identity(scope, self._signed_in_rank, ctx, view.user, view.auth, view.claims, ctx)
        return ctx

    def _view(self, session: Session) -> _SessionView:
        if self._sealed is not None:  # (the seen-cookie cache keeps views instead)
            return _new_view(session, self._credentials)
        cached = self._views.get(id(session))
        if cached is not None and cached[0] is session:
            return cached[1]
        view = _new_view(session, self._credentials)
        self._views.put(id(session), (session, view))
        return view

    def _anonymous(self, scope: Scope, cookies: dict[str, str], *, stale: bool) -> _SessionContext | None:
        """Offer the anonymous user; with ``stale``, a context that clears our cookies."""
        if not stale:
            ctx = LogtoContext(self.core, scope, None)
            claim_identity(scope, self._anonymous_rank, ctx, _ANONYMOUS_USER, AuthCredentials(), None, ctx)
            return None
        clearing = _SessionContext(self.core, scope, None, cookies, stale=True)
        claim_identity(
            scope, self._anonymous_rank, clearing, _ANONYMOUS_USER, AuthCredentials(), None, clearing
        )
        return clearing

    def _accept(
        self,
        scope: Scope,
        raw: bytes,
        key: bytes | None,
        cookies: dict[str, str],
        session: Session,
        now: float,
    ) -> _SessionContext:
        """Offer a good session's user, remembered by its Cookie header (under ``key``)
        where that is kept."""
        live_until = min(session.expires_at, session.updated_at + self._idle)
        renew_at = session.updated_at + self.core.renew_after
        seen = _Seen(raw, session, self._view(session), cookies, live_until, renew_at)
        if key is not None and self._sealed is not None and len(raw) <= _PARSED_COOKIE_MAX:
            self._sealed[1].put(key, seen)  # (bounded memory: not for huge headers)
        return self._signed_in(scope, seen, now)

    def _authenticate_sealed(
        self, scope: Scope, raw: bytes, key: bytes, backend: CookieBackend
    ) -> _SessionContext | None:
        """``_authenticate_cookies`` for cookie sessions when no sign-out elsewhere must be
        looked up: all in the cookie, so all done here, without awaiting. (Parsed anew:
        the seen-cookie cache remembers good headers instead.)"""
        cookies = parse_cookies(raw.decode("latin-1"))
        if not backend.present(cookies):
            return self._anonymous(scope, cookies, stale=False)
        session = backend.open(cookies)
        now = self.core.clock()
        if session is None or session.is_expired(now=now, idle_timeout=self._idle):
            return self._anonymous(scope, cookies, stale=True)
        return self._accept(scope, raw, key, cookies, session, now)

    async def _authenticate_cookies(self, scope: Scope, raw: bytes) -> _SessionContext | None:
        core = self.core
        cookies = self._parse_cookies(raw)
        if not core.backend.present(cookies):
            return self._anonymous(scope, cookies, stale=False)
        try:
            session = await core.backend.load(cookies)
        except LogtoError as exc:
            # The store is down. Routes that never look at the session keep working;
            # touching it raises the error (503). The cookie is kept for later.
            ctx = _SessionContext(core, scope, None, cookies, unavailable=exc)
            proxy = _Unavailable(exc)
            claim_identity(scope, self._anonymous_rank, ctx, proxy, proxy, proxy, ctx)
            return ctx
        now = core.clock()
        if session is not None and session.is_expired(now=now, idle_timeout=core.config.session_idle_timeout):
            session = None
        if session is not None and self._check_ended and await core.tokens.ended_if_known(session.id):
            # A copy of a cookie whose session was signed out (check_ended_sessions).
            session = None
        if (
            session is not None
            and self._check_sid
            and await core.tokens.sid_ended_if_known(session.claims.get("sid"))
        ):
            session = None  # its provider session ended (front-channel logout)
        if session is None:
            return self._anonymous(scope, cookies, stale=True)
        return self._accept(scope, raw, None, cookies, session, now)

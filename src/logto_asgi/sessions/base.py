"""The session record and the store protocols.

A ``Session`` is immutable (a named tuple): a loaded session is shared by every request
that carries the same cookie, so a change (a refreshed token, a renewed timestamp) makes a
new record with ``Session.replace`` / ``Session.with_token``, never a mutation.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol, runtime_checkable

from .. import _speedups

__all__ = ["AtomicStore", "CachedToken", "ClosableStore", "Session", "SessionStore"]


@runtime_checkable
class SessionStore(Protocol):
    """An async key-value store for server-side sessions (the async successor of the
    Logto SDK's ``Storage``).

    Values are opaque bytes — already encrypted with the cookie secret — so a store never
    sees a token in clear. ``ttl`` is in seconds; the store should forget the entry after
    it (it is also enforced when the session is read). Raise any exception when the
    backend is unreachable: the middleware answers 503 and keeps the session.
    """

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None``."""
        ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (replacing any value)."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key`` (no error when it is absent)."""
        ...


@runtime_checkable
class AtomicStore(SessionStore, Protocol):
    """A ``SessionStore`` that also offers the atomic operations used to coordinate
    several processes (``MemoryStore`` and ``RedisStore`` do).

    A store without them still works: the middleware falls back to read-then-write,
    which is correct in one process and racy across several. Which one a store is gets
    decided once, when the middleware is built.
    """

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if ``key`` is absent; ``True`` when this call stored it."""
        ...

    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete ``key`` only while it holds ``value``."""
        ...

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key``; keep the set ``ttl`` seconds from now."""
        ...

    async def set_pop_all(self, key: str) -> list[str]:
        """Every member of the set at ``key``; the set is deleted."""
        ...


@runtime_checkable
class ClosableStore(Protocol):
    """A store holding connections to close at shutdown (``RedisStore`` does)."""

    async def aclose(self) -> None:
        """Close what the store opened."""
        ...


class CachedToken(NamedTuple):
    """An access token and when it stops being usable (epoch seconds)."""

    token: str
    expires_at: float
    scope: str = ""


#: Where the store backend keeps session entries (``session:<fingerprint of the id>``):
#: the keys a ``RedisStore(local_cache=…)`` keeps in the process.
SESSION_ENTRY_PREFIX = "session:"


def token_key(resource: str | None, organization_id: str | None) -> str:
    """Cache key of an access token: ``""`` is the opaque userinfo token."""
    if organization_id:
        return f"{resource or ''}#org:{organization_id}"
    return resource or ""


def _new_id() -> str:
    return secrets.token_urlsafe(24)  # 192 bits


_NO_TOKENS: Mapping[str, CachedToken] = MappingProxyType({})


class _SessionFields(NamedTuple):
    id_token: str
    claims: Mapping[str, Any]
    refresh_token: str | None
    scope: str
    created_at: int
    updated_at: int
    expires_at: int
    access_tokens: Mapping[str, CachedToken]
    id: str
    #: The app's own data, set by ``on_sign_in`` (``LogtoContext.app_data``).
    app_data: Mapping[str, Any]


_NO_DATA: Mapping[str, Any] = MappingProxyType({})


class Session(_SessionFields):
    """One signed-in session: what the cookie (or the store entry) holds. Immutable
    (a named tuple: decoding one per first-seen cookie must stay cheap)."""

    __slots__ = ()

    def __new__(
        cls,
        id_token: str,
        claims: Mapping[str, Any],
        refresh_token: str | None,
        scope: str,
        created_at: int,
        updated_at: int,
        expires_at: int,
        access_tokens: Mapping[str, CachedToken] = _NO_TOKENS,
        id: str | None = None,
        app_data: Mapping[str, Any] = _NO_DATA,
    ) -> Session:
        fields = (id_token, claims, refresh_token, scope, created_at, updated_at, expires_at)
        return tuple.__new__(cls, (*fields, access_tokens, id or _new_id(), app_data))

    def replace(self, **changes: Any) -> Session:
        """A new record with ``changes`` applied."""
        return self._replace(**changes)

    def with_token(self, key: str, token: CachedToken | None, **changes: Any) -> Session:
        """A new record whose token cache has ``token`` under ``key`` (``None`` drops it)."""
        tokens = dict(self.access_tokens)
        if token is None:
            tokens.pop(key, None)
        else:
            tokens[key] = token
        return self._replace(access_tokens=tokens, **changes)

    def is_expired(self, *, now: float, idle_timeout: float) -> bool:
        """Past its absolute lifetime, or idle for longer than ``idle_timeout``."""
        return now >= self.expires_at or now - self.updated_at >= idle_timeout

    def max_age(self, *, now: float, idle_timeout: float) -> int:
        """Seconds the cookie (and store entry) should live from ``now``."""
        return int(min(idle_timeout, self.expires_at - now))

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "v": 1,
            "n": self.id,
            "i": self.id_token,
            "c": dict(self.claims),
            "s": self.scope,
            "t": [self.created_at, self.updated_at, self.expires_at],
            "a": {k: [t.token, int(t.expires_at), t.scope] for k, t in self.access_tokens.items()},
        }
        if self.refresh_token:
            data["r"] = self.refresh_token
        if self.app_data:
            data["d"] = dict(self.app_data)
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Session:
        """Parse a session; raise ``ValueError`` on anything malformed."""
        try:
            data = _speedups.loads_sealed(raw)
            created, updated, expires = data["t"]
            tokens = {
                str(key): CachedToken(str(tok), float(exp), str(scope))
                for key, (tok, exp, scope) in data["a"].items()
            }
            claims, refresh, app_data = data["c"], data.get("r"), data.get("d")
            # (type checks, not copies: a freshly parsed document is ours alone)
            if type(claims) is not dict or not isinstance(claims.get("sub"), str):
                raise ValueError("malformed session")
            if refresh is not None and type(refresh) is not str:
                raise ValueError("malformed session")
            if app_data is None:
                app_data = {}
            elif type(app_data) is not dict:
                raise ValueError("malformed session")
            fields = (
                str(data["i"]),
                claims,
                refresh,
                str(data["s"]),
                int(created),
                int(updated),
                int(expires),
                tokens,
                str(data["n"]),
                app_data,
            )
            if data.get("v") != 1:
                raise ValueError("malformed session")
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise ValueError("malformed session") from exc
        return tuple.__new__(cls, fields)

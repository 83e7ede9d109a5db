"""The session record and the ``SessionStore`` protocol for server-side stores."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

__all__ = ["CachedToken", "Session", "SessionStore"]


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


@dataclass(slots=True)
class CachedToken:
    """An access token and when it stops being usable (epoch seconds)."""

    token: str
    expires_at: float
    scope: str = ""


def token_key(resource: str | None, organization_id: str | None) -> str:
    """Cache key of an access token: ``""`` is the opaque userinfo token."""
    if organization_id:
        return f"{resource or ''}#org:{organization_id}"
    return resource or ""


@dataclass(slots=True)
class Session:
    """One signed-in session: what the cookie (or the store entry) holds."""

    id_token: str
    claims: dict[str, Any]
    refresh_token: str | None
    scope: str
    created_at: int
    updated_at: int
    expires_at: int
    access_tokens: dict[str, CachedToken] = field(default_factory=dict)
    id: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    #: Read-only objects derived from this session once (claims view, request.user,
    #: request.auth) and shared by the requests that carry it. Never serialised.
    view: Any = field(default=None, repr=False, compare=False)

    def to_json(self) -> bytes:
        data: dict[str, Any] = {
            "v": 1,
            "n": self.id,
            "i": self.id_token,
            "c": self.claims,
            "s": self.scope,
            "t": [self.created_at, self.updated_at, self.expires_at],
            "a": {k: [t.token, int(t.expires_at), t.scope] for k, t in self.access_tokens.items()},
        }
        if self.refresh_token:
            data["r"] = self.refresh_token
        return json.dumps(data, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Session:
        """Parse a session; raise ``ValueError`` on anything malformed."""
        try:
            data = json.loads(raw)
            created, updated, expires = data["t"]
            tokens = {
                str(key): CachedToken(str(tok), float(exp), str(scope))
                for key, (tok, exp, scope) in data["a"].items()
            }
            session = cls(
                id_token=str(data["i"]),
                claims=dict(data["c"]),
                refresh_token=data.get("r"),
                scope=str(data["s"]),
                created_at=int(created),
                updated_at=int(updated),
                expires_at=int(expires),
                access_tokens=tokens,
                id=str(data["n"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ValueError("malformed session") from exc
        if data.get("v") != 1 or not isinstance(session.claims.get("sub"), str):
            raise ValueError("malformed session")
        return session

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(self.scope.split())

    def copy(self) -> Session:
        """A copy whose token cache can change without touching this one."""
        return Session(
            id_token=self.id_token,
            claims=self.claims,
            refresh_token=self.refresh_token,
            scope=self.scope,
            created_at=self.created_at,
            updated_at=self.updated_at,
            expires_at=self.expires_at,
            access_tokens=dict(self.access_tokens),
            id=self.id,
        )

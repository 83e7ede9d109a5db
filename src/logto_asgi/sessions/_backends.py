"""How a session travels: in the cookie itself, or as an id pointing into a store.

Both backends give the middleware the same operations — ``present``, ``load``, ``save``
and ``delete``, each returning the ``Set-Cookie`` headers to send — so it never cares
where sessions live. Only the store backend can end a session by id (sign-in replacing
an old session, back-channel logout).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from .._cache import BoundedCache
from .._crypto import InvalidToken, JweCodec, Signer, fingerprint
from .._http import CookieJar, duplicated
from ..config import LogtoConfig
from ._ops import StoreOps
from .base import SESSION_ENTRY_PREFIX, Session, SessionStore
from .cookie import CookieStore, chunk_names_present, join_chunks, split_chunks

logger = logging.getLogger("logto_asgi")

Headers = list[tuple[bytes, bytes]]

#: Decoded sessions kept per process (about 3 KB each), per backend.
DECODED_CACHE_SIZE = 4096
#: The decoded-cookie cache's key: the value's first characters, its JWE protected header
#: (62 characters for our ``kid``) and IV (16, random per encryption) within them.
_DECODED_KEY_CHARS = 96


class SessionBackend(Protocol):
    """Where sessions live, as the middleware sees it."""

    def present(self, cookies: Mapping[str, str]) -> bool:
        """Whether the request carries a session cookie of ours at all."""
        ...

    async def load(self, cookies: Mapping[str, str]) -> Session | None:
        """The session the cookies point to, or ``None`` (absent, tampered, ended)."""
        ...

    async def save(
        self, session: Session, cookies: Mapping[str, str], *, now: float, secure: bool
    ) -> Headers:
        """Persist ``session``; the headers that set its cookie(s)."""
        ...

    async def delete(self, session: Session | None, cookies: Mapping[str, str], *, secure: bool) -> Headers:
        """Forget ``session``; the headers that clear the cookies the request sent."""
        ...


class CookieBackend:
    """The whole encrypted session in ``name`` or ``name.0``, ``name.1``, …"""

    def __init__(self, config: LogtoConfig, store: CookieStore, jar: CookieJar) -> None:
        self._name = config.cookie_name
        self._codec = JweCodec(config.cookie_secrets, "session cookie")
        self._chunk = store.chunk_size
        self._jar = jar
        self._idle = config.session_idle_timeout
        self._first_chunk = f"{self._name}.0"
        # A signed-in browser sends the same cookie until the session changes: decrypt and
        # parse it once. A hit needs the exact value that decrypted and authenticated, so
        # it can only come from a genuine cookie. Sessions are immutable. The key is the
        # value's start (the JWE header and its random IV): hashing that instead of the
        # whole 2 KB value spares most of a miss, and every request's value is a new str.
        self._decoded: BoundedCache[str, tuple[str, Session]] = BoundedCache(DECODED_CACHE_SIZE)

    def present(self, cookies: Mapping[str, str]) -> bool:
        # A stray chunk alone counts too: it is cleared like any unreadable set.
        return (
            self._name in cookies
            or self._first_chunk in cookies
            or bool(chunk_names_present(self._name, cookies))
        )

    async def load(self, cookies: Mapping[str, str]) -> Session | None:
        return self.open(cookies)

    def open(self, cookies: Mapping[str, str]) -> Session | None:
        """``load`` without awaiting: a cookie session needs no I/O."""
        value = join_chunks(self._name, cookies)
        if value is None:
            return None
        key = value[:_DECODED_KEY_CHARS]
        known = self._decoded.get(key)
        if known is not None and known[0] == value:
            return known[1]
        try:
            session = Session.from_json(self._codec.decrypt(value))
        except (InvalidToken, ValueError):
            logger.info("ignoring an unreadable session cookie (tampered, truncated or old key)")
            return None
        self._decoded.put(key, (value, session))
        return session

    def encode(self, session: Session) -> str:
        """The cookie value of ``session`` (before chunking)."""
        return self._codec.encrypt(session.to_json())

    def cookies(self, session: Session) -> dict[str, str]:
        """The cookie(s) that carry ``session``: one, or ``name.0``, ``name.1``, …"""
        value = self.encode(session)
        if len(value) <= self._chunk:
            return {self._name: value}
        return {f"{self._name}.{i}": chunk for i, chunk in enumerate(split_chunks(value, self._chunk))}

    async def save(
        self, session: Session, cookies: Mapping[str, str], *, now: float, secure: bool
    ) -> Headers:
        max_age = session.max_age(now=now, idle_timeout=self._idle)
        written = self.cookies(session)
        headers: Headers = [
            self._jar.set(name, value, max_age=max_age, secure=secure) for name, value in written.items()
        ]
        headers.extend(
            self._jar.delete(name, secure=secure)
            for name in chunk_names_present(self._name, cookies)
            if name not in written
        )
        return headers

    async def delete(self, session: Session | None, cookies: Mapping[str, str], *, secure: bool) -> Headers:
        return [self._jar.delete(name, secure=secure) for name in chunk_names_present(self._name, cookies)]


def _entry_key(session_id: str) -> str:
    return SESSION_ENTRY_PREFIX + fingerprint(session_id)


class StoreBackend:
    """A signed random id in the cookie; the encrypted session in a ``SessionStore``."""

    def __init__(self, config: LogtoConfig, store: SessionStore, jar: CookieJar) -> None:
        self._name = config.cookie_name
        self.ops = StoreOps(store)
        self._codec = JweCodec(config.cookie_secrets, "session store entry")
        self._signer = Signer(config.cookie_secrets, "session id")
        self._jar = jar
        self._idle = config.session_idle_timeout
        # A signed-in browser sends the same cookie, and the store returns the same entry,
        # until the session changes: check the signature and decrypt the entry once. Keys
        # are exact values that verified (the signed id) or decrypted and authenticated
        # (the entry), so a hit can only come from genuine data. The store is still read
        # on every request: an entry deleted there (sign-out, back-channel logout) ends
        # the session at once.
        self._ids: BoundedCache[str, tuple[str, str]] = BoundedCache(DECODED_CACHE_SIZE)
        self._decoded: BoundedCache[bytes, Session] = BoundedCache(DECODED_CACHE_SIZE)

    @property
    def store(self) -> SessionStore:
        return self.ops.store

    def present(self, cookies: Mapping[str, str]) -> bool:
        return self._name in cookies

    def _ids_of(self, value: str) -> tuple[str, str] | None:
        ids = self._ids.get(value)
        if ids is None:
            try:
                session_id = self._signer.unsign(value)
            except InvalidToken:
                logger.info("ignoring a session cookie with a bad signature")
                return None
            ids = (session_id, _entry_key(session_id))
            self._ids.put(value, ids)
        return ids

    def _decode(self, raw: bytes) -> Session | None:
        cacheable = type(raw) is bytes
        session = self._decoded.get(raw) if cacheable else None
        if session is None:
            try:
                session = Session.from_json(self._codec.decrypt(raw.decode("ascii")))
            except (InvalidToken, ValueError, UnicodeDecodeError):
                logger.warning("ignoring an unreadable session store entry")
                return None
            if cacheable:
                self._decoded.put(raw, session)
        return session

    async def load(self, cookies: Mapping[str, str]) -> Session | None:
        value = cookies.get(self._name)
        if duplicated(cookies, self._name):  # cookie tossing: no reading can be trusted
            return None
        ids = self._ids_of(value) if value is not None else None
        if ids is None:
            return None
        session_id, key = ids
        raw = await self.ops.get(key)
        session = self._decode(raw) if raw is not None else None
        return session if session is not None and session.id == session_id else None

    async def save(
        self, session: Session, cookies: Mapping[str, str], *, now: float, secure: bool
    ) -> Headers:
        max_age = session.max_age(now=now, idle_timeout=self._idle)
        value = self._codec.encrypt(session.to_json()).encode("ascii")
        await self.ops.set(_entry_key(session.id), value, max(1, max_age))
        return [self._jar.set(self._name, self._signer.sign(session.id), max_age=max_age, secure=secure)]

    async def delete(self, session: Session | None, cookies: Mapping[str, str], *, secure: bool) -> Headers:
        if session is not None:
            await self.delete_by_id(session.id)
        return [self._jar.delete(self._name, secure=secure)] if self._name in cookies else []

    async def load_by_id(self, session_id: str) -> Session | None:
        """The session stored under ``session_id`` (for the server's own use: logouts)."""
        raw = await self.ops.get(_entry_key(session_id))
        session = self._decode(raw) if raw is not None else None
        return session if session is not None and session.id == session_id else None

    async def delete_by_id(self, session_id: str) -> None:
        """End a session from the server (its cookie becomes worthless)."""
        await self.ops.delete(_entry_key(session_id))

"""How a session travels: in the cookie itself, or as an id pointing into a store.

Both backends give the middleware the same four operations — load, save, delete, and
the headers to send — so it never cares where sessions live.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import Any, Protocol

from starlette.types import Scope

from .._crypto import InvalidToken, JweCodec, Signer, fingerprint
from .._http import CookieJar
from ..config import LogtoConfig
from ..errors import StoreUnavailable
from .base import Session, SessionStore
from .cookie import CookieStore, chunk_names_present, join_chunks, split_chunks

logger = logging.getLogger("logto_asgi")

Headers = list[tuple[bytes, bytes]]

#: Decoded sessions kept per process (about 3 KB each), per backend.
DECODED_CACHE_SIZE = 4096


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= DECODED_CACHE_SIZE:
        del cache[next(iter(cache))]  # drop the oldest entry
    cache[key] = value


def is_expired(session: Session, *, now: float, idle_timeout: float) -> bool:
    return now >= session.expires_at or now - session.updated_at >= idle_timeout


def cookie_max_age(session: Session, *, now: float, idle_timeout: float) -> int:
    return int(min(idle_timeout, session.expires_at - now))


class Backend(Protocol):
    def present(self, cookies: Mapping[str, str]) -> bool: ...
    async def load(self, cookies: Mapping[str, str]) -> Session | None: ...
    async def save(
        self, session: Session, cookies: Mapping[str, str], *, now: float, secure: bool
    ) -> Headers: ...
    async def delete(
        self, session: Session | None, cookies: Mapping[str, str], *, secure: bool
    ) -> Headers: ...
    async def delete_by_id(self, session_id: str) -> None: ...


class CookieBackend:
    """The whole encrypted session in ``name`` or ``name.0``, ``name.1``, …"""

    def __init__(self, config: LogtoConfig, store: CookieStore, jar: CookieJar) -> None:
        self._name = config.cookie_name
        self._codec = JweCodec(config.cookie_secrets, "session cookie")
        self._chunk = store.chunk_size
        self._jar = jar
        self._idle = config.session_idle_timeout
        self._first_chunk = f"{self._name}.0"
        self._decoded: dict[str, Session] = {}

    def present(self, cookies: Mapping[str, str]) -> bool:
        return self._name in cookies or self._first_chunk in cookies

    async def load(self, cookies: Mapping[str, str]) -> Session | None:
        value = join_chunks(self._name, cookies)
        if value is None:
            return None
        # A signed-in browser sends the same cookie until the session changes: decrypt and
        # parse it once. The key is the exact value that decrypted and authenticated, so a
        # cache hit can only come from a genuine cookie. Sessions are treated as immutable.
        cache = self._decoded
        session = cache.get(value)
        if session is not None:
            return session
        try:
            session = Session.from_json(self._codec.decrypt(value))
        except (InvalidToken, ValueError):
            logger.info("ignoring an unreadable session cookie (tampered, truncated or old key)")
            return None
        _remember(cache, value, session)
        return session

    def encode(self, session: Session) -> str:
        return self._codec.encrypt(session.to_json())

    async def save(
        self, session: Session, cookies: Mapping[str, str], *, now: float, secure: bool
    ) -> Headers:
        value = self.encode(session)
        max_age = cookie_max_age(session, now=now, idle_timeout=self._idle)
        headers: Headers = []
        if len(value) <= self._chunk:
            written = {self._name}
            headers.append(self._jar.set(self._name, value, max_age=max_age, secure=secure))
        else:
            chunks = split_chunks(value, self._chunk)
            written = {f"{self._name}.{i}" for i in range(len(chunks))}
            headers.extend(
                self._jar.set(f"{self._name}.{i}", chunk, max_age=max_age, secure=secure)
                for i, chunk in enumerate(chunks)
            )
        headers.extend(
            self._jar.delete(name, secure=secure)
            for name in chunk_names_present(self._name, cookies)
            if name not in written
        )
        return headers

    async def delete(self, session: Session | None, cookies: Mapping[str, str], *, secure: bool) -> Headers:
        return [self._jar.delete(name, secure=secure) for name in chunk_names_present(self._name, cookies)]

    async def delete_by_id(self, session_id: str) -> None:  # pragma: no cover - refused by config
        raise NotImplementedError("cookie sessions cannot be ended from the server")


def _entry_key(session_id: str) -> str:
    return f"session:{fingerprint(session_id)}"


class StoreBackend:
    """A signed random id in the cookie; the encrypted session in a ``SessionStore``."""

    def __init__(self, config: LogtoConfig, store: SessionStore, jar: CookieJar) -> None:
        self._name = config.cookie_name
        self._store = store
        self._codec = JweCodec(config.cookie_secrets, "session store entry")
        self._signer = Signer(config.cookie_secrets, "session id")
        self._jar = jar
        self._idle = config.session_idle_timeout
        # A signed-in browser sends the same cookie, and the store returns the same entry,
        # until the session changes: check the signature and decrypt the entry once. Keys
        # are exact values that verified (the signed id) or decrypted and authenticated
        # (the entry), so a hit can only come from genuine data. The store is still read
        # on every request: an entry deleted there (sign-out, back-channel logout) ends
        # the session at once. Sessions are treated as immutable.
        self._ids: dict[str, tuple[str, str]] = {}
        self._decoded: dict[bytes, Session] = {}

    @property
    def store(self) -> SessionStore:
        return self._store

    def present(self, cookies: Mapping[str, str]) -> bool:
        return self._name in cookies

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(24)  # 192 bits

    async def load(self, cookies: Mapping[str, str]) -> Session | None:
        value = cookies.get(self._name)
        if value is None:
            return None
        ids = self._ids.get(value)
        if ids is None:
            try:
                session_id = self._signer.unsign(value)
            except InvalidToken:
                logger.info("ignoring a session cookie with a bad signature")
                return None
            ids = (session_id, _entry_key(session_id))
            _remember(self._ids, value, ids)
        session_id, key = ids
        try:
            raw = await self._store.get(key)
        except Exception as exc:
            raise StoreUnavailable("the session store cannot be reached") from exc
        if raw is None:
            return None
        cacheable = type(raw) is bytes
        session = self._decoded.get(raw) if cacheable else None
        if session is None:
            try:
                session = Session.from_json(self._codec.decrypt(raw.decode("ascii")))
            except (InvalidToken, ValueError, UnicodeDecodeError):
                logger.warning("ignoring an unreadable session store entry")
                return None
            if cacheable:
                _remember(self._decoded, raw, session)
        return session if session.id == session_id else None

    async def save(
        self, session: Session, cookies: Mapping[str, str], *, now: float, secure: bool
    ) -> Headers:
        max_age = cookie_max_age(session, now=now, idle_timeout=self._idle)
        value = self._codec.encrypt(session.to_json()).encode("ascii")
        try:
            await self._store.set(_entry_key(session.id), value, max(1, max_age))
        except Exception as exc:
            raise StoreUnavailable("the session store cannot be reached") from exc
        return [self._jar.set(self._name, self._signer.sign(session.id), max_age=max_age, secure=secure)]

    async def delete(self, session: Session | None, cookies: Mapping[str, str], *, secure: bool) -> Headers:
        if session is not None:
            await self.delete_by_id(session.id)
        return [self._jar.delete(self._name, secure=secure)] if self._name in cookies else []

    async def delete_by_id(self, session_id: str) -> None:
        try:
            await self._store.delete(_entry_key(session_id))
        except Exception as exc:
            raise StoreUnavailable("the session store cannot be reached") from exc


def make_backend(config: LogtoConfig, jar: CookieJar) -> CookieBackend | StoreBackend:
    if isinstance(config.store, CookieStore):
        return CookieBackend(config, config.store, jar)
    return StoreBackend(config, config.store, jar)


def secure_for(jar: CookieJar, scope: Scope, base_url: str | None) -> bool:
    return jar.secure_for(scope, base_url)

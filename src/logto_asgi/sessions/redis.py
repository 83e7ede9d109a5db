"""``RedisStore``: server-side sessions in Redis, shared by every instance of the app.

Values arrive already encrypted with the cookie secret (the middleware seals them), so a
Redis dump, a replica or ``MONITOR`` shows no token. Besides the protocol's
``get``/``set``/``delete``, the store offers the atomic operations the middleware uses to
coordinate instances (see ``sessions/_ops.py``): ``add`` (``SET NX PX``: the refresh lock,
once-only markers), ``delete_if`` (compare-and-delete in Lua: a lock released only by its
owner), ``set_add`` and ``set_pop_all`` (the back-channel logout index).
"""

from __future__ import annotations

from typing import Any

try:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("RedisStore needs redis-py's asyncio client: pip install 'logto-asgi[redis]'") from exc

from ..errors import ConfigurationError

__all__ = ["RedisStore"]

# Compare-and-delete: only the holder of a lock (who knows its random token) releases it.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""


# For clients built from a URL: answer (or fail, hence 503) within seconds, and retry a
# dropped connection briefly (a restarted Redis) rather than redis-py's ten attempts.
# URL query parameters (``?socket_timeout=…``) still override these.
def _url_defaults() -> dict[str, Any]:
    return {
        "socket_connect_timeout": 5.0,
        "socket_timeout": 5.0,
        "retry": Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2),
    }


def _ms(ttl: float) -> int:
    """A TTL in whole milliseconds, at least 1 (``PX`` refuses 0)."""
    return max(1, int(ttl * 1000))


def _bytes(value: bytes | str) -> bytes:
    # A client created with decode_responses=True hands back str.
    return value if isinstance(value, bytes) else value.encode("utf-8")


class RedisStore:
    """A ``SessionStore`` in Redis, for apps running several processes or hosts.

    ``RedisStore(url="redis://localhost:6379/0")`` (``rediss://`` for TLS, with
    ``redis://:password@host`` or ``redis://user:password@host`` for AUTH) creates a
    connection pool that is closed at lifespan shutdown. Or pass ``client=`` a
    ``redis.asyncio.Redis`` you configured yourself; it is shared, and left open for you
    to close. Every key starts with ``prefix``, so one Redis can serve several apps.

    Entries expire with the session (idle timeout, capped by the absolute maximum age).
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | None = None,
        prefix: str = "logto:",
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError(
                "store", "RedisStore needs either url='redis://…' or client=redis.asyncio.Redis(…)"
            )
        if client is None:
            assert url is not None
            if not url.startswith(("redis://", "rediss://", "unix://")):
                raise ConfigurationError(
                    "store", f"RedisStore url must start with redis://, rediss:// or unix://, got {url!r}"
                )
            client = Redis.from_url(url, **_url_defaults())
            self._owns_client = True
        else:
            self._owns_client = False
        self._client = client
        self._prefix = prefix
        self._delete_if = client.register_script(_DELETE_IF)

    @property
    def client(self) -> Redis:
        """The redis-py client (for health checks and tests)."""
        return self._client

    @property
    def prefix(self) -> str:
        return self._prefix

    def __repr__(self) -> str:
        pool = self._client.connection_pool
        kwargs = pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        return f"RedisStore({where!r}, db={kwargs.get('db', 0)}, prefix={self._prefix!r})"

    # The SessionStore protocol ----------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None``."""
        value = await self._client.get(self._prefix + key)
        return None if value is None else _bytes(value)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``SET … PX``)."""
        await self._client.set(self._prefix + key, value, px=_ms(ttl))

    async def delete(self, key: str) -> None:
        """Forget ``key``."""
        await self._client.delete(self._prefix + key)

    # Atomic operations ------------------------------------------------------------------

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if absent (``SET NX PX``); ``True`` when this call stored it."""
        return bool(await self._client.set(self._prefix + key, value, px=_ms(ttl), nx=True))

    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete ``key`` only while it holds ``value`` (one Lua script, atomic)."""
        await self._delete_if(keys=[self._prefix + key], args=[value])

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key`` and keep the set ``ttl`` seconds from now."""
        name = self._prefix + key
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.sadd(name, member)
            pipe.pexpire(name, _ms(ttl))
            await pipe.execute()

    async def set_pop_all(self, key: str) -> list[str]:
        """Every member of the set at ``key``, and the set deleted, in one transaction."""
        name = self._prefix + key
        async with self._client.pipeline(transaction=True) as pipe:
            pipe.smembers(name)
            pipe.delete(name)
            members, _ = await pipe.execute()
        return sorted(_bytes(m).decode("utf-8") for m in members)

    async def aclose(self) -> None:
        """Close the connection pool if this store created it (from ``url``)."""
        if self._owns_client:
            await self._client.aclose()

"""``RedisStore``: server-side sessions in Redis, shared by every instance of the app.

Values arrive already encrypted with the cookie secret (the middleware seals them), so a
Redis dump, a replica or ``MONITOR`` shows no token. Besides the protocol's
``get``/``set``/``delete``, the store offers the atomic operations the middleware uses to
coordinate instances (see ``sessions/_ops.py``): ``add`` (``SET NX PX``: the refresh lock,
once-only markers), ``delete_if`` (compare-and-delete in Lua: a lock released only by its
owner), ``set_add`` and ``set_pop_all`` (the back-channel logout index, one-key Lua too).
Every command names one key, so the same code runs on a single Redis, a Sentinel-managed
master and a Redis Cluster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

try:
    from redis import exceptions as rx
    from redis.asyncio import Redis, RedisCluster
    from redis.asyncio.cluster import ClusterNode, PipelineCommand
    from redis.asyncio.connection import SSLConnection, parse_url
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import Sentinel, SentinelConnectionPool
    from redis.backoff import ExponentialWithJitterBackoff
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("RedisStore needs redis-py's asyncio client: pip install 'logto-asgi[redis]'") from exc

from ..errors import ConfigurationError
from ._redis_tracking import TrackedValues
from .base import SESSION_ENTRY_PREFIX

__all__ = ["RedisStore", "RedisStoreWriteNotAcknowledged"]

# Compare-and-delete: only the holder of a lock (who knows its random token) releases it.
_DELETE_IF = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    return redis.call('DEL', KEYS[1])
end
return 0
"""
# The back-channel index: one key each, so they run on a cluster (no MULTI across slots).
_SET_ADD = """
redis.call('SADD', KEYS[1], ARGV[1])
return redis.call('PEXPIRE', KEYS[1], ARGV[2])
"""
_SET_POP_ALL = """
local members = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return members
"""
_URL_SCHEMES = ("redis", "rediss", "unix")
_FLEET_SCHEMES = ("redis+sentinel", "rediss+sentinel", "redis+cluster", "rediss+cluster")
_AUTO_RECHECK = 60.0  # seconds between two INFO replication of a plain redis:// master
_CLUSTER_ERRORS = (rx.ConnectionError, rx.TimeoutError, rx.MovedError, rx.AskError, rx.TryAgainError)


class RedisStoreWriteNotAcknowledged(rx.RedisError):
    """A write reached the master, but fewer replicas than asked confirmed it in time.

    The master may be an old one that a failover left behind, whose writes are discarded
    when it rejoins as a replica, so the write is reported as failed (``StoreOps`` turns
    it into a 503 and the session is kept as it was) rather than trusted and lost.
    """

    def __init__(self, acknowledged: int, wanted: int, timeout: float) -> None:
        super().__init__(f"{acknowledged} of {wanted} replicas confirmed the write in {timeout:g}s")
        self.acknowledged = acknowledged
        self.wanted = wanted


def _retry() -> Retry:
    return Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2)


# For clients built from a URL: answer (or fail, hence 503) within seconds, and retry a
# dropped connection briefly (a restarted Redis) rather than redis-py's ten attempts.
# URL query parameters (``?socket_timeout=…``) still override these.
def _url_defaults() -> dict[str, Any]:
    return {"socket_connect_timeout": 5.0, "socket_timeout": 5.0, "retry": _retry()}


def _ms(ttl: float) -> int:
    """A TTL in whole milliseconds, at least 1 (``PX`` refuses 0)."""
    return max(1, int(ttl * 1000))


def _bytes(value: bytes | str) -> bytes:
    # A client created with decode_responses=True hands back str.
    return value if isinstance(value, bytes) else value.encode("utf-8")


def _has_online_replica(info: dict[str, Any]) -> bool:
    # INFO replication has slave0={'ip': …, 'state': 'online', …} for each replica.
    return any(isinstance(v, dict) and v.get("state") == "online" for v in info.values())


def _address(item: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port`` or ``[v6]:port``."""
    if item.startswith("["):
        host, _, rest = item[1:].partition("]")
        port = rest.removeprefix(":")
    else:
        host, sep, port = item.rpartition(":")
        if not sep:
            host, port = item, ""
    if not host or not (port.isdigit() or not port):
        raise ConfigurationError("store", f"RedisStore url: cannot read the address {item!r}")
    return host, int(port) if port else default_port


def _fleet_parts(url: str, default_port: int) -> tuple[list[tuple[str, int]], str, dict[str, Any]]:
    """The addresses, the path and the connection options (AUTH, TLS, ``?…``) of a fleet URL."""
    parts = urlsplit(url)
    userinfo, _, hosts = parts.netloc.rpartition("@")
    scheme = "rediss" if parts.scheme.startswith("rediss") else "redis"
    # redis-py reads credentials and typed ?options from a URL with one host: reuse it.
    one_host = f"{scheme}://{userinfo}{'@' if userinfo else ''}fleet?{parts.query}"
    options: dict[str, Any] = dict(parse_url(one_host))
    options.pop("host", None)
    if options.pop("connection_class", None) is SSLConnection:
        options["ssl"] = True
    addresses = [_address(item, default_port) for item in hosts.split(",") if item]
    if not addresses:
        raise ConfigurationError("store", "RedisStore url names no host")
    return addresses, parts.path, {**_url_defaults(), **options}


def _sentinel_client(url: str) -> tuple[Redis, Sentinel]:
    addresses, path, options = _fleet_parts(url, 26379)
    service, _, db = path.strip("/").partition("/")
    if not service or not (db.isdigit() or not db):
        raise ConfigurationError("store", "a redis+sentinel:// url ends with /<service name>[/<db>]")
    if db:
        options["db"] = int(db)
    # Sentinels answer at once or are down: ask the next one soon. They share the TLS options.
    on_sentinels: dict[str, Any] = {"socket_connect_timeout": 1.0, "socket_timeout": 1.0, "retry": _retry()}
    on_sentinels |= {k: v for k, v in options.items() if k.startswith("ssl")}
    for name in ("username", "password"):
        if (value := options.pop(f"sentinel_{name}", None)) is not None:
            on_sentinels[name] = value
    sentinel = Sentinel(addresses, sentinel_kwargs=on_sentinels, **options)  # type: ignore[no-untyped-call]
    return sentinel.master_for(service), sentinel


def _cluster_client(url: str) -> RedisCluster:
    addresses, path, options = _fleet_parts(url, 6379)
    if path.strip("/") not in ("", "0"):
        raise ConfigurationError("store", "a Redis Cluster has only db 0: no path in a redis+cluster:// url")
    return RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in addresses], **options)


def _client_from_url(url: str) -> tuple[Redis | RedisCluster, Sentinel | None]:
    scheme = url.partition("://")[0]
    if scheme in _URL_SCHEMES:
        return Redis.from_url(url, **_url_defaults()), None
    if scheme in _FLEET_SCHEMES[:2]:
        return _sentinel_client(url)
    if scheme in _FLEET_SCHEMES:
        return _cluster_client(url), None
    raise ConfigurationError(
        "store",
        f"RedisStore url must start with redis://, rediss://, unix://, redis+sentinel:// or "
        f"redis+cluster:// (rediss+… for TLS), got {url!r}",
    )


def _tracking_connection(client: Redis) -> Callable[[], Any]:
    """Makes the local cache's own connection: the client's settings (address, a
    Sentinel's current master, AUTH, TLS, timeouts), but RESP2 and raw bytes, which the
    listener reads itself."""
    pool = client.connection_pool
    options = {
        key: value
        for key, value in pool.connection_kwargs.items()
        if not key.startswith("maint_notifications")
    }
    options |= {"protocol": 2, "decode_responses": False}

    def connect() -> Any:
        return pool.connection_class(**options)

    return connect


class RedisStore:
    """A ``SessionStore`` in Redis, for apps running several processes or hosts.

    ``url=`` creates a client that is closed at lifespan shutdown:

    * ``redis://[[user]:password@]host:6379/0`` (``rediss://`` for TLS, ``unix://`` too):
      one Redis.
    * ``redis+sentinel://[[user]:password@]host1:26379,host2:26379/<service>[/<db>]``: the
      master that the sentinels name ``<service>``, found again after a failover. The
      credentials are the master's (and its replicas'); sentinels that want their own
      take ``?sentinel_username=…&sentinel_password=…``. Sentinel queries time out after 1 s.
    * ``redis+cluster://[[user]:password@]host1:6379[,host2:6379…]``: a Redis Cluster;
      any reachable node is enough to find the others.

    ``rediss+sentinel://`` and ``rediss+cluster://`` use TLS (towards the sentinels as
    well); ``?ssl_ca_certs=…``, ``?socket_timeout=…`` and redis-py's other URL options
    apply; percent-encode ``/``, ``@`` and ``:`` in passwords. Or pass ``client=`` a
    ``redis.asyncio.Redis`` (e.g. ``Sentinel(…).master_for(…)``) or ``RedisCluster`` you
    configured yourself; it is shared, and left open for you to close. Every key starts
    with ``prefix``, so one Redis can serve several apps. Entries expire with the session.

    **Acknowledged writes.** After ``set``, ``add``, ``delete`` and ``set_add`` the store
    sends ``WAIT <wait_replicas> <wait_timeout>`` on the same connection, in the same round
    trip, and raises :class:`RedisStoreWriteNotAcknowledged` (hence a 503) when fewer
    replicas confirmed it: a write taken by a master that a failover left behind would be
    discarded when it rejoins as a replica. ``wait_replicas=None`` (the default) decides:
    1 on a Sentinel-managed master; on a cluster, 1 where the key's shard has a replica in
    the client's topology (refreshed after a failure); on one Redis, 1 if ``INFO
    replication`` shows an online replica (asked at the first write, then a minute later or
    after an error; a user without ``INFO`` permission gets 0). ``0`` disables WAIT. With
    several replicas, only ``wait_replicas`` equal to their number guarantees that the one
    promoted has the write. Reads never wait; ``delete_if`` (a lock released early) and
    ``set_pop_all`` (an index already acted on) do not wait either.
    """

    def __init__(
        self,
        url: str | None = None,
        *,
        client: Redis | RedisCluster | None = None,
        prefix: str = "logto:",
        wait_replicas: int | None = None,
        wait_timeout: float = 0.5,
        local_cache: int = 0,
        local_cache_staleness: float = 0.1,
    ) -> None:
        if (url is None) == (client is None):
            raise ConfigurationError(
                "store", "RedisStore needs either url='redis://…' or client=redis.asyncio.Redis(…)"
            )
        if wait_replicas is not None and wait_replicas < 0:
            raise ConfigurationError("wait_replicas", f"must be None (auto) or >= 0, got {wait_replicas}")
        if not wait_timeout > 0:
            raise ConfigurationError("wait_timeout", f"must be more than 0 seconds, got {wait_timeout}")
        if local_cache < 0:
            raise ConfigurationError(
                "local_cache", f"must be 0 (off) or a number of entries, got {local_cache}"
            )
        if not 0.01 <= local_cache_staleness <= 60:
            raise ConfigurationError(
                "local_cache_staleness", f"must be between 0.01 and 60 seconds, got {local_cache_staleness}"
            )
        self._owns_client = client is None
        self._sentinel: Sentinel | None = None
        if client is None:
            assert url is not None
            client, self._sentinel = _client_from_url(url)
        self._client = client
        self._prefix = prefix
        self._wait_replicas = wait_replicas
        self._wait_timeout = wait_timeout
        self._sentinel_managed = isinstance(getattr(client, "connection_pool", None), SentinelConnectionPool)
        self._auto: tuple[int, float] | None = None  # one Redis: (replicas, when to ask again)
        self._refresh_topology_at: float | None = None  # a cluster, after a failed write
        self._topology_refreshed = 0.0
        self._delete_if = client.register_script(_DELETE_IF)
        self._pop_all = client.register_script(_SET_POP_ALL)
        self._tracked: TrackedValues | None = None
        if local_cache:
            if isinstance(client, RedisCluster):
                raise ConfigurationError(
                    "local_cache", "needs one Redis or a Sentinel-managed master: not a Redis Cluster"
                )
            self._tracked = TrackedValues(
                _tracking_connection(client),
                prefix + SESSION_ENTRY_PREFIX,
                size=local_cache,
                staleness=local_cache_staleness,
            )

    @property
    def client(self) -> Redis | RedisCluster:
        """The redis-py client (for health checks and tests)."""
        return self._client

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def local_cache(self) -> TrackedValues | None:
        """The local cache (``local_cache=N``), for its counters; ``None`` when off."""
        return self._tracked

    def __repr__(self) -> str:
        try:
            where = self._where()
        except Exception:  # a client of a shape we do not know: still printable
            where = f"<{type(self._client).__name__}>"
        return f"RedisStore({where}, prefix={self._prefix!r})"

    def _where(self) -> str:
        # Only addresses, names and numbers: never credentials.
        client = self._client
        if isinstance(client, RedisCluster):
            hosts = ",".join(f"{n.host}:{n.port}" for n in client.startup_nodes or client.get_nodes())
            return f"cluster={hosts!r}"
        pool = client.connection_pool
        if isinstance(pool, SentinelConnectionPool):
            sentinels = [s.connection_pool.connection_kwargs for s in pool.sentinel_manager.sentinels]
            hosts = ",".join(f"{s.get('host', '?')}:{s.get('port', '?')}" for s in sentinels)
            db = pool.connection_kwargs.get("db", 0)
            return f"sentinel={hosts!r}, service={pool.service_name!r}, db={db}"
        kwargs = pool.connection_kwargs
        where = kwargs.get("path") or f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}"
        return f"{where!r}, db={kwargs.get('db', 0)}"

    # The SessionStore protocol ----------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        """The value stored under ``key``, or ``None``."""
        name = self._prefix + key
        tracked = self._tracked
        if tracked is None or not key.startswith(SESSION_ENTRY_PREFIX):
            value = await self._client.get(name)
            return None if value is None else _bytes(value)
        kept = tracked.get(name)
        if kept is not None:
            return kept
        epoch = tracked.epoch
        value = await self._client.get(name)
        if value is None:
            return None
        kept = _bytes(value)
        tracked.keep(name, kept, epoch)
        return kept

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds (``SET … PX``, then ``WAIT``)."""
        name = self._prefix + key
        await self._tracked_write(name, "SET", name, value, "PX", _ms(ttl))

    async def delete(self, key: str) -> None:
        """Forget ``key`` (``DEL``, then ``WAIT``)."""
        name = self._prefix + key
        await self._tracked_write(name, "DEL", name)

    async def _tracked_write(self, name: str, *command: Any) -> Any:
        # This process's own writes are forgotten at once, before and after (a read in
        # flight meanwhile is not kept); other processes learn of them from Redis.
        tracked = self._tracked
        if tracked is None:
            return await self._write(name, *command)
        tracked.forget(name)
        try:
            return await self._write(name, *command)
        finally:
            tracked.forget(name)

    # Atomic operations ------------------------------------------------------------------

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only if absent (``SET NX PX``, then ``WAIT``); ``True`` when this call stored it."""
        name = self._prefix + key
        return bool(await self._write(name, "SET", name, value, "PX", _ms(ttl), "NX"))

    async def delete_if(self, key: str, value: bytes) -> None:
        """Delete ``key`` only while it holds ``value`` (one Lua script, atomic)."""
        await self._delete_if(keys=[self._prefix + key], args=[value])

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        """Add ``member`` to the set at ``key`` and keep the set ``ttl`` seconds from now."""
        # EVAL with the (short) source: no NOSCRIPT round trip, and it pipelines with WAIT.
        name = self._prefix + key
        await self._write(name, "EVAL", _SET_ADD, 1, name, member, _ms(ttl))

    async def set_pop_all(self, key: str) -> list[str]:
        """Every member of the set at ``key``, and the set deleted, in one Lua script."""
        members = await self._pop_all(keys=[self._prefix + key])
        return sorted(_bytes(m).decode("utf-8") for m in members)

    async def aclose(self) -> None:
        """Stop the local cache's listener; close the connections if this store created
        them (from ``url``)."""
        if self._tracked is not None:
            await self._tracked.aclose()
        if self._owns_client:
            await self._client.aclose()
            if self._sentinel is not None:
                await self._sentinel.aclose()

    # Acknowledged writes ----------------------------------------------------------------

    async def _write(self, name: str, *command: Any) -> Any:
        """Run a one-key write; with replicas to wait for, ``WAIT`` on its connection."""
        try:
            wanted = await self._replicas_for(name)
            if wanted == 0:
                return await self._client.execute_command(*command)
            if isinstance(self._client, RedisCluster):
                result, acknowledged = await self._cluster_write(self._client, name, command, wanted)
            else:
                result, acknowledged = await self._pipelined_write(self._client, command, wanted)
        except Exception:
            self._after_failure()
            raise
        if result is None:  # SET NX that stored nothing: nothing to confirm
            return result
        if acknowledged < wanted:
            self._after_failure()
            raise RedisStoreWriteNotAcknowledged(acknowledged, wanted, self._wait_timeout)
        return result

    def _after_failure(self) -> None:
        self._auto = None
        if self._refresh_topology_at is None:  # at most once a second
            self._refresh_topology_at = max(time.monotonic(), self._topology_refreshed + 1.0)

    async def _pipelined_write(self, client: Redis, command: tuple[Any, ...], wanted: int) -> tuple[Any, int]:
        # One connection for both: WAIT counts the replicas that have this connection's
        # writes. A retried pipeline (dropped connection) sends both again, to the new master.
        async with client.pipeline(transaction=False) as pipe:
            pipe.execute_command(*command)
            pipe.execute_command("WAIT", wanted, _ms(self._wait_timeout))
            result, acknowledged = await pipe.execute()
        return result, int(acknowledged)

    async def _cluster_write(
        self, client: RedisCluster, name: str, command: tuple[Any, ...], wanted: int
    ) -> tuple[Any, int]:
        try:
            return await self._node_write(client, name, command, wanted)
        except _CLUSTER_ERRORS:  # moved, or the node is gone: let redis-py learn the new layout
            with suppress(rx.RedisError):
                await client.exists(name)
            return await self._node_write(client, name, command, wanted)

    async def _node_write(
        self, client: RedisCluster, name: str, command: tuple[Any, ...], wanted: int
    ) -> tuple[Any, int]:
        # The key's master runs both on one connection. A cluster pipeline would not do: on a
        # retry it forgets WAIT's target node and asks another one, whose "yes" means nothing.
        await client.initialize()
        node = client.get_node_from_key(name)
        assert node is not None
        sent = [PipelineCommand(0, *command), PipelineCommand(1, "WAIT", wanted, _ms(self._wait_timeout))]
        await node.execute_pipeline(sent)
        for done in sent:
            if isinstance(done.result, Exception):
                raise done.result
        acknowledged: Any = sent[1].result
        return sent[0].result, int(acknowledged)

    async def _replicas_for(self, name: str) -> int:
        """How many replicas must confirm a write of ``name`` (see the class docstring)."""
        if self._wait_replicas is not None:
            return self._wait_replicas
        client = self._client
        if isinstance(client, RedisCluster):
            await client.initialize()
            now = time.monotonic()
            if self._refresh_topology_at is not None and now >= self._refresh_topology_at:
                self._refresh_topology_at, self._topology_refreshed = None, now
                with suppress(rx.RedisError):  # drop a replica that has failed, learn a new one
                    await client.nodes_manager.initialize()
            return 0 if client.get_node_from_key(name, replica=True) is None else 1
        if self._sentinel_managed:
            return 1
        now = time.monotonic()
        if self._auto is None or now >= self._auto[1]:
            try:
                info: dict[str, Any] = await client.info("replication")
            except rx.ResponseError:  # e.g. an ACL user without INFO: assume no replica
                info = {}
            self._auto = (int(_has_online_replica(info)), now + _AUTO_RECHECK)
        return self._auto[0]

"""The middleware end to end on real Redis fleets, against the real provider: a Redis Cluster
(sign-in, a refresh storm, sign-out, back-channel logout), a Sentinel fleet failing over under
load, and the single Redis stopped and started again under load."""

from __future__ import annotations

import functools
import re
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import NamedTuple

import anyio
import httpx
import pytest
import redis

from logto_asgi import LogtoMiddleware, RedisStore
from logto_asgi.core import LogtoCore
from support.app import APP_ORIGIN, SHOPPING, Harness, build_app, make_harness, register_app
from support.provider import OidcTestProvider, provider_login, provider_logout
from support.redis_fleet import CLUSTER_PASSWORD, ClusterFleet, SentinelFleet
from support.redis_server import RedisServer
from support.server import listen, serve

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

PATH = "/backchannel-logout"
SCOPES = ["email", "shopping:read", "shopping:write"]
LONG_TTL = 300  # access tokens for the storm: the middleware's clock jumps past them
STORM = 60
SHORT_TTL = 4  # access tokens under load: kept 2 s, then refreshed on the next request
SESSIONS = 50
RESTART_SESSIONS = 20
CONCURRENCY = 10
PACE = 0.08  # seconds between two requests of one worker (about 100 requests a second)
MAX_REQUESTS = 4000
WARMUP = 2.0  # load before the failover / the stop
CALM = 3.0  # only 200s for this long after the switch: recovered
DOWN = 1.5  # how long Redis stays stopped
LOAD_BUDGET = 40.0
TOKEN_PARAMS = {"resource": SHOPPING, "raw": "1"}  # raw: our clock may be shifted


# Shared helpers ----------------------------------------------------------------------------


def prefix(tag: str) -> str:
    return f"{tag}-{uuid.uuid4().hex[:8]}:"


def shift_clock(core: LogtoCore, seconds: float) -> None:
    """Move the middleware's clock forward (cached tokens look expired) without sleeping."""
    core.clock = lambda: time.time() + seconds


def clears_session(response: httpx.Response) -> bool:
    """Whether the response clears the session cookie (``logto=…; Max-Age=0``)."""
    return any(
        v.startswith("logto=") and "max-age=0" in v.lower() for v in response.headers.get_list("set-cookie")
    )


def error_code(response: httpx.Response) -> str:
    """The error code an error page names (``<code>session_expired</code>``), else its start."""
    found = re.search(r"<code>([a-z_]+)</code>", response.text)
    return found.group(1) if found else response.text[:120]


async def gather(calls: list[Callable[[], Awaitable[httpx.Response]]], limit: int) -> list[httpx.Response]:
    """Run the calls, at most ``limit`` at a time; their responses in order."""
    results: list[httpx.Response | None] = [None] * len(calls)
    limiter = anyio.CapacityLimiter(limit)

    async def run(i: int) -> None:
        async with limiter:
            results[i] = await calls[i]()

    async with anyio.create_task_group() as tg:
        for i in range(len(calls)):
            tg.start_soon(run, i)
    return [r for r in results if r is not None]


@dataclass
class GrantTrap:
    """Holds the first refresh grant answered once ``armed`` until ``released`` (Redis is
    down, the master has changed): the provider has rotated that session's refresh token,
    the store has not heard of it yet. The worst moment for a store to go away."""

    armed: anyio.Event = field(default_factory=anyio.Event)
    sprung: anyio.Event = field(default_factory=anyio.Event)
    released: anyio.Event = field(default_factory=anyio.Event)

    async def on_response(self, response: httpx.Response) -> None:
        request = response.request
        if not self.armed.is_set() or self.sprung.is_set() or not request.url.path.endswith("/token"):
            return
        if b"grant_type=refresh_token" in request.content and response.status_code == 200:
            self.sprung.set()
            await self.released.wait()


@pytest.fixture
async def long_tokens(provider: OidcTestProvider) -> AsyncIterator[None]:
    """Access tokens live LONG_TTL seconds at the provider (ID tokens keep an hour)."""
    await provider.set_ttl(AccessToken=LONG_TTL)
    try:
        yield
    finally:
        await provider.reset_ttl()


@pytest.fixture
async def short_tokens(provider: OidcTestProvider) -> AsyncIterator[None]:
    """Access tokens live SHORT_TTL seconds: under load a share of requests refreshes."""
    await provider.set_ttl(AccessToken=SHORT_TTL)
    try:
        yield
    finally:
        await provider.reset_ttl()


# 1. Redis Cluster ----------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    client_id: str
    prefix: str
    middleware: LogtoMiddleware


@pytest.fixture
async def cluster_site(provider: OidcTestProvider, redis_cluster: ClusterFleet) -> AsyncIterator[Site]:
    """The test app under uvicorn, sessions in the Redis Cluster, back-channel logout on."""
    keys = prefix("journey")
    with listen() as bound:
        registration = await register_app(
            provider, bound.url, prefix="cluster", backchannel_logout_uri=f"{bound.url}{PATH}"
        )
        store = RedisStore(url=redis_cluster.url, prefix=keys)
        config = registration.config(
            bound.url, store=store, backchannel_logout_path=PATH, scopes=SCOPES, resources=[SHOPPING]
        )
        middleware = LogtoMiddleware(build_app(), config=config)
        with serve(middleware, bound) as url:
            yield Site(url, registration.client_id, keys, middleware)


def count_sessions(fleet: ClusterFleet, keys: str) -> int:
    """How many session entries under ``keys`` the cluster's masters hold."""
    node = fleet.nodes[0]
    with redis.RedisCluster(host=node.host, port=node.port, password=CLUSTER_PASSWORD) as client:
        found = client.scan_iter(match=f"{keys}session:*", target_nodes=redis.RedisCluster.PRIMARIES)
        return sum(1 for _ in found)


async def sessions_in(fleet: ClusterFleet, site: Site) -> int:
    return await anyio.to_thread.run_sync(count_sessions, fleet, site.prefix)


async def signed_in(site: Site, browser: httpx.AsyncClient) -> str:
    """Sign ``browser`` in as alice; the session cookie."""
    callback = await provider_login(
        browser, f"{site.url}/sign-in", username="alice", password="alice-password"
    )
    assert callback.status_code == 302, callback.text
    return browser.cookies["logto"]


async def test_cluster_journey(
    provider: OidcTestProvider, redis_cluster: ClusterFleet, cluster_site: Site, long_tokens: None
) -> None:
    """Redis Cluster: sign-in, a 60-request storm with one refresh grant, sign-out, back-channel logout."""
    site = cluster_site
    async with httpx.AsyncClient(timeout=30) as browser:
        cookie = await signed_in(site, browser)
        me = await browser.get(f"{site.url}/me")
        assert me.status_code == 200 and me.json()["user"]["sub"] == "user-alice"
        first = await browser.get(f"{site.url}/token", params=TOKEN_PARAMS)
        assert first.status_code == 200, first.text
        assert await sessions_in(redis_cluster, site) == 1

        shift_clock(site.middleware.core, LONG_TTL + 1)  # the resource token looks expired
        await provider.reset_counts()
        limits = httpx.Limits(max_connections=STORM, max_keepalive_connections=STORM)
        headers = {"cookie": f"logto={cookie}"}
        async with httpx.AsyncClient(timeout=30, limits=limits, headers=headers) as storm:
            responses = await gather(
                [lambda: storm.get(f"{site.url}/token", params=TOKEN_PARAMS) for _ in range(STORM)],
                STORM,
            )
        assert [r.status_code for r in responses] == [200] * STORM, [r.text for r in responses][:3]
        suffixes = {r.json()["token_suffix"] for r in responses}
        assert len(suffixes) == 1 and first.json()["token_suffix"] not in suffixes
        assert (await provider.counts()).get("token:refresh_token") == 1

        shift_clock(site.middleware.core, 0)  # the provider's logout tokens are checked on our clock
        home = await provider_logout(browser, f"{site.url}/sign-out")  # the app's home page, at last
        assert home.url == f"{site.url}/" and "Not authenticated" in home.text
        assert await sessions_in(redis_cluster, site) == 0
    async with httpx.AsyncClient(timeout=30, headers={"cookie": f"logto={cookie}"}) as old:
        assert (await old.get(f"{site.url}/me")).status_code == 401

    async with httpx.AsyncClient(timeout=30) as browser:
        await signed_in(site, browser)
        sid = (await browser.get(f"{site.url}/me")).json()["user"]["sid"]
        assert await sessions_in(redis_cluster, site) == 1
        results = await provider.backchannel_logout(sub="user-alice", sid=sid, client_id=site.client_id)
        assert [(r["sid"], r["status"], r["error"]) for r in results] == [(sid, 200, None)]
        assert await sessions_in(redis_cluster, site) == 0
        assert (await browser.get(f"{site.url}/me")).status_code == 401


# Load with a switch (failover, restart) -------------------------------------------------------


class Failure(NamedTuple):
    """A response other than 200: when its request was sent and answered."""

    sent: float
    done: float
    status: int
    code: str


@dataclass
class Load:
    """What the load saw; times are ``time.monotonic()``."""

    switch_start: float = 0.0
    switch_end: float = 0.0
    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[Failure] = field(default_factory=list)
    cleared: list[tuple[int, str]] = field(default_factory=list)
    last_error: float = 0.0
    slowest: float = 0.0
    ok_after_last_error: float | None = None
    done: anyio.Event = field(default_factory=anyio.Event)

    def record(self, response: httpx.Response, sent: float) -> None:
        """One response to a request sent at ``sent``."""
        now = time.monotonic()
        self.requests += 1
        self.slowest = max(self.slowest, now - sent)
        self.statuses[response.status_code] += 1
        if clears_session(response):
            self.cleared.append((response.status_code, error_code(response)))
        if response.status_code != 200:
            self.errors.append(Failure(sent, now, response.status_code, error_code(response)))
            self.last_error, self.ok_after_last_error = now, None
        elif self.ok_after_last_error is None:
            self.ok_after_last_error = now

    @property
    def server_errors(self) -> list[Failure]:
        return [f for f in self.errors if f.status >= 500]

    def summary(self, name: str, grants: int) -> str:
        t0 = self.switch_start
        errors = self.server_errors
        first, last = min((f.sent for f in errors), default=t0), max((f.done for f in errors), default=t0)
        span = f"first-sent={first - t0:+.2f}s last-answered={last - t0:+.2f}s" if errors else "none"
        recovered = (self.ok_after_last_error or self.switch_end) - t0
        return (
            f"\n{name}: requests={self.requests} statuses={dict(self.statuses)} 5xx={len(errors)} "
            f"5xx-times({span}) switch={self.switch_end - t0:.2f}s recovery={recovered:.2f}s "
            f"slowest={self.slowest:.2f}s refresh-grants={grants}"
        )


async def hammer(browsers: list[httpx.AsyncClient], load: Load, worker: int, deadline: float) -> None:
    """One worker: each request reads its session and gets a resource token (refreshed
    when it has expired), round robin over the browsers, until the load is done."""
    i = worker
    while not load.done.is_set() and load.requests < MAX_REQUESTS and time.monotonic() < deadline:
        browser = browsers[i % len(browsers)]
        i += CONCURRENCY
        sent = time.monotonic()
        load.record(await browser.get(f"{APP_ORIGIN}/token", params=TOKEN_PARAMS), sent)
        await anyio.sleep(PACE)


async def until_calm(load: Load, deadline: float) -> None:
    """Keep the load on until it answered only 200s for CALM seconds after the switch."""
    while time.monotonic() < deadline:
        if time.monotonic() - max(load.last_error, load.switch_end) >= CALM:
            break
        await anyio.sleep(0.1)
    load.done.set()


async def run_load(browsers: list[httpx.AsyncClient], switch: Callable[[Load], Awaitable[None]]) -> Load:
    """The load with ``switch`` (which sets the switch times) in the middle of it."""
    load = Load()
    deadline = time.monotonic() + LOAD_BUDGET

    async def drive() -> None:
        await anyio.sleep(WARMUP)
        load.switch_start = time.monotonic()
        await switch(load)
        load.switch_end = time.monotonic()
        await until_calm(load, deadline)

    async with anyio.create_task_group() as tg:
        tg.start_soon(drive)
        for worker in range(CONCURRENCY):
            tg.start_soon(hammer, browsers, load, worker, deadline)
    return load


def check_load(load: Load) -> None:
    """No 401 at all, no cleared cookie, 5xx only while the switch lasted, recovered."""
    unauthorized = [(round(f.sent - load.switch_start, 2), f.code) for f in load.errors if f.status == 401]
    assert not unauthorized, f"{len(unauthorized)} x 401 (sent at +s from the switch): {unauthorized[:2]}"
    assert not load.cleared, f"{len(load.cleared)} responses cleared the session cookie: {load.cleared[:2]}"
    assert {f.status for f in load.errors} <= {503}, load.errors[:3]
    # Allowed only to requests in flight at some time during the switch.
    late = [(f.sent - load.switch_end, f.code) for f in load.errors if f.sent > load.switch_end]
    assert not late, f"5xx for requests sent after the switch had ended: {late[:3]}"
    early = [(f.done - load.switch_start, f.code) for f in load.errors if f.done < load.switch_start]
    assert not early, f"5xx answered before the switch began: {early[:3]}"
    assert load.done.is_set() and time.monotonic() - load.last_error >= CALM, "the load never recovered"


async def sign_in_many(harness: Harness, count: int) -> list[httpx.AsyncClient]:
    """``count`` browsers, each its own session (alice and bob in turn)."""
    browsers = [harness.browser() for _ in range(count)]
    users = ["alice", "bob"]
    callbacks = await gather(
        [functools.partial(harness.sign_in, users[i % 2], client=b) for i, b in enumerate(browsers)], 5
    )
    assert [c.status_code for c in callbacks] == [302] * count, [c.text for c in callbacks][:3]
    return browsers


async def check_every_session(browsers: list[httpx.AsyncClient]) -> None:
    """Every session still answers /me and still gets a (refreshed) resource token."""
    me = await gather([functools.partial(b.get, f"{APP_ORIGIN}/me") for b in browsers], CONCURRENCY)
    assert [r.status_code for r in me] == [200] * len(browsers), [r.text for r in me if r.status_code != 200]
    tokens = await gather(
        [functools.partial(b.get, f"{APP_ORIGIN}/token", params=TOKEN_PARAMS) for b in browsers],
        CONCURRENCY,
    )
    assert [r.status_code for r in tokens] == [200] * len(browsers), [
        r.text for r in tokens if r.status_code != 200
    ][:3]


# 2. Sentinel failover under load ----------------------------------------------------------------


def promoted(fleet: SentinelFleet, old_master: int, timeout: float = 10.0) -> None:
    """Return once the sentinels name a new master (bounded)."""
    deadline = time.monotonic() + timeout
    while fleet.master_port() == old_master and time.monotonic() < deadline:
        time.sleep(0.05)


async def test_sentinel_failover_under_load(
    provider: OidcTestProvider, redis_sentinel: SentinelFleet, short_tokens: None
) -> None:
    """SENTINEL FAILOVER under load: no 401, no cleared cookie, 503 only mid-switch, every session lives."""
    await anyio.to_thread.run_sync(redis_sentinel.wait_settled)
    old_master = redis_sentinel.master_port()
    trap = GrantTrap()
    http = httpx.AsyncClient(timeout=10, event_hooks={"response": [trap.on_response]})
    store = RedisStore(url=redis_sentinel.url(), prefix=prefix("sentinel"))
    harness = await make_harness(provider, store=store, scopes=SCOPES, resources=[SHOPPING], http_client=http)
    try:
        browsers = await sign_in_many(harness, SESSIONS)

        async def fail_over(load: Load) -> None:
            trap.armed.set()
            with anyio.move_on_after(3.0):  # refreshes go on all the time under this load
                await trap.sprung.wait()
            await anyio.to_thread.run_sync(redis_sentinel.failover)
            await anyio.to_thread.run_sync(promoted, redis_sentinel, old_master)
            trap.released.set()
            await anyio.to_thread.run_sync(redis_sentinel.wait_settled)

        await provider.reset_counts()
        load = await run_load(browsers, fail_over)
        grants = (await provider.counts()).get("token:refresh_token", 0)
        print(load.summary("sentinel failover", grants), f"held-a-grant={trap.sprung.is_set()}")
        assert redis_sentinel.master_port() != old_master
        check_load(load)
        assert grants > SESSIONS  # a share of the requests refreshed, several times per session
        await check_every_session(browsers)
    finally:
        trap.released.set()
        await harness.aclose()
        await http.aclose()


# 3. The single Redis restarted under load --------------------------------------------------------


async def test_redis_restart_under_load(
    provider: OidcTestProvider, redis_url: str, redis_server: RedisServer, short_tokens: None
) -> None:
    """Redis stopped and started under load: 503 while down, never 401 or a cleared cookie, all 200 after."""
    trap = GrantTrap()
    http = httpx.AsyncClient(timeout=10, event_hooks={"response": [trap.on_response]})
    store = RedisStore(url=redis_url, prefix=prefix("restart"))
    harness = await make_harness(provider, store=store, scopes=SCOPES, resources=[SHOPPING], http_client=http)
    try:
        browsers = await sign_in_many(harness, RESTART_SESSIONS)

        async def restart(load: Load) -> None:
            trap.armed.set()
            with anyio.move_on_after(3.0):  # refreshes go on all the time under this load
                await trap.sprung.wait()
            await anyio.to_thread.run_sync(redis_server.stop)
            trap.released.set()
            await anyio.sleep(DOWN)  # Redis is really away for a while
            await anyio.to_thread.run_sync(redis_server.start)

        await provider.reset_counts()
        load = await run_load(browsers, restart)
        grants = (await provider.counts()).get("token:refresh_token", 0)
        print(load.summary("redis restart", grants), f"stopped-on-a-grant={trap.sprung.is_set()}")
        check_load(load)
        assert len(load.server_errors) > 0  # the load did see Redis away
        await check_every_session(browsers)
    finally:
        trap.released.set()
        await harness.aclose()
        await http.aclose()

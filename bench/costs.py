"""Section 1: in-process cost per request of every app, alternating in one run."""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from bench.apps import ANONYMOUS, bare_app, inner_app
from bench.distinct import DISTINCT, baseline_cookies, logto_cookies
from bench.inprocess import (
    Batch,
    Case,
    Headers,
    Timing,
    asgi_batch,
    awaitable_batch,
    call_once,
    measure,
    noop_app,
    rotating_batch,
)
from bench.report import Report
from bench.signin import Baseline, SignedIn
from logto_asgi import LogtoMiddleware, _speedups
from logto_asgi._cache import BoundedCache
from logto_asgi.sessions._redis_tracking import TrackedValues
from logto_asgi.sessions.redis import RedisStore

SECTION = "1. In-process cost per request (µs of CPU, median of batch means, driver subtracted)"
HOST: Headers = [(b"host", b"app.test")]

NAMES = {
    "bare": "bare Starlette app",
    "anonymous": "logto-asgi, anonymous (no cookie)",
    "cookie": "logto-asgi, CookieStore, typical session",
    "cookie_cold": "  same, first sight of the cookie (decrypt + parse)",
    "cookie_first": f"logto-asgi, CookieStore, {DISTINCT:,} distinct sessions in turn (first sights)",
    "cookie_first_stdlib": "  same, without the speedups extra (stdlib base64 and JSON)",
    "cookie_large": "logto-asgi, CookieStore, large session (chunked)",
    "memory": "logto-asgi, MemoryStore",
    "redis": "logto-asgi, RedisStore (real redis-server)",
    "redis_local": "logto-asgi, RedisStore(local_cache=10_000)",
    "baseline_anonymous": "baseline (Authlib + SessionMiddleware), anonymous",
    "baseline": "baseline (Authlib + SessionMiddleware), signed in",
    "baseline_first": f"baseline, {DISTINCT:,} distinct sessions in turn",
    "redis_get": "raw redis-py GET round trip (same session entry)",
    "bare_get": "  reference: bare app + one raw GET per request",
    "cookie_get": "  reference: CookieStore app + one raw GET per request",
}

#: bare Starlette per request where the issue's targets were measured (2 cores, idle).
ISSUE_BARE_US = 5.5


def _after_get(client: Any, key: str, app: ASGIApp) -> ASGIApp:
    """``app`` preceded by one raw redis-py GET: what a GET costs inside a request."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        await client.get(key)
        await app(scope, receive, send)

    return wrapped


@dataclass
class Apps:
    first: SignedIn  # its own app: the distinct cookies must not warm the others' caches
    typical: SignedIn
    large: SignedIn
    memory: SignedIn
    redis: SignedIn
    redis_local: SignedIn
    baseline: Baseline
    redis_client: Any  # redis.asyncio.Redis
    redis_key: str
    sub: str


def _with_cookie(cookie: bytes) -> Headers:
    return [*HOST, (b"cookie", cookie)]


async def _check(name: str, app: ASGIApp, headers: Headers, expect: str, *, quiet: bool) -> None:
    status, body, response_headers = await call_once(app, "/me", headers)
    if status != 200 or body.decode() != expect:
        raise RuntimeError(f"{name}: expected 200 {expect!r}, got {status} {body[:200]!r}")
    if quiet and any(k == b"set-cookie" for k, _ in response_headers):
        raise RuntimeError(f"{name}: an unchanged session must not be written back")


def _forget(app: LogtoMiddleware) -> Callable[[], None]:
    """Empties ``app``'s seen-header and decoded-cookie caches (its cookie's next request
    is a first sight)."""
    seen = app._single._seen  # type: ignore[union-attr]
    decoded = getattr(app.core.backend, "_decoded", None)
    if seen is None or not isinstance(decoded, BoundedCache):
        raise RuntimeError("the cookie app has no seen-header or decoded-cookie cache")

    def forget() -> None:
        seen.clear()
        decoded.clear()

    return forget


async def run(report: Report, apps: Apps, *, rounds: int) -> None:
    typical_app = apps.typical.middleware
    specs: list[tuple[str, ASGIApp, Headers, str, bool]] = [
        ("bare", bare_app(), HOST, ANONYMOUS, True),
        ("anonymous", typical_app, HOST, ANONYMOUS, True),
        ("cookie", typical_app, _with_cookie(apps.typical.header), apps.sub, True),
        ("cookie_large", apps.large.middleware, _with_cookie(apps.large.header), apps.sub, True),
        ("memory", apps.memory.middleware, _with_cookie(apps.memory.header), apps.sub, True),
        ("redis", apps.redis.middleware, _with_cookie(apps.redis.header), apps.sub, True),
        ("redis_local", apps.redis_local.middleware, _with_cookie(apps.redis_local.header), apps.sub, True),
        ("baseline_anonymous", apps.baseline.app, HOST, ANONYMOUS, True),
        ("baseline", apps.baseline.app, _with_cookie(apps.baseline.header), apps.sub, False),
    ]
    cases: list[Case] = []
    for name, app, headers, expect, quiet in specs:
        await _check(name, app, headers, expect, quiet=quiet)
        cases.append(Case(name, asgi_batch(app, headers)))
    tracked = _local_cache(apps.redis_local)
    await _until_serving(
        tracked, apps.redis_local.middleware, _with_cookie(apps.redis_local.header), apps.sub
    )
    hits_before = tracked.hits
    # The per-process caches of seen headers and decoded cookies, emptied before every
    # call: what the first request carrying a new cookie costs (once per session write,
    # per process), with the cookie itself in the CPU's caches (unlike the 6,000 below).
    cold = asgi_batch(typical_app, _with_cookie(apps.typical.header), before=_forget(typical_app))
    cases.insert(3, Case("cookie_cold", cold))
    # A site with many users: more distinct cookies than any cache holds, each in turn.
    first_app = apps.first.middleware
    distinct = {
        "cookie_first": await logto_cookies(apps.first),
        "baseline_first": baseline_cookies(apps.baseline),
    }
    for name, app in (("cookie_first", first_app), ("baseline_first", apps.baseline.app)):
        for cookie, sub in (distinct[name][0], distinct[name][-1]):
            await _check(name, app, _with_cookie(cookie), sub, quiet=name == "cookie_first")
    cookies = [cookie for cookie, _ in distinct["cookie_first"]]
    cases.insert(4, Case("cookie_first", rotating_batch(first_app, cookies, HOST)))
    # The same without the speedups extra (another app: its caches must not see the above's).
    stdlib_app = LogtoMiddleware(inner_app(), config=apps.first.config)
    cases.insert(5, Case("cookie_first_stdlib", _stdlib_decoders(rotating_batch(stdlib_app, cookies, HOST))))
    cookies = [cookie for cookie, _ in distinct["baseline_first"]]
    cases.append(Case("baseline_first", rotating_batch(apps.baseline.app, cookies, HOST)))
    key, client = apps.redis_key, apps.redis_client
    cases.append(Case("redis_get", awaitable_batch(lambda: client.get(key)), asgi=False))
    cases.append(Case("bare_get", asgi_batch(_after_get(client, key, bare_app()), HOST)))
    cookie_headers = _with_cookie(apps.typical.header)
    cases.append(Case("cookie_get", asgi_batch(_after_get(client, key, typical_app), cookie_headers)))

    results, driver = await measure(cases, rounds=rounds, driver=Case("driver", asgi_batch(noop_app, HOST)))
    report.data["local_cache"] = {
        "hits": tracked.hits - hits_before,
        "connections": tracked.connections,
        "invalidations": tracked.invalidations,
        "entries": len(tracked),
    }
    us = {name: r.cpu_us for name, r in results.items()}
    wall = {name: r.wall_us for name, r in results.items()}
    report.data["inprocess_cpu_us"] = us
    report.data["inprocess_wall_us"] = wall
    report.data["inprocess_detail"] = {name: vars(r) for name, r in results.items()}
    report.data["driver"] = vars(driver)

    bare, base = us["bare"], us["baseline"]
    base_added = base - bare
    report.row(
        SECTION,
        "driver: no-op ASGI app (subtracted below)",
        driver.cpu_us,
        "µs",
        f"wall {driver.wall_us:.2f}",
    )
    for case in cases:
        value = us[case.name]
        note = f"wall {wall[case.name]:.1f}"
        if case.name == "redis_get":
            note += " · loopback round trip through redis-py, alone in a loop"
        elif case.name in ("bare_get", "cookie_get"):
            base_case = "bare" if case.name == "bare_get" else "cookie"
            note += f" · the GET costs {value - us[base_case]:.1f} inside a request"
        elif case.name != "bare":
            added = value - bare
            note += f" · +{added:.2f} over bare · x{value / bare:.2f} bare · x{value / base:.2f} baseline"
            if case.name not in ("anonymous", "baseline_anonymous", "baseline"):
                note += f" · added = {added / base_added:.0%} of baseline's added"
        report.row(SECTION, NAMES[case.name], value, "µs", note)

    local = report.data["local_cache"]
    report.row(
        SECTION,
        "  RedisStore(local_cache): entries served from the process in the run",
        local["hits"],
        "",
        f"{local['connections']} tracking connection(s), {local['invalidations']} invalidation(s)",
    )
    _targets(report, us)
    await _cache_sizes(report, first_app, [cookie for cookie, _ in distinct["cookie_first"]])


def _stdlib_decoders(batch: Batch) -> Batch:
    """``batch`` with the standard library's base64 and JSON (``_speedups.use(False)``)."""

    async def run(n: int) -> Timing:
        _speedups.use(False)
        try:
            return await batch(n)
        finally:
            _speedups.use(True)

    return run


def _local_cache(signed: SignedIn) -> TrackedValues:
    store = signed.config.store
    if not isinstance(store, RedisStore) or store.local_cache is None:
        raise RuntimeError("the redis_local app needs RedisStore(local_cache=…)")
    return store.local_cache


async def _until_serving(tracked: TrackedValues, app: ASGIApp, headers: Headers, sub: str) -> None:
    """Requests until the local cache serves the session entry (its listener is up)."""
    for _ in range(2000):
        hits = tracked.hits
        await _check("redis_local", app, headers, sub, quiet=True)
        if tracked.hits > hits:
            return
        await asyncio.sleep(0.005)
    raise RuntimeError("RedisStore(local_cache=…) never served the entry: is Redis tracking refused?")


def _targets(report: Report, us: dict[str, float]) -> None:
    """Issue 18's goals for section 1, each met or not, as ratios within this run."""
    bare, base = us["bare"], us["baseline"]
    base_added = base - bare
    cookie_added = us["cookie"] - bare
    first_added = us["cookie_first"] - bare
    base_first_added = us["baseline_first"] - bare
    anon_added = us["anonymous"] - bare
    redis_added = us["redis"] - bare
    report.target(
        f"first sight ({DISTINCT:,} distinct cookies) added ≤ 35% of the baseline's added",
        f"{first_added:.2f} µs vs {base_first_added:.2f} µs (baseline, same rotation) = "
        f"{first_added / base_first_added:.0%}; vs the baseline's seen-before {base_added:.2f} µs = "
        f"{first_added / base_added:.0%}",
        first_added <= 0.35 * base_first_added,
    )
    report.target(
        "anonymous added ≤ 15% of the bare app's own cost",
        f"{anon_added:.2f} µs vs bare {bare:.2f} µs = {anon_added / bare:.0%}",
        anon_added <= 0.15 * bare,
    )
    report.target(
        "signed in, cookie seen before: added ≤ 10% of the baseline's added",
        f"{cookie_added:.2f} µs vs {base_added:.2f} µs = {cookie_added / base_added:.0%}",
        cookie_added <= 0.10 * base_added,
    )
    local_added = us["redis_local"] - bare
    report.target(
        "RedisStore(local_cache) added ≤ one GET + the cookie path's added",
        f"{local_added:.2f} µs vs {us['redis_get']:.2f} + {cookie_added:.2f} = "
        f"{us['redis_get'] + cookie_added:.2f} µs",
        local_added <= us["redis_get"] + cookie_added,
    )
    report.target(
        "  same, RedisStore without the local cache (a GET per request; info)",
        f"{redis_added:.2f} µs vs {us['redis_get']:.2f} + {cookie_added:.2f} = "
        f"{us['redis_get'] + cookie_added:.2f} µs",
        redis_added <= us["redis_get"] + cookie_added,
    )
    report.target(
        "  same, with the GET timed inside a request (info)",
        f"RedisStore {us['redis']:.2f} µs vs CookieStore + one GET {us['cookie_get']:.2f} µs",
        us["redis"] <= us["cookie_get"],
    )


async def _cache_sizes(report: Report, app: Any, cookies: list[bytes]) -> None:
    """Every per-process cache of the app that served the distinct cookies, at its peak,
    and the memory they hold then (tracemalloc, while refilled from empty)."""
    distinct = len(cookies)
    authenticator = app._single
    caches = {
        "seen Cookie headers (session_auth)": authenticator._seen,
        "parsed Cookie headers (session_auth)": authenticator._parsed_cookies,
        "session views (session_auth)": authenticator._views,
        "decoded cookie values (CookieBackend)": app.core.backend._decoded,
    }
    sizes: dict[str, int] = {}
    for name, cache in caches.items():
        entries = 0 if cache is None else len(cache)
        sizes[name] = entries
        bound = "off" if cache is None else f"bound {cache._max:,}"
        report.row(SECTION, f"  peak entries after {distinct:,} distinct: {name}", entries, "", bound)
    report.data["cache_peak_entries"] = sizes
    for cache in caches.values():
        if cache is not None:
            cache._entries.clear()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for cookie in cookies:
            await call_once(app, "/me", _with_cookie(cookie))
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    report.row(SECTION, "  memory those caches hold at their peak", held / 1e6, "MB", "tracemalloc")
    report.data["cache_peak_bytes"] = held

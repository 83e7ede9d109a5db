"""In-process cost per request: raw ASGI calls, batches alternating round-robin.

Each case runs a batch of calls (about ``BATCH_SECONDS`` long); one round runs one batch
of every case, the starting case rotating from round to round, so machine drift (other
processes, frequency scaling) hits every case alike. A case's cost is the median of its
batch means. The driver's own cost — copying the scope and awaiting an app — is measured
as a case of its own (a no-op ASGI app) and subtracted from the app cases.

Every batch is timed twice: on the wall clock and on this thread's CPU clock. On an idle
machine the two agree for calls that never wait; on a shared one the CPU clock leaves
out the time other processes held the core, so it is the steadier measure of our cost.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = list[tuple[bytes, bytes]]
BATCH_SECONDS = 0.01
#: Seconds per call: (wall clock, thread CPU clock).
Timing = tuple[float, float]


def http_scope(path: str, headers: Headers, query: bytes = b"") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("latin-1"),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("app.test", 80),
    }


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _send(message: Message) -> None:
    return None


async def noop_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The driver's reference: an ASGI app that does nothing."""
    return None


async def call_once(
    app: ASGIApp, path: str, headers: Headers, query: bytes = b""
) -> tuple[int, bytes, Headers]:
    """One call, keeping the status, body and response headers (to check a case)."""
    status = 0
    body = b""
    response_headers: Headers = []

    async def send(message: Message) -> None:
        nonlocal status, body, response_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            response_headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            body += message.get("body", b"")

    await app(http_scope(path, headers, query), _receive, send)
    return status, body, response_headers


Batch = Callable[[int], Awaitable[Timing]]


def asgi_batch(
    app: ASGIApp, headers: Headers, *, path: str = "/me", before: Callable[[], None] | None = None
) -> Batch:
    """A batch of ``n`` raw ASGI calls. ``before`` runs before each call (to defeat a
    cache); its own cost is part of the result."""
    template = http_scope(path, headers)

    async def run(n: int) -> Timing:
        receive, send = _receive, _send
        wall, cpu = time.perf_counter(), time.thread_time()
        if before is None:
            for _ in range(n):
                await app(template.copy(), receive, send)
        else:
            for _ in range(n):
                before()
                await app(template.copy(), receive, send)
        return (time.perf_counter() - wall) / n, (time.thread_time() - cpu) / n

    return run


def rotating_batch(app: ASGIApp, cookies: list[bytes], host: Headers, *, path: str = "/me") -> Batch:
    """A batch of raw ASGI calls, each with the next of ``cookies`` (round and round):
    every call a first sight once there are more cookies than a cache holds."""
    templates = [http_scope(path, [*host, (b"cookie", cookie)]) for cookie in cookies]
    position = 0

    async def run(n: int) -> Timing:
        nonlocal position
        receive, send, count = _receive, _send, len(templates)
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(n):
            await app(templates[position].copy(), receive, send)
            position = (position + 1) % count
        return (time.perf_counter() - wall) / n, (time.thread_time() - cpu) / n

    return run


def awaitable_batch(call: Callable[[], Awaitable[object]]) -> Batch:
    """A batch of ``n`` awaits of ``call()`` (a raw client call, say)."""

    async def run(n: int) -> Timing:
        wall, cpu = time.perf_counter(), time.thread_time()
        for _ in range(n):
            await call()
        return (time.perf_counter() - wall) / n, (time.thread_time() - cpu) / n

    return run


@dataclass
class Case:
    name: str
    batch: Batch
    #: App cases have the driver's cost subtracted; others (a raw redis GET) do not.
    asgi: bool = True
    size: int = 0
    samples: list[Timing] = field(default_factory=list)


@dataclass
class Result:
    name: str
    cpu_us: float
    wall_us: float
    cpu_min_us: float
    wall_min_us: float
    batches: int
    calls_per_batch: int


async def measure(cases: list[Case], *, rounds: int, driver: Case) -> tuple[dict[str, Result], Result]:
    """Round-robin ``rounds`` batches of every case; medians with the driver subtracted."""
    everything = [driver, *cases]
    for case in everything:  # warm up, then size batches to about BATCH_SECONDS
        await case.batch(20)
        per_call = min([(await case.batch(50))[0] for _ in range(3)])
        case.size = max(20, min(5000, int(BATCH_SECONDS / max(per_call, 1e-7))))
    gc.collect()
    for r in range(rounds):
        shift = r % len(everything)
        for case in everything[shift:] + everything[:shift]:
            case.samples.append(await case.batch(case.size))
    drv = _result(driver, None)
    return {c.name: _result(c, drv if c.asgi else None) for c in cases}, drv


def _result(case: Case, driver: Result | None) -> Result:
    wall = [w * 1e6 - (driver.wall_us if driver else 0.0) for w, _ in case.samples]
    cpu = [c * 1e6 - (driver.cpu_us if driver else 0.0) for _, c in case.samples]
    return Result(
        case.name,
        cpu_us=statistics.median(cpu),
        wall_us=statistics.median(wall),
        cpu_min_us=min(cpu),
        wall_min_us=min(wall),
        batches=len(case.samples),
        calls_per_batch=case.size,
    )

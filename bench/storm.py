"""Section 5 (and the refresh / userinfo rows of section 3): one session whose access
token expires, driven with raw ASGI calls.

The middleware's clock is moved forward past the access token's lifetime (the provider
issues 5-minute access tokens here, while its ID tokens stay valid on our shifted clock),
so no test waits for a token to expire.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from bench.inprocess import Headers, call_once
from bench.protocol import SECTION as PROTOCOL
from bench.protocol import app_requests, describe
from bench.report import Report
from bench.signin import SignedIn, cookie_header, sign_in_logto
from support.app import SHOPPING
from support.provider import OidcTestProvider

SECTION = "5. Concurrency: 200 concurrent requests of one session"
ACCESS_TTL = 300
QUERY = f"resource={SHOPPING}".encode()


class Session:
    """The browser side: our cookies, updated from each response's ``Set-Cookie``."""

    def __init__(self, signed: SignedIn) -> None:
        self.signed = signed
        self.cookies = dict(signed.cookies)
        self.offset = 0.0
        signed.middleware.core.clock = lambda: time.time() + self.offset

    @property
    def headers(self) -> Headers:
        return [(b"host", b"app.test"), (b"cookie", cookie_header(self.cookies))]

    def take(self, response_headers: Headers) -> None:
        for key, value in response_headers:
            if key == b"set-cookie":
                pair = value.decode("latin-1").split(";", 1)[0]
                name, _, cookie = pair.partition("=")
                if "Max-Age=0" in value.decode("latin-1"):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = cookie

    def expire_tokens(self) -> None:
        self.offset += ACCESS_TTL + 1

    async def get(self, path: str, query: bytes = b"") -> bytes:
        status, body, headers = await call_once(self.signed.middleware, path, self.headers, query)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {body[:300]!r}")
        self.take(headers)
        return body


async def _storm(session: Session, n: int) -> tuple[float, set[bytes]]:
    app, headers = session.signed.middleware, session.headers
    start = time.perf_counter()
    results = await asyncio.gather(*(call_once(app, "/token", headers, QUERY) for _ in range(n)))
    wall = time.perf_counter() - start
    if any(status != 200 for status, _, _ in results):
        raise RuntimeError(f"storm: statuses {sorted({status for status, _, _ in results})}")
    session.take(results[0][2])
    return wall, {body for _, body, _ in results}


async def run(report: Report, provider: OidcTestProvider, *, repeats: int, n: int = 200) -> None:
    await provider.set_ttl(AccessToken=ACCESS_TTL)
    try:
        signed = await sign_in_logto(provider, scopes=["shopping:read"], resources=[SHOPPING])
        try:
            await _run(report, provider, Session(signed), repeats=repeats, n=n)
        finally:
            await signed.harness.aclose()
    finally:
        await provider.reset_ttl()


async def _run(report: Report, provider: OidcTestProvider, session: Session, *, repeats: int, n: int) -> None:
    await session.get("/token", QUERY)  # the resource token, cached in the session

    # Section 3: one refresh, one userinfo call, a few times each.
    refreshes: list[int] = []
    userinfos: list[int] = []
    seen: dict[str, int] = {}
    for _ in range(3):
        session.expire_tokens()
        await provider.reset_counts()
        await session.get("/token", QUERY)
        counts = await provider.counts()
        refreshes.append(app_requests(counts))
        seen = counts
        await session.get("/userinfo")  # its own (opaque) token expired too: refreshed here
        await provider.reset_counts()
        await session.get("/userinfo")
        userinfos.append(app_requests(await provider.counts()))
    report.row(PROTOCOL, "provider requests per refresh", statistics.mean(refreshes), "", describe(seen))
    report.row(
        PROTOCOL, "provider requests per userinfo", statistics.mean(userinfos), "", "userinfo (cached token)"
    )

    # Section 5: storms that need a refresh alternate with storms that do not.
    cold: list[float] = []
    warm: list[float] = []
    grants: list[int] = []
    for _ in range(repeats):
        session.expire_tokens()
        await provider.reset_counts()
        wall, tokens = await _storm(session, n)
        grants.append((await provider.counts()).get("token:refresh_token", 0))
        if len(tokens) != 1:
            raise RuntimeError(f"refresh storm: {len(tokens)} different tokens handed out")
        cold.append(wall)
        await provider.reset_counts()
        wall, tokens = await _storm(session, n)
        if app_requests(await provider.counts()) or len(tokens) != 1:
            raise RuntimeError("a storm without expiry reached the provider")
        warm.append(wall)
    report.data["storm"] = {"refresh_wall_s": cold, "no_refresh_wall_s": warm, "refresh_grants": grants}
    report.row(
        SECTION,
        f"{n} requests needing a refresh: wall time",
        statistics.median(cold) * 1e3,
        "ms",
        f"median of {repeats}; refresh grants per storm: {grants}",
    )
    report.row(
        SECTION,
        f"{n} requests not needing one: wall time",
        statistics.median(warm) * 1e3,
        "ms",
        f"median of {repeats}",
    )
    report.target(
        "refresh storm: exactly 1 refresh grant",
        f"refresh grants per storm of {n}: {grants}",
        all(g == 1 for g in grants),
    )

"""Several worker processes of one app on the default cookie store: one refresh grant per
session however the requests spread, one code exchange per callback however often it is
requested, and hosts agreeing through Redis. Real uvicorn processes, the real provider."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from support.app import Registration, register_app
from support.provider import OidcTestProvider, provider_login
from support.server import UvicornProcess, free_port, run_uvicorn

pytestmark = pytest.mark.anyio

HERE = Path(__file__).resolve().parent
RESOURCE = "https://shopping.example.com/api"  # workers_app.RESOURCE
STORM = 60
#: The served app imports its routes from tests/support.
APP_PATH = {"PYTHONPATH": str(HERE.parent)}


@contextmanager
def workers(
    registration: Registration, ports: Sequence[int], env: dict[str, str], coordination: Sequence[str] = ()
) -> Iterator[list[UvicornProcess]]:
    """The app in one uvicorn process per port (all with the same LOGTO_* settings)."""
    with ExitStack() as stack:
        running = [
            stack.enter_context(
                run_uvicorn(
                    "workers_app:app",
                    port=port,
                    env={**env, **APP_PATH, "COORDINATION": coordination[i] if coordination else ""},
                    app_dir=HERE,
                )
            )
            for i, port in enumerate(ports)
        ]
        yield running
        for process in running:
            assert process.running, process.output()
            assert "Traceback" not in process.output(), process.output()


async def sign_in(url: str) -> str:
    async with httpx.AsyncClient(timeout=30) as browser:
        callback = await provider_login(
            browser, f"{url}/sign-in", username="alice", password="alice-password"
        )
        assert callback.status_code == 302, callback.text
        return str(browser.cookies["logto"])


async def storm(provider: OidcTestProvider, processes: Sequence[UvicornProcess], cookie: str) -> list[str]:
    """Let the sign-in's 2 s token expire, then STORM parallel requests over the processes:
    each must answer 200; returns the token suffixes they got."""
    limits = httpx.Limits(max_connections=STORM, max_keepalive_connections=STORM)
    async with httpx.AsyncClient(timeout=30, limits=limits, headers={"cookie": f"logto={cookie}"}) as client:
        first = await client.get(f"{processes[0].url}/token", params={"resource": RESOURCE})
        assert first.status_code == 200, first.text
        await asyncio.sleep(1.5)  # the 2 s token is kept until 1 s before it expires
        await provider.set_ttl(AccessToken=300)  # the refreshed one outlives the storm
        await provider.reset_counts()
        urls = [f"{process.url}/token" for process in processes] * (STORM // len(processes))
        responses = await asyncio.gather(*(client.get(url, params={"resource": RESOURCE}) for url in urls))
    failed = [r.text for r in responses if r.status_code != 200]
    assert not failed, failed[:3]
    assert len({r.json()["pid"] for r in responses}) == len(processes)
    return [str(r.json()["token_suffix"]) for r in responses]


async def test_three_workers_send_one_refresh_grant(provider: OidcTestProvider, short_tokens: None) -> None:
    """Three workers, default store and coordination: 60 parallel requests after expiry get
    one token from exactly one refresh grant; the pre-refresh cookie replayed on another
    worker reuses that result instead of spending the consumed token again."""
    ports = [free_port() for _ in range(3)]
    registration = await register_app(
        provider, *(f"http://127.0.0.1:{port}" for port in ports), prefix="workers"
    )
    with workers(registration, ports, registration.env()) as processes:
        cookie = await sign_in(processes[0].url)
        suffixes = await storm(provider, processes, cookie)
        assert len(set(suffixes)) == 1
        counts = await provider.counts()
        assert counts.get("token:refresh_token") == 1, counts
        async with httpx.AsyncClient(timeout=30, headers={"cookie": f"logto={cookie}"}) as stale:
            replay = await stale.get(f"{processes[2].url}/token", params={"resource": RESOURCE})
        assert replay.status_code == 200 and replay.json()["token_suffix"] == suffixes[0]
        assert (await provider.counts()).get("token:refresh_token") == 1


async def test_two_hosts_agree_through_redis(
    provider: OidcTestProvider, short_tokens: None, redis_url: str, tmp_path: Path
) -> None:
    """Two "hosts" (no shared folder) with RedisCoordination and cookie sessions: one grant."""
    ports = [free_port() for _ in range(2)]
    registration = await register_app(
        provider, *(f"http://127.0.0.1:{port}" for port in ports), prefix="hosts"
    )
    coordination = [f"redis:{redis_url}"] * 2
    with workers(registration, ports, registration.env(), coordination) as processes:
        cookie = await sign_in(processes[0].url)
        suffixes = await storm(provider, processes, cookie)
        assert len(set(suffixes)) == 1
        assert (await provider.counts()).get("token:refresh_token") == 1


class CallbackCatcher(httpx.AsyncBaseTransport):
    """The browser's transport: real HTTP, except that the callback is caught, not sent."""

    def __init__(self) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self.callback: httpx.URL | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/callback" and self.callback is None:
            self.callback = request.url
            return httpx.Response(204, request=request)
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


async def duplicated_callback(provider: OidcTestProvider, processes: Sequence[UvicornProcess]) -> None:
    """Sign in at the first worker, then request the one callback URL three times at once,
    spread over the workers: one code exchange, three redirects into the same session,
    which then refreshes normally."""
    catcher = CallbackCatcher()
    async with httpx.AsyncClient(transport=catcher, timeout=30) as browser:
        await provider_login(
            browser, f"{processes[0].url}/sign-in", username="alice", password="alice-password"
        )
        assert catcher.callback is not None
        path = f"/callback?{catcher.callback.query.decode()}"
        cookies = {c.name: c.value for c in browser.cookies.jar if c.value is not None}
    await provider.reset_counts()
    header = {"cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
    async with httpx.AsyncClient(timeout=30, headers=header) as client:
        urls = [f"{processes[i % len(processes)].url}{path}" for i in range(3)]
        responses = await asyncio.gather(*(client.get(url) for url in urls))
    assert [r.status_code for r in responses] == [302, 302, 302], [r.text for r in responses]
    assert (await provider.counts()).get("token:authorization_code") == 1
    sessions = {r.cookies.get("logto") for r in responses}
    assert None not in sessions
    async with httpx.AsyncClient(timeout=30, headers={"cookie": f"logto={sessions.pop()}"}) as client:
        me = await client.get(f"{processes[-1].url}/me")
        assert me.status_code == 200 and me.json()["sub"] == "user-alice"
        await provider.reset_counts()
        token = await client.get(f"{processes[-1].url}/token", params={"resource": RESOURCE})
        assert token.status_code == 200, token.text
        assert (await provider.counts()).get("token:refresh_token") == 1


@pytest.mark.parametrize("count", [1, 2], ids=["one-process", "two-processes"])
async def test_a_duplicated_callback_makes_one_code_exchange(provider: OidcTestProvider, count: int) -> None:
    """Three concurrent requests of one callback URL (one worker, or spread over two)."""
    ports = [free_port() for _ in range(count)]
    registration = await register_app(provider, *(f"http://127.0.0.1:{port}" for port in ports), prefix="cb")
    started = time.monotonic()
    with workers(registration, ports, registration.env()) as processes:
        await duplicated_callback(provider, processes)
    print(f"\nduplicated callback over {count} process(es): {time.monotonic() - started:.1f} s")

"""The test app behind ``LogtoMiddleware``, signed in against the hostile provider.

The browser is an ``httpx.AsyncClient`` whose requests to ``http://app.test`` go to the
app in-process and everything else over real HTTP; the middleware reaches the provider
through a ``FaultyTransport`` (real HTTP unless a test injects a refused connection).
The middleware's clock can be moved forward without sleeping (``frozen_clock=True``: and
it moves only then, so a count pinned against a backoff cannot drift with real time).
"""

from __future__ import annotations

import html
import re
import secrets
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from starlette.types import ASGIApp

from hostile.hostile_provider import CLIENT_ID, CLIENT_SECRET, Endpoint, HostileProvider
from logto_asgi import LogtoConfig, LogtoMiddleware
from support.app import APP_ORIGIN, BROWSER, build_app, cookie_names
from support.faults import FaultyTransport, refuse

#: The middleware's HTTP timeout towards the provider while a "slow" fault is on. Short, so
#: a timeout test waits 50 ms, not a second; the hostile provider's "slow" fault
#: (``SLOW_SECONDS``) answers just after it.
TIMEOUT = 0.05
#: The timeout otherwise: generous, so a loaded machine never turns a normal answer into
#: a timeout (which would make tests flaky and let mutants look killed).
NORMAL_TIMEOUT = 5.0
API = "https://api.hostile.test"
_SESSION_COOKIE = re.compile(r"^logto(\.\d+)?$")


#: One TLS context for every client here: building one costs ~40 ms and loopback HTTP
#: never uses it.
_TLS = ssl.create_default_context()


class LoopbackFaultyTransport(FaultyTransport):
    """``FaultyTransport`` on the shared TLS context; the short ``TIMEOUT`` applies only
    to requests to an endpoint with a "slow" fault on (the others keep the generous one:
    on a loaded machine, 20 concurrent token exchanges can take more than 50 ms)."""

    def __init__(self, provider: HostileProvider) -> None:
        self._real = httpx.AsyncHTTPTransport(verify=_TLS)
        self.fault: Callable[[httpx.Request], httpx.Response] | None = None
        self.fault_path = ""
        self.requests: list[httpx.Request] = []
        self._provider = provider

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        slow = [PATHS[endpoint] for endpoint, fault in self._provider.faults.items() if fault == "slow"]
        if any(request.url.path.endswith(path) for path in slow):
            request.extensions["timeout"] = dict.fromkeys(("connect", "read", "write", "pool"), TIMEOUT)
        return await super().handle_async_request(request)


def browser(app: ASGIApp) -> httpx.AsyncClient:
    """A browser: the app in-process at ``APP_ORIGIN``, real HTTP elsewhere, own cookie jar."""
    return httpx.AsyncClient(
        mounts={APP_ORIGIN: httpx.ASGITransport(app=app)},
        follow_redirects=False,
        timeout=15,
        headers=BROWSER,
        verify=_TLS,
    )


@dataclass
class HostileHarness:
    """One app against the hostile provider: its browser, and the middleware's transport
    and clock for fault injection."""

    provider: HostileProvider
    config: LogtoConfig
    middleware: LogtoMiddleware
    client: httpx.AsyncClient
    transport: FaultyTransport
    http: httpx.AsyncClient
    offset: list[float] = field(default_factory=lambda: [0.0])

    def advance(self, seconds: float) -> None:
        """Move the middleware's clock forward."""
        self.offset[0] += seconds

    async def start(self, **params: str) -> httpx.Response:
        """GET the sign-in route (not followed)."""
        return await self.client.get(f"{APP_ORIGIN}/sign-in", params=params)

    async def sign_in(self, **params: str) -> httpx.Response:
        """Sign-in route → provider (auto-approves) → the app's callback response."""
        start = await self.start(**params)
        assert start.status_code == 302, start.text
        back = await self.client.get(start.headers["location"])
        assert back.status_code == 302, back.text
        return await self.client.get(back.headers["location"])

    async def get(self, path: str, **params: str) -> httpx.Response:
        return await self.client.get(f"{APP_ORIGIN}{path}", params=params)

    async def aclose(self) -> None:
        await self.client.aclose()
        await self.middleware.core.aclose()
        await self.http.aclose()


def make_hostile_harness(
    provider: HostileProvider, *, app: ASGIApp | None = None, frozen_clock: bool = False, **overrides: Any
) -> HostileHarness:
    transport = LoopbackFaultyTransport(provider)
    http = httpx.AsyncClient(transport=transport, timeout=NORMAL_TIMEOUT, follow_redirects=False)
    options: dict[str, Any] = {
        "endpoint": provider.url,
        "app_id": CLIENT_ID,
        "app_secret": CLIENT_SECRET,
        "cookie_secret": secrets.token_urlsafe(32),
        "base_url": APP_ORIGIN,
        "http_client": http,
    }
    options.update(overrides)
    config = LogtoConfig(**options)
    offset = [0.0]
    base = time.time()
    clock = (lambda: base + offset[0]) if frozen_clock else (lambda: time.time() + offset[0])
    middleware = LogtoMiddleware(app or build_app(), config=config, clock=clock)
    return HostileHarness(provider, config, middleware, browser(middleware), transport, http, offset)


# Faults --------------------------------------------------------------------------------

#: How each endpoint's URL path ends (to refuse its connections, to count its requests).
PATHS: dict[Endpoint, str] = {
    "discovery": "/openid-configuration",
    "jwks": "/jwks",
    "token": "/token",
    "refresh": "/token",
    "userinfo": "/me",
}


class Faultable(Protocol):
    """An app wired to the hostile provider through a ``FaultyTransport``."""

    provider: HostileProvider
    transport: FaultyTransport


def inject(h: Faultable, endpoint: Endpoint, fault: str) -> None:
    """Make ``endpoint`` fail: ``refused`` (the connection), ``timeout`` (too slow), ``500``,
    ``html``, ``truncated``, or a token response without ``access_token`` / ``id_token``."""
    if fault == "refused":
        h.transport.fault, h.transport.fault_path = refuse, PATHS[endpoint]
    elif fault == "timeout":
        h.provider.faults[endpoint] = "slow"
    elif fault in ("500", "html", "truncated"):
        h.provider.faults[endpoint] = fault  # type: ignore[assignment]
    else:
        removed = {"no_access_token": "access_token", "no_id_token": "id_token"}[fault]
        fields = h.provider.refresh_fields if endpoint == "refresh" else h.provider.token_fields
        fields[removed] = None


def heal(h: Faultable) -> None:
    """Every fault off."""
    h.transport.fault = None
    h.provider.faults.clear()
    h.provider.token_fields.clear()
    h.provider.refresh_fields.clear()


def requests_to(h: Faultable, endpoint: Endpoint) -> int:
    """How many requests the app sent to ``endpoint`` (refused ones included)."""
    return sum(1 for request in h.transport.requests if request.url.path.endswith(PATHS[endpoint]))


# Assertions ----------------------------------------------------------------------------


def session_cookies_set(response: httpx.Response) -> list[str]:
    """Names of session cookies the response sets to a non-empty value."""
    names = []
    for line in response.headers.get_list("set-cookie"):
        name, _, rest = line.partition("=")
        value = rest.split(";", 1)[0]
        if _SESSION_COOKIE.match(name) and value not in ("", '""'):
            names.append(name)
    return names


def assert_plain_page(response: httpx.Response, status: int, error: str) -> None:
    """A small error page with the status and error code: no traceback, cache-proof."""
    assert response.status_code == status, response.text
    # "private, no-store" when the page also clears the session cookies
    assert response.headers["cache-control"] in ("no-store", "private, no-store")
    assert response.headers["pragma"] == "no-cache"
    assert response.headers["content-type"].startswith("text/html")
    text = response.text
    assert f"<code>{error}</code>" in text, text
    for frame in ("Traceback", 'File "', "line ", ".py", "Exception"):
        assert frame not in text, text


async def assert_refused(
    h: HostileHarness, response: httpx.Response, *, says: str, status: int = 400, error: str = "invalid_token"
) -> None:
    """The callback refused the sign-in: clear 4xx page, no session, userinfo untouched."""
    assert_plain_page(response, status, error)
    assert says in html.unescape(response.text), response.text
    assert session_cookies_set(response) == []
    assert not {n for n in cookie_names(h.client) if _SESSION_COOKIE.match(n)}
    assert h.provider.counts["userinfo"] == 0
    assert (await h.get("/me")).status_code == 401


def assert_signed_in(response: httpx.Response) -> None:
    """The callback started a session and redirected into the app."""
    assert response.status_code == 302, response.text
    assert response.headers["location"].startswith("/")
    assert session_cookies_set(response)

"""Behind a reverse proxy (docs/reverse-proxy.md): real uvicorn with its proxy headers, the
real test provider, and a TLS-terminating hop in front.

The hop is :class:`TlsTerminatingProxy`, an httpx transport doing what nginx does with
``proxy_pass`` and ``proxy_set_header``: the browser speaks https to ``https://shop.test``;
the request goes on over plain http to uvicorn on loopback with the browser's ``Host`` kept,
``X-Forwarded-Proto: https`` and ``X-Forwarded-For`` added, and (for a path prefix) the
prefix stripped. Nothing is answered by the hop itself: every response is uvicorn's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp

from logto_asgi import LogtoConfig, LogtoMiddleware, requires_auth
from support.app import BROWSER, USERS, Registration, register_app
from support.provider import OidcTestProvider, provider_login, provider_logout
from support.server import Listener, listen, serve

pytestmark = pytest.mark.anyio

PUBLIC = "https://shop.test"
#: The browser's address, as the proxy reports it in X-Forwarded-For.
BROWSER_IP = "203.0.113.7"


class TlsTerminatingProxy(httpx.AsyncBaseTransport):
    """Forwards each request over http to ``upstream`` as a TLS-terminating proxy does;
    ``configured=False`` is nginx's bare ``proxy_pass``: no X-Forwarded-* headers, and
    ``Host`` rewritten to the upstream's address."""

    def __init__(self, upstream: str, *, strip_prefix: str = "", configured: bool = True) -> None:
        self._upstream = httpx.URL(upstream)
        self._strip = strip_prefix.encode()
        self._configured = configured
        self._next = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raw_path = request.url.raw_path
        if self._strip:
            assert raw_path.startswith(self._strip + b"/"), raw_path
            raw_path = raw_path[len(self._strip) :]
        headers = httpx.Headers(request.headers)  # Host stays the browser's
        if self._configured:
            headers["x-forwarded-proto"] = request.url.scheme
            headers["x-forwarded-for"] = BROWSER_IP
            headers["x-forwarded-host"] = request.url.host
        else:
            headers["host"] = self._upstream.netloc.decode("ascii")
        url = self._upstream.copy_with(raw_path=raw_path)
        forwarded = httpx.Request(request.method, url, headers=headers, content=await request.aread())
        return await self._next.handle_async_request(forwarded)

    async def aclose(self) -> None:
        await self._next.aclose()


async def whoami(request: Request) -> Response:
    """What the app sees of the request once uvicorn has applied the proxy headers."""
    user = request.state.user
    client = request.client.host if request.client else None
    return JSONResponse({"scheme": request.url.scheme, "client": client, "sub": user.sub if user else None})


@requires_auth(redirect=True)
async def orders(request: Request) -> Response:
    return JSONResponse({"orders": [], "path": request.url.path})


def shop() -> Starlette:
    return Starlette(routes=[Route("/", whoami), Route("/orders", orders)])


@asynccontextmanager
async def browser_via_proxy(
    upstream: str, strip_prefix: str = "", configured: bool = True
) -> AsyncIterator[httpx.AsyncClient]:
    """A browser for which ``https://shop.test`` is the proxy in front of ``upstream``."""
    proxy = TlsTerminatingProxy(upstream, strip_prefix=strip_prefix, configured=configured)
    async with httpx.AsyncClient(mounts={PUBLIC: proxy}, headers=BROWSER, timeout=15) as browser:
        yield browser


@contextmanager
def uvicorn_behind_proxy(app: ASGIApp, listener: Listener, trusted: str, **options: Any) -> Iterator[str]:
    """``app`` under real uvicorn with proxy headers on, trusted from ``trusted`` only."""
    settings = {"proxy_headers": True, "forwarded_allow_ips": trusted, **options}
    with serve(app, listener, options=settings) as url:
        yield url


def redirect_uri(response: httpx.Response) -> str:
    """The ``redirect_uri`` of a sign-in's redirect to the authorization endpoint."""
    assert response.status_code == 302, response.text
    [value] = parse_qs(urlsplit(response.headers["location"]).query)["redirect_uri"]
    return value


def cookies_secure(response: httpx.Response) -> list[bool]:
    """For each ``Set-Cookie`` of ``response``: whether it carries ``Secure``."""
    values = response.headers.get_list("set-cookie")
    assert values, "no Set-Cookie"
    return ["secure" in [part.strip().lower() for part in value.split(";")] for value in values]


async def registration_for(provider: OidcTestProvider, *origins: str, prefix: str = "") -> Registration:
    """A client whose redirect URIs are ``{origin}{prefix}/callback``, sign-out ``{origin}{prefix}/``."""
    return await register_app(
        provider,
        *[f"{origin}{prefix}" for origin in origins],
        prefix="proxy",
        post_logout_redirect_uris=[f"{origin}{prefix}/" for origin in origins],
    )


async def test_trusted_proxy_https_journey_without_base_url(provider: OidcTestProvider) -> None:
    """Without ``base_url``, a trusted proxy's X-Forwarded-Proto makes the redirect URI, the
    cookies and the post-sign-out redirect https on the browser's Host, sign-in to sign-out."""
    registration = await registration_for(provider, PUBLIC)
    with listen() as listener:
        app = LogtoMiddleware(shop(), config=registration.config(None))
        with uvicorn_behind_proxy(app, listener, trusted="127.0.0.1") as upstream:
            async with browser_via_proxy(upstream) as browser:
                seen = (await browser.get(f"{PUBLIC}/")).json()
                assert seen == {"scheme": "https", "client": BROWSER_IP, "sub": None}
                start = await browser.get(f"{PUBLIC}/sign-in", params={"return_to": "/orders"})
                assert redirect_uri(start) == f"{PUBLIC}/callback"
                assert cookies_secure(start) == [True]
                callback = await provider_login(
                    browser, start.headers["location"], username="alice", password=USERS["alice"]
                )
                assert str(callback.url).startswith(f"{PUBLIC}/callback?")
                assert callback.status_code == 302 and callback.headers["location"] == "/orders"
                assert all(cookies_secure(callback))
                assert (await browser.get(f"{PUBLIC}/")).json()["sub"] == "user-alice"
                landed = await provider_logout(browser, f"{PUBLIC}/sign-out")
                assert str(landed.url) == f"{PUBLIC}/"  # the provider accepted https://shop.test/
                assert landed.json()["sub"] is None


async def test_forwarded_headers_from_an_untrusted_source_are_ignored(provider: OidcTestProvider) -> None:
    """Sent straight to the app from an address that is not the proxy's, X-Forwarded-Proto,
    -For and -Host change nothing: http redirect URI on the real Host, no ``Secure``."""
    with listen() as listener:
        registration = await registration_for(provider, listener.url)
        app = LogtoMiddleware(shop(), config=registration.config(None))
        with uvicorn_behind_proxy(app, listener, trusted="10.0.0.5") as url:
            forged = {
                "x-forwarded-proto": "https",
                "x-forwarded-for": BROWSER_IP,
                "x-forwarded-host": "evil.test",
            }
            async with httpx.AsyncClient(headers={**BROWSER, **forged}, timeout=15) as client:
                assert (await client.get(f"{url}/")).json() == {
                    "scheme": "http",
                    "client": "127.0.0.1",
                    "sub": None,
                }
                start = await client.get(f"{url}/sign-in")
                assert redirect_uri(start) == f"{listener.url}/callback"
                assert cookies_secure(start) == [False]


@pytest.mark.parametrize(
    ("trusted", "headers"),
    [
        ("127.0.0.1", {"x-forwarded-proto": "http", "host": "evil.test"}),
        ("10.0.0.5", {"x-forwarded-proto": "https", "host": "evil.test"}),
        ("127.0.0.1", {}),
    ],
    ids=["trusted-says-http", "untrusted-says-https", "no-headers"],
)
async def test_base_url_decides_whatever_the_headers_say(
    provider: OidcTestProvider, trusted: str, headers: dict[str, str]
) -> None:
    """With ``base_url`` set, neither forwarded headers nor ``Host`` move the redirect URI
    or the post-sign-out redirect off it, and the cookies are ``Secure`` (https)."""
    registration = await registration_for(provider, PUBLIC)
    with listen() as listener:
        app = LogtoMiddleware(shop(), config=registration.config(PUBLIC))
        with uvicorn_behind_proxy(app, listener, trusted=trusted) as url:
            async with httpx.AsyncClient(headers={**BROWSER, **headers}, timeout=15) as client:
                start = await client.get(f"{url}/sign-in")
                assert redirect_uri(start) == f"{PUBLIC}/callback"
                assert cookies_secure(start) == [True]


async def test_a_bare_proxy_breaks_the_redirect_uri_without_base_url(provider: OidcTestProvider) -> None:
    """Behind a proxy that forwards no X-Forwarded-* and rewrites ``Host`` (nginx's bare
    ``proxy_pass``), the request-derived redirect URI is the upstream's http address."""
    registration = await registration_for(provider, PUBLIC)
    with listen() as listener:
        app = LogtoMiddleware(shop(), config=registration.config(None))
        with uvicorn_behind_proxy(app, listener, trusted="127.0.0.1") as upstream:
            async with browser_via_proxy(upstream, configured=False) as browser:
                start = await browser.get(f"{PUBLIC}/sign-in")
                assert redirect_uri(start) == f"{listener.url}/callback"
                assert cookies_secure(start) == [False]


async def test_base_url_makes_a_bare_proxy_work_from_sign_in_to_sign_out(provider: OidcTestProvider) -> None:
    """The same bare proxy with ``base_url`` set: redirect URI, ``Secure`` cookies and the
    post-sign-out redirect all on ``base_url``, sign-in to sign-out."""
    registration = await registration_for(provider, PUBLIC)
    with listen() as listener:
        app = LogtoMiddleware(shop(), config=registration.config(PUBLIC))
        with uvicorn_behind_proxy(app, listener, trusted="127.0.0.1") as upstream:
            async with browser_via_proxy(upstream, configured=False) as browser:
                assert (await browser.get(f"{PUBLIC}/")).json()["scheme"] == "http"  # the app sees http
                start = await browser.get(f"{PUBLIC}/sign-in", params={"return_to": "/orders"})
                assert redirect_uri(start) == f"{PUBLIC}/callback"
                assert cookies_secure(start) == [True]
                callback = await provider_login(
                    browser, start.headers["location"], username="alice", password=USERS["alice"]
                )
                assert callback.headers["location"] == "/orders" and all(cookies_secure(callback))
                assert (await browser.get(f"{PUBLIC}/orders")).json()["path"] == "/orders"
                landed = await provider_logout(browser, f"{PUBLIC}/sign-out")
                assert str(landed.url) == f"{PUBLIC}/"
                assert landed.json()["sub"] is None


def prefixed_config(registration: Registration, **overrides: Any) -> LogtoConfig:
    """The configuration of docs/reverse-proxy.md's "A path prefix" for ``/app``."""
    return registration.config(
        PUBLIC,
        sign_in_path="/app/sign-in",
        callback_path="/app/callback",
        sign_out_path="/app/sign-out",
        post_sign_in_redirect="/app/",
        post_sign_out_redirect="/app/",
        cookie_path="/app",
        **overrides,
    )


#: The three shapes of docs/reverse-proxy.md: the proxy strips ``/app`` and uvicorn runs
#: with ``root_path="/app"``; the proxy keeps it and the app mounts its routes under it, the
#: middleware outermost; the same with the middleware inside the ``Mount``.
SHAPES = ["root_path", "middleware-outside-mount", "middleware-inside-mount"]


def prefixed_app(shape: str, registration: Registration) -> ASGIApp:
    """The app served under ``/app`` in ``shape``."""
    if shape == "root_path":
        return LogtoMiddleware(shop(), config=prefixed_config(registration))
    if shape == "middleware-outside-mount":
        return LogtoMiddleware(
            Starlette(routes=[Mount("/app", app=shop())]), config=prefixed_config(registration)
        )
    # Starlette keeps the lifespan to itself: a mounted middleware never sees it, so it
    # gets an HTTP client that the outer app's lifespan closes (as the docs show).
    client = httpx.AsyncClient(timeout=10)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        yield
        await client.aclose()

    middleware = LogtoMiddleware(shop(), config=prefixed_config(registration, http_client=client))
    return Starlette(routes=[Mount("/app", app=middleware)], lifespan=lifespan)


@pytest.mark.parametrize("shape", SHAPES)
async def test_an_app_under_a_path_prefix_signs_in_and_out(provider: OidcTestProvider, shape: str) -> None:
    """Under ``/app``, in each shape, the middleware's paths given with the prefix make the
    whole journey: guard, sign-in, callback, the guarded page, sign-out back to ``/app/``."""
    registration = await registration_for(provider, PUBLIC, prefix="/app")
    options, strip = ({"root_path": "/app"}, "/app") if shape == "root_path" else ({}, "")
    with (
        listen() as listener,
        uvicorn_behind_proxy(
            prefixed_app(shape, registration), listener, trusted="127.0.0.1", **options
        ) as upstream,
    ):
        async with browser_via_proxy(upstream, strip_prefix=strip) as browser:
            await prefixed_journey(browser)


async def prefixed_journey(browser: httpx.AsyncClient) -> None:
    """Guarded page, sign-in, callback, the page again, sign-out: all under ``/app``."""
    guarded = await browser.get(f"{PUBLIC}/app/orders")
    assert guarded.status_code == 303
    assert guarded.headers["location"] == "/app/sign-in?return_to=%2Fapp%2Forders"
    start = await browser.get(f"{PUBLIC}{guarded.headers['location']}")
    assert redirect_uri(start) == f"{PUBLIC}/app/callback"
    assert "Path=/app;" in start.headers["set-cookie"]
    callback = await provider_login(browser, start.headers["location"], username="bob", password=USERS["bob"])
    assert callback.headers["location"] == "/app/orders"
    orders_page = await browser.get(f"{PUBLIC}/app/orders")
    assert orders_page.json() == {"orders": [], "path": "/app/orders"}
    landed = await provider_logout(browser, f"{PUBLIC}/app/sign-out")
    assert str(landed.url) == f"{PUBLIC}/app/"
    assert landed.json()["sub"] is None

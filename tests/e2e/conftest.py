"""Headless Chromium against the Starlette example under real uvicorn and the test provider.

The browser is Debian's ``chromium`` driven by Playwright (never a downloaded one). The
example is loaded from ``examples/starlette_app.py`` exactly as shipped: configured from
``LOGTO_*`` variables pointing at a client registered for the uvicorn port.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from types import ModuleType

import anyio
import pytest
from playwright.async_api import Browser, BrowserContext, Page, Route, async_playwright

from support.chromium import CHROMIUM_ARGS, VIEWPORT
from support.provider import OidcTestProvider, start_provider
from support.server import listen, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
# The test users' pictures live on avatars.example.com; the browser gets this one instead.
AVATAR_SVG = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 96 96">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">
<stop offset="0" stop-color="#ffb347"/><stop offset="1" stop-color="#ff5e62"/></linearGradient></defs>
<rect width="96" height="96" fill="url(#g)"/><circle cx="48" cy="38" r="18" fill="#fff" opacity=".92"/>
<ellipse cx="48" cy="92" rx="32" ry="26" fill="#fff" opacity=".92"/></svg>"""


@pytest.fixture(scope="session")
def e2e_provider() -> Iterator[OidcTestProvider]:
    """The test OpenID Provider on a free loopback port."""
    with start_provider() as running:
        yield running


def load_example(name: str, env: dict[str, str]) -> ModuleType:
    """Imports ``examples/<name>.py`` afresh with ``env`` set while its module code runs."""
    spec = importlib.util.spec_from_file_location(
        f"e2e_{name}_{uuid.uuid4().hex[:8]}", EXAMPLES / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example_url(e2e_provider: OidcTestProvider) -> Iterator[str]:
    """``examples/starlette_app.py`` served by uvicorn; its client registered at the provider."""
    with listen() as listener:
        client_id = f"e2e-{uuid.uuid4().hex[:10]}"
        client_secret = secrets.token_urlsafe(24)
        register = partial(
            e2e_provider.register_client,
            client_id=client_id,
            client_secret=client_secret,
            client_name="logto-asgi e2e",
            redirect_uris=[f"{listener.url}/callback"],
        )
        anyio.run(register)
        example = load_example(
            "starlette_app",
            {
                "LOGTO_ENDPOINT": e2e_provider.url,
                "LOGTO_APP_ID": client_id,
                "LOGTO_APP_SECRET": client_secret,
                "LOGTO_COOKIE_SECRET": secrets.token_urlsafe(48),
                "LOGTO_BASE_URL": listener.url,
            },
        )
        with serve(example.app, listener) as url:
            yield url


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Debian's headless chromium."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make install` (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    """A fresh browser profile (no cookies); avatars served locally, nothing else leaves."""

    async def avatar(route: Route) -> None:
        await route.fulfill(status=200, content_type="image/svg+xml", body=AVATAR_SVG)

    ctx = await browser.new_context(viewport=VIEWPORT)
    ctx.set_default_timeout(10_000)
    await ctx.route("https://avatars.example.com/**", avatar)
    try:
        yield ctx
    finally:
        await ctx.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    """A tab in the fresh profile."""
    return await context.new_page()

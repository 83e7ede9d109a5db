"""Run a quick start from the docs as written, against the real test provider.

The code is the page's own ```python block (read by ``docs.markdown``, never a copy), so
a quick start that stops working fails here. Only its placeholders change, and only these
string literals, each replaced as a whole quoted string (a test fails if a ``"your-...``
literal is left, so a new placeholder must be added here):

========================================  ==============================================
the docs say                              the test uses
========================================  ==============================================
``"https://your-tenant.logto.app"``       the test provider's URL (it serves ``/oidc``)
``"your-app-id"``, ``"your-app-secret"``  a client registered for the page's run
``"https://shopping.your-app.com/api"``   ``https://shopping.example.com/api``, the
                                          provider's API resource (``shopping:read``)
``"http://localhost:3000"``               ``http://app.test``, the in-process app
``"your-organization-id"``                ``org-acme``, an organization alice is in
========================================  ==============================================

The ``LOGTO_*`` variables are set as well (same values), for blocks that call
``LogtoConfig.from_env()``. The app runs in-process behind httpx's ASGI transport, with
its lifespan started and ended as a server would (so the middleware's startup check runs
and its HTTP client is closed); the browser follows no redirect by itself, and talks to
the provider over real HTTP.
"""

from __future__ import annotations

import re
import sys
import types
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import ASGIApp, Message

from docs.markdown import Block
from support.app import APP_ORIGIN, SHOPPING, USERS, Registration, new_browser
from support.provider import provider_login, provider_logout

__all__ = ["APP_ORIGIN", "Served", "load_app", "load_module", "serve", "substitute"]

_LEFT_OVER = re.compile(r"[\"'](?:https?://[^\"']*)?your-[^\"']*[\"']")


def substitute(code: str, registration: Registration) -> str:
    """``code`` with the docs' placeholder literals replaced (see the module docstring)."""
    values = {
        "https://your-tenant.logto.app": registration.provider.url,
        "your-app-id": registration.client_id,
        "your-app-secret": registration.secret or "",
        "https://shopping.your-app.com/api": SHOPPING,
        "http://localhost:3000": APP_ORIGIN,
        "your-organization-id": "org-acme",
    }
    for placeholder, value in values.items():
        code = code.replace(f'"{placeholder}"', f'"{value}"')
    left = _LEFT_OVER.findall(code)
    assert not left, f"placeholders this test does not know: {left} (add them to quickstart.py)"
    return code


def load_app(block: Block, registration: Registration, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Execute the block (placeholders substituted) as a fresh module; its ``app``."""
    return load_module(block, registration, monkeypatch)["app"]


def load_module(block: Block, registration: Registration, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Execute the block (placeholders substituted) as a fresh module; its namespace."""
    for name, value in registration.env(APP_ORIGIN).items():
        monkeypatch.setenv(name, value)
    module = types.ModuleType(block.module)
    # Frameworks that resolve annotations (Litestar, FastAPI) look the module up by name.
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(substitute(block.code, registration), block.name, "exec"), module.__dict__)
    return module.__dict__


@dataclass
class Served:
    """A quick start being served, and one browser on it."""

    browser: httpx.AsyncClient
    #: The lifespan messages the app sent.
    lifespan: list[str] = field(default_factory=list)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self.browser.get(f"{APP_ORIGIN}{path}", **kwargs)

    async def sign_in(self, path: str = "/sign-in", username: str = "alice") -> httpx.Response:
        """Open ``path`` (the sign-in route, or a page that sends signed-out browsers
        there), sign in at the provider: the app's answer to the callback."""
        callback = await provider_login(
            self.browser, f"{APP_ORIGIN}{path}", username=username, password=USERS[username]
        )
        assert callback.url.path == "/callback", callback.url
        return callback

    async def sign_out(self) -> httpx.Response:
        """``/sign-out``, through the provider's logout: the app's page the browser lands on."""
        return await provider_logout(self.browser, f"{APP_ORIGIN}/sign-out")

    def cookies(self) -> set[str]:
        return {cookie.name for cookie in self.browser.cookies.jar if cookie.domain.lstrip(".") == "app.test"}


@asynccontextmanager
async def serve(app: ASGIApp) -> AsyncIterator[Served]:
    """``app`` with its lifespan started, and a browser on it; the lifespan ends after."""
    served = Served(new_browser(app))
    started, stopping, ended = anyio.Event(), anyio.Event(), anyio.Event()
    inbox: list[Message] = [{"type": "lifespan.startup"}]

    async def receive() -> Message:
        if inbox:
            return inbox.pop(0)
        await stopping.wait()
        return {"type": "lifespan.shutdown"}

    async def send(message: Message) -> None:
        served.lifespan.append(message["type"])
        if message["type"].startswith("lifespan.startup."):
            started.set()

    async def lifespan() -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": {}}
        try:
            await app(scope, receive, send)
        finally:
            started.set()
            ended.set()

    async with anyio.create_task_group() as group:
        group.start_soon(lifespan)
        with anyio.fail_after(20):
            await started.wait()
        assert served.lifespan == ["lifespan.startup.complete"], served.lifespan
        try:
            yield served
        finally:
            await served.browser.aclose()
            stopping.set()
            with anyio.fail_after(20):
                await ended.wait()
    assert served.lifespan == ["lifespan.startup.complete", "lifespan.shutdown.complete"], served.lifespan

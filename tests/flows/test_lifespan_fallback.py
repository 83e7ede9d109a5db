"""Apps that do not speak lifespan (Django, Channels, bare functions) still get our startup check."""

from __future__ import annotations

import importlib
import logging

import pytest
from starlette.types import Receive, Scope, Send

from logto_asgi import LogtoConfig, LogtoMiddleware
from logto_asgi.engine import Engine
from support.asgi import lifespan

pytestmark = pytest.mark.anyio

DOWN = LogtoConfig(endpoint="http://127.0.0.1:9", app_id="app", cookie_secret="c" * 32)


async def refuses_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """Django's ASGIHandler's answer to a lifespan scope."""
    if scope["type"] != "http":
        raise ValueError("Django can only handle ASGI/HTTP connections, not lifespan.")


async def ignores_lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    """A bare ASGI function that returns on anything but http."""


async def fails_its_startup(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that speaks lifespan and whose own startup fails."""
    await receive()
    raise RuntimeError("the app's database is down")


@pytest.mark.parametrize("app", [refuses_lifespan, ignores_lifespan], ids=["raises", "returns"])
async def test_lifespan_is_held_for_an_app_without_one(app: object, caplog: pytest.LogCaptureFixture) -> None:
    """Startup and shutdown complete, and the startup check runs (its finding is logged)."""
    caplog.set_level(logging.ERROR, logger="logto_asgi")
    sent = await lifespan(LogtoMiddleware(app, config=DOWN))  # type: ignore[arg-type]
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert "could not be reached" in caplog.text


async def test_an_apps_own_startup_failure_is_not_swallowed() -> None:
    """An app that began lifespan and failed keeps its failure: the server must see it."""
    with pytest.raises(RuntimeError, match="database is down"):
        await lifespan(LogtoMiddleware(fails_its_startup, config=DOWN))


def test_django_and_channels_apps_are_known_to_lack_lifespan() -> None:
    """Django's handler class is recognised; a Starlette-style app is not."""
    from logto_asgi.middleware import _may_lack_lifespan  # noqa: PLC0415 (a private helper)

    handler = importlib.import_module("django.core.handlers.asgi").ASGIHandler
    assert _may_lack_lifespan(handler.__new__(handler))
    assert not _may_lack_lifespan(refuses_lifespan)


def _engine(startups: list[str], *, first_request: bool) -> Engine:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def startup() -> None:
        startups.append("startup")

    async def shutdown() -> None:
        startups.append("shutdown")

    return Engine(
        app,
        routes={},
        authenticators=[],
        on_startup=startup,
        on_shutdown=shutdown,
        startup_on_first_request=first_request,
    )


async def _request(engine: Engine) -> None:
    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    async def send(message: object) -> None:
        pass

    scope = {"type": "http", "path": "/", "headers": [], "method": "GET", "query_string": b""}
    await engine(scope, receive, send)


async def test_first_request_runs_startup_once_without_lifespan() -> None:
    """No lifespan came: the first request runs the startup, later requests don't."""
    startups: list[str] = []
    engine = _engine(startups, first_request=True)
    for _ in range(3):
        await _request(engine)
    assert startups == ["startup"]


async def test_first_request_startup_is_skipped_after_a_lifespan_startup() -> None:
    """A lifespan startup already ran it: requests never run it again; off by default."""
    startups: list[str] = []
    engine = _engine(startups, first_request=True)
    await lifespan(engine)
    await _request(engine)
    assert startups == ["startup", "shutdown"]
    plain: list[str] = []
    await _request(_engine(plain, first_request=False))
    assert plain == []

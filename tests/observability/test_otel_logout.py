"""Back-channel logout, traced: the real provider POSTs its logout token to the app under
uvicorn; the span says ended (one session), the sign-out counter says backchannel; the
same token again is refused and counted so."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logto_asgi import LogtoMiddleware, MemoryStore
from observability.otel import Telemetry, attrs, is_error
from support.app import build_app, register_app
from support.provider import OidcTestProvider, provider_login
from support.server import listen, serve

pytestmark = pytest.mark.anyio

PATH = "/backchannel-logout"


@dataclass
class Recorder:
    """Keeps the bodies POSTed to ``PATH`` (the logout tokens), then passes them on."""

    app: ASGIApp
    bodies: list[bytes] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != PATH:
            return await self.app(scope, receive, send)
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.bodies.append(body)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


@dataclass
class Site:
    url: str
    client_id: str
    recorder: Recorder


@pytest.fixture
async def site(provider: OidcTestProvider) -> AsyncIterator[Site]:
    """The test app under uvicorn with back-channel logout, registered at the provider."""
    with listen() as bound:
        registration = await register_app(
            provider, bound.url, prefix="otel-bcl", backchannel_logout_uri=f"{bound.url}{PATH}"
        )
        config = registration.config(bound.url, store=MemoryStore(), backchannel_logout_path=PATH)
        recorder = Recorder(LogtoMiddleware(build_app(), config=config))
        with serve(recorder, bound) as url:
            yield Site(url, registration.client_id, recorder)


async def test_backchannel_logout_span_and_counters(
    provider: OidcTestProvider, site: Site, otel: Telemetry
) -> None:
    """One signed-in browser; the provider logs its sid out: logto.backchannel_logout
    ended 1 session, sign_outs{reason=backchannel} +1, backchannel_logouts{ended} +1."""
    async with httpx.AsyncClient(timeout=15) as browser:
        callback = await provider_login(
            browser, f"{site.url}/sign-in", username="alice", password="alice-password"
        )
        assert callback.status_code == 302, callback.text
        sid = (await browser.get(f"{site.url}/me")).json()["user"]["sid"]
        otel.reset()

        results = await provider.backchannel_logout(sub="user-alice", sid=sid, client_id=site.client_id)
        assert [(r["status"], r["error"]) for r in results] == [(200, None)]
        spans = otel.wait_for("logto.backchannel_logout")
        logout = spans.one("logto.backchannel_logout")
        assert attrs(logout)["logto.outcome"] == "ended"
        assert attrs(logout)["logto.sessions_ended"] == 1
        assert not is_error(logout)
        gained = otel.metrics()
        assert gained.total("logto.sign_outs", reason="backchannel") == 1
        assert gained.total("logto.sign_outs") == 1
        assert gained.total("logto.backchannel_logouts", outcome="ended") == 1
        assert (await browser.get(f"{site.url}/me")).status_code == 401

        # The same logout token again (a replay) is refused, and counted as such.
        [token_body] = site.recorder.bodies
        otel.reset()
        replay = await browser.post(
            f"{site.url}{PATH}",
            content=token_body,
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert replay.status_code == 400
        spans = otel.wait_for("logto.backchannel_logout")
        refused = spans.one("logto.backchannel_logout")
        assert attrs(refused)["logto.outcome"] == "refused"
        assert attrs(refused).get("logto.sessions_ended", 0) == 0
        gained = otel.metrics()
        assert gained.total("logto.backchannel_logouts", outcome="refused") == 1
        assert gained.total("logto.sign_outs") == 0

"""RP-initiated logout and back-channel logout against the real test provider."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from support.provider import OidcTestProvider, provider_logout

from .helpers import APP, CLIENT_ID, exchange, sign_in, verify_jwt

pytestmark = pytest.mark.anyio


class Receiver:
    """A Starlette app on a real loopback port that records back-channel logout POSTs."""

    def __init__(self) -> None:
        self.logout_tokens: list[str] = []
        self.app = Starlette(routes=[Route("/backchannel", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode())  # no python-multipart needed
        tokens = form.get("logout_token", [])
        if len(tokens) != 1:
            return Response(status_code=400)
        self.logout_tokens.append(tokens[0])
        return Response(status_code=200)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    receiver = Receiver()
    config = uvicorn.Config(
        receiver.app, host="127.0.0.1", port=0, lifespan="off", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield receiver, f"http://127.0.0.1:{port}/backchannel"
    server.should_exit = True
    thread.join(timeout=10)


async def test_backchannel_logout_reaches_loopback_app(
    provider: OidcTestProvider, receiver: tuple[Receiver, str], browser: httpx.AsyncClient
) -> None:
    """The provider POSTs a logout_token with sub and sid to an app on 127.0.0.1."""
    app, uri = receiver
    await provider.register_client(
        client_id=CLIENT_ID,
        client_secret="selftest-secret",
        redirect_uris=[f"{APP}/callback"],
        backchannel_logout_uri=uri,
    )
    tokens = await exchange(provider, await sign_in(browser, provider, username="alice"))
    _, id_claims = await verify_jwt(provider, tokens["id_token"])

    sessions = [s for s in await provider.sessions() if s["sub"] == "user-alice"]
    assert any(s["sids"].get(CLIENT_ID) == id_claims["sid"] for s in sessions)

    results = await provider.backchannel_logout(sub="user-alice", sid=id_claims["sid"])
    assert [(r["client_id"], r["status"], r["error"]) for r in results] == [(CLIENT_ID, 200, None)]
    assert len(app.logout_tokens) == 1
    _, claims = await verify_jwt(provider, app.logout_tokens[0])
    assert claims["sub"] == "user-alice" and claims["sid"] == id_claims["sid"]
    assert "http://schemas.openid.net/event/backchannel-logout" in claims["events"]


async def test_rp_initiated_logout(
    provider: OidcTestProvider, receiver: tuple[Receiver, str], browser: httpx.AsyncClient
) -> None:
    """provider_logout completes end-session back to the app; back-channel logout follows."""
    app, uri = receiver
    await provider.register_client(
        client_id=CLIENT_ID,
        client_secret="selftest-secret",
        redirect_uris=[f"{APP}/callback"],
        post_logout_redirect_uris=[f"{APP}/signed-out"],
        backchannel_logout_uri=uri,
    )
    tokens = await exchange(provider, await sign_in(browser, provider, username="alice"))
    _, id_claims = await verify_jwt(provider, tokens["id_token"])
    before = len(app.logout_tokens)
    query: dict[str, Any] = {
        "id_token_hint": tokens["id_token"],
        "post_logout_redirect_uri": f"{APP}/signed-out",
        "state": "bye",
    }
    url = httpx.URL(provider.end_session_endpoint, params=query)
    response = await provider_logout(browser, str(url))
    assert response.request.url.path == "/signed-out"
    assert response.json()["query"] == {"state": "bye"}
    sids = [s["sids"].get(CLIENT_ID) for s in await provider.sessions()]
    assert id_claims["sid"] not in sids
    assert len(app.logout_tokens) == before + 1
    _, claims = await verify_jwt(provider, app.logout_tokens[-1])
    assert claims["sid"] == id_claims["sid"]

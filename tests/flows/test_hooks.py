"""``on_sign_in`` and ``on_sign_out`` against the real provider: what they see, what they
may change, refusals and failures (a clean page, never a half-written session)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from logto_asgi import get_context, get_user
from logto_asgi.hooks import MAX_APP_DATA, SignInEvent, SignOutEvent
from support.app import APP_ORIGIN, USERS, Harness, cookie_names, make_harness
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio


async def data(request: Request) -> Response:
    ctx = get_context(request)
    return JSONResponse({"signed_in": ctx.is_authenticated, "app_data": dict(ctx.app_data)})


APP = Starlette(routes=[Route("/data", data), Route("/orders", data)])


class Recorder:
    def __init__(self) -> None:
        self.sign_ins: list[SignInEvent] = []
        self.sign_outs: list[SignOutEvent] = []


@pytest.fixture
async def recorder() -> Recorder:
    return Recorder()


async def hooked(provider: OidcTestProvider, **hooks: Any) -> Harness:
    return await make_harness(provider, app=APP, **hooks)


@pytest.fixture
async def harness(provider: OidcTestProvider, recorder: Recorder) -> AsyncIterator[Harness]:
    async def on_sign_in(event: SignInEvent) -> None:  # async on purpose
        recorder.sign_ins.append(event)
        event.data["plan"] = "pro"
        event.data["user_row"] = 42

    def on_sign_out(event: SignOutEvent) -> None:  # and a plain function
        recorder.sign_outs.append(event)

    h = await hooked(provider, on_sign_in=on_sign_in, on_sign_out=on_sign_out)
    try:
        yield h
    finally:
        await h.aclose()


async def test_on_sign_in_sees_the_sign_in_and_keeps_app_data(harness: Harness, recorder: Recorder) -> None:
    response = await harness.sign_in("alice", return_to="/orders")
    assert response.status_code == 302 and response.headers["location"] == "/orders"
    (event,) = recorder.sign_ins
    assert event.claims.sub and event.claims.email == "alice@example.com"
    assert "openid" in event.scopes and event.return_to == "/orders"
    body = (await harness.client.get(f"{APP_ORIGIN}/data")).json()
    assert body == {"signed_in": True, "app_data": {"plan": "pro", "user_row": 42}}


async def test_duplicate_callbacks_run_the_hook_once(harness: Harness, recorder: Recorder) -> None:
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in")
    callback = await provider_login_url(harness, start.headers["location"])
    responses = await asyncio.gather(*(harness.client.get(callback) for _ in range(5)))
    assert [r.status_code for r in responses] == [302] * 5
    assert len(recorder.sign_ins) == 1


async def provider_login_url(harness: Harness, location: str) -> str:
    """The callback URL the provider sends the browser to, not requested yet."""
    seen: list[str] = []

    async def hook(request: httpx.Request) -> None:
        if str(request.url).startswith(f"{APP_ORIGIN}/callback"):
            seen.append(str(request.url))
            raise httpx.ConnectError("held back", request=request)

    harness.client.event_hooks["request"].append(hook)
    try:
        await provider_login(harness.client, location, username="alice", password=USERS["alice"])
    except httpx.ConnectError:
        pass
    finally:
        harness.client.event_hooks["request"].remove(hook)
    return seen[0]


async def test_on_sign_out_sees_whose_session_ended(harness: Harness, recorder: Recorder) -> None:
    await harness.sign_in("alice")
    await harness.sign_out()
    (event,) = recorder.sign_outs
    assert event.reason == "sign_out" and event.claims.email == "alice@example.com"
    assert dict(event.data) == {"plan": "pro", "user_row": 42}


async def test_a_refused_sign_in_is_a_403_and_no_session(provider: OidcTestProvider) -> None:
    def on_sign_in(event: SignInEvent) -> None:
        if event.claims.email == "alice@example.com":
            event.refuse("This account is suspended.")

    h = await hooked(provider, on_sign_in=on_sign_in)
    try:
        await provider.reset_counts()
        response = await h.sign_in("alice")
        assert response.status_code == 403
        assert "This account is suspended." in response.text
        assert "logto" not in cookie_names(h.client)
        assert (await provider.counts()).get("revocation") == 1  # the new refresh token
        assert (await h.client.get(f"{APP_ORIGIN}/data")).json()["signed_in"] is False
    finally:
        await h.aclose()


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ("raise", "hook_failed"),
        ("big", "hook_failed"),
        ("not-json", "hook_failed"),
    ],
)
async def test_a_failing_hook_is_a_clean_500(
    provider: OidcTestProvider, change: str, says: str, caplog: pytest.LogCaptureFixture
) -> None:
    def on_sign_in(event: SignInEvent) -> None:
        if change == "raise":
            raise RuntimeError("database is down")
        if change == "big":
            event.data["blob"] = "x" * MAX_APP_DATA
        if change == "not-json":
            event.data["when"] = object()

    h = await hooked(provider, on_sign_in=on_sign_in)
    try:
        with caplog.at_level(logging.ERROR, logger="logto_asgi"):
            response = await h.sign_in("alice")
        assert response.status_code == 500
        assert says in response.text and "Traceback" not in response.text
        assert "database is down" not in response.text
        assert "logto" not in cookie_names(h.client)
        if change == "raise":
            assert "RuntimeError" in caplog.text and "database is down" in caplog.text
    finally:
        await h.aclose()


@pytest.mark.parametrize(
    ("target", "lands"),
    [("/welcome", "/welcome"), ("https://evil.example/", "/"), ("//evil.example", "/")],
)
async def test_the_hook_may_change_where_the_user_goes(
    provider: OidcTestProvider, target: str, lands: str
) -> None:
    def on_sign_in(event: SignInEvent) -> None:
        event.return_to = target

    h = await hooked(provider, on_sign_in=on_sign_in)
    try:
        response = await h.sign_in("alice", return_to="/orders")
        assert response.status_code == 302 and response.headers["location"] == lands
    finally:
        await h.aclose()


async def test_a_failing_sign_out_hook_does_not_stop_the_sign_out(
    provider: OidcTestProvider, caplog: pytest.LogCaptureFixture
) -> None:
    def on_sign_out(event: SignOutEvent) -> None:
        raise RuntimeError("audit log is down")

    h = await hooked(provider, on_sign_out=on_sign_out)
    try:
        await h.sign_in("alice")
        with caplog.at_level(logging.ERROR, logger="logto_asgi"):
            await h.sign_out()
        assert (await h.client.get(f"{APP_ORIGIN}/data")).json()["signed_in"] is False
        assert "audit log is down" in caplog.text
    finally:
        await h.aclose()


async def typed(request: Request) -> Response:
    user = get_user(request)  # IdTokenClaims, not Any
    return JSONResponse({"sub": user.sub, "email": user.email})


async def test_get_user_is_typed_access_and_401_when_signed_out(provider: OidcTestProvider) -> None:
    h = await make_harness(provider, app=Starlette(routes=[Route("/typed", typed)]))
    try:
        anonymous = await h.client.get(f"{APP_ORIGIN}/typed", headers={"accept": "application/json"})
        assert anonymous.status_code == 401 and anonymous.json()["error"] == "not_authenticated"
        await h.sign_in("alice")
        assert (await h.client.get(f"{APP_ORIGIN}/typed")).json()["email"] == "alice@example.com"
    finally:
        await h.aclose()


@pytest.mark.parametrize(("filler", "status"), [(4088, 302), (4089, 500)])
async def test_the_app_data_limit_is_exact(provider: OidcTestProvider, filler: int, status: int) -> None:
    """4096 bytes of compact JSON are kept ({"b":"…"} is 8 bytes around the filler); one more is a 500."""

    def on_sign_in(event: SignInEvent) -> None:
        event.data["b"] = "x" * filler

    h = await hooked(provider, on_sign_in=on_sign_in)
    try:
        assert (await h.sign_in("alice")).status_code == status
    finally:
        await h.aclose()


async def test_data_must_stay_a_dict(provider: OidcTestProvider) -> None:
    def on_sign_in(event: SignInEvent) -> None:
        event.data = ["not", "a", "dict"]  # type: ignore[assignment]

    h = await hooked(provider, on_sign_in=on_sign_in)
    try:
        response = await h.sign_in("alice")
        assert response.status_code == 500 and "logto" not in cookie_names(h.client)
    finally:
        await h.aclose()


async def test_a_refusal_reason_is_cut_to_200_characters(provider: OidcTestProvider) -> None:
    def on_sign_in(event: SignInEvent) -> None:
        event.refuse("r" * 250)

    h = await hooked(provider, on_sign_in=on_sign_in)
    try:
        response = await h.sign_in("alice")
        assert response.status_code == 403
        assert "r" * 200 in response.text and "r" * 201 not in response.text
    finally:
        await h.aclose()

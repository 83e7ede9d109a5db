"""``on_error``: the app renders errors its own way, wherever the middleware answers one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from logto_asgi import LogtoError, get_user, requires_auth
from logto_asgi.messages import Messages, PageText
from support.app import APP_ORIGIN, cookie_names, make_harness
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio


async def private(request: Request) -> Response:
    return PlainTextResponse(f"hello {get_user(request).sub}")


APP = Starlette(routes=[Route("/private", private)])
seen: list[tuple[str, str]] = []


async def branded(request: Request, error: LogtoError) -> Response | None:
    seen.append((request.url.path, error.error))
    if error.error == "not_authenticated":
        return PlainTextResponse(f"our own 401 for {request.url.path}", status_code=401)
    if error.error == "invalid_transaction":
        return PlainTextResponse("our own sign-in problem page", status_code=400)
    return None


@pytest.fixture(autouse=True)
def clear() -> None:
    seen.clear()


async def test_the_hook_renders_an_error_raised_in_a_handler(provider: OidcTestProvider) -> None:
    h = await make_harness(provider, app=APP, on_error=branded)
    try:
        response = await h.client.get(f"{APP_ORIGIN}/private")
        assert (response.status_code, response.text) == (401, "our own 401 for /private")
        assert seen == [("/private", "not_authenticated")]
    finally:
        await h.aclose()


async def test_the_hook_renders_auth_route_errors_and_cookies_are_still_cleared(
    provider: OidcTestProvider,
) -> None:
    """A forged callback: the app's page, and the transaction cookie still cleared."""
    h = await make_harness(provider, app=APP, on_error=branded)
    try:
        await h.client.get(f"{APP_ORIGIN}/sign-in")
        assert any(n.startswith("logto_tx.") for n in cookie_names(h.client))
        response = await h.client.get(
            f"{APP_ORIGIN}/callback", params={"code": "x", "state": "S" * 43, "iss": provider.issuer}
        )
        assert (response.status_code, response.text) == (400, "our own sign-in problem page")
        assert seen == [("/callback", "invalid_transaction")]
    finally:
        await h.aclose()


async def test_none_keeps_the_built_in_page(provider: OidcTestProvider) -> None:
    h = await make_harness(provider, app=APP, on_error=lambda request, error: None)
    try:
        response = await h.client.get(f"{APP_ORIGIN}/private", headers={"accept": "application/json"})
        assert response.status_code == 401 and response.json()["error"] == "not_authenticated"
    finally:
        await h.aclose()


def raising(request: Request, error: LogtoError) -> Response:
    raise RuntimeError("template missing")


def wrong_type(request: Request, error: LogtoError) -> Any:
    return "a string, not a Response"


@pytest.mark.parametrize("hook", [raising, wrong_type], ids=["raises", "returns-a-string"])
async def test_a_broken_hook_is_a_clean_500(
    provider: OidcTestProvider, hook: Any, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make_harness(provider, app=APP, on_error=hook)
    try:
        with caplog.at_level(logging.ERROR, logger="logto_asgi"):
            response = await h.client.get(f"{APP_ORIGIN}/private", headers={"accept": "application/json"})
        assert response.status_code == 500 and response.json()["error"] == "hook_failed"
        assert "template missing" not in response.text and "Traceback" not in response.text
        assert "on_error hook" in caplog.text
    finally:
        await h.aclose()


async def test_the_hook_sees_provider_outages_at_sign_in(provider: OidcTestProvider) -> None:
    def outage(request: Request, error: LogtoError) -> Response:
        return PlainTextResponse(f"down: {error.error}", status_code=error.status_code)

    h = await make_harness(provider, app=APP, on_error=outage)
    try:
        h.middleware.core.provider._metadata = None
        h.middleware.core.provider._settings = type(h.middleware.core.provider._settings)(
            metadata_url="http://127.0.0.1:9/.well-known/openid-configuration",
            expected_issuers=h.middleware.core.provider.expected_issuers,
        )
        response = await h.client.get(f"{APP_ORIGIN}/sign-in")
        assert (response.status_code, response.text) == (503, "down: provider_unavailable")
    finally:
        await h.aclose()


@requires_auth(roles=["admin"])
async def admin(request: Request) -> Response:
    return PlainTextResponse("admin area")


async def test_guards_ask_the_hook_too(provider: OidcTestProvider) -> None:
    """A guard's 401 and 403 go through on_error like every other error."""
    h = await make_harness(
        provider, app=Starlette(routes=[Route("/admin", admin)]), on_error=branded, scopes=["roles"]
    )
    try:
        anonymous = await h.client.get(f"{APP_ORIGIN}/admin")
        assert (anonymous.status_code, anonymous.text) == (401, "our own 401 for /admin")
        await h.sign_in("bob")  # roles: []
        refused = await h.client.get(f"{APP_ORIGIN}/admin")
        assert refused.status_code == 403 and "role &#x27;admin&#x27;" in refused.text  # None: built-in page
        assert seen == [("/admin", "not_authenticated"), ("/admin", "access_denied")]
    finally:
        await h.aclose()


async def test_the_configured_messages_speak_on_every_page(provider: OidcTestProvider) -> None:
    french = Messages(
        language="fr", pages={"401": PageText("Connectez-vous", "Cette page demande une connexion.")}
    )
    h = await make_harness(provider, app=Starlette(routes=[Route("/admin", admin)]), messages=french)
    try:
        page = await h.client.get(f"{APP_ORIGIN}/admin")
        assert page.status_code == 401 and "Connectez-vous" in page.text and 'lang="fr"' in page.text
    finally:
        await h.aclose()


async def test_a_401_from_a_handler_names_the_sign_in_url(provider: OidcTestProvider) -> None:
    """FastAPI-style: an error raised in the handler (no guard) still tells the client
    where to sign in — sign_in_url in JSON, a button on the page, back to this page."""
    h = await make_harness(provider, app=APP)
    try:
        api = await h.client.get(f"{APP_ORIGIN}/private?x=1", headers={"accept": "*/*"})
        assert api.status_code == 401
        assert api.json()["sign_in_url"] == "/sign-in?return_to=%2Fprivate%3Fx%3D1"
        page = await h.client.get(f"{APP_ORIGIN}/private")
        assert 'href="/sign-in?return_to=%2Fprivate"' in page.text
    finally:
        await h.aclose()


async def test_only_a_401_gets_a_sign_in_link(provider: OidcTestProvider) -> None:
    h = await make_harness(provider, app=Starlette(routes=[Route("/admin", admin)]), scopes=["roles"])
    try:
        await h.sign_in("bob")
        refused = await h.client.get(f"{APP_ORIGIN}/admin", headers={"accept": "application/json"})
        assert refused.status_code == 403 and "sign_in_url" not in refused.json()
    finally:
        await h.aclose()


async def test_route_errors_without_a_hook_are_the_built_in_page(provider: OidcTestProvider) -> None:
    h = await make_harness(provider, app=APP)
    try:
        response = await h.client.get(
            f"{APP_ORIGIN}/callback", params={"code": "x", "state": "S" * 43, "iss": provider.issuer}
        )
        assert response.status_code == 400 and "invalid_transaction" in response.text
    finally:
        await h.aclose()


async def raw_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A plain ASGI app (no framework exception handler): the error reaches the engine."""
    if scope["type"] == "http":
        get_user(scope)


async def test_a_401_escaping_a_plain_asgi_app_names_the_sign_in_url(provider: OidcTestProvider) -> None:
    h = await make_harness(provider, app=raw_app)
    try:
        response = await h.client.get(f"{APP_ORIGIN}/anything", headers={"accept": "application/json"})
        assert response.status_code == 401
        assert response.json()["sign_in_url"] == "/sign-in?return_to=%2Fanything"
    finally:
        await h.aclose()


def streaming(request: Request, error: LogtoError) -> Response:
    async def chunks() -> AsyncIterator[bytes]:
        yield b"streamed"

    return StreamingResponse(chunks(), status_code=error.status_code)


async def test_a_guard_cannot_send_a_streamed_hook_response(
    provider: OidcTestProvider, caplog: pytest.LogCaptureFixture
) -> None:
    h = await make_harness(provider, app=Starlette(routes=[Route("/admin", admin)]), on_error=streaming)
    try:
        with caplog.at_level(logging.ERROR, logger="logto_asgi"):
            response = await h.client.get(f"{APP_ORIGIN}/admin", headers={"accept": "application/json"})
        assert response.status_code == 500 and response.json()["error"] == "hook_failed"
        assert "plain Response" in caplog.text
    finally:
        await h.aclose()

"""Bad callbacks, bad cookies and an unreachable provider get clear pages, never a 500."""

from __future__ import annotations

import logging

import httpx
import pytest

from support.app import APP_ORIGIN, Harness, cookie_names, make_harness
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio


async def test_replayed_callback_while_signed_in_goes_home(harness: Harness) -> None:
    """The back button onto a used callback redirects to the app, not an error."""
    callback = await harness.sign_in("alice")
    replay = await harness.client.get(str(callback.request.url))
    assert replay.status_code == 303 and replay.headers["location"] == "/"


async def test_replayed_callback_in_another_browser_is_a_400_page(harness: Harness) -> None:
    """A used callback URL opened elsewhere gives a 400 page that offers to sign in again."""
    callback = await harness.sign_in("alice")
    other = harness.browser()
    replay = await other.get(str(callback.request.url))
    assert replay.status_code == 400
    assert "invalid_transaction" in replay.text and 'href="/sign-in"' in replay.text
    assert replay.headers["cache-control"] == "no-store"
    assert cookie_names(other) == set()


async def test_callback_without_transaction_is_400(harness: Harness) -> None:
    """A callback with no sign-in started here is refused with 400."""
    response = await harness.client.get(f"{APP_ORIGIN}/callback", params={"code": "x", "state": "s" * 43})
    assert response.status_code == 400 and "invalid_transaction" in response.text


async def test_callback_with_wrong_state_is_400_and_keeps_the_transaction(harness: Harness) -> None:
    """A state that matches no pending sign-in is refused and the real sign-in still works."""
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in", params={"return_to": "/orders"})
    response = await harness.client.get(f"{APP_ORIGIN}/callback", params={"code": "x", "state": "A" * 43})
    assert response.status_code == 400
    assert [n for n in cookie_names(harness.client) if n.startswith("logto_tx.")]
    done = await provider_login(
        harness.client, start.headers["location"], username="alice", password="alice-password"
    )
    assert done.headers["location"] == "/orders"


async def test_forged_transaction_cookie_is_400(harness: Harness) -> None:
    """A transaction cookie that does not decrypt is refused with 400, not 500."""
    state = "B" * 43
    harness.client.cookies.set(f"logto_tx.{state}", "garbage.value", domain="app.test")
    response = await harness.client.get(f"{APP_ORIGIN}/callback", params={"code": "x", "state": state})
    assert response.status_code == 400 and "invalid_transaction" in response.text


async def test_provider_error_on_callback_is_a_fixed_message(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """error=server_error: a 400 with our own words for the code; the provider's
    description goes to the log only, and the transaction is cleared."""
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in")
    state = httpx.URL(start.headers["location"]).params["state"]
    with caplog.at_level(logging.WARNING, logger="logto_asgi"):
        response = await harness.client.get(
            f"{APP_ORIGIN}/callback",
            params={
                "error": "server_error",
                "error_description": "Call +1 555 0100 to unlock your account",
                "state": state,
                "iss": harness.provider.issuer,
            },
        )
    assert response.status_code == 400
    assert "could not complete the sign-in just now" in response.text
    assert "555" not in response.text
    assert "Call +1 555 0100" in caplog.text
    assert not [n for n in cookie_names(harness.client) if n.startswith("logto_tx.")]


async def test_a_cancelled_sign_in_returns_to_the_app(harness: Harness) -> None:
    """error=access_denied for this browser's own attempt: back to return_to, signed
    out, the transaction cleared — not an error page."""
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in", params={"return_to": "/orders?page=2"})
    state = httpx.URL(start.headers["location"]).params["state"]
    response = await harness.client.get(
        f"{APP_ORIGIN}/callback",
        params={"error": "access_denied", "state": state, "iss": harness.provider.issuer},
    )
    assert response.status_code == 303
    # with the notice key the app may show (docs/errors.md), never words
    assert response.headers["location"] == "/orders?page=2&logto_notice=sign_in_cancelled"
    assert not [n for n in cookie_names(harness.client) if n.startswith("logto_tx.")]
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 401


@pytest.mark.parametrize("state", [None, "A" * 43])
async def test_a_forged_cancellation_is_an_error_page(harness: Harness, state: str | None) -> None:
    """Without this browser's transaction an access_denied goes nowhere but the page."""
    params = {"error": "access_denied", "iss": harness.provider.issuer}
    if state:
        params["state"] = state
    response = await harness.client.get(f"{APP_ORIGIN}/callback", params=params)
    assert response.status_code == 400
    assert "cancelled or refused at the provider" in response.text


async def test_forged_code_is_refused_by_the_provider_with_400(harness: Harness) -> None:
    """A valid state with a made-up code: the provider says invalid_grant, we answer 400."""
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in")
    state = httpx.URL(start.headers["location"]).params["state"]
    response = await harness.client.get(
        f"{APP_ORIGIN}/callback", params={"code": "made-up", "state": state, "iss": harness.provider.issuer}
    )
    assert response.status_code == 400 and "invalid_grant" in response.text
    assert cookie_names(harness.client) == set()


@pytest.mark.parametrize(
    "cookies",
    [
        {"logto": "garbage"},
        {"logto": "a.b.c.d.e"},
        {"logto": "eyJhbGciOiJkaXIifQ..AAAA.BBBB.CCCC"},
        {"logto.0": "x" * 3000, "logto.1": "y" * 10},
        {"logto": "\u00e9" * 10},
        {"logto": "z" * 50_000},
    ],
)
async def test_bad_session_cookies_read_as_signed_out_and_are_cleared(
    harness: Harness, cookies: dict[str, str]
) -> None:
    """Garbage, truncated, non-ASCII or oversized session cookies: signed out, cookies deleted, no 500."""
    raw = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode("utf-8")
    response = await harness.client.get(f"{APP_ORIGIN}/me", headers=[(b"cookie", raw)])
    assert response.status_code == 401
    cleared = response.headers.get_list("set-cookie")
    assert {c.split("=")[0] for c in cleared} == set(cookies)
    assert all("Max-Age=0" in c for c in cleared)


async def test_tampered_real_cookie_reads_as_signed_out(harness: Harness) -> None:
    """Flipping one character of a real session cookie signs the request out."""
    await harness.sign_in("alice")
    value = harness.client.cookies.get("logto", domain="app.test")
    assert value
    index = len(value) // 2
    forged = value[:index] + ("A" if value[index] != "A" else "B") + value[index + 1 :]
    harness.client.cookies.set("logto", forged, domain="app.test")
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 401


async def test_provider_unreachable_at_sign_in_is_503(provider: OidcTestProvider) -> None:
    """With the provider down, sign-in answers a plain 503 page."""
    h = await make_harness(provider, endpoint="http://127.0.0.1:9")
    try:
        response = await h.client.get(f"{APP_ORIGIN}/sign-in")
        assert response.status_code == 503 and "provider_unavailable" in response.text
        assert response.headers["cache-control"] == "no-store"
    finally:
        await h.aclose()


async def test_wrong_methods_are_405(harness: Harness) -> None:
    """The auth routes answer 405 with Allow for methods they do not serve."""
    assert (await harness.client.post(f"{APP_ORIGIN}/sign-in")).status_code == 405
    assert (await harness.client.delete(f"{APP_ORIGIN}/callback")).status_code == 405
    response = await harness.client.put(f"{APP_ORIGIN}/sign-out")
    assert response.status_code == 405 and "POST" in response.headers["allow"]


async def test_no_secret_in_logs_during_a_journey(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    """Sign-in and sign-out at DEBUG log no token, code, cookie or secret."""
    caplog.set_level(logging.DEBUG, logger="logto_asgi")
    callback = await harness.sign_in("alice")
    code = httpx.URL(str(callback.request.url)).params["code"]
    ctx_cookie = harness.client.cookies.get("logto", domain="app.test")
    await harness.client.get(f"{APP_ORIGIN}/me")
    await harness.sign_out()
    # Our records only: the test's own browser client (httpx) logs the URLs it visits.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("logto_asgi"))
    assert "signed in" in text
    for secret in (code, ctx_cookie, harness.config.app_secret, harness.config.cookie_secrets[0]):
        assert secret and secret not in text

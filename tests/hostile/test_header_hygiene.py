"""Every auth response is uncacheable, and error pages escape everything they echo."""

from __future__ import annotations

import httpx
import pytest

from hostile.harness import HostileHarness, assert_signed_in
from support.app import APP_ORIGIN

pytestmark = pytest.mark.anyio

PAYLOAD = "\"><img src=x onerror=alert(1)> <script>alert('x')</script> & done"


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers.get("cache-control") == "no-store", (response.request.url, response.headers)
    assert response.headers.get("pragma") == "no-cache", (response.request.url, response.headers)


def assert_no_store_answer(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert_no_store(response)


async def callback_url(h: HostileHarness, **params: str) -> str:
    """The provider's redirect back to the callback for a fresh sign-in (not followed)."""
    start = await h.start(**params)
    back = await h.client.get(start.headers["location"])
    return str(back.headers["location"])


async def test_sign_in_redirect_is_no_store(h: HostileHarness) -> None:
    """The sign-in route's redirect to the provider is no-store, no-cache."""
    assert_no_store_answer(await h.start(return_to="/orders"), 302)


async def test_successful_callback_is_no_store(h: HostileHarness) -> None:
    """The callback that starts the session is no-store, no-cache."""
    response = await h.client.get(await callback_url(h, return_to="/orders"))
    assert_signed_in(response)
    assert_no_store(response)


async def test_replayed_callback_while_signed_in_is_no_store(h: HostileHarness) -> None:
    """The back button onto the used callback (303 into the app) is no-store, no-cache."""
    url = await callback_url(h)
    assert_signed_in(await h.client.get(url))
    assert_no_store_answer(await h.client.get(url), 303)


async def test_stale_callback_while_signed_in_is_no_store(h: HostileHarness) -> None:
    """A callback for no pending sign-in, while signed in (303 into the app), is no-store, no-cache."""
    assert_signed_in(await h.sign_in())
    assert_no_store_answer(await h.get("/callback", code="c", state="s" * 43), 303)


async def test_provider_error_callback_is_no_store(h: HostileHarness) -> None:
    """The error page for error=access_denied on the callback is no-store, no-cache."""
    assert_no_store_answer(await h.get("/callback", error="access_denied"), 400)


async def test_refused_id_token_page_is_no_store(h: HostileHarness) -> None:
    """The error page for a refused ID token (another nonce) is no-store, no-cache."""
    h.provider.id_token_claims = {"nonce": "n-other"}
    assert_no_store_answer(await h.sign_in(), 400)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/sign-in"), ("DELETE", "/callback"), ("PUT", "/sign-out")]
)
async def test_wrong_method_answer_is_no_store(h: HostileHarness, method: str, path: str) -> None:
    """A 405 from an auth route is no-store, no-cache."""
    assert_no_store_answer(await h.client.request(method, f"{APP_ORIGIN}{path}"), 405)


async def test_sign_out_by_get_is_no_store(h: HostileHarness) -> None:
    """GET /sign-out of a signed-in user (302 to the provider's end-session) is no-store, no-cache."""
    assert_signed_in(await h.sign_in())
    assert_no_store_answer(await h.get("/sign-out"), 302)


async def test_sign_out_by_post_is_no_store(h: HostileHarness) -> None:
    """POST /sign-out of a signed-in user (303) is no-store, no-cache."""
    assert_signed_in(await h.sign_in())
    assert_no_store_answer(await h.client.post(f"{APP_ORIGIN}/sign-out"), 303)


async def test_not_authenticated_from_a_handler_is_no_store(h: HostileHarness) -> None:
    """A handler's NotAuthenticated (401, signed out) is no-store, no-cache."""
    assert_no_store_answer(await h.get("/token"), 401)


async def test_provider_failure_at_sign_in_is_no_store(h: HostileHarness) -> None:
    """The 503 page when discovery fails at sign-in is no-store, no-cache."""
    h.provider.faults["discovery"] = "500"
    assert_no_store_answer(await h.start(), 503)


async def test_provider_error_description_is_escaped(h: HostileHarness) -> None:
    """error and error_description from the callback query are HTML-escaped on the page."""
    start = await h.start()
    state = httpx.URL(start.headers["location"]).params["state"]
    response = await h.get("/callback", error=PAYLOAD, error_description=PAYLOAD, state=state)
    assert response.status_code == 400
    body = response.text
    for raw in ("<img", "<script", '"><img', "alert('x')", "& done", "onerror", "&lt;img"):
        assert raw not in body, body
    assert "The provider did not sign you in." in body


async def test_json_errors_are_valid_json(h: HostileHarness) -> None:
    """API clients get the same error as JSON, with the description as a plain string."""
    response = await h.client.get(
        f"{APP_ORIGIN}/callback",
        params={"error": "access_denied", "error_description": PAYLOAD},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "authorization_error"
    assert response.json()["error_description"] == "The sign-in was cancelled or refused at the provider."
    assert_no_store(response)

"""Every auth response is uncacheable, and error pages escape everything they echo."""

from __future__ import annotations

import html

import httpx
import pytest

from hostile.harness import HostileHarness, assert_signed_in, make_hostile_harness
from support.app import APP_ORIGIN

pytestmark = pytest.mark.anyio

PAYLOAD = "\"><img src=x onerror=alert(1)> <script>alert('x')</script> & done"


def assert_no_store(response: httpx.Response) -> None:
    assert response.headers.get("cache-control") == "no-store", (response.request.url, response.headers)
    assert response.headers.get("pragma") == "no-cache", (response.request.url, response.headers)


async def test_every_auth_response_is_no_store(h: HostileHarness) -> None:
    """Sign-in, callback (success and errors), sign-out, 405s and provider errors: no-store, no-cache."""
    start = await h.start(return_to="/orders")
    back = await h.client.get(start.headers["location"])
    success = await h.client.get(back.headers["location"])
    assert_signed_in(success)
    replay = await h.client.get(back.headers["location"])  # back button while signed in
    assert replay.status_code == 303
    responses = [start, success, replay]
    responses.append(await h.get("/callback", error="access_denied"))
    responses.append(await h.get("/callback", code="c", state="s" * 43))
    responses.append(await h.client.post(f"{APP_ORIGIN}/sign-in"))
    responses.append(await h.client.delete(f"{APP_ORIGIN}/callback"))
    responses.append(await h.client.put(f"{APP_ORIGIN}/sign-out"))
    responses.append(await h.get("/sign-out"))
    assert_signed_in(await h.sign_in())
    responses.append(await h.client.post(f"{APP_ORIGIN}/sign-out"))
    responses.append(await h.get("/token"))  # a handler's NotAuthenticated
    h.provider.id_token_claims = {"nonce": "n-other"}
    responses.append(await h.sign_in())
    h.provider.faults["discovery"] = "500"
    fresh = make_hostile_harness(h.provider)  # nothing cached: its sign-in fetches discovery
    try:
        responses.append(await fresh.start())
    finally:
        await fresh.aclose()
    statuses = [r.status_code for r in responses]
    assert statuses == [302, 302, 303, 400, 303, 405, 405, 405, 302, 303, 401, 400, 502]
    for response in responses:
        assert_no_store(response)


async def test_provider_error_description_is_escaped(h: HostileHarness) -> None:
    """error and error_description from the callback query are HTML-escaped on the page."""
    start = await h.start()
    state = httpx.URL(start.headers["location"]).params["state"]
    response = await h.get("/callback", error=PAYLOAD, error_description=PAYLOAD, state=state)
    assert response.status_code == 400
    body = response.text
    for raw in ("<img", "<script", '"><img', "alert('x')", "& done"):
        assert raw not in body, body
    assert html.escape(PAYLOAD[:64]) in body


async def test_json_errors_are_valid_json(h: HostileHarness) -> None:
    """API clients get the same error as JSON, with the description as a plain string."""
    response = await h.client.get(
        f"{APP_ORIGIN}/callback",
        params={"error": "access_denied", "error_description": PAYLOAD},
        headers={"accept": "application/json"},
    )
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    assert response.json()["error"] == "authorization_error"
    assert PAYLOAD[:300] in response.json()["error_description"]
    assert_no_store(response)

"""Logout CSRF (security review, finding 9): a cross-site request cannot sign the user
out; it gets a confirmation page whose button POSTs a token bound to the session. The
app's own pages (Fetch Metadata ``same-origin``/``none``, or a same-origin ``Origin`` /
``Referer`` without it) sign out at once. Real provider, the app in-process."""

from __future__ import annotations

import re

import httpx
import pytest

from support.app import APP_ORIGIN, Harness, make_harness
from support.provider import OidcTestProvider

pytestmark = pytest.mark.anyio

END_SESSION = "/oidc/session/end"


@pytest.fixture(autouse=True)
async def alice_signed_in(harness: Harness) -> None:
    """Every test starts with alice signed in (the hostile conftest's ``harness``)."""
    await harness.sign_in("alice")


async def sign_out(harness: Harness, method: str = "GET", **headers: str) -> httpx.Response:
    """The sign-out route with exactly ``headers`` for its browser metadata."""
    harness.client.headers.pop("sec-fetch-site", None)
    return await harness.client.request(method, f"{APP_ORIGIN}/sign-out", headers=headers)


async def signed_in(harness: Harness) -> bool:
    return (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 200


def token_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def assert_confirmation(response: httpx.Response, status: int = 200) -> None:
    assert response.status_code == status, response.text
    assert 'method="post" action="/sign-out"' in response.text
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
        {"origin": "http://evil.example"},
        {"origin": "null"},
        {"referer": "http://evil.example/page"},
        {"referer": "http://app.test.evil.example/"},
        {},
    ],
    ids=[
        "cross-site",
        "same-site",
        "other-origin",
        "null-origin",
        "other-referer",
        "lookalike-referer",
        "none",
    ],
)
async def test_a_cross_site_get_asks_instead_of_signing_out(
    harness: Harness, headers: dict[str, str]
) -> None:
    """Not from the app's own pages: a confirmation page; the session lives on."""
    assert_confirmation(await sign_out(harness, **headers))
    assert await signed_in(harness)


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-site": "same-origin"},
        {"sec-fetch-site": "none"},
        {"origin": APP_ORIGIN},
        {"referer": f"{APP_ORIGIN}/account"},
    ],
    ids=["same-origin", "typed-in", "own-origin", "own-referer"],
)
async def test_the_apps_own_pages_sign_out_at_once(harness: Harness, headers: dict[str, str]) -> None:
    """From the app's pages (or the address bar): straight to the provider's end-session."""
    response = await sign_out(harness, **headers)
    assert response.status_code == 302 and END_SESSION in response.headers["location"]
    assert not await signed_in(harness)


async def test_fetch_metadata_wins_over_a_same_origin_referer(harness: Harness) -> None:
    """A browser that sends Fetch Metadata is believed: cross-site with our Referer asks."""
    assert_confirmation(
        await sign_out(harness, **{"sec-fetch-site": "cross-site", "referer": f"{APP_ORIGIN}/"})
    )


async def test_the_confirmation_button_signs_out(harness: Harness) -> None:
    """The form's POST carries the session's token: signed out, on to the provider."""
    token = token_of(await sign_out(harness, **{"sec-fetch-site": "cross-site"}))
    response = await harness.client.post(
        f"{APP_ORIGIN}/sign-out", data={"csrf_token": token}, headers={"sec-fetch-site": "cross-site"}
    )
    assert response.status_code == 303 and END_SESSION in response.headers["location"]
    assert not await signed_in(harness)


@pytest.mark.parametrize("token", ["", "forged", "A" * 43])
async def test_a_cross_site_post_without_the_right_token_is_refused(harness: Harness, token: str) -> None:
    """A cross-site form POST with no or a wrong token: 403 with the confirmation page."""
    response = await harness.client.post(
        f"{APP_ORIGIN}/sign-out", data={"csrf_token": token}, headers={"sec-fetch-site": "cross-site"}
    )
    assert_confirmation(response, 403)
    assert await signed_in(harness)


async def test_a_token_is_bound_to_its_session(harness: Harness) -> None:
    """Another user's confirmation token (the attacker's own) does not sign the victim out."""
    attacker = harness.browser()
    await harness.sign_in("bob", client=attacker)
    page = await attacker.get(f"{APP_ORIGIN}/sign-out", headers={"sec-fetch-site": "cross-site"})
    response = await harness.client.post(
        f"{APP_ORIGIN}/sign-out",
        data={"csrf_token": token_of(page)},
        headers={"sec-fetch-site": "cross-site"},
    )
    assert_confirmation(response, 403)
    assert await signed_in(harness)


async def test_an_oversized_form_is_no_token(harness: Harness) -> None:
    """A body over the form limit is not read: 403, signed in."""
    token = token_of(await sign_out(harness, **{"sec-fetch-site": "cross-site"}))
    response = await harness.client.post(
        f"{APP_ORIGIN}/sign-out",
        content=f"csrf_token={token}&pad={'x' * 5000}",
        headers={"sec-fetch-site": "cross-site", "content-type": "application/x-www-form-urlencoded"},
    )
    assert_confirmation(response, 403)


async def test_a_cross_site_get_without_a_session_just_goes_on(provider: OidcTestProvider) -> None:
    """Nothing to sign out: no page to confirm, the usual redirect."""
    h = await make_harness(provider)
    try:
        response = await h.client.get(f"{APP_ORIGIN}/sign-out", headers={"sec-fetch-site": "cross-site"})
        assert response.status_code == 302 and response.headers["location"] == "/"
    finally:
        await h.aclose()

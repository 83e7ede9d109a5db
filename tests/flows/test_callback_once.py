"""One callback URL requested several times at once (a double click, a retried
navigation) in one process: one code exchange, and every duplicate lands in the session.
(Across worker processes: tests/stores/test_workers.py.) Also where sign-out sends the
browser back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from support.app import APP_ORIGIN, Harness, make_harness, new_browser
from support.callbacks import CatchCallback
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio


@pytest.fixture
async def harness(provider: OidcTestProvider) -> AsyncIterator[Harness]:
    h = await make_harness(provider, post_sign_out_redirect=f"{APP_ORIGIN}/after/")
    try:
        yield h
    finally:
        await h.aclose()


async def test_three_requests_of_one_callback_make_one_code_exchange(
    harness: Harness, provider: OidcTestProvider
) -> None:
    """All three get a redirect into the same signed-in session; the provider saw one exchange."""
    catcher = CatchCallback(harness.middleware)
    async with new_browser(catcher) as browser:
        await provider_login(
            browser, f"{APP_ORIGIN}{harness.config.sign_in_path}", username="alice", password="alice-password"
        )
        assert catcher.query is not None
        await provider.reset_counts()
        url = f"{APP_ORIGIN}/callback?{catcher.query.decode()}"
        responses = await asyncio.gather(*(browser.get(url) for _ in range(3)))
        assert [r.status_code for r in responses] == [302, 302, 302], [r.text for r in responses]
        assert (await provider.counts()).get("token:authorization_code") == 1
        me = await browser.get(f"{APP_ORIGIN}/me")
        assert me.status_code == 200 and me.json()["user"]["sub"] == "user-alice"


async def test_sign_out_returns_to_the_configured_absolute_url(harness: Harness) -> None:
    """An absolute post_sign_out_redirect (on the app's origin) goes to the provider as it is."""
    await harness.sign_in("alice")
    response = await harness.client.get(f"{APP_ORIGIN}{harness.config.sign_out_path}")
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["post_logout_redirect_uri"] == [f"{APP_ORIGIN}/after/"]


async def test_sign_out_returns_to_a_relative_path_under_the_app(provider: OidcTestProvider) -> None:
    """A relative post_sign_out_redirect is made absolute with the app's origin."""
    h = await make_harness(provider, post_sign_out_redirect="/bye")
    try:
        await h.sign_in("alice")
        response = await h.client.get(f"{APP_ORIGIN}{h.config.sign_out_path}")
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert query["post_logout_redirect_uri"] == [f"{APP_ORIGIN}/bye"]
    finally:
        await h.aclose()

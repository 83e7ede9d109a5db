"""Per-request sign-in options against the real provider: step-up with ``max_age`` (the
callback checks ``auth_time``) and silent sign-in (``prompt=none``, once per browser
session, refusals back to the page anonymous)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest

from logto_asgi.context import LogtoContext
from support.app import APP_ORIGIN, Harness, cookie_names, make_harness
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio

NAVIGATE = {"sec-fetch-mode": "navigate", "sec-fetch-dest": "document", "sec-fetch-site": "none"}


def advance(harness: Harness, seconds: float) -> None:
    harness.middleware.core.clock = lambda: time.time() + seconds


async def test_max_age_is_sent_and_auth_time_checked(harness: Harness) -> None:
    """A fresh sign-in with max_age passes: the provider's ID token carries auth_time."""
    response = await harness.sign_in("alice", params={"max_age": "300"})
    assert response.status_code == 302, response.text
    me = (await harness.client.get(f"{APP_ORIGIN}/me")).json()["user"]
    assert isinstance(me["auth_time"], int)


async def test_a_stale_authentication_is_refused_when_max_age_was_asked(harness: Harness) -> None:
    """The provider reuses its session (auth_time from the first sign-in); 1,000 s later
    on our clock that is older than max_age=60: the callback refuses it."""
    await harness.sign_in("alice")
    advance(harness, 1000)
    start = await harness.client.get(f"{APP_ORIGIN}/sign-in", params={"max_age": "60"})
    assert parse_qs(urlsplit(start.headers["location"]).query)["max_age"] == ["60"]
    callback = await provider_login(harness.client, start.headers["location"], username="alice", password="x")
    assert callback.status_code == 400
    assert "auth_time" in callback.text or "older than the max_age" in callback.text


async def test_sign_in_url_builds_step_up_links(harness: Harness) -> None:
    """LogtoContext.sign_in_url: the options the route forwards, and ValueError for a
    value the route would drop (a link that silently loses its max_age is a bug)."""
    ctx = LogtoContext(harness.middleware.core, {"type": "http", "headers": []}, None)
    url = ctx.sign_in_url("/pay", prompt="login", max_age=0, ui_locales="de")
    assert url == "/sign-in?return_to=%2Fpay&prompt=login&max_age=0&ui_locales=de"
    start = await harness.client.get(f"{APP_ORIGIN}{url}")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["prompt"] == ["consent login"] and query["max_age"] == ["0"]
    for bad in ({"prompt": "none login"}, {"max_age": -1}, {"ui_locales": "<x>"}, {"prompt": "sometimes"}):
        with pytest.raises(ValueError, match="invalid value"):
            ctx.sign_in_url(**bad)


@pytest.fixture
async def silent(provider: OidcTestProvider) -> AsyncIterator[Harness]:
    h = await make_harness(provider, silent_sign_in=True)
    try:
        yield h
    finally:
        await h.aclose()


async def test_silent_sign_in_without_a_provider_session_comes_back_anonymous(
    silent: Harness, provider: OidcTestProvider
) -> None:
    first = await silent.client.get(f"{APP_ORIGIN}/orders?page=2", headers=NAVIGATE)
    assert first.status_code == 302
    assert first.headers["location"] == "/sign-in?prompt=none&return_to=%2Forders%3Fpage%3D2"
    start = await silent.client.get(f"{APP_ORIGIN}{first.headers['location']}")
    query = parse_qs(urlsplit(start.headers["location"]).query)
    assert query["prompt"] == ["none"]  # alone, even at Logto
    assert "logto_silent" in cookie_names(silent.client)
    await provider.reset_counts()
    back = await provider_login(silent.client, start.headers["location"], username="alice", password="x")
    assert back.status_code == 303 and back.headers["location"] == "/orders?page=2"
    assert not (await provider.counts()).get("token:authorization_code")
    # Once per browser session: the page itself now, anonymous.
    again = await silent.client.get(f"{APP_ORIGIN}/orders?page=2", headers=NAVIGATE)
    assert again.status_code == 200 and again.text == "orders of nobody"


async def test_silent_sign_in_reuses_the_provider_session(
    silent: Harness, provider: OidcTestProvider
) -> None:
    """Signed in at the provider, the app's session gone: back signed in, no page shown."""
    await silent.sign_in("alice")
    silent.client.cookies.delete("logto", domain="app.test")
    first = await silent.client.get(f"{APP_ORIGIN}/orders", headers=NAVIGATE)
    assert first.status_code == 302
    start = await silent.client.get(f"{APP_ORIGIN}{first.headers['location']}")
    back = await provider_login(silent.client, start.headers["location"], username="alice", password="x")
    assert back.status_code == 302 and back.headers["location"] == "/orders"
    assert (await silent.client.get(f"{APP_ORIGIN}/orders")).text.startswith("orders of ")
    assert (await silent.client.get(f"{APP_ORIGIN}/orders")).text != "orders of nobody"


async def test_silent_sign_in_without_fetch_metadata_goes_by_accept(silent: Harness) -> None:
    """An older browser sends no Sec-Fetch-*: a page request (Accept: text/html) is one."""
    response = await silent.client.get(f"{APP_ORIGIN}/orders", headers={"accept": "text/html,*/*;q=0.8"})
    assert response.status_code == 302 and response.headers["location"].startswith("/sign-in?prompt=none")


@pytest.mark.parametrize(
    "headers",
    [
        {"sec-fetch-mode": "cors", "sec-fetch-dest": "empty"},
        {"sec-fetch-mode": "navigate", "sec-fetch-dest": "iframe"},
        {"accept": "application/json"},
        {**NAVIGATE, "sec-purpose": "prefetch"},
    ],
    ids=["fetch", "iframe", "api-client", "prefetch"],
)
async def test_silent_sign_in_leaves_other_requests_alone(silent: Harness, headers: dict[str, str]) -> None:
    response = await silent.client.get(f"{APP_ORIGIN}/orders", headers=headers)
    assert response.status_code == 200 and response.text == "orders of nobody"


async def test_silent_sign_in_skips_signed_in_browsers_and_posts(silent: Harness) -> None:
    assert (await silent.client.post(f"{APP_ORIGIN}/orders", headers=NAVIGATE)).status_code != 302
    await silent.sign_in("alice")
    assert (await silent.client.get(f"{APP_ORIGIN}/orders", headers=NAVIGATE)).status_code == 200

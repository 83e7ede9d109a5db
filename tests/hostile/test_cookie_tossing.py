"""Cookie tossing (security review, finding 3), through the ASGI surface against the real
provider: a sibling subdomain that adds ``logto.0=<attacker's session>`` for the parent
domain must not sign the victim in as the attacker, whatever the order; ``__Host-``
names (which browsers refuse to accept from a sibling) work end to end."""

from __future__ import annotations

import httpx
import pytest

from logto_asgi import LogtoMiddleware
from support.app import APP_ORIGIN, Harness, browser_cookies, build_app, register_app
from support.provider import OidcTestProvider, provider_login

pytestmark = pytest.mark.anyio

HTTPS_ORIGIN = "https://app.test"


async def session_of(harness: Harness, username: str) -> dict[str, str]:
    """The session cookies of ``username`` signed in in a fresh browser."""
    browser = harness.browser()
    await harness.sign_in(username, client=browser)
    cookies = {k: v for k, v in browser_cookies(browser).items() if not k.startswith("logto_tx.")}
    assert cookies, "no session cookie"
    return cookies


def as_chunks(cookies: dict[str, str]) -> list[tuple[str, str]]:
    """The attacker's session re-cut as ``logto.0`` (and more), the form the middleware
    used to prefer."""
    if "logto" in cookies:
        return [("logto.0", cookies["logto"])]
    return sorted(cookies.items())


async def me(harness: Harness, pairs: list[tuple[str, str]]) -> httpx.Response:
    header = "; ".join(f"{k}={v}" for k, v in pairs)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=harness.middleware), base_url=APP_ORIGIN
    ) as client:
        return await client.get("/me", headers={"cookie": header})


@pytest.mark.parametrize("attacker_first", [False, True], ids=["victim-first", "attacker-first"])
async def test_a_tossed_chunk_next_to_the_victims_cookie_is_no_session(
    harness: Harness, attacker_first: bool
) -> None:
    """The victim's own cookie plus the attacker's chunk: signed out (401) and our cookies
    cleared, never signed in as either of them."""
    victim = sorted((await session_of(harness, "alice")).items())
    attacker = as_chunks(await session_of(harness, "bob"))
    assert (await me(harness, victim)).json()["user"]["sub"] == "user-alice"
    pairs = [*attacker, *victim] if attacker_first else [*victim, *attacker]
    response = await me(harness, pairs)
    assert response.status_code == 401
    cleared = {line.split("=")[0] for line in response.headers.get_list("set-cookie")}
    assert cleared == {name for name, _ in pairs}


async def test_a_tossed_duplicate_of_the_single_cookie_is_no_session(harness: Harness) -> None:
    """``logto`` twice (the victim's and a parent-domain one): whichever comes first, 401."""
    victim = await session_of(harness, "alice")
    attacker = await session_of(harness, "bob")
    if "logto" not in victim or "logto" not in attacker:
        pytest.skip("sessions were chunked")
    for pairs in (
        [("logto", victim["logto"]), ("logto", attacker["logto"])],
        [("logto", attacker["logto"]), ("logto", victim["logto"])],
    ):
        assert (await me(harness, pairs)).status_code == 401


async def test_chunks_of_two_sessions_are_no_session(harness: Harness) -> None:
    """Chunks cut from two sessions and numbered as one: unreadable, 401."""
    victim = as_chunks(await session_of(harness, "alice"))[0][1]
    attacker = as_chunks(await session_of(harness, "bob"))[0][1]
    half = len(victim) // 2
    response = await me(harness, [("logto.0", victim[:half]), ("logto.1", attacker[half:])])
    assert response.status_code == 401


async def test_host_prefixed_cookie_names_work_end_to_end(provider: OidcTestProvider) -> None:
    """``cookie_name="__Host-logto"`` on https: sign-in sets ``__Host-`` cookies with
    Secure, Path=/ and no Domain (what browsers require), and the session reads back."""
    registration = await register_app(provider, HTTPS_ORIGIN)
    config = registration.config(HTTPS_ORIGIN, cookie_name="__Host-logto")
    middleware = LogtoMiddleware(build_app(), config=config)
    async with httpx.AsyncClient(
        mounts={HTTPS_ORIGIN: httpx.ASGITransport(app=middleware)}, follow_redirects=False
    ) as browser:
        start = await browser.get(f"{HTTPS_ORIGIN}/sign-in")
        tx_cookie = start.headers["set-cookie"]
        assert tx_cookie.startswith("__Host-logto_tx.")
        callback = await provider_login(
            browser, start.headers["location"], username="alice", password="alice-password"
        )
        assert callback.status_code == 302, callback.text
        session_cookies = [
            line for line in callback.headers.get_list("set-cookie") if line.startswith("__Host-logto=")
        ]
        assert len(session_cookies) == 1
        attributes = {part.strip().split("=")[0].lower() for part in session_cookies[0].split(";")[1:]}
        assert {"secure", "path", "httponly"} <= attributes and "domain" not in attributes
        assert "Path=/;" in session_cookies[0] or session_cookies[0].endswith("Path=/")
        assert (await browser.get(f"{HTTPS_ORIGIN}/me")).json()["user"]["sub"] == "user-alice"
    await middleware.core.aclose()

"""Hostile metadata, userinfo and refresh answers: the app refuses to adopt them."""

from __future__ import annotations

import pytest

from hostile.harness import API, HostileHarness, assert_plain_page, assert_signed_in, session_cookies_set
from hostile.hostile_provider import SUBJECT
from logto_asgi._backoff import INITIAL_DELAY
from support.app import cookie_names

pytestmark = pytest.mark.anyio


async def test_discovery_with_another_issuer_is_refused_and_not_cached(h: HostileHarness) -> None:
    """A discovery document naming another issuer: 502 at sign-in, no redirect, retried
    once the backoff has elapsed."""
    h.provider.discovery = {"issuer": "http://evil.test/oidc"}
    response = await h.start()
    assert_plain_page(response, 502, "provider_error")
    assert "issuer" in response.text and "location" not in response.headers
    assert "set-cookie" not in response.headers
    assert h.provider.counts["auth"] == 0 and h.provider.counts["userinfo"] == 0
    h.provider.discovery = {}
    h.advance(INITIAL_DELAY)
    assert_signed_in(await h.sign_in())
    assert h.provider.counts["discovery"] == 2


async def test_discovery_with_an_off_scheme_endpoint_is_refused(h: HostileHarness) -> None:
    """A discovery document whose authorization endpoint is javascript: is a 502, never a redirect."""
    h.provider.discovery = {"authorization_endpoint": "javascript:alert(1)"}
    response = await h.start()
    assert_plain_page(response, 502, "provider_error")
    assert "location" not in response.headers


async def test_userinfo_for_another_subject_is_refused(h: HostileHarness) -> None:
    """A userinfo answer whose sub is not the ID token's is refused; the session stays."""
    assert_signed_in(await h.sign_in())
    h.provider.userinfo_claims = {"sub": "user-someone-else"}
    response = await h.get("/userinfo")
    assert_plain_page(response, 400, "invalid_token")
    assert "user-someone-else" not in response.text
    assert h.provider.counts["userinfo"] == 1
    h.provider.userinfo_claims = {}
    assert (await h.get("/userinfo")).json()["sub"] == SUBJECT


async def test_userinfo_without_sub_is_refused(h: HostileHarness) -> None:
    """A userinfo answer without sub is refused."""
    assert_signed_in(await h.sign_in())
    h.provider.userinfo_claims = {"sub": None}
    assert_plain_page(await h.get("/userinfo"), 400, "invalid_token")


async def refresh_is_refused(h: HostileHarness, overrides: dict[str, object]) -> None:
    """Sign in, make the refresh return an ID token with ``overrides``: the session ends."""
    assert_signed_in(await h.sign_in())
    h.provider.refresh_id_token_claims = overrides
    response = await h.get("/token", resource=API, raw="1")
    assert_plain_page(response, 401, "session_expired")
    assert h.provider.counts["refresh"] == 1
    cleared = response.headers.get_list("set-cookie")
    assert cleared and all("Max-Age=0" in line for line in cleared)
    assert session_cookies_set(response) == []
    assert "logto" not in cookie_names(h.client)
    assert (await h.get("/me")).status_code == 401


async def test_refreshed_id_token_for_another_subject_ends_the_session(h: HostileHarness) -> None:
    """A refresh that returns an ID token for another sub is not adopted: SessionExpired."""
    await refresh_is_refused(h, {"sub": "user-someone-else"})


async def test_refreshed_id_token_from_another_issuer_ends_the_session(h: HostileHarness) -> None:
    """A refresh that returns an ID token from another issuer is not adopted: SessionExpired."""
    await refresh_is_refused(h, {"iss": "http://evil.test/oidc"})


async def test_refreshed_id_token_for_another_app_ends_the_session(h: HostileHarness) -> None:
    """A refresh that returns an ID token for another audience is not adopted: SessionExpired."""
    await refresh_is_refused(h, {"aud": "another-app"})


async def test_refresh_without_id_token_keeps_the_session(h: HostileHarness) -> None:
    """A refresh response without id_token (allowed by OIDC Core 12.2) keeps the user."""
    assert_signed_in(await h.sign_in())
    h.provider.refresh_id_token_claims = None
    response = await h.get("/token", resource=API, raw="1")
    assert response.status_code == 200, response.text
    assert (await h.get("/me")).json()["user"]["sub"] == SUBJECT

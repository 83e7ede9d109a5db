"""The whole journey against the real provider: sign in, know the user, sign out."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from support.app import APP_ORIGIN, Harness, cookie_names, make_harness
from support.provider import OidcTestProvider, provider_login, provider_logout

pytestmark = pytest.mark.anyio


async def test_sign_in_returns_to_the_page_and_exposes_the_user(harness: Harness) -> None:
    """Sign-in with return_to lands on that page; handlers see sub, name and email."""
    callback = await harness.sign_in("alice", return_to="/orders")
    assert callback.status_code == 302
    assert callback.headers["location"] == "/orders"
    assert callback.headers["cache-control"] == "no-store"
    orders = await harness.client.get(f"{APP_ORIGIN}/orders")
    assert orders.text == "orders of user-alice"
    me = (await harness.client.get(f"{APP_ORIGIN}/me")).json()
    assert me["user"]["sub"] == "user-alice"
    assert me["user"]["name"] == "Alice Liddell"
    assert me["user"]["email"] == "alice@example.com"
    assert me["starlette_user"] == "Alice Liddell"
    assert "offline_access" in me["scopes"]
    assert "org-acme" in me["user"]["organizations"]


async def test_session_cookie_attributes_and_transaction_cleanup(harness: Harness) -> None:
    """The callback sets an HttpOnly SameSite=Lax session cookie and deletes its transaction cookie."""
    callback = await harness.sign_in("alice")
    set_cookies = callback.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith("logto="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "Secure" not in session_cookie  # plain http in this test
    assert any(c.startswith("logto_tx.") and "Max-Age=0" in c for c in set_cookies)
    assert cookie_names(harness.client) == {"logto"}


async def test_signed_in_requests_do_not_rewrite_the_cookie(harness: Harness) -> None:
    """An unchanged session sends no Set-Cookie on later responses."""
    await harness.sign_in("alice")
    response = await harness.client.get(f"{APP_ORIGIN}/me")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers


async def test_sign_out_ends_the_local_and_the_provider_session(
    harness: Harness, provider: OidcTestProvider
) -> None:
    """Sign-out clears the cookie, revokes the refresh token and ends the provider session."""
    await harness.sign_in("bob")
    assert any(
        s["sub"] == "user-bob" and harness.config.app_id in s["clients"] for s in await provider.sessions()
    )
    await provider.reset_counts()
    start = await harness.client.get(f"{APP_ORIGIN}/sign-out")
    assert start.status_code == 302
    location = urlsplit(start.headers["location"])
    query = parse_qs(location.query)
    assert location.path == "/oidc/session/end"
    assert query["client_id"] == [harness.config.app_id]
    assert query["post_logout_redirect_uri"] == [f"{APP_ORIGIN}/"]
    assert "id_token_hint" in query
    assert cookie_names(harness.client) == set()
    back = await provider_logout(harness.client, start.headers["location"])
    assert str(back.request.url) == f"{APP_ORIGIN}/"
    assert (await provider.counts()).get("revocation") == 1
    assert not any(harness.config.app_id in s["clients"] for s in await provider.sessions())
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 401
    home = await harness.client.get(f"{APP_ORIGIN}/")
    assert "Not authenticated" in home.text


async def test_home_page_like_the_guide(harness: Harness) -> None:
    """The home page shows 'Not authenticated · Sign in', then 'Authenticated · Sign out'."""
    assert (
        "Not authenticated · <a href='/sign-in'>Sign in</a>"
        in (await harness.client.get(f"{APP_ORIGIN}/")).text
    )
    await harness.sign_in("alice")
    assert (
        "Authenticated · <a href='/sign-out'>Sign out</a>"
        in (await harness.client.get(f"{APP_ORIGIN}/")).text
    )


async def test_two_tabs_signing_in_at_once_both_succeed(harness: Harness) -> None:
    """Two sign-ins started in one browser both complete, in either order."""
    client = harness.client
    first = await client.get(f"{APP_ORIGIN}/sign-in", params={"return_to": "/first"})
    second = await client.get(f"{APP_ORIGIN}/sign-in", params={"return_to": "/second"})
    assert len([n for n in cookie_names(client) if n.startswith("logto_tx.")]) == 2
    done_second = await provider_login(
        client, second.headers["location"], username="alice", password="alice-password"
    )
    assert done_second.headers["location"] == "/second"
    done_first = await provider_login(
        client, first.headers["location"], username="alice", password="alice-password"
    )
    assert done_first.headers["location"] == "/first"
    assert (await client.get(f"{APP_ORIGIN}/me")).json()["user"]["sub"] == "user-alice"
    assert not [n for n in cookie_names(client) if n.startswith("logto_tx.")]


async def test_pending_sign_ins_are_capped(harness: Harness) -> None:
    """Starting many sign-ins keeps at most max_pending_sign_ins transaction cookies."""
    for _ in range(harness.config.max_pending_sign_ins + 3):
        await harness.client.get(f"{APP_ORIGIN}/sign-in")
    pending = [n for n in cookie_names(harness.client) if n.startswith("logto_tx.")]
    assert len(pending) == harness.config.max_pending_sign_ins


async def test_a_new_session_replaces_a_planted_cookie(harness: Harness) -> None:
    """A session cookie planted before sign-in is never reused (no fixation)."""
    harness.client.cookies.set("logto", "planted-value", domain="app.test")
    await harness.sign_in("alice")
    assert harness.client.cookies.get("logto", domain="app.test") != "planted-value"
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 200


async def test_sign_in_forwards_the_standard_options(harness: Harness) -> None:
    """prompt (merged with Logto's consent), max_age and ui_locales reach the provider."""
    response = await harness.client.get(
        f"{APP_ORIGIN}/sign-in", params={"prompt": "login", "max_age": "300", "ui_locales": "fr-CA en"}
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["prompt"] == ["consent login"]
    assert query["max_age"] == ["300"]
    assert query["ui_locales"] == ["fr-CA en"]


async def test_sign_in_forwards_logto_parameters_only(harness: Harness) -> None:
    """Logto's sign-in options reach the provider; other query keys do not."""
    response = await harness.client.get(
        f"{APP_ORIGIN}/sign-in",
        params={
            "interaction_mode": "signUp",
            "first_screen": "register",
            "login_hint": "alice@example.com",
            "direct_sign_in": "social:github",
            "prompt": "none login",  # not a valid prompt: dropped
            "max_age": "-1",
            "ui_locales": "fr-CA en<script>",
            "client_id": "evil",
            "foo": "bar",
        },
    )
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["interaction_mode"] == ["signUp"]
    assert query["first_screen"] == ["register"]
    assert query["login_hint"] == ["alice@example.com"]
    assert query["direct_sign_in"] == ["social:github"]
    assert query["client_id"] == [harness.config.app_id]
    assert query["prompt"] == ["consent"]
    assert "foo" not in query and "max_age" not in query and "ui_locales" not in query
    assert query["code_challenge_method"] == ["S256"]
    assert query["resource"] == [
        "https://shopping.example.com/api",
        "https://store.example.com/api",
        "urn:logto:resource:organizations",
    ]
    page = await harness.client.get(response.headers["location"], follow_redirects=True)
    assert "Create account" in page.text
    assert 'value="alice@example.com"' in page.text


@pytest.mark.parametrize(
    "return_to", ["//evil.example", "https://evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
async def test_hostile_return_to_falls_back_to_home(harness: Harness, return_to: str) -> None:
    """An off-origin return_to is replaced by post_sign_in_redirect after sign-in."""
    callback = await harness.sign_in("alice", return_to=return_to)
    assert callback.headers["location"] == "/"


async def test_public_client_signs_in_without_a_secret(provider: OidcTestProvider) -> None:
    """A public client (app_secret=None) signs in with PKCE only."""
    h = await make_harness(provider, public=True)
    try:
        await provider.reset_counts()
        callback = await h.sign_in("alice", return_to="/orders")
        assert callback.headers["location"] == "/orders"
        assert (await h.client.get(f"{APP_ORIGIN}/orders")).text == "orders of user-alice"
    finally:
        await h.aclose()


async def test_warm_sign_in_costs_one_provider_request(harness: Harness, provider: OidcTestProvider) -> None:
    """Warm, a sign-in makes one call from the app to the provider: the token exchange."""
    await harness.sign_in("alice")
    await harness.client.get(f"{APP_ORIGIN}/sign-out")
    await provider.reset_counts()
    await harness.sign_in("alice", client=harness.browser())
    counts = await provider.counts()
    app_calls = {
        k: v
        for k, v in counts.items()
        if k not in ("authorization", "authorization_resume", "interaction") and v
    }
    assert app_calls == {"token:authorization_code": 1}


async def test_idle_session_is_signed_out_and_cleared(harness: Harness) -> None:
    """Past session_idle_timeout the session reads as signed out and its cookie is deleted."""
    offset = [0.0]
    harness.middleware.core.clock = lambda: time.time() + offset[0]
    await harness.sign_in("alice")
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 200
    offset[0] = harness.config.session_idle_timeout + 5
    response = await harness.client.get(f"{APP_ORIGIN}/me")
    assert response.status_code == 401
    assert "Max-Age=0" in response.headers["set-cookie"]
    assert cookie_names(harness.client) == set()


async def test_active_session_is_renewed_before_the_idle_timeout(harness: Harness) -> None:
    """A request after part of the idle window re-issues the cookie (rolling expiry)."""
    offset = [0.0]
    harness.middleware.core.clock = lambda: time.time() + offset[0]
    await harness.sign_in("alice")
    offset[0] = harness.middleware.core.renew_after + 1
    renewed = await harness.client.get(f"{APP_ORIGIN}/me")
    assert renewed.status_code == 200 and "logto=" in renewed.headers["set-cookie"]
    offset[0] = harness.config.session_idle_timeout - 10 + harness.middleware.core.renew_after
    assert (await harness.client.get(f"{APP_ORIGIN}/me")).status_code == 200


async def test_client_secret_is_not_sent_for_public_clients(provider: OidcTestProvider) -> None:
    """A public client's token request carries client_id in the body and no Authorization header."""
    seen: list[httpx.Request] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request)

    h = await make_harness(
        provider, public=True, http_client=httpx.AsyncClient(event_hooks={"request": [record]})
    )
    try:
        await h.sign_in("alice")
        token_requests = [r for r in seen if r.url.path.endswith("/token")]
        assert len(token_requests) == 1
        assert "authorization" not in token_requests[0].headers
        body = parse_qs(token_requests[0].content.decode())
        assert body["client_id"] == [h.config.app_id] and "client_secret" not in body
    finally:
        await h.aclose()
        await h.config.http_client.aclose()  # type: ignore[union-attr]

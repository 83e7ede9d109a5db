"""Real sessions: sign in against the test provider once per configuration, so cookie and
store sizes are what a browser would really carry."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.types import ASGIApp

from bench.apps import APP_ORIGIN, BASELINE_CALLBACK, baseline_app, inner_app, register_authlib
from logto_asgi import LogtoConfig, LogtoMiddleware, UserInfoScope
from logto_asgi.sessions.base import SessionStore
from support.app import SHOPPING, STORE, USERS, Harness, browser_cookies, make_harness, new_browser
from support.provider import OidcTestProvider, provider_login

USER = "alice"

#: The large session: 3 resource tokens and 2 organization tokens on top of sign-in's.
LARGE_TOKENS: list[dict[str, str]] = [
    {"resource": SHOPPING},
    {"resource": STORE},
    {"resource": SHOPPING, "org": "org-acme"},
    {"org": "org-acme"},
    {"org": "org-globex"},
]
LARGE_SCOPES = [
    UserInfoScope.email,
    UserInfoScope.organizations,
    UserInfoScope.organization_roles,
    "shopping:read",
    "shopping:write",
    "store:read",
    "read:members",
    "invite:members",
]


def cookie_header(cookies: dict[str, str]) -> bytes:
    return "; ".join(f"{name}={value}" for name, value in cookies.items()).encode("latin-1")


@dataclass
class SignedIn:
    """One signed-in browser of a ``LogtoMiddleware`` app."""

    harness: Harness
    cookies: dict[str, str]

    @property
    def middleware(self) -> LogtoMiddleware:
        return self.harness.middleware

    @property
    def config(self) -> LogtoConfig:
        return self.harness.config

    @property
    def header(self) -> bytes:
        return cookie_header(self.cookies)

    def refresh_cookies(self) -> None:
        self.cookies = browser_cookies(self.harness.client)


async def sign_in_logto(
    provider: OidcTestProvider,
    *,
    store: SessionStore | None = None,
    scopes: list[str] | None = None,
    resources: list[str] | None = None,
    tokens: Sequence[Mapping[str, str]] = (),
    http_client: httpx.AsyncClient | None = None,
) -> SignedIn:
    """A fresh client at the provider, the bench app behind LogtoMiddleware, one real
    sign-in, then the access tokens asked for in ``tokens`` (each stored in the session)."""
    overrides: dict[str, Any] = {"scopes": scopes or [], "resources": resources or []}
    if store is not None:
        overrides["store"] = store
    if http_client is not None:
        overrides["http_client"] = http_client
    harness = await make_harness(provider, app=inner_app(), **overrides)
    response = await harness.sign_in(USER)
    if response.status_code != 302 or "set-cookie" not in response.headers:
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:500]}")
    for params in tokens:
        got = await harness.client.get(f"{APP_ORIGIN}/token", params=dict(params))
        if got.status_code != 200:
            raise RuntimeError(f"token {params} failed: {got.status_code} {got.text[:500]}")
    return SignedIn(harness, browser_cookies(harness.client))


@dataclass
class Baseline:
    """The baseline app, signed in for real with Authlib (PKCE S256, prompt=consent)."""

    app: ASGIApp
    secret_key: str
    client: Any  # the Authlib client
    browser: httpx.AsyncClient
    cookies: dict[str, str]

    @property
    def header(self) -> bytes:
        return cookie_header(self.cookies)

    async def aclose(self) -> None:
        await self.browser.aclose()


async def register_baseline(provider: OidcTestProvider) -> tuple[str, str]:
    client_id = f"authlib-{uuid.uuid4().hex[:12]}"
    client_secret = secrets.token_urlsafe(24)
    await provider.register_client(
        client_id=client_id,
        client_secret=client_secret,
        redirect_uris=[APP_ORIGIN + BASELINE_CALLBACK],
        post_logout_redirect_uris=[f"{APP_ORIGIN}/"],
    )
    return client_id, client_secret


async def baseline_sign_in(browser: httpx.AsyncClient) -> httpx.Response:
    """``/login`` → provider → the baseline's callback response (not followed)."""
    return await provider_login(browser, f"{APP_ORIGIN}/login", username=USER, password=USERS[USER])


async def sign_in_baseline(
    provider: OidcTestProvider, wrap: Callable[[ASGIApp], ASGIApp] | None = None
) -> Baseline:
    """The baseline app and a browser signed in to it; ``wrap(app)`` may wrap the app the
    browser talks to (the callback timer)."""
    client_id, client_secret = await register_baseline(provider)
    client = register_authlib(
        client_id=client_id, client_secret=client_secret, discovery_url=provider.discovery_url
    )
    secret_key = secrets.token_urlsafe(32)
    app = baseline_app(secret_key, client)
    browser = new_browser(wrap(app) if wrap is not None else app)
    response = await baseline_sign_in(browser)
    if response.status_code != 302:
        raise RuntimeError(f"baseline sign-in failed: {response.status_code} {response.text[:500]}")
    cookies = browser_cookies(browser)
    if "session" not in cookies:
        raise RuntimeError("baseline sign-in set no session cookie")
    return Baseline(app, secret_key, client, browser, cookies)

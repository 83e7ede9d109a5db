"""Generic providers and front-channel logout in headless Chromium, under real uvicorn.

* Sign-in and sign-out at django-oauth-toolkit (issuer ``{url}/o/``, with its trailing
  slash), configured by ``discovery_url`` alone: no ``offline_access``, no ``prompt``.
* OpenID Connect Front-Channel Logout 1.0: the provider's logout page, on another site
  (``127.0.0.1`` while the app is on ``localhost``), frames the app's front-channel URL.
  What Chromium sends to that third-party frame and what it keeps of the answer is
  observed here, per ``cookie_samesite`` and store. Chromium 156 (Debian), observed: a
  fresh profile blocks third-party cookies (DevTools reason ``UserPreferences``), so even
  a ``SameSite=None; Secure`` cookie is neither sent to the frame nor cleared by it; with
  "Allow third-party cookies" it is sent and its clearing ``Set-Cookie`` is honoured. A
  ``Lax`` cookie is never sent. Secure cookies are kept on http://localhost.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from playwright.async_api import BrowserContext, Frame, Page, Request, async_playwright, expect
from starlette.applications import Starlette
from starlette.requests import Request as StarletteRequest
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from logto_asgi import LogtoConfig, LogtoMiddleware, MemoryStore
from support.chromium import CHROMIUM_ARGS, VIEWPORT
from support.dot import PASSWORDS, DotProvider, start_dot_provider
from support.provider import OidcTestProvider, start_provider
from support.server import listen, serve

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

USERNAME = "alice"
PASSWORD = PASSWORDS[USERNAME]
FRONTCHANNEL_PATH = "/frontchannel-logout"
COOKIE_NAME = "logto"


# -- the app under test ----------------------------------------------------------------------


async def home(request: StarletteRequest) -> Response:
    """``signed in as <email>`` and a sign-out link, or a sign-in link."""
    user = request.state.user
    if user is None:
        return HTMLResponse(
            '<main><p id="status">signed out</p><a id="sign-in" href="/sign-in">Sign in</a></main>'
        )
    who = escape(str(user.email or user.sub))
    return HTMLResponse(
        f'<main><p id="status">signed in as {who}</p><a id="sign-out" href="/sign-out">Sign out</a></main>'
    )


async def userinfo(request: StarletteRequest) -> Response:
    info = await request.state.logto.fetch_user_info()
    return JSONResponse(info.to_dict())


async def claims(request: StarletteRequest) -> Response:
    """The ID token claims of the session (``sid`` included), 401 when signed out."""
    user = request.state.user
    if user is None:
        return JSONResponse({}, status_code=401)
    return JSONResponse(user.to_dict())


def build_app() -> Starlette:
    return Starlette(routes=[Route("/", home), Route("/userinfo", userinfo), Route("/claims", claims)])


@dataclass
class FrameHit:
    """One request to the front-channel URL, as the server saw it, and its answer."""

    query: dict[str, list[str]]
    cookie_names: list[str]
    sec_fetch_site: str | None
    sec_fetch_dest: str | None
    status: int | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)

    @property
    def session_cookie_sent(self) -> bool:
        return any(name == COOKIE_NAME or name.startswith(f"{COOKIE_NAME}.") for name in self.cookie_names)

    def header_values(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name]


class FrameRecorder:
    """Passes everything to ``app``; records the requests to the front-channel URL."""

    def __init__(self, app: ASGIApp, path: str = FRONTCHANNEL_PATH) -> None:
        self.app = app
        self.path = path
        self.hits: list[FrameHit] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != self.path:
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        cookie_names = [
            part.split("=", 1)[0].strip() for part in headers.get("cookie", "").split(";") if "=" in part
        ]
        hit = FrameHit(
            query=parse_qs(scope["query_string"].decode("latin-1")),
            cookie_names=cookie_names,
            sec_fetch_site=headers.get("sec-fetch-site"),
            sec_fetch_dest=headers.get("sec-fetch-dest"),
        )
        with self._lock:
            self.hits.append(hit)

        async def recording_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                hit.status = message["status"]
                hit.headers = [
                    (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in message.get("headers", [])
                ]
            await send(message)

        await self.app(scope, receive, recording_send)


def session_cookies(cookies: list[Any]) -> list[str]:
    """The names of the app's session cookies among Playwright's cookies."""
    names = [str(cookie["name"]) for cookie in cookies]
    return [name for name in names if name == COOKIE_NAME or name.startswith(f"{COOKIE_NAME}.")]


async def app_claims(page: Page, app_url: str) -> dict[str, Any] | None:
    """``/claims`` in the browser: the session's ID token claims, None when signed out."""
    response = await page.goto(f"{app_url}/claims")
    assert response is not None
    if response.status == 401:
        return None
    assert response.status == 200, await response.text()
    body: dict[str, Any] = await response.json()
    return body


# -- 1. django-oauth-toolkit: sign-in and sign-out -----------------------------------------------


@pytest.fixture(scope="module")
def dot() -> Iterator[DotProvider]:
    """django-oauth-toolkit with the issuer ``{url}/o/`` (trailing slash)."""
    with start_dot_provider(issuer_trailing_slash=True) as running:
        yield running


async def test_sign_in_and_sign_out_at_django_oauth_toolkit(
    page: Page, context: BrowserContext, dot: DotProvider
) -> None:
    """discovery_url alone configures a non-Logto provider whose issuer ends in '/': the
    browser signs in (no offline_access, no prompt asked), userinfo works, and the app's
    sign-out ends the provider session too."""
    assert dot.issuer.endswith("/o/")
    await dot.revoke_all(USERNAME)
    assert await dot.active_sessions(USERNAME) == 0

    with listen("localhost") as listener:
        app_url = listener.url
        client = await dot.register_client(
            redirect_uris=[f"{app_url}/callback"], post_logout_redirect_uris=[f"{app_url}/"]
        )
        config = LogtoConfig(
            discovery_url=dot.discovery_url,
            app_id=client["client_id"],
            app_secret=client["client_secret"],
            cookie_secret=secrets.token_urlsafe(48),
            base_url=app_url,
            scopes=["email"],
        )
        assert not config.is_logto
        with serve(LogtoMiddleware(build_app(), config=config), listener):
            authorize_requests: list[str] = []

            def on_request(request: Request) -> None:
                if request.url.startswith(dot.authorization_endpoint):
                    authorize_requests.append(request.url)

            page.on("request", on_request)

            await page.goto(f"{app_url}/")
            await expect(page.locator("#status")).to_have_text("signed out")
            await page.click("#sign-in")
            await expect(page).to_have_url(re.compile(rf"^{re.escape(dot.url)}/accounts/login/"))
            await page.fill("input[name=username]", USERNAME)
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")
            await expect(page).to_have_url(f"{app_url}/")
            await expect(page.locator("#status")).to_have_text("signed in as alice@example.com")
            assert await dot.active_sessions(USERNAME) == 1

            # The app's redirect, then the same URL again as the login form's ``next``.
            assert authorize_requests and len(set(authorize_requests)) == 1, authorize_requests
            query = parse_qs(urlsplit(authorize_requests[0]).query)
            scope = query["scope"][0].split()
            assert "offline_access" not in scope
            assert {"openid", "profile", "email"} <= set(scope)
            assert "prompt" not in query
            assert query["client_id"] == [client["client_id"]]
            assert query["redirect_uri"] == [f"{app_url}/callback"]
            assert query["code_challenge_method"] == ["S256"]

            response = await page.goto(f"{app_url}/userinfo")
            assert response is not None and response.status == 200
            info = await response.json()
            assert info["name"] == "Alice Liddell"
            assert info["email"] == "alice@example.com"

            await page.goto(f"{app_url}/")
            logouts_before = (await dot.counts()).get("logout", 0)
            await page.click("#sign-out")  # GET /sign-out from the app's own page
            await expect(page).to_have_url(f"{app_url}/")
            await expect(page.locator("#status")).to_have_text("signed out")
            assert (await dot.counts()).get("logout", 0) == logouts_before + 1
            assert await dot.active_sessions(USERNAME) == 0
            assert session_cookies(await context.cookies(app_url)) == []

            await page.reload()
            await expect(page.locator("#status")).to_have_text("signed out")


# -- 2. front-channel logout from a cross-site iframe -------------------------------------------


@pytest.fixture(scope="module")
def npm_provider() -> Iterator[OidcTestProvider]:
    with start_provider() as running:
        yield running


async def provider_page(request: StarletteRequest) -> Response:
    """The provider's logout page, simulated: one iframe per client (here one)."""
    src = request.query_params.get("src", "about:blank")
    return HTMLResponse(
        "<!doctype html><html><head><title>Provider logout</title></head><body>"
        f'<iframe id="frontchannel" src="{escape(src)}" width="300" height="100"></iframe>'
        "</body></html>"
    )


@pytest.fixture(scope="module")
def logout_page_url() -> Iterator[str]:
    """A server on another site than the app: the app is on localhost, this is 127.0.0.1."""
    with (
        listen("127.0.0.1") as listener,
        serve(Starlette(routes=[Route("/", provider_page)]), listener) as url,
    ):
        yield url


@dataclass
class ServedApp:
    url: str
    recorder: FrameRecorder
    config: LogtoConfig


@asynccontextmanager
async def frontchannel_app(provider: OidcTestProvider, **options: Any) -> AsyncIterator[ServedApp]:
    """The test app at ``http://localhost:PORT`` with front-channel logout, its client
    registered with a back-channel logout URI (so that ID tokens carry ``sid``)."""
    with listen("localhost") as listener:
        client_id = f"fcl-{secrets.token_hex(5)}"
        client_secret = secrets.token_urlsafe(24)
        await provider.register_client(
            client_id=client_id,
            client_secret=client_secret,
            redirect_uris=[f"{listener.url}/callback"],
            backchannel_logout_uri=f"{listener.url}/backchannel-logout-unused",
        )
        config = LogtoConfig(
            endpoint=provider.url,
            app_id=client_id,
            app_secret=client_secret,
            cookie_secret=secrets.token_urlsafe(48),
            base_url=listener.url,
            frontchannel_logout_path=FRONTCHANNEL_PATH,
            **options,
        )
        recorder = FrameRecorder(LogtoMiddleware(build_app(), config=config))
        with serve(recorder, listener) as url:
            yield ServedApp(url, recorder, config)


async def sign_in(page: Page, app_url: str, provider: OidcTestProvider) -> str:
    """Signs in through the provider's login form; returns the session's ``sid``."""
    await page.goto(f"{app_url}/")
    await page.click("#sign-in")
    await expect(page).to_have_url(re.compile(rf"^{re.escape(provider.url)}/interaction/"))
    await page.fill('input[name="username"]', USERNAME)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click("#sign-in")
    await expect(page).to_have_url(f"{app_url}/")
    await expect(page.locator("#status")).to_have_text(re.compile(r"^signed in as "))
    session = await app_claims(page, app_url)
    assert session is not None
    sid = session.get("sid")
    assert isinstance(sid, str) and sid, f"the ID token carries no sid: {session}"
    return sid


async def open_logout_page(page: Page, logout_page_url: str, frame_src: str) -> Frame:
    """Loads the cross-site logout page (its load event waits for the iframe); the frame."""
    await page.goto(f"{logout_page_url}/?{urlencode({'src': frame_src})}")
    handle = await page.wait_for_selector("#frontchannel", state="attached")
    assert handle is not None
    frame = await handle.content_frame()
    assert frame is not None
    await frame.wait_for_load_state("load")
    return frame


def frame_src(app: ServedApp, *, iss: str, sid: str) -> str:
    return f"{app.url}{FRONTCHANNEL_PATH}?{urlencode({'iss': iss, 'sid': sid})}"


def assert_framable_answer(hit: FrameHit) -> None:
    """200, the tiny page, nothing forbidding a frame, a cross-site iframe request."""
    assert hit.status == 200, hit
    assert hit.header_values("x-frame-options") == []
    assert all("frame-ancestors" not in csp for csp in hit.header_values("content-security-policy"))
    assert hit.sec_fetch_dest == "iframe"
    assert hit.sec_fetch_site == "cross-site"


@dataclass
class Profile:
    """A Chromium profile: the fresh default one, or one allowing third-party cookies."""

    page: Page
    third_party_cookies: bool

    @property
    def context(self) -> BrowserContext:
        return self.page.context


DEFAULT_PROFILE = "chromium-default"
THIRD_PARTY_ALLOWED = "third-party-cookies-allowed"


@pytest.fixture(params=[DEFAULT_PROFILE, THIRD_PARTY_ALLOWED])
async def profile(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Profile]:
    """Debian's headless chromium, in a fresh profile as Playwright makes it (which blocks
    third-party cookies: Chromium's default), or in a persistent profile whose cookie
    setting is "Allow third-party cookies" (``profile.cookie_controls_mode`` 0)."""
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run `make install` (apt-get install chromium)")
    async with async_playwright() as playwright:
        if request.param == DEFAULT_PROFILE:
            browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            context = await browser.new_context(viewport=VIEWPORT)
        else:
            browser = None
            user_data = tmp_path / "chromium-profile"
            (user_data / "Default").mkdir(parents=True)
            preferences = {"profile": {"cookie_controls_mode": 0}}
            (user_data / "Default" / "Preferences").write_text(json.dumps(preferences), encoding="utf-8")
            context = await playwright.chromium.launch_persistent_context(
                str(user_data), executable_path=executable, args=CHROMIUM_ARGS, viewport=VIEWPORT
            )
        context.set_default_timeout(10_000)
        try:
            page = context.pages[0] if context.pages else await context.new_page()
            yield Profile(page, third_party_cookies=request.param == THIRD_PARTY_ALLOWED)
        finally:
            await context.close()
            if browser is not None:
                await browser.close()


async def test_frontchannel_logout_lax_cookie_session(
    profile: Profile, npm_provider: OidcTestProvider, logout_page_url: str
) -> None:
    """Default cookie session (SameSite=Lax): Chromium sends no cookie to the third-party
    frame (third-party cookies allowed or not), yet the session is refused at its next
    request: the sid is remembered as ended."""
    page, context = profile.page, profile.context
    async with frontchannel_app(npm_provider) as app:
        sid = await sign_in(page, app.url, npm_provider)
        [cookie] = [c for c in await context.cookies(app.url) if c["name"] == COOKIE_NAME]
        assert cookie.get("sameSite") == "Lax"

        frame = await open_logout_page(
            page, logout_page_url, frame_src(app, iss=npm_provider.issuer, sid=sid)
        )
        assert await frame.title() == "Signed out"
        assert len(app.recorder.hits) == 1
        hit = app.recorder.hits[0]
        assert_framable_answer(hit)
        assert hit.query == {"iss": [npm_provider.issuer], "sid": [sid]}
        assert not hit.session_cookie_sent, hit.cookie_names  # Lax: not in a third-party frame
        assert hit.header_values("set-cookie") == []
        # The cookie is still in the browser; the server refuses it.
        assert session_cookies(await context.cookies(app.url)) == [COOKIE_NAME]

        await page.goto(f"{app.url}/")
        await expect(page.locator("#status")).to_have_text("signed out")
        assert await app_claims(page, app.url) is None
        # The refused cookie was cleared by that first request.
        assert session_cookies(await context.cookies(app.url)) == []


async def test_frontchannel_logout_samesite_none_cookie_session(
    profile: Profile, npm_provider: OidcTestProvider, logout_page_url: str
) -> None:
    """cookie_samesite="none" (Secure, which Chromium keeps on http://localhost): the
    third-party frame gets the cookie only where third-party cookies are allowed, and then
    the Set-Cookie clearing it is honoured; either way the next request is signed out."""
    page, context = profile.page, profile.context
    async with frontchannel_app(npm_provider, cookie_samesite="none") as app:
        sid = await sign_in(page, app.url, npm_provider)
        [cookie] = [c for c in await context.cookies(app.url) if c["name"] == COOKIE_NAME]
        assert cookie.get("sameSite") == "None"
        assert cookie.get("secure") is True

        frame = await open_logout_page(
            page, logout_page_url, frame_src(app, iss=npm_provider.issuer, sid=sid)
        )
        assert await frame.title() == "Signed out"
        assert len(app.recorder.hits) == 1
        hit = app.recorder.hits[0]
        assert_framable_answer(hit)
        assert hit.session_cookie_sent is profile.third_party_cookies, hit.cookie_names
        clearing = [v for v in hit.header_values("set-cookie") if v.startswith(f"{COOKIE_NAME}=")]
        if profile.third_party_cookies:
            assert len(clearing) == 1 and "Max-Age=0" in clearing[0], hit.headers
            assert "SameSite=None" in clearing[0] and "Secure" in clearing[0]
            # Honoured: the browser dropped the cookie while still on the provider's page.
            assert session_cookies(await context.cookies(app.url)) == []
        else:
            assert clearing == []
            assert session_cookies(await context.cookies(app.url)) == [COOKIE_NAME]

        await page.goto(f"{app.url}/")
        await expect(page.locator("#status")).to_have_text("signed out")
        assert await app_claims(page, app.url) is None
        assert session_cookies(await context.cookies(app.url)) == []


async def test_frontchannel_logout_memory_store_ends_server_side_session(
    page: Page, npm_provider: OidcTestProvider, logout_page_url: str
) -> None:
    """MemoryStore: the server-side session indexed under the sid is deleted although the
    frame got no cookie; the next request of the browser is signed out."""
    store = MemoryStore()
    async with frontchannel_app(npm_provider, store=store) as app:
        sid = await sign_in(page, app.url, npm_provider)
        entries_signed_in = len(store)
        assert entries_signed_in > 0

        frame = await open_logout_page(
            page, logout_page_url, frame_src(app, iss=npm_provider.issuer, sid=sid)
        )
        assert await frame.title() == "Signed out"
        assert len(app.recorder.hits) == 1
        hit = app.recorder.hits[0]
        assert_framable_answer(hit)
        assert not hit.session_cookie_sent, hit.cookie_names
        assert len(store) < entries_signed_in  # the session (and its sid index entry) are gone

        await page.goto(f"{app.url}/")
        await expect(page.locator("#status")).to_have_text("signed out")
        assert await app_claims(page, app.url) is None


@pytest.mark.parametrize(
    ("samesite", "profile"),
    [("lax", DEFAULT_PROFILE), ("none", DEFAULT_PROFILE), ("none", THIRD_PARTY_ALLOWED)],
    indirect=["profile"],
)
async def test_frontchannel_logout_forged_frames_sign_nobody_out(
    profile: Profile, npm_provider: OidcTestProvider, logout_page_url: str, samesite: str
) -> None:
    """A frame naming another issuer (or the issuer with a '/' added) gets 400; one naming
    another sid ends nothing, even when the cookie comes along: the user stays signed in."""
    page, context = profile.page, profile.context
    async with frontchannel_app(npm_provider, cookie_samesite=samesite) as app:
        sid = await sign_in(page, app.url, npm_provider)
        cookie_sent = samesite == "none" and profile.third_party_cookies

        forged = [
            frame_src(app, iss=f"{npm_provider.url}/other-issuer", sid=sid),
            frame_src(app, iss=f"{npm_provider.issuer}/", sid=sid),
            frame_src(app, iss=npm_provider.issuer, sid=f"{sid}-forged"),
        ]
        for src in forged:
            await open_logout_page(page, logout_page_url, src)
        wrong_iss, slash_iss, wrong_sid = app.recorder.hits
        assert wrong_iss.status == 400, wrong_iss
        assert slash_iss.status == 400, slash_iss
        assert wrong_sid.status == 200, wrong_sid
        for hit in app.recorder.hits:
            assert hit.session_cookie_sent is cookie_sent, hit.cookie_names
            assert [v for v in hit.header_values("set-cookie") if v.startswith(f"{COOKIE_NAME}=")] == []
        assert session_cookies(await context.cookies(app.url)) == [COOKIE_NAME]

        session = await app_claims(page, app.url)
        assert session is not None and session["sid"] == sid
        await page.goto(f"{app.url}/")
        await expect(page.locator("#status")).to_have_text(re.compile(r"^signed in as "))

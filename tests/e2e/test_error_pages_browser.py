"""The error pages as a person sees them: headless Chromium, a tiny ASGI app under uvicorn
that answers each ``LogtoError`` with the built-in renderer (and a French one).

Each page is checked for what it says, its link, its developers' details and its style
sheet surviving the page's own ``Content-Security-Policy``; a screenshot of each goes to
the test's temporary directory, and to ``$LOGTO_SCREENSHOTS`` when that is set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.async_api import ConsoleMessage, Page, expect
from starlette.types import Receive, Scope, Send

from logto_asgi._http import send_response
from logto_asgi.boundary import ErrorRenderer, render_error, renderer_for, send_error
from logto_asgi.errors import (
    InsufficientScope,
    LogtoError,
    NotAuthenticated,
    ProviderError,
    ProviderTimeout,
    ProviderUnavailable,
    TransactionError,
)
from logto_asgi.messages import Messages, PageText, sign_out_page
from logto_asgi.sign_out_guard import PAGE_HEADERS
from support.server import serve

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

FRENCH = Messages(
    language="fr",
    pages={
        "503": PageText("Le service de connexion est injoignable", "Réessayez dans une minute."),
        "default": PageText("Une erreur est survenue", "Réessayez plus tard."),
    },
    try_again="Réessayer",
    details="Détails pour les développeurs",
    error_code="Code d'erreur",
    sign_out_title="Se déconnecter ?",
    sign_out_sentence="Un autre site demande à vous déconnecter de cette application.",
    sign_out_button="Se déconnecter",
    sign_out_cancel="Rester connecté",
)

#: path: (error, link the caller passes, renderer)
ERRORS: dict[str, tuple[LogtoError, tuple[str, str] | None, ErrorRenderer]] = {
    "/401": (
        NotAuthenticated("sign in, or send an access token, to use this route"),
        ("/sign-in?return_to=%2F401", "Sign in"),
        render_error,
    ),
    "/403": (
        InsufficientScope("this route needs the scope(s) write:orders", scopes=["write:orders"]),
        None,
        render_error,
    ),
    "/callback": (
        TransactionError(
            "this sign-in link is not for a sign-in started here, was already used, or expired: start again"
        ),
        ("/sign-in", "Sign in again"),
        render_error,
    ),
    "/503": (
        ProviderUnavailable("the provider could not be reached for the discovery request", retry_after=4),
        None,
        render_error,
    ),
    "/502": (
        ProviderError("the discovery document's issuer 'https://evil.example' is not the expected one"),
        None,
        render_error,
    ),
    "/504": (
        ProviderTimeout("the provider did not answer the token refresh request in time"),
        None,
        render_error,
    ),
    "/fr/503": (
        ProviderUnavailable("the provider could not be reached", retry_after=4),
        None,
        renderer_for(FRENCH),
    ),
}


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/sign-out":
        page = sign_out_page(FRENCH, action="/sign-out", name="csrf_token", token="t0k3n", cancel="/")
        await send_response(send, 200, page, content_type=b"text/html; charset=utf-8", headers=PAGE_HEADERS)
        return
    exc, link, renderer = ERRORS.get(scope["path"], (NotAuthenticated("?"), None, render_error))
    await send_error(scope, send, exc, link=link, renderer=renderer)


@pytest.fixture(scope="module")
def pages_url() -> Iterator[str]:
    with serve(app, lifespan="off") as url:
        yield url


@pytest.fixture
def shots(tmp_path: Path) -> Iterator[Path]:
    """Where screenshots go; copied to ``$LOGTO_SCREENSHOTS`` afterwards when set."""
    yield tmp_path
    target = os.environ.get("LOGTO_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        for shot in tmp_path.glob("*.png"):
            shutil.copy(shot, Path(target) / shot.name)


def policy_violations(page: Page) -> list[str]:
    """Console messages about refused resources (a CSP that blocks the style sheet)."""
    found: list[str] = []

    def note(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text or "Refused" in message.text:
            found.append(message.text)

    page.on("console", note)
    return found


async def assert_styled(page: Page) -> None:
    """The inline style sheet applied (the page's policy allows it by hash)."""
    border = await page.locator("main").evaluate("el => getComputedStyle(el).borderTopWidth")
    assert border == "4px"


PAGES = [
    ("/401", 401, "You need to sign in", "Sign in", "/sign-in?return_to=%2F401"),
    ("/403", 403, "You don't have access to this page", None, None),
    ("/callback?code=x&state=y", 400, "Sign-in didn't complete", "Start again", "/sign-in"),
    ("/503?q=%3Cb%3E", 503, "We can't reach the sign-in service right now", "Try again", "/503?q=%3Cb%3E"),
    ("/502", 502, "The sign-in service isn't working right now", "Try again", "/502"),
    ("/504", 504, "The sign-in service is taking too long to respond", "Try again", "/504"),
    ("/fr/503", 503, "Le service de connexion est injoignable", "Réessayer", "/fr/503"),
]


@pytest.mark.parametrize(("path", "status", "headline", "label", "href"), PAGES)
async def test_error_page_in_chromium(
    page: Page,
    pages_url: str,
    shots: Path,
    path: str,
    status: int,
    headline: str,
    label: str | None,
    href: str | None,
) -> None:
    """What a person sees: the headline, one link where it helps, the details folded."""
    violations = policy_violations(page)
    response = await page.goto(f"{pages_url}{path}")
    assert response is not None and response.status == status
    assert response.headers["cache-control"] == "no-store"
    await expect(page.locator("h1")).to_have_text(headline)
    await expect(page).to_have_title(headline)
    buttons = page.locator("a.button")
    if label is None:
        await expect(buttons).to_have_count(0)
    else:
        await expect(buttons).to_have_text(label)
        assert await buttons.get_attribute("href") == href
    code = page.locator("details code")
    await expect(code).to_be_hidden()
    await assert_styled(page)
    name = path.strip("/").split("?")[0].replace("/", "-")
    await page.screenshot(path=str(shots / f"error-{name}.png"), full_page=True)
    await page.locator("summary").click()
    await expect(code).to_be_visible()
    await page.screenshot(path=str(shots / f"error-{name}-details.png"), full_page=True)
    assert violations == []


async def test_the_retry_link_loads_the_page_again(page: Page, pages_url: str) -> None:
    await page.goto(f"{pages_url}/503?tab=2")
    await page.locator("a.button").click()
    await expect(page).to_have_url(f"{pages_url}/503?tab=2")
    assert (await page.reload()) is not None


async def test_a_narrow_screen(page: Page, pages_url: str, shots: Path) -> None:
    """A phone-sized window: the card fits, nothing scrolls sideways."""
    await page.set_viewport_size({"width": 360, "height": 640})
    await page.goto(f"{pages_url}/callback")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360
    await page.screenshot(path=str(shots / "error-callback-narrow.png"), full_page=True)


async def test_the_sign_out_confirmation_in_chromium(page: Page, pages_url: str, shots: Path) -> None:
    """The confirmation page, French table, under its own policy."""
    violations = policy_violations(page)
    await page.goto(f"{pages_url}/sign-out")
    await expect(page.locator("h1")).to_have_text("Se déconnecter ?")
    await expect(page.locator("button")).to_have_text("Se déconnecter")
    await expect(page.locator("form a")).to_have_text("Rester connecté")
    await assert_styled(page)
    await page.screenshot(path=str(shots / "sign-out-confirmation.png"), full_page=True)
    assert violations == []


async def test_dark_mode(page: Page, pages_url: str, shots: Path) -> None:
    """With a dark color scheme the page turns dark too (light text on a dark card)."""
    await page.emulate_media(color_scheme="dark")
    await page.goto(f"{pages_url}/503")
    background = await page.locator("main").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(22, 27, 34)"
    await page.screenshot(path=str(shots / "error-503-dark.png"), full_page=True)

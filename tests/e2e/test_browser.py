"""Sign-in and sign-out in headless Chromium: the Starlette example, uvicorn, the provider."""

from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, Page, expect

from support.provider import OidcTestProvider

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

USERNAME, PASSWORD = "alice", "alice-password"


async def log_in_at_provider(page: Page, provider: OidcTestProvider) -> None:
    """Fill the provider's login form (the browser must be on it)."""
    await expect(page).to_have_url(re.compile(rf"^{re.escape(provider.url)}/interaction/"))
    await page.fill('input[name="username"]', USERNAME)
    await page.fill('input[name="password"]', PASSWORD)
    await page.click("#sign-in")


async def test_sign_in_pages_and_sign_out(
    page: Page, context: BrowserContext, example_url: str, e2e_provider: OidcTestProvider
) -> None:
    """A protected page sends the browser to the provider and back; sign-out ends both sessions."""
    await page.goto(f"{example_url}/protected")
    await log_in_at_provider(page, e2e_provider)
    await expect(page).to_have_url(f"{example_url}/protected")
    await expect(page.locator("#id-token-claims")).to_contain_text("Alice Liddell")
    await expect(page.locator("#id-token-claims")).to_contain_text("user-alice")

    await page.goto(f"{example_url}/protected/userinfo")
    await expect(page.locator("#custom-data")).to_contain_text('"plan": "pro"')
    await expect(page.locator("#identities")).to_contain_text("github")
    await expect(page.locator("#organization-data")).to_contain_text("Acme Corp")

    await page.goto(f"{example_url}/protected/api-token")
    claims = page.locator("#api-token-claims")
    await expect(claims).to_contain_text("https://shopping.example.com/api")
    await expect(claims).to_contain_text("shopping:write")

    await page.goto(f"{example_url}/protected/organizations")
    acme = page.locator("#org-org-acme")
    await expect(acme).to_contain_text("urn:logto:organization:org-acme")
    await expect(acme).to_contain_text("invite:members")  # alice is an admin of Acme
    await expect(page.locator("#org-org-globex")).to_contain_text("urn:logto:organization:org-globex")

    await page.goto(f"{example_url}/")
    await page.click("#sign-out")  # POST /sign-out → provider's self-submitting logout form → back
    await expect(page).to_have_url(f"{example_url}/")
    await expect(page.locator("main")).to_contain_text("Not authenticated")
    assert not [c for c in await context.cookies(example_url) if c["name"].startswith("logto")]

    await page.goto(f"{example_url}/protected")  # the provider session ended too: login form again
    await expect(page).to_have_url(re.compile(rf"^{re.escape(e2e_provider.url)}/interaction/"))
    await expect(page.locator('input[name="password"]')).to_be_visible()


async def test_signed_in_home_page_screenshot(
    page: Page, example_url: str, e2e_provider: OidcTestProvider, tmp_path: Path
) -> None:
    """The signed-in home page shows the user's name, picture and a sign-out button."""
    await page.goto(f"{example_url}/")
    await expect(page.locator("main")).to_contain_text("Not authenticated")
    await page.locator("main").get_by_role("link", name="Sign in").click()
    await log_in_at_provider(page, e2e_provider)
    await expect(page).to_have_url(f"{example_url}/")

    await expect(page.locator("#user-name")).to_have_text("Alice Liddell")
    picture = page.locator(".hero img.avatar-img")
    await expect(picture).to_be_visible()
    assert await picture.evaluate("img => img.complete && img.naturalWidth > 0")
    await expect(page.locator("#sign-out")).to_be_visible()
    await expect(page.locator(".hero")).to_contain_text("Authenticated")

    shot = tmp_path / "home-signed-in.png"
    await page.screenshot(path=str(shot), full_page=True)
    width, height, distinct = png_summary(shot.read_bytes())
    assert page.viewport_size is not None and width == page.viewport_size["width"]
    assert height >= 300
    assert distinct > 16, "the screenshot is (nearly) one flat colour"


def png_summary(data: bytes) -> tuple[int, int, int]:
    """Width, height and the number of distinct byte values of the pixel data of a PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    assert len(data) > 5_000, f"suspiciously small PNG ({len(data)} bytes)"
    offset, width, height, idat = 8, 0, 0, b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        offset += 12 + length
    return width, height, len(set(zlib.decompress(idat)))

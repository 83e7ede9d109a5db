"""How the e2e tests launch Debian's chromium (through Playwright, never a downloaded one)."""

from __future__ import annotations

from playwright.async_api import ViewportSize

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT: ViewportSize = {"width": 1100, "height": 760}

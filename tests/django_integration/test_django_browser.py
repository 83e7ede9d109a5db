"""Headless Chromium against the test Django project: sign-in and sign-out through the
test provider's pages, ``{{ user }}`` in the template, the admin as staff and non-staff."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import BrowserContext, Page, expect

from support.provider import OidcTestProvider

from .launcher import PASSWORDS, DjangoSite

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]


async def log_in_at_provider(page: Page, provider: OidcTestProvider, username: str) -> None:
    """Fill the provider's login form (the browser must be on it)."""
    await expect(page).to_have_url(re.compile(rf"^{re.escape(provider.url)}/interaction/"))
    await page.fill('input[name="username"]', username)
    await page.fill('input[name="password"]', PASSWORDS[username])
    await page.click("#sign-in")


async def test_sign_in_and_out_in_chromium(
    page: Page, context: BrowserContext, lightweight_site: DjangoSite, e2e_provider: OidcTestProvider
) -> None:
    """``@login_required`` → the provider → back; the template names the user; sign-out ends it."""
    url = lightweight_site.url
    await page.goto(f"{url}/login-required-sync")
    await log_in_at_provider(page, e2e_provider, "alice")
    await expect(page).to_have_url(f"{url}/login-required-sync")
    await expect(page.locator("body")).to_have_text("sync page of user-alice")

    await page.goto(f"{url}/")
    await expect(page.locator("#user")).to_have_text("user-alice")
    await expect(page.locator("#full-name")).to_have_text("Alice Liddell")
    await page.click("#sign-out")  # POST /sign-out (answered before Django) → provider → back
    await expect(page).to_have_url(f"{url}/")
    await expect(page.locator("#user")).to_have_text("anonymous")
    assert not [c for c in await context.cookies(url) if c["name"].startswith("logto")]

    await page.goto(f"{url}/login-required-async")  # the provider's session ended too
    await expect(page).to_have_url(re.compile(rf"^{re.escape(e2e_provider.url)}/interaction/"))


async def test_admin_as_staff(
    page: Page, context: BrowserContext, database_site: DjangoSite, e2e_provider: OidcTestProvider
) -> None:
    """A user holding the staff role opens the admin (200) and, by the mapped permission, its user list."""
    url = database_site.url
    await page.goto(f"{url}/sign-in?return_to=/admin/")
    await log_in_at_provider(page, e2e_provider, "alice")
    await expect(page).to_have_url(f"{url}/admin/")
    await expect(page.locator("#site-name")).to_contain_text("Django administration")
    await expect(page.locator("#user-tools")).to_contain_text("Alice")
    index = await context.request.get(f"{url}/admin/", max_redirects=0)
    assert index.status == 200

    users = await page.goto(f"{url}/admin/auth/user/")
    assert users is not None and users.status == 200  # auth.view_user, from LOGTO_DJANGO permissions
    await expect(page.locator("#result_list")).to_contain_text("alice")
    delete = await context.request.get(f"{url}/admin/auth/user/1/delete/", max_redirects=0)
    assert delete.status == 403  # auth.delete_user is not mapped: Django's own refusal


async def test_admin_refuses_non_staff(
    page: Page, context: BrowserContext, database_site: DjangoSite, e2e_provider: OidcTestProvider
) -> None:
    """A signed-in user without the staff role gets Django's 302 to the admin login, which says so."""
    url = database_site.url
    await page.goto(f"{url}/sign-in?return_to=/whoami-sync")
    await log_in_at_provider(page, e2e_provider, "bob")
    await expect(page).to_have_url(f"{url}/whoami-sync")
    admin = await context.request.get(f"{url}/admin/", max_redirects=0)
    assert admin.status == 302 and admin.headers["location"] == "/admin/login/?next=/admin/"
    await page.goto(f"{url}/admin/")
    await expect(page.locator("#content-main, .errornote").first).to_contain_text(
        "You are authenticated as bob, but are not authorized to access this page"
    )

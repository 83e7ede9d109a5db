"""The test provider, Chromium, and the test Django project in both user modes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from e2e.conftest import browser, context, e2e_provider, page
from support.provider import OidcTestProvider

from .launcher import DjangoSite, run_site

__all__ = ["browser", "context", "database_site", "e2e_provider", "lightweight_site", "page"]


@pytest.fixture(scope="session")
def lightweight_site(e2e_provider: OidcTestProvider) -> Iterator[DjangoSite]:
    """The project with ``LOGTO_DJANGO = {"users": "lightweight"}``."""
    with run_site(e2e_provider, users="lightweight") as site:
        yield site


@pytest.fixture(scope="session")
def database_site(e2e_provider: OidcTestProvider) -> Iterator[DjangoSite]:
    """The project with ``LOGTO_DJANGO = {"users": "database"}`` and ``on_sign_in=sync_user``."""
    with run_site(e2e_provider, users="database") as site:
        yield site


@pytest.fixture(params=["lightweight", "database"])
def site(request: pytest.FixtureRequest) -> DjangoSite:
    """Each user mode in turn."""
    found: DjangoSite = request.getfixturevalue(f"{request.param}_site")
    return found

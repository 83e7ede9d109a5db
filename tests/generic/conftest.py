"""The django-oauth-toolkit provider, started once for the tests of this folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.dot import DotProvider, start_dot_provider


@pytest.fixture(scope="session")
def dot_provider() -> Iterator[DotProvider]:
    """django-oauth-toolkit 3 on Django 5.2 (issuer ``{url}/o``, RS256), on a free loopback port."""
    with start_dot_provider() as running:
        yield running

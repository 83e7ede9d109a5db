"""The startup check runs for Django, which does not speak lifespan: ``LogtoMiddleware``
holds the conversation itself, for Django alone and for a Channels router."""

from __future__ import annotations

from support.provider import OidcTestProvider

from .launcher import DjangoSite, run_site


def test_startup_check_logged_for_channels_router(lightweight_site: DjangoSite) -> None:
    """Under uvicorn, the ProtocolTypeRouter app logs ``logto-asgi ready`` with the provider's issuer."""
    output = lightweight_site.wait_for_output("logto-asgi ready: issuer ")
    assert "lifespan" not in output  # no "ASGI 'lifespan' protocol appears unsupported" from uvicorn


def test_startup_check_logged_for_plain_django(e2e_provider: OidcTestProvider) -> None:
    """``LogtoMiddleware(get_asgi_application())`` under uvicorn logs ``logto-asgi ready`` too."""
    with run_site(e2e_provider, users="lightweight", target="plain_application", migrate=False) as site:
        output = site.wait_for_output("logto-asgi ready: issuer ")
        assert f"issuer {e2e_provider.issuer}" in output

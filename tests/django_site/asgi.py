"""The ASGI entry points, as the Django page of the docs writes them.

``application``: Django for HTTP and a Channels consumer for websockets, under one
``LogtoMiddleware``; ``plain_application``: Django alone (no Channels), for the startup
check of a bare Django app. Both are configured from ``LOGTO_*`` variables; database
mode (``DJANGO_SITE_USERS=database``) syncs the user's row at sign-in.

The provider connection goes through ``FAULTS`` (``support.faults.FaultyTransport``),
which the test-only view ``/__faults__/<name>`` switches: the only mock, for a provider
outage a real provider cannot be made to have on demand.
"""

from __future__ import annotations

import os

import httpx
from channels.routing import ProtocolTypeRouter, URLRouter
from django.core.asgi import get_asgi_application
from django.urls import path

from logto_asgi import LogtoConfig, LogtoMiddleware, UserInfoScope
from support.faults import FaultyTransport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_site.settings")
django_application = get_asgi_application()

# After Django's setup: these import models.
from logto_asgi.django import LogtoChannelsMiddleware, sync_user  # noqa: E402

from .consumers import WhoAmIConsumer  # noqa: E402

SHOPPING = "https://shopping.example.com/api"
FAULTS = FaultyTransport()


def config() -> LogtoConfig:
    database = os.environ.get("DJANGO_SITE_USERS") == "database"
    return LogtoConfig.from_env(
        scopes=[UserInfoScope.email, UserInfoScope.roles, "shopping:read", "shopping:write"],
        resources=[SHOPPING],
        on_sign_in=sync_user if database else None,
        http_client=httpx.AsyncClient(transport=FAULTS, timeout=10),
    )


application = LogtoMiddleware(
    ProtocolTypeRouter(
        {
            "http": django_application,
            "websocket": LogtoChannelsMiddleware(URLRouter([path("ws/whoami/", WhoAmIConsumer.as_asgi())])),
        }
    ),
    config=config(),
)

plain_application = LogtoMiddleware(get_asgi_application(), config=config())

"""Channels: ``self.scope["user"]`` in a consumer is the same user a view sees.

``LogtoMiddleware`` wraps the whole ``ProtocolTypeRouter`` (it reads the session of
websocket handshakes too); ``LogtoChannelsMiddleware`` wraps the websocket router, in
place of Channels' ``AuthMiddlewareStack``::

    application = LogtoMiddleware(
        ProtocolTypeRouter({
            "http": get_asgi_application(),
            "websocket": LogtoChannelsMiddleware(URLRouter(websocket_urlpatterns)),
        }),
        config=config,
    )

``scope["user"]`` is a ``LogtoDjangoUser`` (lightweight mode), the linked ``User`` row
(database mode, read through ``database_sync_to_async``), or ``AnonymousUser``.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from starlette.types import ASGIApp, Receive, Scope, Send

from .conf import options
from .database import get_linked_user
from .identity import logto_context
from .users import LogtoDjangoUser

__all__ = ["LogtoChannelsMiddleware"]


async def scope_user(scope: Scope) -> Any:
    """The Django user of a connection's scope."""
    from django.contrib.auth.models import AnonymousUser  # noqa: PLC0415 - needs Django's apps ready

    ctx = logto_context(scope)
    claims = ctx.user if ctx is not None and ctx.is_authenticated else None
    if claims is None:
        return AnonymousUser()
    opts = options()
    if not opts.database:
        return LogtoDjangoUser(claims, opts)
    return await database_sync_to_async(get_linked_user)(claims) or AnonymousUser()


class LogtoChannelsMiddleware:
    """Fills ``scope["user"]`` of Channels connections from the Logto session."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("websocket", "http"):
            scope = dict(scope)  # Channels' habit: changes do not go upstream
            scope["user"] = await scope_user(scope)
        await self.inner(scope, receive, send)

"""The ASGI lifespan conversation, passed through with our own startup and shutdown.

Some apps do not speak lifespan: Django's ``ASGIHandler`` raises at once, Channels'
``ProtocolTypeRouter`` has no route for it, a bare ASGI function may just return. Servers
in their default mode then carry on without lifespan, and our startup check would never
run. So when the app leaves the conversation before reading its first message, we hold
the conversation ourselves: startup (our check), then shutdown (our cleanup).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("logto_asgi")


async def run_lifespan(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    on_startup: Callable[[], Awaitable[None]],
    on_shutdown: Callable[[], Awaitable[None]],
) -> None:
    """Pass the lifespan conversation through, running our own startup before the app's
    and our cleanup once the app has shut down; hold it ourselves if the app won't."""
    received = False

    async def receive_wrapper() -> Message:
        nonlocal received
        received = True
        message = await receive()
        if message["type"] == "lifespan.startup":
            await on_startup()
        return message

    async def send_wrapper(message: Message) -> None:
        if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            await on_shutdown()
        await send(message)

    try:
        await app(scope, receive_wrapper, send_wrapper)
    except Exception as exc:
        if received:
            raise
        # The app refused lifespan before it began (Django: "can only handle ASGI/HTTP").
        logger.debug("the app does not speak lifespan (%s): logto-asgi holds it", type(exc).__name__)
    else:
        if received:
            return
    await _hold(receive, send, on_startup=on_startup, on_shutdown=on_shutdown)


async def _hold(
    receive: Receive,
    send: Send,
    *,
    on_startup: Callable[[], Awaitable[None]],
    on_shutdown: Callable[[], Awaitable[None]],
) -> None:
    """The lifespan conversation for an app that has none: our startup and shutdown only."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await on_startup()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await on_shutdown()
            await send({"type": "lifespan.shutdown.complete"})
            return

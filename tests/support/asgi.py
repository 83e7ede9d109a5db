"""Drive raw ASGI websocket and lifespan conversations without a server."""

from __future__ import annotations

from typing import Any

import anyio
from starlette.types import ASGIApp, Message


async def websocket_session(
    app: ASGIApp, path: str, *, headers: list[tuple[bytes, bytes]] | None = None
) -> list[Message]:
    """Connect, let the app run to completion, return what it sent."""
    inbox: list[Message] = [{"type": "websocket.connect"}]
    sent: list[Message] = []

    async def receive() -> Message:
        if inbox:
            return inbox.pop(0)
        await anyio.sleep(0.01)
        return {"type": "websocket.disconnect", "code": 1000}

    async def send(message: Message) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "scheme": "ws",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"app.test"), *(headers or [])],
        "client": ("127.0.0.1", 1),
        "server": ("app.test", 80),
        "subprotocols": [],
    }
    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


async def lifespan(app: ASGIApp) -> list[str]:
    """Run startup then shutdown; return the message types the app sent."""
    inbox: list[Message] = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> Message:
        return inbox.pop(0)

    async def send(message: Message) -> None:
        sent.append(message["type"])

    with anyio.fail_after(15):
        await app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, receive, send)
    return sent

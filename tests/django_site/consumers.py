"""A websocket consumer that tells who ``self.scope["user"]`` is."""

# mypy: allow-subclassing-any

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer


class WhoAmIConsumer(AsyncJsonWebsocketConsumer):
    """Accepts, sends the user's identity once, and waits for the client to close."""

    async def connect(self) -> None:
        user: Any = self.scope["user"]
        await self.accept()
        await self.send_json(
            {
                "is_authenticated": bool(user.is_authenticated),
                "username": user.get_username() if user.is_authenticated else "",
                "kind": type(user).__name__,
                "is_staff": bool(getattr(user, "is_staff", False)),
            }
        )

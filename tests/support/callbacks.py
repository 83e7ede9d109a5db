"""Catch the provider's redirect to the app's callback, to replay or alter it."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class CatchCallback:
    """Passes everything to the app but the first callback, which it only records."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.query: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/callback" and self.query is None:
            self.query = scope["query_string"]
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)

"""Fault injection for the provider connection: a transport that forwards to the real
provider until told to fail. Only for faults a real provider cannot be made to produce
on demand (refused connections, timeouts, garbage bodies)."""

from __future__ import annotations

from collections.abc import Callable

import httpx


class FaultyTransport(httpx.AsyncBaseTransport):
    """Forwards to the real network; ``fault`` (when set) answers instead, per request."""

    def __init__(self) -> None:
        self._real = httpx.AsyncHTTPTransport()
        self.fault: Callable[[httpx.Request], httpx.Response] | None = None
        #: Only requests whose path ends with this suffix get the fault ("" = all).
        self.fault_path = ""
        self.requests: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.fault is not None and request.url.path.endswith(self.fault_path):
            return self.fault(request)
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


def refuse(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def time_out(request: httpx.Request) -> httpx.Response:
    raise httpx.ReadTimeout("timed out", request=request)


def server_error(request: httpx.Request) -> httpx.Response:
    return httpx.Response(500, text="Internal Server Error")

"""What every target shares: the ``Target`` record, the coroutine driver, one raw ASGI
request, and the checks every response must pass.

Why a hand-driven coroutine: the code under test is async, but for these inputs it never
waits on I/O (the provider is an ``httpx.MockTransport``, the stores are in memory), so a
coroutine runs to completion with ``send(None)`` at about a microsecond, where an event
loop per input costs tens. ``python -m fuzz`` runs libFuzzer from inside a running
asyncio loop so that anyio's checkpoints and locks (which ask for the current task) work;
a checkpoint's bare ``yield`` is resumed at once, and a coroutine that waits on a real
future is a harness error, reported as a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.types import Receive, Scope, Send

T = TypeVar("T")

Headers = list[tuple[bytes, bytes]]
#: ``custom_mutator(data, max_size, seed) -> data`` (libFuzzer's LLVMFuzzerCustomMutator).
Mutator = Callable[[bytes, int, int], bytes]


class HarnessError(AssertionError):
    """The target broke a rule of the harness (or an invariant): always a crash."""


@dataclass(frozen=True)
class Target:
    """One fuzz target: what runs per input, its seeds, and an optional mutator that
    knows the input's structure (decrypt, mutate the plaintext, re-encrypt)."""

    name: str
    test_one_input: Callable[[bytes], None]
    seeds: Callable[[], Iterable[bytes]]
    mutator: Mutator | None = None
    #: libFuzzer's ``-max_len``: the largest input it generates.
    max_len: int = 4096


def complete(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end without handing it to the event loop (see the module
    docstring); ``HarnessError`` if it waits on anything but a checkpoint."""
    try:
        while True:
            waited = coro.send(None)
            if waited is not None:
                coro.close()
                raise HarnessError(f"the code under test waited on {waited!r}: not sans-I/O here")
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


@dataclass
class Answer:
    """A raw ASGI response."""

    status: int
    headers: Headers
    body: bytes

    def header(self, name: bytes) -> str | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value.decode("latin-1")
        return None

    def header_list(self, name: bytes) -> list[str]:
        return [value.decode("latin-1") for key, value in self.headers if key.lower() == name]


def http_scope(
    path: str, *, query: bytes = b"", headers: Iterable[tuple[bytes, bytes]] = (), method: str = "GET"
) -> dict[str, Any]:
    """A scope for ``path``: anything may go in the query string and the headers."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "https",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"app.fuzz.test"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("app.fuzz.test", 443),
    }


async def _call(app: Any, scope: dict[str, Any], body: bytes) -> Answer:
    sent: list[Mapping[str, Any]] = []
    received = False

    async def receive() -> dict[str, Any]:
        nonlocal received
        if received:
            return {"type": "http.disconnect"}
        received = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    starts = [m for m in sent if m["type"] == "http.response.start"]
    if len(starts) != 1:
        raise HarnessError(f"{len(starts)} http.response.start messages for one request")
    answer = Answer(
        starts[0]["status"],
        list(starts[0].get("headers", [])),
        b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"),
    )
    check_headers(answer.headers)
    return answer


def request(app: Any, scope: dict[str, Any], body: bytes = b"") -> Answer:
    """Serve ``scope`` (and its request ``body``) with ``app``: exactly one response,
    every header clean."""
    return complete(_call(app, scope, body))


def check_headers(headers: Iterable[tuple[bytes, bytes]]) -> None:
    """No response header name or value may carry CR, LF or NUL (response splitting),
    and each must be bytes (an ASGI server would refuse anything else)."""
    for name, value in headers:
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise HarnessError(f"a response header is not bytes: {name!r}: {value!r}")
        for forbidden in (b"\r", b"\n", b"\x00"):
            if forbidden in name or forbidden in value:
                raise HarnessError(f"CR/LF/NUL in a response header: {name!r}: {value!r}")


async def ok_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The app behind the middleware: reads what a handler would read, answers 200."""
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        # What a handler does with a signed-in user: every lazy view must hold up.
        str(user.display_name)
        tuple(scope["auth"].scopes)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


class _FormatEveryRecord(logging.Handler):
    """Formats each log record (a bad ``%`` format or a hostile ``repr`` must surface as
    a crash, not hide in an unread log) and drops it: millions of lines would cost more
    than the code under test."""

    def emit(self, record: logging.LogRecord) -> None:
        # Deliberately no try/except (``logging`` would print and swallow the error).
        self.format(record)


def quiet_logs() -> None:
    """Route ``logto_asgi``'s log records to ``_FormatEveryRecord`` only."""
    logger = logging.getLogger("logto_asgi")
    logger.handlers[:] = [_FormatEveryRecord()]
    logger.setLevel(logging.DEBUG)
    logger.propagate = False

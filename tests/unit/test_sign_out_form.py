"""The sign-out confirmation form reader: the body limit is exact and chunked bodies are
read to their end."""

from __future__ import annotations

from typing import Any

import pytest

from logto_asgi.sign_out_guard import MAX_FORM, read_form

pytestmark = pytest.mark.anyio


def receiver(*chunks: bytes) -> Any:
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    return receive


async def test_a_body_of_exactly_the_limit_is_read() -> None:
    """MAX_FORM bytes are read; one more is not."""
    body = b"csrf_token=" + b"t" * (MAX_FORM - len(b"csrf_token="))
    assert (await read_form(receiver(body)))["csrf_token"] == "t" * (MAX_FORM - 11)
    assert await read_form(receiver(body + b"t")) == {}


async def test_a_chunked_body_is_read_to_its_end() -> None:
    """A form sent in several messages is joined before parsing."""
    assert await read_form(receiver(b"csrf_to", b"ken=abc", b"&x=1")) == {"csrf_token": "abc", "x": "1"}


async def test_a_disconnect_is_no_form() -> None:
    """The client went away mid-body: nothing read."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"csrf", "more_body": True},
        {"type": "http.disconnect"},
    ]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    assert await read_form(receive) == {}

"""Structure-aware mutations: libFuzzer's byte mutations, and JSON mutations that change
one node's type or value, drop or add a member.

A byte flip in an encrypted cookie or a signed token only ever tests the MAC check. The
targets' mutators therefore decrypt (or decode) what they can, mutate the plaintext with
these, and re-encrypt (or re-sign) it, so the code *behind* the cryptography — the
session and transaction decoders, the claim checks — sees hostile data too.
"""

from __future__ import annotations

import json
import random
from typing import Any

import atheris

#: Values that break type assumptions: wrong types, huge and non-finite numbers, edges.
_ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    1,
    2**31,
    2**63,
    10**400,
    -(10**400),
    1e308,
    float("inf"),
    float("-inf"),
    float("nan"),
    0.5,
    "",
    " ",
    "a",
    "\x00",
    "\r\nSet-Cookie: x=1",
    "\ud800",
    "/",
    "//evil.example",
    "x" * 5000,
    [],
    [1],
    ["a", "b"],
    {},
    {"a": 1},
    [[[]]],
)


def raw(data: bytes, max_size: int) -> bytes:
    """libFuzzer's own mutation of ``data``."""
    return bytes(atheris.Mutate(data, max_size))


def _nodes(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every node of a JSON value (the root is ``()``)."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _nodes(item, (*path, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: _replace(value[head], rest, new)}
    copy = list(value)
    copy[head] = _replace(copy[head], rest, new)
    return copy


def _changed(node: Any, rng: random.Random) -> Any:
    """``node`` with one change: a new odd value, a member dropped, added or nested."""
    choice = rng.randrange(6)
    if choice == 0 and isinstance(node, dict) and node:
        key = rng.choice(list(node))
        return {k: v for k, v in node.items() if k != key}
    if choice == 1 and isinstance(node, dict):
        return {**node, rng.choice(["sub", "aud", "exp", "x", "", "kid", "keys"]): rng.choice(_ODD_VALUES)}
    if choice == 2 and isinstance(node, list) and node:
        index = rng.randrange(len(node))
        return node[:index] + node[index + 1 :]
    if choice == 3 and isinstance(node, list):
        return [*node, rng.choice(_ODD_VALUES)]
    if choice == 4:
        return [node] if rng.random() < 0.5 else {"v": node}
    return rng.choice(_ODD_VALUES)


def json_value(value: Any, rng: random.Random) -> Any:
    """``value`` (decoded JSON) with one node changed."""
    path = rng.choice(_nodes(value))
    node: Any = value
    for step in path:
        node = node[step]
    return _replace(value, path, _changed(node, rng))


def dumps(value: Any) -> bytes:
    """JSON as Python writes it (``Infinity``/``NaN`` included, as ``json.loads`` reads);
    lone surrogates survive as ``\\ud800`` escapes."""
    return json.dumps(value, separators=(",", ":")).encode("ascii")


def plaintext(data: bytes, rng: random.Random, max_size: int) -> bytes:
    """A mutated plaintext: structurally when it is JSON (most of the time), else bytes."""
    if rng.random() < 0.75:
        try:
            decoded = json.loads(data)
        except ValueError:
            pass
        else:
            return dumps(json_value(decoded, rng))
    return raw(data, max(max_size, len(data) + 64))

"""Optional C decoders for the session's hot path: ``pybase64`` and ``orjson``
(``pip install logto-asgi[speedups]``).

A first-seen session cookie is base64url-decoded, decrypted and parsed as JSON. With the
standard library, base64 of a 2 KB cookie costs about as much as everything else put
together (``binascii`` handles a byte at a time); ``pybase64`` decodes it about eight times
faster and ``orjson`` parses the session about three times faster. Both are used only
where the standard library would give the same answer:

- base64: the input must be unpadded base64url — ``pybase64`` with ``validate=True``
  refuses every other byte but ``+``, ``/`` and ``=``, which are looked for first — and
  is decoded with exactly the padding it needs, so both decoders accept and refuse the
  same strings;
- JSON: only for values we wrote and authenticated ourselves (the session, after
  AES-GCM). Where ``orjson`` refuses what the standard library reads (a lone surrogate
  in a claim), the strict standard parser decides.

``use(False)`` turns them off (the test suite runs both ways).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable
from typing import Any

from . import _json

try:  # pragma: no cover - which branch runs depends on what is installed
    import pybase64 as _pybase64
except ImportError:  # pragma: no cover
    _pybase64 = None  # type: ignore[assignment]
try:  # pragma: no cover
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None  # type: ignore[assignment]

__all__ = ["available", "b64url_decode", "enabled", "loads_sealed", "use"]

_B64_DECODE = bytes.maketrans(b"-_", b"+/")
_B64URL_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def _stdlib_b64(raw: bytes) -> bytes:
    if raw.translate(None, _B64URL_ALPHABET):
        raise ValueError("not base64url")
    return binascii.a2b_base64(raw.translate(_B64_DECODE) + b"=" * (-len(raw) % 4), strict_mode=True)


#: Shorter inputs (a JWE's IV and tag) go to ``binascii``: pybase64's call costs about a
#: microsecond, more than the standard library's byte loop over a few dozen bytes.
_FAST_FROM = 256


def _fast_b64(raw: bytes) -> bytes:
    if len(raw) < _FAST_FROM:
        return _stdlib_b64(raw)
    # (three scans of a few ns each, where translate() walks the input byte by byte)
    if b"=" in raw or b"+" in raw or b"/" in raw:
        raise ValueError("not base64url")
    return _pybase64.b64decode(raw + b"=" * (-len(raw) % 4), altchars=b"-_", validate=True)


def _stdlib_loads(raw: bytes) -> Any:
    return _json.loads(raw)


def _fast_loads(raw: bytes) -> Any:
    try:
        return _orjson.loads(raw)
    except _orjson.JSONDecodeError:
        return _json.loads(raw)


def available() -> dict[str, bool]:
    """Which optional decoders are installed."""
    return {"pybase64": _pybase64 is not None, "orjson": _orjson is not None}


#: Unpadded base64url (ASCII bytes) to bytes; raises ``binascii.Error`` or ``ValueError``
#: on anything else.
b64url_decode: Callable[[bytes], bytes] = _stdlib_b64
#: JSON we sealed ourselves (bytes) to a value; raises ``ValueError`` on malformed input.
loads_sealed: Callable[[bytes], Any] = _stdlib_loads


def use(on: bool) -> None:
    """Use the optional decoders that are installed (``True``) or the standard library."""
    global b64url_decode, loads_sealed
    b64url_decode = _fast_b64 if on and _pybase64 is not None else _stdlib_b64
    loads_sealed = _fast_loads if on and _orjson is not None else _stdlib_loads


def enabled() -> dict[str, bool]:
    """Which optional decoders are in use now."""
    return {"pybase64": b64url_decode is _fast_b64, "orjson": loads_sealed is _fast_loads}


use(True)

"""Optional C decoders for the session's hot path: ``pybase64`` and ``orjson``
(``pip install logto-asgi[speedups]``).

A first-seen session cookie is base64url-decoded, decrypted and parsed as JSON. With the
standard library, base64 of a 2 KB cookie costs about as much as everything else put
together (``binascii`` handles a byte at a time); ``pybase64`` decodes it about eight times
faster and ``orjson`` parses the session about three times faster. Both are used only
where the standard library would give the same answer:

- base64: the input is checked against the base64url alphabet first (``pybase64`` with
  ``validate=True`` would also take ``+`` and ``/``), then decoded with exactly the
  padding it needs, so both decoders accept and refuse the same strings;
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

__all__ = ["available", "b64decode_padded", "enabled", "loads_sealed", "use"]

_B64_DECODE = bytes.maketrans(b"-_", b"+/")


def _stdlib_b64(raw: bytes) -> bytes:
    return binascii.a2b_base64(raw.translate(_B64_DECODE), strict_mode=True)


def _fast_b64(raw: bytes) -> bytes:
    return _pybase64.b64decode(raw, altchars=b"-_", validate=True)


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


#: Padded base64url (alphabet already checked) to bytes; raises ``binascii.Error`` or
#: ``ValueError`` on a bad length.
b64decode_padded: Callable[[bytes], bytes] = _stdlib_b64
#: JSON we sealed ourselves (bytes) to a value; raises ``ValueError`` on malformed input.
loads_sealed: Callable[[bytes], Any] = _stdlib_loads


def use(on: bool) -> None:
    """Use the optional decoders that are installed (``True``) or the standard library."""
    global b64decode_padded, loads_sealed
    b64decode_padded = _fast_b64 if on and _pybase64 is not None else _stdlib_b64
    loads_sealed = _fast_loads if on and _orjson is not None else _stdlib_loads


def enabled() -> dict[str, bool]:
    """Which optional decoders are in use now."""
    return {"pybase64": b64decode_padded is _fast_b64, "orjson": loads_sealed is _fast_loads}


use(True)

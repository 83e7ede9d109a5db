"""JSON from outside (the provider's replies and tokens, our own cookies once decrypted),
parsed so that no value can break the arithmetic done on it later.

Python's ``json`` accepts ``NaN`` and ``Infinity``, turns ``1e400`` into ``inf`` and
integers of any length into ints that overflow ``float()``: each of these made a later
``int()``, ``float()`` or subtraction raise (found by ``make fuzz``). Here they are a
``ValueError`` at parse time, which every caller already maps to its own refusal.
"""

from __future__ import annotations

import json
import math
from typing import Any

__all__ = ["MAX_INT", "loads"]

#: Larger integers have no use in OAuth/OIDC (times are seconds, sizes are small).
MAX_INT = 2**53


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name} is not allowed")


def _bounded_int(text: str) -> int:
    if len(text) > 17:  # cheap first: a long literal is out of range anyway
        raise ValueError("JSON integer out of range")
    value = int(text)
    if not -MAX_INT <= value <= MAX_INT:
        raise ValueError("JSON integer out of range")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("JSON number out of range")
    return value


_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float
)


def loads(raw: str | bytes) -> Any:
    """``json.loads`` without non-finite numbers or out-of-range integers."""
    text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    return _DECODER.decode(text)

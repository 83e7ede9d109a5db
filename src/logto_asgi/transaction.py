"""Per-attempt sign-in state: ``state``, ``nonce``, PKCE verifier and ``return_to``.

Each attempt lives in its own short-lived encrypted cookie whose name carries the state,
so several tabs can sign in at once; at most ``max_pending_sign_ins`` are kept (oldest
dropped) so cookies never pile up. A transaction is read once: the callback deletes it.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

from ._crypto import InvalidToken, JweCodec

TRANSACTION_TTL = 600
_STATE = re.compile(r"[A-Za-z0-9_-]{20,128}")


@dataclass(frozen=True, slots=True)
class Transaction:
    state: str
    nonce: str
    verifier: str
    return_to: str
    redirect_uri: str
    created_at: int

    def encode(self, codec: JweCodec) -> str:
        payload = [
            self.state,
            self.nonce,
            self.verifier,
            self.return_to,
            self.redirect_uri,
            self.created_at,
        ]
        return codec.encrypt(json.dumps(payload, separators=(",", ":")).encode())

    @classmethod
    def decode(cls, value: str, codec: JweCodec, *, state: str, now: float) -> Transaction:
        """Decrypt and check a transaction for ``state``; ``InvalidToken`` otherwise."""
        try:
            fields = json.loads(codec.decrypt(value))
            tx = cls(*fields)
        except (ValueError, TypeError) as exc:
            raise InvalidToken("malformed transaction") from exc
        if not all(isinstance(f, str) for f in fields[:5]) or not isinstance(tx.created_at, int):
            raise InvalidToken("malformed transaction")
        if not hmac.compare_digest(tx.state.encode(), state.encode()):
            raise InvalidToken("state mismatch")
        if not 0 <= now - tx.created_at <= TRANSACTION_TTL:
            raise InvalidToken("transaction expired")
        return tx


def valid_state(state: str | None) -> TypeGuard[str]:
    return state is not None and _STATE.fullmatch(state) is not None


def cookie_name(base: str, state: str) -> str:
    return f"{base}_tx.{state}"


def pending(base: str, cookies: Mapping[str, str]) -> list[str]:
    """Names of the transaction cookies the request carries.

    Only names we could have set (a well-formed state): the surplus ones are echoed back
    in ``Set-Cookie`` deletions, and a forged name may hold CR/LF or other bytes that
    must never reach a response header.
    """
    prefix = f"{base}_tx."
    return [name for name in cookies if name.startswith(prefix) and valid_state(name[len(prefix) :])]

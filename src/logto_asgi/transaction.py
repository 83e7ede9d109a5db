"""Per-attempt sign-in state: ``state``, ``nonce``, PKCE verifier and ``return_to``.

Each attempt lives in its own short-lived encrypted cookie whose name carries the state,
so several tabs can sign in at once; at most ``max_pending_sign_ins`` are kept (oldest
dropped) so cookies never pile up. A transaction is read once: ``TransactionCookies.take``
hands back its deletion with its value.
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

from . import _json as strict_json
from ._crypto import InvalidToken, JweCodec
from ._http import CookieJar, duplicated

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
    #: The ``max_age`` sent (the callback then requires a recent enough ``auth_time``).
    max_age: int | None = None
    #: A silent sign-in (``prompt=none``): a refusal returns the user to ``return_to``.
    silent: bool = False

    def encode(self, codec: JweCodec) -> str:
        payload = [
            self.state,
            self.nonce,
            self.verifier,
            self.return_to,
            self.redirect_uri,
            self.created_at,
            self.max_age,
            self.silent,
        ]
        return codec.encrypt(json.dumps(payload, separators=(",", ":")).encode())

    @classmethod
    def decode(cls, value: str, codec: JweCodec, *, state: str, now: float) -> Transaction:
        """Decrypt and check a transaction for ``state``; ``InvalidToken`` otherwise."""
        try:
            fields = strict_json.loads(codec.decrypt(value))
            if not isinstance(fields, list) or len(fields) not in (6, 8):
                raise TypeError("not a transaction")
            tx = cls(*fields)
        except (ValueError, TypeError) as exc:
            raise InvalidToken("malformed transaction") from exc
        if not _well_typed(tx):
            raise InvalidToken("malformed transaction")
        if not hmac.compare_digest(tx.state.encode("utf-8", "surrogatepass"), state.encode()):
            raise InvalidToken("state mismatch")
        if not 0 <= now - tx.created_at <= TRANSACTION_TTL:
            raise InvalidToken("transaction expired")
        return tx


def _well_typed(tx: Transaction) -> bool:
    texts = (tx.state, tx.nonce, tx.verifier, tx.return_to, tx.redirect_uri)
    if not all(isinstance(text, str) for text in texts):
        return False
    if type(tx.created_at) is not int or type(tx.silent) is not bool:
        return False
    return tx.max_age is None or (type(tx.max_age) is int and tx.max_age >= 0)


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


class TransactionCookies:
    """The transaction cookies of one middleware: written at sign-in, read once at the
    callback (reading hands back the deletion with the value), and kept few."""

    def __init__(
        self, base: str, codec: JweCodec, jar: CookieJar, *, samesite: str, max_pending: int
    ) -> None:
        self._base = base
        self._codec = codec
        self._jar = jar
        # A Strict cookie would not come back on the provider's cross-site redirect.
        self._samesite = "None" if samesite == "none" else "Lax"
        self._max_pending = max_pending

    def begin(
        self, tx: Transaction, cookies: Mapping[str, str], *, secure: bool
    ) -> list[tuple[bytes, bytes]]:
        """The headers that store ``tx`` and drop surplus pending sign-ins."""
        name = cookie_name(self._base, tx.state)
        value = tx.encode(self._codec)
        headers = [
            self._jar.set(name, value, max_age=TRANSACTION_TTL, secure=secure, samesite=self._samesite)
        ]
        headers.extend(self._jar.delete(old, secure=secure) for old in self._surplus(cookies, tx.created_at))
        return headers

    def _surplus(self, cookies: Mapping[str, str], now: int) -> list[str]:
        """Pending transactions to drop so that, with the new one, at most
        ``max_pending`` remain: unreadable ones first, then the oldest."""
        names = pending(self._base, cookies)
        if len(names) < self._max_pending:
            return []
        prefix = len(cookie_name(self._base, ""))
        aged: list[tuple[int, str]] = []
        for name in names:
            try:
                tx = Transaction.decode(cookies[name], self._codec, state=name[prefix:], now=now)
                aged.append((tx.created_at, name))
            except InvalidToken:
                aged.append((-1, name))
        aged.sort()
        return [name for _, name in aged[: len(aged) - self._max_pending + 1]]

    def take(self, cookies: Mapping[str, str], state: str | None, *, now: float, secure: bool) -> Taken:
        """Read the transaction of ``state`` once, with the header deleting its cookie."""
        if not valid_state(state):
            return Taken(None, [], found=False)
        name = cookie_name(self._base, state)
        value = cookies.get(name)
        if value is None:
            return Taken(None, [], found=False)
        clear = [self._jar.delete(name, secure=secure)]
        if duplicated(cookies, name):  # another (sub)domain's cookie of the same name
            return Taken(None, clear, found=True)
        try:
            return Taken(Transaction.decode(value, self._codec, state=state, now=now), clear, found=True)
        except InvalidToken:
            return Taken(None, clear, found=True)


@dataclass(frozen=True, slots=True)
class Taken:
    """A transaction read once: ``transaction`` is ``None`` when the request had none
    (``found`` false) or when it was expired, forged or for another state; ``clear``
    deletes its cookie either way."""

    transaction: Transaction | None
    clear: list[tuple[bytes, bytes]]
    found: bool

"""The sign-in transaction cookies: ``TransactionCookies.take`` (the callback's read-once)
and ``TransactionCookies.begin`` (the sign-in's write, which reads every pending attempt
to drop the surplus), on the cookies a request carries.

Input: the callback's ``state`` on the first line, the ``Cookie`` header after it.

Allowed outcomes: a ``Taken`` (a transaction only for this exact ``state``, decrypted and
within its lifetime) and the sign-in's headers, all clean, deleting only well-formed
transaction cookies the request carried. Both document no exception: any is a crash.

The mutator decrypts a transaction cookie, mutates its plaintext (a JSON list) and
re-encrypts it, so ``Transaction.decode`` meets hostile fields.
"""

from __future__ import annotations

import random

from logto_asgi._crypto import InvalidToken
from logto_asgi._http import parse_cookies
from logto_asgi.transaction import TRANSACTION_TTL, Transaction, TransactionCookies, cookie_name

from . import _mutate
from ._fixtures import NONCE, NOW, STATE, cookie_header, logto_middleware
from ._harness import HarnessError, Target, check_headers

BASE = "logto"
PREFIX = cookie_name(BASE, "")


def _tx(state: str, *, created_at: int = int(NOW), return_to: str = "/after") -> Transaction:
    return Transaction(state, NONCE, "v" * 86, return_to, "https://app.fuzz.test/callback", created_at)


def build() -> Target:
    core = logto_middleware().core
    codec = core.transactions
    cookies_of = TransactionCookies(BASE, codec, core.jar, samesite="lax", max_pending=5)
    fresh = _tx("freshState_0123456789abcdef")

    def test_one_input(data: bytes) -> None:
        line, _, header = data.decode("latin-1").partition("\n")
        state = line or None
        cookies = parse_cookies(header)
        taken = cookies_of.take(cookies, state, now=NOW, secure=True)
        check_headers(taken.clear)
        if taken.transaction is not None and (taken.transaction.state != state or not taken.found):
            raise HarnessError("a transaction came back for another state")
        if len(taken.clear) > 1:
            raise HarnessError("one callback deleted several transaction cookies")
        headers = cookies_of.begin(fresh, cookies, secure=True)
        check_headers(headers)
        deleted = [value.split(b"=", 1)[0].decode("latin-1") for _, value in headers[1:]]
        if any(name not in cookies or not name.startswith(PREFIX) for name in deleted):
            raise HarnessError(f"the sign-in deleted cookies the request did not carry: {deleted!r}")

    def seeds() -> list[bytes]:
        def sealed(tx: Transaction) -> tuple[str, str]:
            return cookie_name(BASE, tx.state), tx.encode(codec)

        mine = sealed(_tx(STATE))
        others = [sealed(_tx(f"otherState_{i:02d}_0123456789abc", created_at=int(NOW) - i)) for i in range(6)]
        lines = [
            (STATE, [mine]),
            (STATE, [mine, *others]),  # more pending than max_pending: the oldest go
            (STATE, [(mine[0], sealed(_tx(STATE, created_at=int(NOW) - TRANSACTION_TTL - 1))[1])]),
            (STATE, [(mine[0], others[0][1])]),  # another attempt's value under this name
            (STATE, [(mine[0], "garbage"), ("logto", "x"), (f"{PREFIX}short", "x")]),
            (others[1][0][len(PREFIX) :], [mine, *others[:3]]),
            ("", [mine]),
            (STATE, []),
        ]
        return [f"{state}\n{cookie_header(pairs)}".encode("latin-1") for state, pairs in lines]

    def mutator(data: bytes, max_size: int, seed: int) -> bytes:
        rng = random.Random(seed)
        line, sep, header = data.decode("latin-1").partition("\n")
        cookies = parse_cookies(header)
        names = [name for name in cookies if name.startswith(PREFIX)]
        if not names or rng.random() < 0.4:
            return _mutate.raw(data, max_size)
        name = rng.choice(names)
        try:
            plain = codec.decrypt(cookies[name])
        except InvalidToken:
            return _mutate.raw(data, max_size)
        cookies[name] = codec.encrypt(_mutate.plaintext(plain, rng, max_size))
        return f"{line}{sep}{cookie_header(cookies)}".encode("latin-1")[:max_size]

    return Target("transaction_cookie", test_one_input, seeds, mutator, 16384)

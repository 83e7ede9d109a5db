"""The per-attempt sign-in transaction: bound to its state, short-lived, read back exactly."""

from __future__ import annotations

import json

import pytest

from logto_asgi._crypto import InvalidToken, JweCodec
from logto_asgi.transaction import TRANSACTION_TTL, Transaction, cookie_name, pending

STATE = "s" * 43
OTHER_STATE = "t" * 43
CREATED = 1_700_000_000
CODEC = JweCodec(["c" * 32], "sign-in transaction")


def transaction() -> Transaction:
    return Transaction(
        state=STATE,
        nonce="n" * 43,
        verifier="v" * 86,
        return_to="/orders",
        redirect_uri="http://app.test/callback",
        created_at=CREATED,
    )


def decode(value: str, *, state: str = STATE, now: float = CREATED) -> Transaction:
    return Transaction.decode(value, CODEC, state=state, now=now)


def test_ttl_is_ten_minutes() -> None:
    """A sign-in attempt lives 600 seconds (the transaction cookie's Max-Age too)."""
    assert TRANSACTION_TTL == 600


def test_round_trip() -> None:
    """What is encoded decodes to the same transaction."""
    tx = transaction()
    assert decode(tx.encode(CODEC)) == tx


@pytest.mark.parametrize(
    "state",
    [
        pytest.param(OTHER_STATE, id="other-state"),
        pytest.param(STATE[:-1], id="prefix"),
        pytest.param(STATE + "s", id="longer"),
        pytest.param("", id="empty"),
    ],
)
def test_transaction_of_another_state_is_refused(state: str) -> None:
    """A transaction whose own state is not the callback's state is InvalidToken."""
    with pytest.raises(InvalidToken):
        decode(transaction().encode(CODEC), state=state)


@pytest.mark.parametrize(
    ("age", "accepted"),
    [
        pytest.param(-TRANSACTION_TTL, False, id="created-ttl-in-the-future"),
        pytest.param(-1, False, id="created-one-second-in-the-future"),
        pytest.param(-0.5, False, id="created-half-a-second-in-the-future"),
        pytest.param(0, True, id="created-now"),
        pytest.param(1, True, id="one-second-old"),
        pytest.param(TRANSACTION_TTL - 1, True, id="ttl-minus-one"),
        pytest.param(TRANSACTION_TTL, True, id="exactly-ttl"),
        pytest.param(TRANSACTION_TTL + 0.5, False, id="ttl-plus-half-a-second"),
        pytest.param(TRANSACTION_TTL + 1, False, id="ttl-plus-one"),
        pytest.param(10 * TRANSACTION_TTL, False, id="long-expired"),
    ],
)
def test_transaction_age_window(age: float, accepted: bool) -> None:
    """A transaction is valid from its creation to TRANSACTION_TTL seconds later, inclusive."""
    value = transaction().encode(CODEC)
    if accepted:
        assert decode(value, now=CREATED + age).created_at == CREATED
    else:
        with pytest.raises(InvalidToken):
            decode(value, now=CREATED + age)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param([STATE, "n", "v", "/", "http://app.test/callback"], id="one-field-missing"),
        pytest.param(
            [STATE, "n", "v", "/", "http://app.test/callback", CREATED, "x"], id="one-field-too-many"
        ),
        pytest.param(
            [STATE, "n", "v", "/", "http://app.test/callback", str(CREATED)], id="created-at-string"
        ),
        pytest.param(
            [STATE, "n", "v", "/", "http://app.test/callback", float(CREATED)], id="created-at-float"
        ),
        pytest.param([STATE, 1, "v", "/", "http://app.test/callback", CREATED], id="nonce-number"),
        pytest.param([STATE, "n", "v", None, "http://app.test/callback", CREATED], id="return-to-null"),
        pytest.param([STATE, "n", "v", "/", "http://app.test/callback", CREATED, None], id="seven-fields"),
        pytest.param(
            [STATE, "n", "v", "/", "http://app.test/callback", CREATED, "60", False], id="max-age-string"
        ),
        pytest.param(
            [STATE, "n", "v", "/", "http://app.test/callback", CREATED, -1, False], id="max-age-negative"
        ),
        pytest.param(
            [STATE, "n", "v", "/", "http://app.test/callback", CREATED, True, False], id="max-age-bool"
        ),
        pytest.param(
            [STATE, "n", "v", "/", "http://app.test/callback", CREATED, None, 1], id="silent-number"
        ),
        pytest.param({"state": STATE}, id="object"),
        pytest.param("text", id="string"),
    ],
)
def test_malformed_payload_is_refused(fields: object) -> None:
    """A well-encrypted payload of the wrong shape or types is InvalidToken, never another error."""
    value = CODEC.encrypt(json.dumps(fields).encode())
    with pytest.raises(InvalidToken):
        decode(value)


def test_transaction_from_another_key_is_refused() -> None:
    """A transaction encrypted under another cookie secret is InvalidToken."""
    other = JweCodec(["d" * 32], "sign-in transaction")
    with pytest.raises(InvalidToken):
        decode(transaction().encode(other))


def test_cookie_name_carries_the_state() -> None:
    """Each attempt's cookie is <base>_tx.<state>."""
    assert cookie_name("logto", STATE) == f"logto_tx.{STATE}"


def test_pending_lists_only_well_formed_transaction_cookies() -> None:
    """pending() names our transaction cookies only: forged names (bad state, CR/LF) are ignored."""
    cookies = {
        "logto": "session",
        cookie_name("logto", STATE): "a",
        cookie_name("logto", OTHER_STATE): "b",
        "logto_tx.short": "c",
        f"logto_tx.{'x' * 40}\r\nSet-Cookie: y=1": "d",
        f"other_tx.{STATE}": "e",
        "logto_tx.": "f",
    }
    assert pending("logto", cookies) == [cookie_name("logto", STATE), cookie_name("logto", OTHER_STATE)]


def test_the_new_fields_round_trip_and_old_cookies_still_read() -> None:
    """max_age and silent travel with the attempt; a transaction written before they
    existed (six fields) reads as neither."""
    full = Transaction(
        state=STATE,
        nonce="n",
        verifier="v",
        return_to="/",
        redirect_uri="http://app.test/callback",
        created_at=CREATED,
        max_age=60,
        silent=True,
    )
    back = decode(full.encode(CODEC))
    assert (back.max_age, back.silent) == (60, True)
    old = CODEC.encrypt(json.dumps([STATE, "n", "v", "/", "http://app.test/callback", CREATED]).encode())
    assert (decode(old).max_age, decode(old).silent) == (None, False)


def test_max_age_zero_is_a_valid_step_up() -> None:
    """max_age=0 (a sign-in right now) survives the round trip; only negatives are refused."""
    tx = Transaction(
        state=STATE,
        nonce="n",
        verifier="v",
        return_to="/",
        redirect_uri="http://app.test/callback",
        created_at=CREATED,
        max_age=0,
    )
    assert decode(tx.encode(CODEC)).max_age == 0

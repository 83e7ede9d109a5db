"""The local cache's three rules (``sessions/_redis_tracking.py``) on an injected clock:
what Redis's messages do, what a read in flight may keep, how long a PONG vouches."""

from __future__ import annotations

from typing import Any

import pytest

from logto_asgi import ConfigurationError
from logto_asgi.sessions._redis_tracking import TrackedValues
from logto_asgi.sessions.redis import RedisStore

CHANNEL = b"__redis__:invalidate"
NAME = "logto:session:a"


class Clock:
    def __init__(self) -> None:
        self.now = 64.0

    def __call__(self) -> float:
        return self.now


def _unused_connection() -> Any:
    raise AssertionError("no connection in these tests")


def tracked(clock: Clock, staleness: float = 0.1) -> TrackedValues:
    values = TrackedValues(_unused_connection, "logto:session:", size=10, staleness=staleness, clock=clock)
    pong(values, clock.now)
    return values


def pong(values: TrackedValues, sent: float) -> None:
    values._sent.append(sent)
    values._on_message([b"pong", b""])


def invalidate(values: TrackedValues, keys: list[bytes] | None) -> None:
    values._on_message([b"message", CHANNEL, keys])


def test_a_kept_value_is_served_while_a_recent_pong_vouches() -> None:
    clock = Clock()
    values = tracked(clock, staleness=0.125)  # (binary fractions: exact sums)
    values.keep(NAME, b"v", values.epoch)
    assert values.get(NAME) == b"v"
    clock.now += 0.125  # at most the bound ago: still vouched for
    assert values.get(NAME) == b"v"
    clock.now += 0.0078125  # the latest PONG answered a PING sent longer ago than the bound
    assert not values.fresh()
    assert values.get(NAME) is None
    pong(values, clock.now)
    assert values.get(NAME) == b"v"
    assert values.hits == 3


def test_a_pong_vouches_from_when_its_ping_was_sent() -> None:
    clock = Clock()
    values = tracked(clock)
    values.keep(NAME, b"v", values.epoch)
    values._sent.append(clock.now + 0.01)
    clock.now += 0.2  # the PONG arrives late: it vouches for 0.01 s after the first
    values._on_message([b"pong", b""])
    assert not values.fresh()


def test_only_a_pong_confirms_a_ping() -> None:
    """A PING in flight, then another message: the PING is still unanswered."""
    clock = Clock()
    values = tracked(clock)
    values.keep(NAME, b"v", values.epoch)
    values._sent.append(clock.now + 0.05)
    invalidate(values, [b"logto:session:other"])
    values._on_message([b"subscribe", CHANNEL, 1])
    clock.now += 0.12
    assert not values.fresh()  # vouched for by the first PONG only


def test_before_any_pong_nothing_is_served_nor_kept() -> None:
    clock = Clock()
    values = TrackedValues(_unused_connection, "logto:session:", size=10, staleness=0.1, clock=clock)
    values.keep(NAME, b"v", values.epoch)
    pong(values, clock.now)
    assert values.get(NAME) is None


def test_an_invalidation_drops_the_keys_it_names() -> None:
    clock = Clock()
    values = tracked(clock)
    values.keep(NAME, b"v", values.epoch)
    values.keep("logto:session:b", b"w", values.epoch)
    invalidate(values, [NAME.encode()])
    assert values.get(NAME) is None
    assert values.get("logto:session:b") == b"w"
    assert values.invalidations == 1


def test_an_invalidation_without_keys_drops_everything() -> None:
    clock = Clock()
    values = tracked(clock)
    values.keep(NAME, b"v", values.epoch)
    invalidate(values, None)
    assert len(values) == 0


def test_a_read_in_flight_during_an_invalidation_is_not_kept() -> None:
    """The GET may have run before the write whose invalidation just came."""
    clock = Clock()
    values = tracked(clock)
    epoch = values.epoch
    invalidate(values, [b"logto:session:other"])
    values.keep(NAME, b"old", epoch)
    assert values.get(NAME) is None
    values.keep(NAME, b"new", values.epoch)
    assert values.get(NAME) == b"new"


def test_an_own_write_drops_the_value_and_what_is_in_flight() -> None:
    clock = Clock()
    values = tracked(clock)
    values.keep(NAME, b"v", values.epoch)
    epoch = values.epoch
    values.forget(NAME)
    assert values.get(NAME) is None
    values.keep(NAME, b"old", epoch)
    assert values.get(NAME) is None


def test_other_messages_change_nothing() -> None:
    clock = Clock()
    values = tracked(clock)
    values.keep(NAME, b"v", values.epoch)
    for message in ([b"subscribe", CHANNEL, 1], [b"message", b"other", [NAME.encode()]], b"OK", []):
        values._on_message(message)
    assert values.get(NAME) == b"v"


def test_the_cache_is_bounded() -> None:
    clock = Clock()
    values = tracked(clock)
    for i in range(25):
        values.keep(f"logto:session:{i}", b"v", values.epoch)
    assert len(values) == 10


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"local_cache": -1}, "local_cache"),
        ({"local_cache": 10, "local_cache_staleness": 0}, "local_cache_staleness"),
        ({"local_cache": 10, "local_cache_staleness": 61}, "local_cache_staleness"),
    ],
)
def test_bad_local_cache_settings_fail_at_construction(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        RedisStore("redis://127.0.0.1:1/0", **kwargs)
    assert caught.value.field == field


def test_a_cluster_has_no_local_cache() -> None:
    with pytest.raises(ConfigurationError, match="not a Redis Cluster"):
        RedisStore("redis+cluster://127.0.0.1:1", local_cache=10)

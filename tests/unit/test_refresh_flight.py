"""The refresh single-flight: who may reuse a result, and what a cancelled leader hands on."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest

from logto_asgi import MemoryStore
from logto_asgi._crypto import JweCodec, fingerprint
from logto_asgi._refresh import RefreshCoordinator, SharedRefreshCoordinator
from logto_asgi.errors import ProviderTimeout, ProviderUnavailable
from logto_asgi.sessions._ops import StoreOps
from logto_asgi.sessions.base import Session

pytestmark = pytest.mark.anyio


def session(refresh_token: str) -> Session:
    return Session(
        id_token="h.p.s",
        claims={"sub": "user-1"},
        refresh_token=refresh_token,
        scope="openid",
        created_at=0,
        updated_at=0,
        expires_at=10**10,
    )


async def test_concurrent_callers_share_one_grant() -> None:
    """Ten callers spending one refresh token: one grant, every caller gets its result."""
    grants = 0
    release = anyio.Event()

    async def grant() -> Session:
        nonlocal grants
        grants += 1
        await release.wait()
        return session("rt-2")

    coordinator = RefreshCoordinator()
    results: list[Session] = []

    async def ask() -> None:
        results.append(await coordinator.refresh("rt-1", grant))

    async with anyio.create_task_group() as tg:
        for _ in range(10):
            tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert grants == 1
    assert [r.refresh_token for r in results] == ["rt-2"] * 10


async def test_a_joined_caller_survives_the_leaders_cancellation() -> None:
    """The leader's client goes away mid-grant: the caller that joined its flight is not
    cancelled with it, but starts its own attempt and gets a session (two grants)."""
    grants = 0
    first_started = anyio.Event()

    async def grant() -> Session:
        nonlocal grants
        grants += 1
        if grants == 1:
            first_started.set()
            await anyio.sleep_forever()
        return session("rt-2")

    coordinator = RefreshCoordinator()
    joined: list[Session] = []

    async def leader() -> None:
        await coordinator.refresh("rt-1", grant)

    async def follower() -> None:
        joined.append(await coordinator.refresh("rt-1", grant))

    async with anyio.create_task_group() as outer:
        async with anyio.create_task_group() as leading:
            leading.start_soon(leader)
            await first_started.wait()
            outer.start_soon(follower)
            await anyio.wait_all_tasks_blocked()
            leading.cancel_scope.cancel()
    assert grants == 2
    assert [s.refresh_token for s in joined] == ["rt-2"]


async def test_a_failure_is_shared_with_the_joined_callers_and_not_remembered() -> None:
    """A failed grant fails every caller of that flight, and the next caller tries anew."""
    grants = 0
    release = anyio.Event()

    async def failing() -> Session:
        nonlocal grants
        grants += 1
        await release.wait()
        raise ProviderUnavailable("down")

    coordinator = RefreshCoordinator()
    errors: list[str] = []

    async def ask() -> None:
        try:
            await coordinator.refresh("rt-1", failing)
        except ProviderUnavailable as exc:
            errors.append(exc.error)

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(ask)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert grants == 1 and errors == ["provider_unavailable"] * 3

    async def succeeding() -> Session:
        return session("rt-2")

    assert (await coordinator.refresh("rt-1", succeeding)).refresh_token == "rt-2"


async def test_a_recent_result_is_reused_for_the_spent_token() -> None:
    """A caller presenting the just-spent token gets the recent result, not a new grant."""
    grants = 0

    async def grant() -> Session:
        nonlocal grants
        grants += 1
        return session(f"rt-{grants + 1}")

    coordinator = RefreshCoordinator()
    first = await coordinator.refresh("rt-1", grant)
    again = await coordinator.refresh("rt-1", grant)
    assert grants == 1 and again == first
    assert (await coordinator.latest(session("rt-1"))).refresh_token == "rt-2"


def shared(clock: Callable[[], float] = time.time) -> tuple[SharedRefreshCoordinator, StoreOps]:
    ops = StoreOps(MemoryStore())
    return SharedRefreshCoordinator(ops, JweCodec(["s" * 32], "refresh result"), clock=clock), ops


async def test_settling_without_a_refresh_in_flight_does_not_wait() -> None:
    """Sign-out asks for the newest session: with no lock held anywhere it answers at once."""
    coordinator, _ = shared()
    with anyio.fail_after(2):  # SETTLE_TIMEOUT is 5 s: waiting for nothing would trip this
        assert (await coordinator.settled(session("rt-1"))).refresh_token == "rt-1"


async def test_a_lock_held_elsewhere_for_too_long_is_a_timeout_not_a_second_grant() -> None:
    """Another process holds the refresh lock and never finishes: after the deadline the
    caller gets ProviderTimeout (503) and no grant of its own."""
    ticks = iter(range(0, 10_000, 10))
    coordinator, ops = shared(clock=lambda: float(next(ticks)))
    await ops.add(f"refresh-lock:{fingerprint('rt-1')}", b"someone-else", 3600)
    grants = 0

    async def grant() -> Session:
        nonlocal grants
        grants += 1
        return session("rt-2")

    with anyio.fail_after(5), pytest.raises(ProviderTimeout):
        await coordinator.refresh("rt-1", grant)
    assert grants == 0


async def test_another_processs_result_is_found_through_the_store() -> None:
    """A process that never saw the refresh finds its result in the shared store: a request
    with the pre-refresh session saves the successor, never the spent token."""
    coordinator, ops = shared()
    codec = JweCodec(["s" * 32], "refresh result")
    successor = session("rt-2")
    await ops.set(f"refresh:{fingerprint('rt-1')}", codec.encrypt(successor.to_json()).encode("ascii"), 60)
    assert (await coordinator.latest(session("rt-1"))).refresh_token == "rt-2"

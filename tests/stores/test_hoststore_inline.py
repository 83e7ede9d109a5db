"""HostStore runs uncontended operations at once and waits for another process's lock in a thread."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from logto_asgi._hoststore import CHECKPOINT_EVERY, HostStore

pytestmark = pytest.mark.anyio


async def test_uncontended_operations_never_hop_to_a_thread(tmp_path: Path) -> None:
    """Every kind of operation, 50 times each, with no other writer: no worker thread."""
    store = HostStore(tmp_path / "h" / "store.db")
    try:
        for i in range(50):
            await store.set(f"k{i}", b"v", 60)
            assert await store.get(f"k{i}") == b"v"
            assert await store.add(f"a{i}", b"x", 60)
            assert not await store.add(f"a{i}", b"y", 60)
            await store.delete_if(f"a{i}", b"x")
            await store.set_add("s", f"m{i}", 60)
            await store.delete(f"k{i}")
        assert len(await store.set_pop_all("s")) == 50
        assert store.waited == 0
    finally:
        await store.aclose()


async def test_a_lock_held_by_another_process_is_waited_for_off_the_event_loop(tmp_path: Path) -> None:
    """While another connection holds the write lock, an add waits in a thread, the loop runs on,
    and the add completes once the lock is released."""
    path = tmp_path / "h" / "store.db"
    store = HostStore(path)
    ticks = 0
    try:
        await store.set("warm", b"v", 60)  # the file and schema exist
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        results: list[bool] = []

        async def add() -> None:
            results.append(await store.add("key", b"value", 60))

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(add)
            while ticks < 20:  # the event loop is free while the add waits for the lock
                ticks += 1
                await anyio.lowlevel.checkpoint()
            assert results == []
            other.execute("COMMIT")
        other.close()
        assert results == [True]
        assert store.waited == 1
        assert await store.get("key") == b"value"
    finally:
        await store.aclose()


async def test_the_wal_is_checkpointed(tmp_path: Path) -> None:
    """Ten times CHECKPOINT_EVERY writes leave a WAL the size of a few checkpoints' worth, not all of them."""
    path = tmp_path / "h" / "store.db"
    store = HostStore(path)
    try:
        await store.set("first", b"v" * 200, 60)
        for i in range(CHECKPOINT_EVERY):
            await store.set(f"k{i}", b"v" * 200, 60)
        per_interval = path.with_name("store.db-wal").stat().st_size
        for i in range(CHECKPOINT_EVERY, 10 * CHECKPOINT_EVERY):
            await store.set(f"k{i}", b"v" * 200, 60)
        assert path.with_name("store.db-wal").stat().st_size <= 3 * per_interval
    finally:
        await store.aclose()

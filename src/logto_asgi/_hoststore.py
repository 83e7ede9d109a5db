"""A small key-value store in one SQLite file, shared by every process on the machine.

It implements ``AtomicStore`` for ``HostCoordination``: refresh locks and results, spent
callback states and ended-session markers of all the worker processes of one app (what
``uvicorn --workers N`` or gunicorn start), with no extra service. Each operation is one
SQLite statement or one ``BEGIN IMMEDIATE`` transaction, so it is atomic across processes.

An operation first runs at once, on a connection that never waits for a lock: a local
SQLite statement takes about 10 µs, a hop to a worker thread about 60 µs more of CPU. Only
when another process holds the write lock does it run again in a worker thread
(``anyio.to_thread``), on a connection that waits for it, so a busy file never blocks the
event loop. That connection also does the WAL checkpoints, every ``CHECKPOINT_EVERY``
writes. Values are what the middleware gives it: already encrypted.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import anyio.to_thread

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value BLOB NOT NULL, expires REAL NOT NULL);
CREATE TABLE IF NOT EXISTS members (
    key TEXT NOT NULL, member TEXT NOT NULL, expires REAL NOT NULL, PRIMARY KEY (key, member)
);
"""
#: Expired rows are deleted at most this often (seconds), from a write.
PURGE_INTERVAL = 60.0
#: How long a statement waits for another process's lock before failing (seconds).
BUSY_TIMEOUT = 5.0
#: Writes between two WAL checkpoints (done in a worker thread, never in the event loop).
CHECKPOINT_EVERY = 200


def _busy(exc: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY / SQLITE_LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)  # Python 3.11+
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # extended codes too
    return "locked" in str(exc)


def _checkpoint(db: sqlite3.Connection, now: float) -> None:
    """Copy the WAL back into the database file, without waiting for readers."""
    db.execute("PRAGMA wal_checkpoint(PASSIVE)")


class HostStore:
    """``AtomicStore`` in the SQLite file ``path`` (created with its folder, mode 0700)."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        #: The event loop's own connection: never waits for a lock (timeout 0), never checkpoints.
        self._inline: sqlite3.Connection | None = None
        self._inline_lock = threading.Lock()
        self._writes = 0
        self._purged_at = 0.0
        #: Operations that had to wait in a worker thread (another process held the lock).
        self.waited = 0

    def open(self) -> None:
        """Create the folder and the file; raise ``OSError`` / ``sqlite3.Error`` when the
        folder is not writable (the caller falls back to in-process coordination)."""
        with self._lock:
            if self._db is not None:
                return
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.executescript(_SCHEMA)
            inline = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            inline.execute("PRAGMA synchronous=NORMAL")
            inline.execute("PRAGMA wal_autocheckpoint=0")
            self._db, self._inline = db, inline

    def _run(self, work: Callable[[sqlite3.Connection, float], T]) -> T:
        if self._db is None:
            self.open()
        with self._lock:
            assert self._db is not None
            return work(self._db, self._clock())

    async def _call(self, work: Callable[[sqlite3.Connection, float], T], *, write: bool = True) -> T:
        if self._inline is None:
            await anyio.to_thread.run_sync(self.open)  # creating the folder and file may wait
        if write:
            self._writes += 1
            if self._writes % CHECKPOINT_EVERY == 0:
                await anyio.to_thread.run_sync(self._run, _checkpoint)
        # (not blocking: another event loop's thread using this store takes the thread path)
        if self._inline_lock.acquire(blocking=False):
            try:
                assert self._inline is not None
                return work(self._inline, self._clock())
            except sqlite3.OperationalError as exc:
                if not _busy(exc):
                    raise
            finally:
                self._inline_lock.release()
        self.waited += 1
        return await anyio.to_thread.run_sync(self._run, work)

    def _maybe_purge(self, db: sqlite3.Connection, now: float) -> None:
        if now - self._purged_at >= PURGE_INTERVAL:
            self._purged_at = now
            db.execute("DELETE FROM kv WHERE expires <= ?", (now,))
            db.execute("DELETE FROM members WHERE expires <= ?", (now,))

    # SessionStore ----------------------------------------------------------------------

    async def get(self, key: str) -> bytes | None:
        def work(db: sqlite3.Connection, now: float) -> bytes | None:
            row = db.execute("SELECT value FROM kv WHERE key = ? AND expires > ?", (key, now)).fetchone()
            return bytes(row[0]) if row is not None else None

        return await self._call(work, write=False)

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        def work(db: sqlite3.Connection, now: float) -> None:
            self._maybe_purge(db, now)
            db.execute("INSERT OR REPLACE INTO kv VALUES (?, ?, ?)", (key, value, now + ttl))

        await self._call(work)

    async def delete(self, key: str) -> None:
        await self._call(lambda db, now: db.execute("DELETE FROM kv WHERE key = ?", (key,)))

    # AtomicStore -----------------------------------------------------------------------

    async def add(self, key: str, value: bytes, ttl: float) -> bool:
        def work(db: sqlite3.Connection, now: float) -> bool:
            cursor = db.execute(
                "INSERT INTO kv VALUES (?, ?, ?) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value, expires = excluded.expires WHERE kv.expires <= ?",
                (key, value, now + ttl, now),
            )
            return cursor.rowcount == 1

        return await self._call(work)

    async def delete_if(self, key: str, value: bytes) -> None:
        await self._call(
            lambda db, now: db.execute("DELETE FROM kv WHERE key = ? AND value = ?", (key, value))
        )

    async def set_add(self, key: str, member: str, ttl: float) -> None:
        def work(db: sqlite3.Connection, now: float) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                # An expired member never comes back with the set's renewal.
                db.execute("DELETE FROM members WHERE key = ? AND expires <= ?", (key, now))
                db.execute("INSERT OR REPLACE INTO members VALUES (?, ?, ?)", (key, member, now + ttl))
                db.execute("UPDATE members SET expires = ? WHERE key = ?", (now + ttl, key))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

        await self._call(work)

    async def set_pop_all(self, key: str) -> list[str]:
        def work(db: sqlite3.Connection, now: float) -> list[str]:
            db.execute("BEGIN IMMEDIATE")
            try:
                rows = db.execute(
                    "SELECT member FROM members WHERE key = ? AND expires > ?", (key, now)
                ).fetchall()
                db.execute("DELETE FROM members WHERE key = ?", (key,))
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return sorted(str(row[0]) for row in rows)

        return await self._call(work)

    async def aclose(self) -> None:
        with self._lock, self._inline_lock:
            for db in (self._db, self._inline):
                if db is not None:
                    db.close()
            self._db = self._inline = None

    def __repr__(self) -> str:
        return f"HostStore({str(self.path)!r})"

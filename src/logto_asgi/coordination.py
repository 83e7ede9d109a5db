"""How the processes of one app agree: refresh locks and results, spent callback states,
ended-session markers. Separate from where sessions live (``store=``).

| ``coordination=`` | shared by |
| --- | --- |
| ``HostCoordination()`` (default with ``CookieStore``) | every worker process on this machine |
| ``InProcessCoordination()`` | this process only |
| ``RedisCoordination(url=…)`` (implied by ``RedisStore``) | every host using that Redis |

A server-side store with atomic operations (``RedisStore``, ``PostgresStore``,
``MemoryStore``) coordinates through itself unless told otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from . import telemetry
from ._hoststore import HostStore
from .sessions.base import AtomicStore
from .sessions.memory import MemoryStore

__all__ = ["Coordination", "HostCoordination", "InProcessCoordination"]

logger = logging.getLogger("logto_asgi")


@runtime_checkable
class Coordination(Protocol):
    """Where the processes of an app keep what they must agree on."""

    def connect(self, app_key: str) -> CoordinationPlan:
        """The store to coordinate through, for the app identified by ``app_key``."""
        ...


@dataclass(frozen=True)
class CoordinationPlan:
    """What a coordination resolved to for one app: its store and what it guarantees."""

    store: AtomicStore
    #: Shared beyond this process (refresh results then need the store, not memory).
    shared: bool
    description: str
    guarantee: str


@dataclass(frozen=True)
class InProcessCoordination:
    """Coordination inside this process only (tests, single-process apps)."""

    def connect(self, app_key: str) -> CoordinationPlan:
        return CoordinationPlan(
            MemoryStore(max_entries=100_000),
            shared=False,
            description="in-process",
            guarantee="one refresh grant per session in this process; other processes are not coordinated",
        )


def _default_folder() -> Path:
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    base = Path(runtime) if runtime and os.access(runtime, os.W_OK) else Path(tempfile.gettempdir())
    return base / f"logto-asgi-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


@dataclass(frozen=True)
class HostCoordination:
    """Coordination between every process of the app on this machine, through one small
    SQLite file in ``folder`` (default: a per-user folder under ``$XDG_RUNTIME_DIR`` or the
    temporary directory; one file per app). If the folder is not writable it falls back to
    in-process coordination and says so once in the log."""

    folder: Path | None = field(default=None)

    def connect(self, app_key: str) -> CoordinationPlan:
        folder = self.folder or _default_folder()
        path = Path(folder) / f"{app_key}.sqlite3"
        store = HostStore(path)
        try:
            store.open()
        except (OSError, sqlite3.Error) as exc:
            logger.warning(
                "host-wide coordination unavailable (%s: %s): falling back to in-process; several "
                "worker processes may then each refresh the same token",
                path,
                type(exc).__name__,
                **telemetry.log_fields("store", "fallback"),
            )
            return InProcessCoordination().connect(app_key)
        return CoordinationPlan(
            store,
            shared=True,
            description=f"host-wide (SQLite at {path})",
            guarantee=(
                "one refresh grant per session across the worker processes of this host; "
                "other hosts are not coordinated (use RedisCoordination or a shared store)"
            ),
        )


@dataclass(frozen=True)
class StoreCoordination:
    """Coordination through the session store itself (an ``AtomicStore``)."""

    store: AtomicStore

    def connect(self, app_key: str) -> CoordinationPlan:
        shared = not isinstance(self.store, MemoryStore)
        return CoordinationPlan(
            self.store,
            shared=shared,
            description=f"through the session store ({type(self.store).__name__})",
            guarantee=(
                "one refresh grant per session across every process sharing the store"
                if shared
                else "one refresh grant per session in this process (MemoryStore is per process)"
            ),
        )


def app_key(app_id: str, issuer: str, secret: str) -> str:
    """A file-name-safe key of one app: apps on one host never share coordination."""
    digest = hashlib.sha256(f"{issuer}\n{app_id}\n{secret}".encode()).hexdigest()
    return f"app-{digest[:24]}"

"""``RedisCoordination``: the processes of every host agree through one Redis (single,
Sentinel or Cluster — whatever ``RedisStore`` accepts), while sessions stay wherever
``store=`` keeps them (cookies, say)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .coordination import CoordinationPlan
from .sessions.redis import RedisStore

__all__ = ["RedisCoordination"]


@dataclass(frozen=True)
class RedisCoordination:
    """Coordination across hosts through Redis: ``RedisCoordination(url="redis://…")`` or
    ``RedisCoordination(client=…)``. Keys start with ``prefix`` and the app's own key."""

    url: str | None = None
    client: Any = None
    prefix: str = "logto:"

    def connect(self, app_key: str) -> CoordinationPlan:
        store = RedisStore(self.url, client=self.client, prefix=f"{self.prefix}{app_key}:")
        return CoordinationPlan(
            store,
            shared=True,
            description=f"Redis ({store!r})",
            guarantee="one refresh grant per session across every host using this Redis",
        )

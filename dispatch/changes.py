"""The command centre's change stream: one message per audit row, published on Redis pub/sub
by the relay after the change committed, and replayed from PostgreSQL on reconnection."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from redis import Redis


def stream_channel(db: int) -> str:
    """The pub/sub channel of the change stream for Redis database ``db`` (pub/sub ignores
    database numbers, so the number is part of the name: test and dev stay apart)."""
    return f"wangge:dispatch:changes:{db}"


def redis_db(connection: Redis) -> int:
    return int(connection.connection_pool.connection_kwargs.get("db", 0))


@dataclass(frozen=True)
class ChangeFilter:
    """What one stream listens to: an empty set lets everything of that kind through."""

    grids: frozenset[str] = frozenset()
    communities: frozenset[str] = frozenset()
    levels: frozenset[int] = frozenset()
    kinds: frozenset[str] = frozenset()  # audit actions: report, dispatch, breach, review...

    def matches(self, message: Mapping[str, Any]) -> bool:
        return (
            (not self.grids or message.get("grid") in self.grids)
            and (not self.communities or message.get("community") in self.communities)
            and (not self.levels or message.get("to_level") in self.levels)
            and (not self.kinds or message.get("action") in self.kinds)
        )

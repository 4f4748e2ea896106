"""The command centre's change stream: one message per audit row, published on Redis pub/sub
by the relay after the change committed, and replayed from PostgreSQL on reconnection."""

from __future__ import annotations

from redis import Redis


def stream_channel(db: int) -> str:
    """The pub/sub channel of the change stream for Redis database ``db`` (pub/sub ignores
    database numbers, so the number is part of the name: test and dev stay apart)."""
    return f"wangge:dispatch:changes:{db}"


def redis_db(connection: Redis) -> int:
    return int(connection.connection_pool.connection_kwargs.get("db", 0))

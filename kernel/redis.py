"""Redis connection, the RQ queue and the worker heartbeat.

Redis is never the source of truth: everything here may fail, and callers that must
not lose work write to PostgreSQL first (see dispatch's outbox).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import lru_cache

from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from rq import Queue

from kernel.settings import get_settings

HEARTBEAT_KEY = "wangge:worker:heartbeat"


@lru_cache
def get_redis(url: str | None = None) -> Redis:
    return Redis.from_url(
        url or get_settings().redis_url, socket_connect_timeout=1, socket_timeout=2
    )


@asynccontextmanager
async def async_redis() -> AsyncIterator[AsyncRedis]:
    """An asyncio client for one event loop (an API process's lifespan), closed after."""
    client = AsyncRedis.from_url(
        get_settings().redis_url, socket_connect_timeout=1, socket_timeout=2
    )
    try:
        yield client
    finally:
        await client.aclose()


def worker_redis() -> Redis:
    """A connection for RQ's worker: no read timeout, since it blocks on BLPOP for minutes."""
    return Redis.from_url(
        get_settings().redis_url, socket_connect_timeout=2, health_check_interval=30
    )


def get_queue(connection: Redis | None = None) -> Queue:
    return Queue(get_settings().queue_name, connection=connection or get_redis())


def write_heartbeat(connection: Redis, worker_name: str, now: datetime | None = None) -> None:
    at = (now or datetime.now(UTC)).isoformat()
    ttl = max(int(get_settings().worker_heartbeat_seconds * 6), 10)
    connection.hset(HEARTBEAT_KEY, mapping={"at": at, "worker": worker_name})
    connection.expire(HEARTBEAT_KEY, ttl)


def read_heartbeat(connection: Redis) -> tuple[datetime, str] | None:
    """The last heartbeat any worker wrote, or None when no worker is alive."""
    raw = connection.hgetall(HEARTBEAT_KEY)
    if not raw:
        return None
    values = {_text(k): _text(v) for k, v in raw.items()}
    return datetime.fromisoformat(values["at"]), values["worker"]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

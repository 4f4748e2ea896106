"""The change stream as Server-Sent Events.

The relay publishes one message per audit row on Redis pub/sub after the change committed.
A client that connects with ``Last-Event-ID`` first gets the audit rows above that id from
PostgreSQL (the truth), then the live feed; messages it already got in the replay are skipped.
The subscription is made before the replay, so nothing falls between the two.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from dispatch.board.service import changes_after
from dispatch.changes import stream_channel
from kernel.db import get_engine
from kernel.errors import Unavailable
from kernel.settings import get_settings

REPLAY_BATCH = 500
KEEPALIVE_SECONDS = 15.0


def sse(message: dict[str, Any]) -> str:
    """One SSE message: the audit id as ``id`` (what ``Last-Event-ID`` sends back)."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return f"id: {message['audit_id']}\nevent: change\ndata: {data}\n\n"


def _replay(after_id: int) -> list[dict[str, Any]]:
    with Session(get_engine()) as session:
        return changes_after(session, after_id=after_id, limit=REPLAY_BATCH)


async def _feed(
    request: Request, redis: AsyncRedis, pubsub: PubSub, after: int | None
) -> AsyncIterator[str]:
    try:
        replayed: set[int] = set()
        if after is not None:
            cursor = after
            while True:
                batch = await run_in_threadpool(_replay, cursor)
                for message in batch:
                    replayed.add(int(message["audit_id"]))
                    yield sse(message)
                if len(batch) < REPLAY_BATCH:
                    break
                cursor = int(batch[-1]["audit_id"])
        yield ": live\n\n"
        while not await request.is_disconnected():
            raw = await pubsub.get_message(
                ignore_subscribe_messages=True, timeout=KEEPALIVE_SECONDS
            )
            if raw is None:
                yield ": keep-alive\n\n"
                continue
            message = json.loads(raw["data"])
            if int(message["audit_id"]) in replayed:
                continue
            yield sse(message)
    finally:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()


async def open_stream(request: Request, after: int | None) -> StreamingResponse:
    """Subscribe (503 when Redis is down), then stream: replay above ``after``, then live."""
    settings = get_settings()
    redis = AsyncRedis.from_url(settings.redis_url, socket_connect_timeout=2)
    db = int(redis.connection_pool.connection_kwargs.get("db", 0))
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(stream_channel(db))
    except (RedisError, OSError) as exc:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()
        raise Unavailable(f"the change stream needs Redis, which is unavailable ({exc})") from exc
    return StreamingResponse(
        _feed(request, redis, pubsub, after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )

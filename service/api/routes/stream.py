"""The change stream as Server-Sent Events, through FastAPI's ``EventSourceResponse``.

The relay publishes one message per audit row on Redis pub/sub after the change committed.
A client that connects with ``Last-Event-ID`` first gets the audit rows above that id from
PostgreSQL (the truth), then the live feed; messages it already got in the replay are skipped.
The subscription is made before the replay (in a dependency, so Redis down is a 503 before any
byte is sent), so nothing falls between the two. FastAPI adds a ``: ping`` comment whenever the
feed is quiet for 15 s and runs the generator in a task it cancels when the client leaves or the
server shuts down, so a stream never holds up a shutdown past uvicorn's graceful timeout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Header
from fastapi.sse import ServerSentEvent
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from dispatch.board.service import changes_after
from dispatch.changes import ChangeFilter, stream_channel
from kernel.db import get_engine
from kernel.errors import Invalid, Unavailable, field_error
from kernel.paging import MAX_BIGINT
from kernel.settings import get_settings
from service.api.deps import Access, access_from_token, bearer_token, still_valid
from service.api.metrics import SSE_CLIENTS

REPLAY_BATCH = 500
POLL_SECONDS = 5.0
LIVE = ServerSentEvent(comment="live")  # sent once the replay is done: the client is current


@dataclass
class Subscription:
    """An open subscription to the change channel, owned by one stream, and the access token
    it was opened with (the stream ends when that token expires or is revoked)."""

    redis: AsyncRedis
    pubsub: PubSub
    access: Access
    replayed: set[int] = field(default_factory=set)


def still_authorised(sub: Subscription) -> bool:
    """Whether the token the stream was opened with still holds (not expired, not signed out,
    the user not deactivated); asked at least every ``POLL_SECONDS``."""
    return still_valid(sub.access)


async def subscription(request: Request) -> AsyncIterator[Subscription]:
    """Subscribe (503 when Redis is down); counted in ``wangge_sse_clients`` while it lasts.
    The route's role check ran first, so the token is valid here."""
    access = access_from_token(bearer_token(request))
    redis = AsyncRedis.from_url(get_settings().redis_url, socket_connect_timeout=2)
    db = int(redis.connection_pool.connection_kwargs.get("db", 0))
    pubsub = redis.pubsub()
    try:
        await pubsub.subscribe(stream_channel(db))
    except (RedisError, OSError) as exc:
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()
        raise Unavailable(f"the change stream needs Redis, which is unavailable ({exc})") from exc
    SSE_CLIENTS.inc()
    try:
        yield Subscription(redis, pubsub, access)
    finally:
        SSE_CLIENTS.dec()
        await pubsub.aclose()  # type: ignore[no-untyped-call]
        await redis.aclose()


def resume_after(
    last_event_id: Annotated[
        str | None,
        Header(
            max_length=20,
            pattern=r"^\d+$",
            description="resume after this audit id (replayed from the database)",
        ),
    ] = None,
) -> int | None:
    """The audit id a reconnecting client last got: checked before the stream answers (an id
    past bigint would fail in PostgreSQL after the 200 was sent)."""
    if last_event_id is None:
        return None
    after = int(last_event_id)
    if after > MAX_BIGINT:
        raise Invalid(
            field_error("last-event-id", f"an audit id is at most {MAX_BIGINT}", "less_than_equal")
        )
    return after


def change_event(message: dict[str, Any]) -> ServerSentEvent:
    """One change: the audit id as ``id`` (what ``Last-Event-ID`` sends back)."""
    data = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
    return ServerSentEvent(id=str(message["audit_id"]), event="change", raw_data=data)


def _replay(after_id: int) -> list[dict[str, Any]]:
    with Session(get_engine()) as session:
        return changes_after(session, after_id=after_id, limit=REPLAY_BATCH)


async def feed(
    sub: Subscription, after: int | None, wanted: ChangeFilter
) -> AsyncIterator[ServerSentEvent]:
    """Replay above ``after`` from PostgreSQL, announce ``live``, then the live feed; only the
    changes ``wanted`` lets through."""
    if after is not None:
        cursor = after
        while True:
            batch = await run_in_threadpool(_replay, cursor)
            for message in batch:
                sub.replayed.add(int(message["audit_id"]))
                if wanted.matches(message):
                    yield change_event(message)
            if len(batch) < REPLAY_BATCH:
                break
            cursor = int(batch[-1]["audit_id"])
    yield LIVE
    while still_authorised(sub):
        raw = await sub.pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
        if raw is None:
            continue
        message = json.loads(raw["data"])
        if int(message["audit_id"]) in sub.replayed or not wanted.matches(message):
            continue
        yield change_event(message)

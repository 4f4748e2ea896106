"""The command centre: ``GET /api/v1/dispatch/board`` and the live change stream
``GET /api/v1/dispatch/stream`` (Server-Sent Events, resumable with ``Last-Event-ID``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from dispatch.board import service
from dispatch.board.schemas import BoardOut
from domain.jurisdiction import REACH, Principal, Reach
from service.api.deps import Now, RolesAllowed, SessionDep
from service.api.docs import AUTHENTICATED, problems
from service.api.routes.stream import Subscription, feed, resume_after, subscription

router = APIRouter(prefix="/api/v1/dispatch", tags=["command centre"], responses=AUTHENTICATED)
# The stream carries every change: it is for those whose jurisdiction is everywhere (the
# command centre, evaluators, admins); the board shows the watcher's jurisdiction.
Watcher = Annotated[
    Principal,
    Depends(RolesAllowed(*(r for r, reach in REACH.items() if reach is Reach.EVERYWHERE))),
]


@router.get("/board", response_model=BoardOut)
def board(session: SessionDep, principal: Watcher, now: Now) -> BoardOut:
    """Open events by level and SLA state (ok / warning / breached), and per grid and
    community."""
    return BoardOut.model_validate(service.board(session, principal=principal, now=now))


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    name="change_stream",
    responses=problems(503),
)
async def stream(
    principal: Watcher,
    sub: Annotated[Subscription, Depends(subscription)],
    after: Annotated[int | None, Depends(resume_after)],
) -> AsyncIterator[ServerSentEvent]:
    """Every change (one audit row each) as an SSE message: ``id`` is the audit id, ``event``
    is ``change``, ``data`` the JSON change. Reconnect with ``Last-Event-ID`` to receive what
    was missed, then the live feed."""
    async for event in feed(sub, after):
        yield event

"""The command centre: ``GET /api/v1/dispatch/board`` and the live change stream
``GET /api/v1/dispatch/stream`` (Server-Sent Events, resumable with ``Last-Event-ID``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent

from dispatch.board import service
from dispatch.board.schemas import BoardOut
from dispatch.changes import ChangeFilter
from dispatch.events import reads
from dispatch.events.schemas import EventPage
from domain.jurisdiction import REACH, Principal, Reach
from domain.lifecycle import Action, SlaState
from domain.roles import COMMAND_CENTRE_LEVEL
from kernel.paging import DEFAULT_LIMIT
from service.api.deps import Now, RolesAllowed, SessionDep
from service.api.docs import AUTHENTICATED, problems
from service.api.params import CommunityCode, Cursor, GridCode, Levels, Limit
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


@router.get("/board/events", response_model=EventPage)
def board_events(
    session: SessionDep,
    principal: Watcher,
    now: Now,
    sla: Annotated[SlaState, Query(description="ok, warning or breached")],
    level: Levels = None,
    grid: GridCode | None = None,
    community: CommunityCode | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> EventPage:
    """The open events behind one of the board's counts: in an SLA state (and a level, grid or
    community), most late first for breached, else soonest deadline first, a page at a time."""
    page = reads.list_events(
        session,
        principal=principal,
        filters=reads.EventFilter(
            sla_state=sla,
            levels=tuple(level or ()),
            grid=grid,
            community=community,
            order=reads.Order.LATE if sla is SlaState.BREACHED else reads.Order.DUE,
        ),
        now=now,
        limit=limit,
        cursor=cursor,
    )
    return EventPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/queue", response_model=EventPage)
def queue(
    session: SessionDep,
    principal: Watcher,
    now: Now,
    level: Levels = None,
    grid: GridCode | None = None,
    community: CommunityCode | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> EventPage:
    """The shared queue: events dispatched to a level and held by nobody (default: the command
    centre's, level 2), soonest deadline first. Any dispatcher takes one with
    ``POST /events/{id}/claim`` (sending its ``version``)."""
    page = reads.list_events(
        session,
        principal=principal,
        filters=reads.EventFilter(
            queued=True,
            levels=tuple(level or (COMMAND_CENTRE_LEVEL,)),
            grid=grid,
            community=community,
            order=reads.Order.DUE,
        ),
        now=now,
        limit=limit,
        cursor=cursor,
    )
    return EventPage(items=page.items, next_cursor=page.next_cursor)


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
    grid: Annotated[list[GridCode] | None, Query(description="repeatable")] = None,
    community: Annotated[list[CommunityCode] | None, Query(description="repeatable")] = None,
    level: Levels = None,  # the level the change leaves the event at
    kind: Annotated[
        list[Action] | None, Query(description="repeatable: report, dispatch, breach, review...")
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """Every change (one audit row each) as an SSE message: ``id`` is the audit id, ``event``
    is ``change``, ``data`` the JSON change (what changed, and the event's grid, community,
    category, holder and deadlines). Filters narrow it on the server. Reconnect with
    ``Last-Event-ID`` to receive what was missed, then the live feed."""
    wanted = ChangeFilter(
        grids=frozenset(grid or ()),
        communities=frozenset(community or ()),
        levels=frozenset(level or ()),
        kinds=frozenset(k.value for k in kind or ()),
    )
    async for event in feed(sub, after, wanted):
        yield event

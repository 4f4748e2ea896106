"""Routes of events for the phone and the console. Thin: parse, call the service, shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from dispatch.events import intake, reads
from dispatch.events.schemas import EventCreate, EventOut, EventPage, HistoryOut
from domain.jurisdiction import Principal
from domain.lifecycle import Status
from domain.roles import Role
from kernel.instants import UtcDatetime
from kernel.paging import DEFAULT_LIMIT
from service.api.deps import (
    AnyUser,
    Now,
    RolesAllowed,
    SessionDep,
    Sessions,
    categories_of,
    grid_map_of,
    pool_of,
)
from service.api.docs import AUTHENTICATED, problems
from service.api.limits import limit_reporting
from service.api.params import Cursor, EventId, Levels, Limit

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=AUTHENTICATED)
Reporter = Annotated[Principal, Depends(RolesAllowed(Role.MEMBER, Role.HEAD))]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": EventOut, "description": "a retry: the event made earlier"},
    **problems(409, 429),
}


@router.post(
    "",
    response_model=EventOut,
    status_code=201,
    responses=_RESPONSES,
)
async def report_event(
    request: Request,
    body: EventCreate,
    sessions: Sessions,
    principal: Reporter,
    now: Now,
) -> Response:
    """Report a problem (上报). Registered at once; the dispatch engine then assigns it.

    Safe to resend: the same ``client_id`` and body answer 200 with the same event.
    Rate limited per account and per address (429 with Retry-After).
    """
    await limit_reporting(request, principal, now)
    result = await intake.submit(
        pool=pool_of(request),
        sessions=sessions,
        grid_map=grid_map_of(request),
        categories=categories_of(request),
        principal=principal,
        data=body,
        now=now,
    )
    # Serialized here, once: FastAPI would otherwise validate the EventOut again.
    return Response(
        result.event.model_dump_json(),
        status_code=201 if result.created else 200,
        media_type="application/json",
    )


@router.get("", response_model=EventPage)
def list_events(
    session: SessionDep,
    principal: AnyUser,
    now: Now,
    scope: Annotated[
        Literal["mine", "reported", "grid"] | None,
        Query(description="mine: assigned to me; reported: by me; grid: my grid/community"),
    ] = None,
    status: Annotated[list[Status] | None, Query(description="repeatable")] = None,
    overdue: Annotated[bool | None, Query(description="past due and still open")] = None,
    request: Annotated[
        Literal["extension", "parking"] | None,
        Query(description="with a holder's pending 延期 (extension) or 挂账 (parking) request"),
    ] = None,
    grid: Annotated[str | None, Query(pattern=r"^\d{15}$")] = None,
    community: Annotated[str | None, Query(pattern=r"^\d{12}$", description="code")] = None,
    level: Levels = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    since: Annotated[UtcDatetime | None, Query(description="created at or after")] = None,
    until: Annotated[UtcDatetime | None, Query(description="created before")] = None,
    order: Annotated[
        reads.Order | None,
        Query(
            description="due: soonest deadline first; newest: newest report first; late: most "
            "overdue first. Default: late with overdue=true, newest for scope=reported|mine "
            "without a status filter, else due"
        ),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> EventPage:
    """The events I may see, filtered and ordered (``order``), a page at a time."""
    page = reads.list_events(
        session,
        principal=principal,
        filters=reads.EventFilter(
            scope=scope,
            statuses=tuple(status or ()),
            overdue=overdue,
            request=request,
            grid=grid,
            category=category,
            since=since,
            until=until,
            levels=tuple(level or ()),
            community=community,
            order=order,
        ),
        now=now,
        limit=limit,
        cursor=cursor,
    )
    return EventPage(items=page.items, next_cursor=page.next_cursor)


@router.get("/{event_id}", response_model=EventOut, responses=problems(404))
def get_event(event_id: EventId, session: SessionDep, principal: AnyUser, now: Now) -> EventOut:
    """One event; besides the list's fields, ``parked_s``: how long it has been parked (挂账)."""
    return reads.get_visible(session, principal=principal, event_id=event_id, now=now)


@router.get("/{event_id}/history", response_model=HistoryOut, responses=problems(404))
def event_history(event_id: EventId, session: SessionDep, principal: AnyUser) -> HistoryOut:
    """The audit trail: every transition with from → to status and level, actor, time, note."""
    return reads.history(session, principal=principal, event_id=event_id)

"""The public door on the Wangge API: hotline calls entered by dispatchers, the on-site
verification of public reports, a report's own facts, and the administrator's API clients of
the Open311 door. Thin: parse, call dispatch.public, shape."""

from __future__ import annotations

from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request

from dispatch.access import check_visible
from dispatch.events.models import Event
from dispatch.events.reads import event_out
from dispatch.events.schemas import DuplicateCandidate, EventOut
from dispatch.lifecycle import merging
from dispatch.public import keys, reads, verification
from dispatch.public.intake import PublicReportIn, submit
from dispatch.public.schemas import (
    ApiClientIn,
    ApiClientIssued,
    ApiClientOut,
    HotlineReportIn,
    MergeIn,
    PublicReportOut,
    RevokeIn,
    UnmergeIn,
    VerificationTask,
    VerifyIn,
)
from domain.intake import Channel
from domain.jurisdiction import Principal
from domain.roles import Role
from kernel.paging import DEFAULT_LIMIT
from kernel.uow import UnitOfWork
from service.api.deps import AnyUser, Now, RolesAllowed, SessionDep, UowDep, grid_locator
from service.api.docs import AUTHENTICATED, problems
from service.api.params import MAX_INT, EventId, Limit

router = APIRouter(prefix="/api/v1", tags=["public reports"], responses=AUTHENTICATED)

Dispatcher = Annotated[Principal, Depends(RolesAllowed(Role.DISPATCHER))]
Verifier = Annotated[Principal, Depends(RolesAllowed(Role.MEMBER, Role.HEAD, Role.DISPATCHER))]
Admin = Annotated[Principal, Depends(RolesAllowed(Role.ADMIN))]


@router.post(
    "/hotline-reports",
    response_model=PublicReportOut,
    status_code=201,
    responses=problems(409),
)
async def enter_hotline_report(
    body: HotlineReportIn, request: Request, session: SessionDep, principal: Dispatcher, now: Now
) -> PublicReportOut:
    """12345 热线: a dispatcher enters a caller's report (the hotline's case number is kept and
    unique: a second entry of it is a 409). It waits for on-site verification like a public
    report; the answer lists the open events near it that it may duplicate."""
    loc = body.location
    where = await grid_locator(request).locate(
        loc.lon, loc.lat, loc.coord, loc.accuracy_m or 0.0, loc=("location",)
    )
    data = PublicReportIn(
        channel=Channel.HOTLINE,
        category=body.category,
        description=body.description,
        lon=loc.lon,
        lat=loc.lat,
        coord=loc.coord,
        accuracy_m=loc.accuracy_m,
        address=body.address,
        reporter_name=body.caller_name,
        reporter_phone=body.caller_phone,
        hotline_case=body.hotline_case,
    )

    def run() -> PublicReportOut:
        done = submit(
            uow=UnitOfWork(session),
            data=data,
            where=where,
            api_client_id=None,
            entered_by=principal.staff_id,
            now=now,
        )
        return reads.public_report(session, principal=principal, event_id=done.event_id, now=now)

    return await anyio.to_thread.run_sync(run)


@router.get(
    "/events/{event_id}/public-report", response_model=PublicReportOut, responses=problems(404)
)
def get_public_report(
    event_id: EventId, session: SessionDep, principal: AnyUser, now: Now
) -> PublicReportOut:
    """Where the event's report came from (staff, public, hotline) and, for a public or
    hotline report, its own facts: address, the reporter's contact (personal data, for the
    staff who may see the event), its verification; its duplicate candidates; and, while it
    waits for verification, the closed events a confirmation would reopen (``reopen_candidates``,
    ``reopens``: 复发)."""
    return reads.public_report(session, principal=principal, event_id=event_id, now=now)


@router.get(
    "/events/{event_id}/duplicates",
    response_model=list[DuplicateCandidate],
    responses=problems(404),
)
def duplicate_candidates(
    event_id: EventId, session: SessionDep, principal: AnyUser, now: Now
) -> list[DuplicateCandidate]:
    """Open events of the same category near this one, nearest first (the duplicate rule)."""
    event = check_visible(principal, session.get(Event, event_id), event_id)
    return reads.candidates_of(session, event, now=now)


@router.get("/verifications", response_model=list[VerificationTask])
def verification_tasks(
    session: SessionDep,
    principal: AnyUser,
    now: Now,
    overdue: Annotated[bool | None, Query(description="past the verification deadline")] = None,
    limit: Limit = DEFAULT_LIMIT,
) -> list[VerificationTask]:
    """核实任务: the public and hotline reports waiting for on-site verification that I may see
    (a grid's staff: their grid's), soonest deadline first."""
    return reads.verification_tasks(
        session, principal=principal, now=now, overdue=overdue, limit=limit
    )


@router.post(
    "/events/{event_id}/verification", response_model=EventOut, responses=problems(404, 409)
)
def verify_report(
    event_id: EventId, body: VerifyIn, uow: UowDep, principal: Verifier, now: Now
) -> EventOut:
    """现场核实 (the grid's staff or the command centre): ``confirmed`` registers it (its
    clocks start now, dispatch follows), ``rejected`` voids it (``reason`` not_found /
    not_our_matter, and a photo at stage ``verify`` uploaded first), ``duplicate`` links it
    to the open event ``duplicate_of`` (its reporter then follows that event). A
    confirmation that matches a closed event (same category, within the duplicate distance,
    closed within ``WANGGE_REOPEN_WINDOW_DAYS``, no open duplicate candidate; ``reopens`` of
    the public report) reopens it (复发: a new cycle, counted as 返工) and links the report to
    it, unless ``reopen`` is false; the answer is the report, voided, ``duplicate_of`` set."""
    verification.verify(
        uow=uow,
        principal=principal,
        event_id=event_id,
        request=verification.VerifyRequest(
            outcome=body.outcome,
            reason=body.reason,
            duplicate_of=body.duplicate_of,
            note=body.note,
            version=body.version,
            reopen=body.reopen,
        ),
        now=now,
    )
    return _event(uow, event_id)


@router.post("/events/{event_id}/merge", response_model=EventOut, responses=problems(404, 409))
def merge_event(
    event_id: EventId, body: MergeIn, uow: UowDep, principal: Dispatcher, now: Now
) -> EventOut:
    """合并 (command centre): park this open event as a duplicate of the open event ``into``;
    its clock pauses, it counts once (as ``into``), its reporter follows ``into``."""
    merging.merge(
        uow=uow,
        principal=principal,
        event_id=event_id,
        request=merging.MergeRequest(into=body.into, note=body.note, version=body.version),
        now=now,
    )
    return _event(uow, event_id)


@router.post("/events/{event_id}/unmerge", response_model=EventOut, responses=problems(404, 409))
def unmerge_event(
    event_id: EventId,
    uow: UowDep,
    principal: Dispatcher,
    now: Now,
    body: UnmergeIn | None = None,
) -> EventOut:
    """撤销合并 (command centre), before the event it was merged into is closed: it returns
    where it was, its clock runs again with the time it had left."""
    data = body or UnmergeIn()
    merging.unmerge(
        uow=uow,
        principal=principal,
        event_id=event_id,
        request=merging.MergeRequest(note=data.note, version=data.version),
        now=now,
    )
    return _event(uow, event_id)


def _event(uow: UnitOfWork, event_id: int) -> EventOut:
    out = event_out(uow.session, event_id=event_id)
    assert out is not None
    return out


def _client_out(client: object) -> ApiClientOut:
    return ApiClientOut.model_validate(client, from_attributes=True)


@router.post(
    "/api-clients", response_model=ApiClientIssued, status_code=201, responses=problems(409)
)
def issue_api_client(body: ApiClientIn, uow: UowDep, _: Admin, now: Now) -> ApiClientIssued:
    """Issue an Open311 client its key (an app, a WeChat mini-program backend: ``public``;
    the 12345 system: ``hotline``). The key is in this answer only."""
    issued = keys.issue(uow=uow, name=body.name, channel=Channel(body.channel), now=now)
    return ApiClientIssued(**_client_out(issued.client).model_dump(), api_key=issued.key)


@router.get("/api-clients", response_model=list[ApiClientOut])
def list_api_clients(session: SessionDep, _: Admin) -> list[ApiClientOut]:
    return [_client_out(c) for c in keys.list_clients(session=session)]


@router.post(
    "/api-clients/{client_id}/revoke", response_model=ApiClientOut, responses=problems(404)
)
def revoke_api_client(
    client_id: Annotated[int, Path(ge=1, le=MAX_INT, description="API client id")],
    body: RevokeIn,
    uow: UowDep,
    _: Admin,
    now: Now,
) -> ApiClientOut:
    """Block a client's key for good (its reports stay)."""
    return _client_out(keys.revoke(uow=uow, client_id=client_id, reason=body.reason, now=now))

"""``POST /api/v1/events/{id}/{action}``: one route per action, each declaring its roles (the
service then checks the person against the event: assignee, claimer, reviewer, command centre).
Thin: parse, call ``dispatch.lifecycle.actions.act``, answer the event."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path

from dispatch.events.reads import event_out
from dispatch.events.schemas import EventOut
from dispatch.lifecycle import actions
from dispatch.lifecycle.schemas import ActionIn, DispatchIn, ReviewIn
from domain.jurisdiction import Principal
from domain.lifecycle import Action
from domain.roles import Role
from service.api.deps import Now, RolesAllowed, UowDep

router = APIRouter(prefix="/api/v1/events", tags=["dispatch"])

EventId = Annotated[int, Path(ge=1, le=2**63 - 1, description="event id")]
Handler = Annotated[
    Principal,
    Depends(RolesAllowed(Role.MEMBER, Role.HEAD, Role.COMMUNITY, Role.DISPATCHER, Role.DEPARTMENT)),
]
Reviewer = Annotated[Principal, Depends(RolesAllowed(Role.HEAD, Role.DISPATCHER))]
CommandCentre = Annotated[Principal, Depends(RolesAllowed(Role.DISPATCHER))]
Voider = Annotated[Principal, Depends(RolesAllowed(Role.DISPATCHER, Role.HEAD))]
OptionalBody = Annotated[ActionIn | None, Body()]

_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: {"description": "your role may act, but not on this event (not its assignee...)"},
    404: {"description": "no such event, or not one you may see"},
    409: {"description": "illegal for the event's status (names it and the allowed actions), "
          "or a stale version (names the current one)"},
}  # fmt: skip


def _run(
    uow: UowDep,
    principal: Principal,
    event_id: int,
    action: Action,
    body: ActionIn | None,
    now: Now,
) -> EventOut:
    data = body or ActionIn()
    request = actions.ActionRequest(
        note=data.note,
        version=data.version,
        approved=data.approved if isinstance(data, ReviewIn) else None,
        assignee_id=data.assignee_id if isinstance(data, DispatchIn) else None,
        level=data.level if isinstance(data, DispatchIn) else None,
    )
    actions.act(
        uow=uow,
        principal=principal,
        event_id=event_id,
        action=action,
        request=request,
        now=now,
    )
    out = event_out(uow.session, event_id=event_id)
    assert out is not None
    return out


@router.post("/{event_id}/acknowledge", response_model=EventOut, responses=_RESPONSES)
def acknowledge(
    event_id: EventId,
    uow: UowDep,
    principal: Handler,
    now: Now,
    body: OptionalBody = None,
) -> EventOut:
    """签收: the assignee confirms; on a queued event the first of its level to do so claims it."""
    return _run(uow, principal, event_id, Action.ACKNOWLEDGE, body, now)


@router.post("/{event_id}/resolve", response_model=EventOut, responses=_RESPONSES)
def resolve(
    event_id: EventId,
    uow: UowDep,
    principal: Handler,
    now: Now,
    body: OptionalBody = None,
) -> EventOut:
    """处置反馈: the assignee reports the fix (with at least one photo at stage ``resolve``,
    uploaded first); review is requested one level up."""
    return _run(uow, principal, event_id, Action.RESOLVE, body, now)


@router.post("/{event_id}/escalate", response_model=EventOut, responses=_RESPONSES)
def escalate(
    event_id: EventId,
    uow: UowDep,
    principal: Handler,
    now: Now,
    body: OptionalBody = None,
) -> EventOut:
    """上报升级: the assignee hands the event one level up (to that level's chosen handler)."""
    return _run(uow, principal, event_id, Action.ESCALATE, body, now)


@router.post("/{event_id}/review", response_model=EventOut, responses=_RESPONSES)
def review(
    event_id: EventId,
    body: ReviewIn,
    uow: UowDep,
    principal: Reviewer,
    now: Now,
) -> EventOut:
    """核查: the grid head (a member's fix) or the command centre (any other) accepts the fix
    (closed) or sends it back (rework: same handler, fresh deadlines)."""
    return _run(uow, principal, event_id, Action.REVIEW, body, now)


@router.post("/{event_id}/dispatch", response_model=EventOut, responses=_RESPONSES)
def dispatch(
    event_id: EventId,
    body: DispatchIn,
    uow: UowDep,
    principal: CommandCentre,
    now: Now,
) -> EventOut:
    """派遣 / 改派 (command centre): to a person (``assignee_id``) or to a level (``level``)."""
    return _run(uow, principal, event_id, Action.DISPATCH, body, now)


@router.post("/{event_id}/suspend", response_model=EventOut, responses=_RESPONSES)
def suspend(
    event_id: EventId,
    uow: UowDep,
    principal: CommandCentre,
    now: Now,
    body: OptionalBody = None,
) -> EventOut:
    """挂起 (command centre): the SLA clock stops; the remaining time is kept."""
    return _run(uow, principal, event_id, Action.SUSPEND, body, now)


@router.post("/{event_id}/resume", response_model=EventOut, responses=_RESPONSES)
def resume(
    event_id: EventId,
    uow: UowDep,
    principal: CommandCentre,
    now: Now,
    body: OptionalBody = None,
) -> EventOut:
    """恢复 (command centre): the clock runs again; deadlines move by the suspended time."""
    return _run(uow, principal, event_id, Action.RESUME, body, now)


@router.post("/{event_id}/void", response_model=EventOut, responses=_RESPONSES)
def void(
    event_id: EventId,
    uow: UowDep,
    principal: Voider,
    now: Now,
    body: OptionalBody = None,
) -> EventOut:
    """作废: invalid or duplicate (command centre; the grid head before dispatch)."""
    return _run(uow, principal, event_id, Action.VOID, body, now)

"""``POST /api/v1/events/{id}/{action}``: one route per action, each declaring its roles (the
service then checks the person against the event: assignee, claimer, reviewer, command centre).
The routes are made from one table (``ROUTES``); each is thin: parse, call
``dispatch.lifecycle.actions.act``, answer the event."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends

from dispatch.events.reads import event_out
from dispatch.events.schemas import EventOut
from dispatch.lifecycle import actions
from dispatch.lifecycle.schemas import (
    ActionIn,
    DispatchIn,
    ExtensionIn,
    ParkingIn,
    ReasonIn,
    ReopenIn,
    ReviewIn,
)
from domain.jurisdiction import Principal
from domain.lifecycle import Action
from domain.roles import ROLE_LEVEL, Role
from kernel.uow import UnitOfWork
from service.api.deps import Now, RolesAllowed, UowDep
from service.api.docs import AUTHENTICATED, problems
from service.api.params import EventId

router = APIRouter(prefix="/api/v1/events", tags=["dispatch"], responses=AUTHENTICATED)

#: Everyone who handles events at some level (the service narrows it to the assignee).
HANDLERS = tuple(ROLE_LEVEL)
COMMAND_CENTRE = (Role.DISPATCHER,)
#: Everyone who is some role's superior (``domain.roles.SUPERIOR``): the service narrows it to
#: the holder's superior where the event is, or the command centre, never the holder.
APPROVERS = (Role.HEAD, Role.COMMUNITY, Role.DISPATCHER)
_APPROVER_DOC = (
    " Decided by the holder's superior (a member's: the grid head; a head's: the community;"
    " the community's, a department's and a dispatcher's: the command centre) or the command"
    " centre, never by the holder."
)

_RESPONSES = problems(404, 409)


@dataclass(frozen=True)
class ActionRoute:
    action: Action
    roles: tuple[Role, ...]
    doc: str
    body: type[ActionIn] = ActionIn
    body_required: bool = False


ROUTES: tuple[ActionRoute, ...] = (
    ActionRoute(Action.ACKNOWLEDGE, HANDLERS,
                "签收: the assignee confirms; on a queued event the first of its level to do so"
                " claims it."),
    ActionRoute(Action.CLAIM, HANDLERS,
                "认领: take a queued event (nobody holds it; the command centre's shared queue)"
                " as its holder; send ``version``: of two claims at once one wins, the other is"
                " a 409. The clocks run on."),
    ActionRoute(Action.RESOLVE, HANDLERS,
                "处置反馈: the assignee reports the fix (with at least one photo at stage"
                " ``resolve``, uploaded first); review is requested one level up."),
    ActionRoute(Action.ESCALATE, HANDLERS,
                "上报升级: the assignee hands the event one level up (to that level's chosen"
                " handler)."),
    ActionRoute(Action.RETURN, HANDLERS,
                "回退: the holder (a department, a grid, a community) says the case is not"
                " theirs and sends it back, with the reason as ``note``, to the command centre's"
                " shared queue to be dispatched again; the stage clock restarts there, the"
                " original promise does not move; counted per category as a mis-dispatch."),
    ActionRoute(Action.REVIEW, (Role.HEAD, Role.DISPATCHER),
                "核查: the grid head (a member's fix) or the command centre (any other) accepts"
                " the fix (closed) or sends it back (rework: same handler, fresh deadlines).",
                body=ReviewIn, body_required=True),
    ActionRoute(Action.DISPATCH, COMMAND_CENTRE,
                "派遣 / 改派 (command centre): to a person (``assignee_id``) or to a level"
                " (``level``).",
                body=DispatchIn, body_required=True),
    ActionRoute(Action.SUSPEND, COMMAND_CENTRE,
                "挂起 (command centre): the SLA clock stops; the remaining time is kept."),
    ActionRoute(Action.RESUME, COMMAND_CENTRE,
                "恢复 (command centre): the clock runs again; deadlines move by the suspended"
                " time."),
    ActionRoute(Action.VOID, (Role.DISPATCHER, Role.HEAD),
                "作废: invalid or duplicate (command centre; the grid head before dispatch)."),
    ActionRoute(Action.REQUEST_EXTENSION, HANDLERS,
                "延期申请: the holder asks the level above for a later resolve deadline"
                " (``deadline``, later than the current one, at most 30 days ahead) with a reason"
                " (``note``). Nothing moves until it is approved; one request at a time (409).",
                body=ExtensionIn, body_required=True),
    ActionRoute(Action.APPROVE_EXTENSION, APPROVERS,
                "延期批准: the resolve deadline (``due_at``) and the original promise"
                " (``promised_due_at``) move to the deadline asked for." + _APPROVER_DOC),
    ActionRoute(Action.REFUSE_EXTENSION, APPROVERS,
                "延期驳回: with a reason (``note``); nothing else changes." + _APPROVER_DOC,
                body=ReasonIn, body_required=True),
    ActionRoute(Action.REQUEST_PARKING, HANDLERS,
                "挂账申请: the holder asks to park a case that cannot be fixed now (budget,"
                " season) with a reason (``note``) and optionally a review date (``review_on``);"
                " the clocks run on until it is approved; one request at a time (409).",
                body=ParkingIn, body_required=True),
    ActionRoute(Action.APPROVE_PARKING, APPROVERS,
                "挂账批准: the event is parked (``parked``): its clocks stop with their remaining"
                " time kept, as a suspension stops them." + _APPROVER_DOC),
    ActionRoute(Action.REFUSE_PARKING, APPROVERS,
                "挂账驳回: with a reason (``note``); the case stays with its holder."
                + _APPROVER_DOC,
                body=ReasonIn, body_required=True),
    ActionRoute(Action.UNPARK, APPROVERS,
                "挂账解除: the clocks run again with the time they had left; the promise moves by"
                " the parked time (the holder's superior or the command centre)."),
    ActionRoute(Action.REOPEN, COMMAND_CENTRE,
                "重开 (command centre): a closed case came back. A new cycle with a reason"
                " (``note``): dispatched anew, to ``assignee_id`` or ``level`` or (neither) the"
                " handler of the closed cycle, with new clocks and a new promise; counted as"
                " rework (返工). The closure stays in the audit log.",
                body=ReopenIn, body_required=True),
)  # fmt: skip


def _run(
    uow: UnitOfWork,
    principal: Principal,
    event_id: int,
    action: Action,
    body: ActionIn | None,
    now: datetime,
) -> EventOut:
    data = body or ActionIn()
    target = data if isinstance(data, DispatchIn | ReopenIn) else None
    request = actions.ActionRequest(
        note=data.note,
        version=data.version,
        approved=data.approved if isinstance(data, ReviewIn) else None,
        assignee_id=None if target is None else target.assignee_id,
        level=None if target is None else target.level,
        deadline=data.deadline if isinstance(data, ExtensionIn) else None,
        review_on=data.review_on if isinstance(data, ParkingIn) else None,
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


def _endpoint(route: ActionRoute) -> Callable[..., EventOut]:
    """The route function of one action: its signature (roles, body) is what FastAPI reads to
    check the caller, parse the body and describe the route in OpenAPI."""

    def endpoint(
        event_id: int,
        uow: UnitOfWork,
        principal: Principal,
        now: datetime,
        body: ActionIn | None = None,
    ) -> EventOut:
        return _run(uow, principal, event_id, route.action, body, now)

    body_type: Any = route.body if route.body_required else route.body | None
    endpoint.__annotations__ = {
        "event_id": EventId,
        "uow": UowDep,
        "principal": Annotated[Principal, Depends(RolesAllowed(*route.roles))],
        "now": Now,
        "body": Annotated[body_type, Body()],
        "return": EventOut,
    }
    endpoint.__defaults__ = () if route.body_required else (None,)
    endpoint.__name__ = endpoint.__qualname__ = route.action.value
    endpoint.__doc__ = route.doc
    return endpoint


for _route in ROUTES:
    router.add_api_route(
        f"/{{event_id}}/{_route.action.value}",
        _endpoint(_route),
        methods=["POST"],
        response_model=EventOut,
        responses=_RESPONSES,
    )

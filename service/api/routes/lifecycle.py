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
from dispatch.lifecycle.schemas import ActionIn, DispatchIn, ReviewIn
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

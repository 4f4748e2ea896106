"""People's actions on an event: who may take them (role and jurisdiction), what the command
carries (a manual assignment, the escalation's handler, the fix's photo), then one write.

Every change goes through ``domain.lifecycle.apply`` and ``dispatch.store.record``: one
transaction with its audit row and outbox rows. A stale version or a lost race is a 409 that
names the current version (optimistic locking; nothing is locked while deciding).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time

from sqlmodel import Session

from dispatch.access import check_visible
from dispatch.lifecycle.assignment import choose
from dispatch.lifecycle.loading import Loaded, load
from dispatch.photos.schemas import Stage
from dispatch.photos.service import count_photos
from dispatch.store import held_by, last_handover, last_rejection_at, record
from domain.jurisdiction import Place, Principal, heads_grid_of, serves
from domain.lifecycle import (
    Action,
    Assignment,
    Command,
    Status,
    allowed_actions,
    apply,
    escalation_target,
    reviewer_role,
)
from domain.lifecycle.model import DECISION_ACTIONS, REQUEST_ACTIONS
from domain.roles import DEPARTMENT_LEVEL, LEVEL_LABELS, LEVEL_NAMES, ROLE_LEVEL, SUPERIOR, Role
from domain.supervision import may_decide
from kernel.errors import Conflict, Forbidden, Invalid, field_error
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from staff.models import Staff
from staff.roster import username_for

#: Who may take the handler's actions; ``authorize`` narrows it to the assignee or claimer.
HANDLER_ACTIONS = frozenset(
    {Action.ACKNOWLEDGE, Action.RESOLVE, Action.ESCALATE, Action.RETURN, *REQUEST_ACTIONS}
)
COMMAND_CENTRE_ACTIONS = frozenset({Action.DISPATCH, Action.SUSPEND, Action.RESUME, Action.REOPEN})
#: Decided by the level above the holder (``domain.supervision.may_decide``).
APPROVER_ACTIONS = frozenset({*DECISION_ACTIONS, Action.UNPARK})


@dataclass(frozen=True)
class ActionRequest:
    """What a person sent with an action (the route's body, validated)."""

    note: str = ""
    version: int | None = None
    approved: bool | None = None
    assignee_id: int | None = None
    level: int | None = None
    deadline: datetime | None = None  # an extension's new resolve deadline
    review_on: date | None = None  # a parking's review date


def moved_on(session: Session, principal: Principal, loaded: Loaded, action: Action) -> None:
    """A handler's action by someone who held the event before it moved on (escalated by a
    breach or by hand, re-dispatched): a 409 that says who holds it now, since when and how,
    instead of the bare 403 a stranger gets (docs/decisions/0013). They do not act on it: the
    new holder's clock and review follow the new holder."""
    event = loaded.event
    if action not in HANDLER_ACTIONS or event.assignee_id == principal.staff_id:
        return
    if event.assignee_id is None and serves(
        principal.role, principal.workplace, event.level, loaded.place
    ):
        return  # a queued event they may claim
    if not held_by(session, loaded.event_id, principal.staff_id):
        return
    handover = last_handover(session, loaded.event_id)
    holder = None if event.assignee_id is None else session.get(Staff, event.assignee_id)
    username = None if holder is None else username_for(session, holder.id or 0)
    who = (
        f"the level-{event.level} queue ({LEVEL_LABELS[event.level]})"
        if holder is None
        else f"{holder.name} ({username or holder.id}, {holder.role.value})"
    )
    when = how = None
    if handover is not None:
        when = handover.at.astimezone(get_settings().tz)
        how = handover.action + (f" ({handover.reason})" if handover.reason else "")
    since = "" if when is None else f" by {how} at {when:%Y-%m-%d %H:%M} {when.tzname()}"
    raise Conflict(
        field_error(
            (),
            f"event {loaded.event_id} is no longer yours to {action.value}: it moved on{since}"
            f" to level {event.level} ({LEVEL_LABELS[event.level]}) and is held by {who};"
            " tell them what you did, or ask the command centre",
            "moved_on",
            holder=None
            if holder is None
            else {"id": holder.id, "name": holder.name, "username": username,
                  "role": holder.role.value},
            level=event.level,
            status=event.status,
            since=None if when is None else when.isoformat(),
            how=how,
            version=event.version,
        )
    )  # fmt: skip


def authorize(principal: Principal, loaded: Loaded, action: Action) -> None:
    """Who may do what to this event (the domain checks the state, this checks the person).

    - acknowledge, resolve, escalate: the assignee; for a queued event (nobody assigned) anyone
      who serves the event's level where it is (``domain.jurisdiction.serves``), who thereby
      claims it;
    - claim: anyone who serves the event's level where it is (the event must be queued);
    - review: the grid head for a member's fix, the command centre for every other;
    - request_extension, request_parking: the holder (a handler's action, as above; the domain
      wants a holder);
    - approve/refuse an extension or a parking, unpark: the holder's superior where the event
      is, or the command centre; never the holder (``domain.supervision.may_decide``);
    - dispatch, suspend, resume, reopen: the command centre;
    - void: the command centre, and the grid's head while the event is not yet dispatched.
    """
    event, state, place = loaded.event, loaded.state, loaded.place
    if action in HANDLER_ACTIONS:
        if event.assignee_id is not None:
            if event.assignee_id != principal.staff_id:
                raise Forbidden(f"only the event's assignee may {action.value} it")
        elif not serves(principal.role, principal.workplace, event.level, place):
            raise Forbidden(
                f"the event waits in the level-{event.level} queue; only staff of that level"
                f" and place may {action.value} it"
            )
        return
    if action is Action.CLAIM:
        # Anyone who serves the event's level where it is may take it from the queue; a held
        # event is the domain's 409 (the guard "queued"), so a lost race reads as one.
        if not serves(principal.role, principal.workplace, event.level, place):
            raise Forbidden(
                f"only staff of level {event.level} ({LEVEL_NAMES[event.level]}) serving the"
                " event's place may claim it from the queue"
            )
        return
    if action is Action.REVIEW:
        if reviewer_role(state) is Role.HEAD:
            if not heads_grid_of(principal, place):
                raise Forbidden("a grid member's fix is reviewed by the head of the event's grid")
        elif principal.role is not Role.DISPATCHER:
            raise Forbidden("this fix is reviewed by the command centre (dispatcher)")
        return
    if action in APPROVER_ACTIONS:
        if event.assignee_id is None or event.assignee_role is None:
            if principal.role is Role.DISPATCHER:
                return  # nothing to decide for a holder: the table answers (409)
            raise Forbidden(f"only the command centre may {action.value} this event")
        holder_role = Role(event.assignee_role)
        if not may_decide(principal, event.assignee_id, holder_role, place):
            raise Forbidden(
                f"{action.value}: decided by the holder's superior ({SUPERIOR[holder_role].value}"
                " where the event is) or the command centre, never by the holder"
            )
        return
    if action in COMMAND_CENTRE_ACTIONS:
        if principal.role is not Role.DISPATCHER:
            raise Forbidden(f"only the command centre (dispatcher) may {action.value}")
        return
    if action is Action.VOID:
        if principal.role is Role.DISPATCHER:
            return
        early = state.status in (Status.REGISTERED, Status.PENDING_VERIFICATION)
        if early and heads_grid_of(principal, place):
            return
        raise Forbidden(
            "only the command centre may void; the grid head only before the event is dispatched"
        )
    raise Forbidden(f"{action.value} is not a person's action")


def _manual_assignment(
    session: Session, loaded: Loaded, request: ActionRequest, now: datetime
) -> Assignment:
    """A dispatcher's choice: a named person who serves their level where the event is (a
    department's staff member routes it to their department), or a level (the assignment
    rules pick the person there)."""
    if request.assignee_id is None:
        if request.level is None:
            raise Invalid(field_error("assignee_id", "dispatch needs assignee_id or level"))
        return choose(session, loaded, level=request.level, now=now)
    staff = session.get(Staff, request.assignee_id)
    where = "assignee_id"
    if staff is None or staff.role not in ROLE_LEVEL:
        raise Invalid(field_error(where, f"no staff member {request.assignee_id} handles events"))
    level = ROLE_LEVEL[staff.role]
    if request.level is not None and request.level != level:
        raise Invalid(
            field_error(where, f"staff {staff.id} ({staff.role}) works at level {level}, "
                        f"not {request.level}")
        )  # fmt: skip
    place = loaded.place
    if level == DEPARTMENT_LEVEL:
        place = replace(place, department=staff.department)
    workplace = Place(staff.grid_id, staff.community_id, staff.department)
    if not serves(staff.role, workplace, level, place):
        raise Invalid(field_error(where, f"staff {staff.id} works in another {LEVEL_NAMES[level]}"))
    return Assignment(
        level=level,
        assignee_id=str(staff.id),
        role=staff.role,
        department=staff.department if level == DEPARTMENT_LEVEL else None,
        reason="manual",
    )


def _command(
    session: Session,
    principal: Principal,
    loaded: Loaded,
    action: Action,
    request: ActionRequest,
    now: datetime,
) -> Command:
    state = loaded.state
    allowed = action in allowed_actions(state)
    assignment: Assignment | None = None
    deadline = request.deadline
    if request.review_on is not None:  # the review day's start, where the service is
        deadline = datetime.combine(request.review_on, time(0), get_settings().tz)
    if allowed and action is Action.DISPATCH:
        assignment = _manual_assignment(session, loaded, request, now)
    elif allowed and action is Action.REOPEN:
        if request.assignee_id is not None or request.level is not None:
            assignment = _manual_assignment(session, loaded, request, now)
    elif allowed and action is Action.ESCALATE:
        target = escalation_target(state)
        if target is not None:
            assignment = choose(session, loaded, level=target, now=now)
    elif allowed and action is Action.RESOLVE and get_settings().resolve_photo_required:
        rejected = last_rejection_at(session, loaded.event_id)
        if count_photos(session, loaded.event_id, Stage.resolve, since=rejected) < 1:
            after = "" if rejected is None else ", uploaded after the fix was rejected,"
            raise Invalid(
                field_error(
                    "photos",
                    f"attach a new photo of the fix (stage 'resolve'){after} before resolving",
                )
            )
    return Command(
        action=action,
        actor=str(principal.staff_id),
        actor_role=principal.role if principal.role in ROLE_LEVEL else None,
        note=request.note,
        approved=request.approved,
        assignment=assignment,
        expected_version=request.version,
        deadline=deadline,
    )


def act(
    *,
    uow: UnitOfWork,
    principal: Principal,
    event_id: int,
    action: Action,
    request: ActionRequest,
    now: datetime,
) -> None:
    """A person's action on an event: visibility (404), permission (403), the transition
    (409 when illegal or stale, naming the status, the allowed actions or the current
    version), then one transaction."""
    loaded = load(uow.session, event_id)
    check_visible(principal, loaded.event if loaded else None, event_id)
    assert loaded is not None
    moved_on(uow.session, principal, loaded, action)
    authorize(principal, loaded, action)
    command = _command(uow.session, principal, loaded, action, request, now)
    decision = apply(loaded.state, command, now=now, policy=loaded.policy)
    record(uow.session, decision, previous_version=loaded.state.version)
    uow.commit()

"""Applying commands: ``open_event`` creates an event, ``apply`` moves it along the table.

Both return a ``Decision``: the new state, its audit entry, the timers to set or cancel and the
notifications to send. The service persists all of it in one transaction (state row, audit row,
outbox rows). A stale or early timer command yields a no-op decision and no error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from domain.calendar import WorkCalendar, add_working, gap_years, working_between
from domain.lifecycle.audit import encode_delta, encode_field
from domain.lifecycle.errors import IllegalTransition, InvalidCommand, StaleVersion
from domain.lifecycle.invariants import invariant_violations
from domain.lifecycle.model import (
    ACK_TIMERS,
    CLOCKED_STATUSES,
    DECISION_ACTIONS,
    DISPATCH_TIMERS,
    MAX_EXTENSION,
    MAX_PARKING,
    RESOLVE_TIMERS,
    REVIEW_TIMERS,
    SYSTEM_ACTIONS,
    TIMER_FIELDS,
    VERIFY_TIMERS,
    Action,
    Assignment,
    AuditEntry,
    Clock,
    Command,
    Decision,
    EscalationReason,
    EventState,
    JsonValue,
    Notification,
    NotificationKind,
    RequestKind,
    Status,
    TimerCommand,
    TimerKind,
    ensure_utc,
)
from domain.lifecycle.sla import (
    BREACH_TIMER,
    SlaPolicy,
    cancel_timers,
    current_timer_due,
    plan_marks,
    remaining,
    set_timers,
)
from domain.lifecycle.transitions import allowed_actions, find_rule, resolve_target
from domain.roles import (
    COMMAND_CENTRE_LEVEL,
    GRID_LEVEL,
    LEVEL_QUEUE_ROLE,
    MAX_LEVEL,
    ROLE_LEVEL,
    SUPERIOR,
    Role,
    start_level,
)


def escalation_target(state: EventState) -> int | None:
    """The level an escalation of ``state`` would reach, or None at the top of the ladder."""
    return state.level + 1 if state.level < MAX_LEVEL else None


def dispatched_up(state: EventState, assignment: Assignment) -> bool:
    """A dispatch to a department from below (the command centre sending a big event on)
    counts as an escalation (升级: the subdistrict did not keep it), not as a re-dispatch:
    DESIGN §2's ladder ends at the department whichever way the event got there."""
    return assignment.level == MAX_LEVEL and state.level < MAX_LEVEL


def reviewer_role(state: EventState) -> Role:
    """Who reviews the handler's fix: the grid head a member's, the command centre all others'."""
    return Role.HEAD if state.assignee_role == Role.MEMBER else Role.DISPATCHER


def open_event(
    *,
    event_id: str,
    policy: SlaPolicy,
    now: datetime,
    reporter_id: str | None,
    trusted: bool = True,
    grid: str | None = None,
    note: str = "",
) -> Decision:
    """Create an event: a trusted (staff) report is registered at once, and its dispatch clock
    (派遣) starts; a public one waits for verification, and its verification clock (立案/核实)
    starts. The event starts at level 0, or 2 for big categories; nobody is assigned yet."""
    now = ensure_utc(now, "now")
    status = Status.REGISTERED if trusted else Status.PENDING_VERIFICATION
    state = EventState(
        event_id=event_id,
        status=status,
        level=start_level(policy.category.big),
        created_at=now,
        version=1,
        category=policy.category.code,
        grid=grid,
        reporter_id=reporter_id,
    )
    if trusted:
        state = _start_dispatch_clock(state, now, policy)
    else:
        state = _start_verify_clock(state, now, policy)
    timers = set_timers(state, now)
    _check(state)
    audit = AuditEntry(
        event_id=event_id,
        action=Action.REGISTER if trusted else Action.REPORT,
        from_status=None,
        to_status=status,
        from_level=None,
        to_level=state.level,
        actor=reporter_id or "public",
        at=now,
        version=state.version,
        note=note,
        data=encode_delta(None, state),
    )
    notes: tuple[Notification, ...] = ()
    if not trusted:
        notes = (_to_queue(state, NotificationKind.VERIFY_REQUESTED, level=0, role=Role.HEAD),)
    return Decision(state=state, audit=audit, timers=timers, notifications=notes)


def _start_verify_clock(state: EventState, now: datetime, policy: SlaPolicy) -> EventState:
    """立案/核实: the pending report's verification marks, ``verify_minutes`` of working time
    on the calendar of the grid level, whose staff go and look (the grid head answers for it:
    its 督办 goes there), whatever level the category starts at, from ``now`` (receipt, or an
    unmerge back to pending). Deadline version 0, like the dispatch clock's timers."""
    return _start_stage(
        state, now, policy.verify_allowance(), policy.calendar_at(GRID_LEVEL), VERIFY_TIMERS
    )


def _start_dispatch_clock(state: EventState, now: datetime, policy: SlaPolicy) -> EventState:
    """派遣: the registered event's dispatch marks, ``dispatch_minutes`` of working time on the
    calendar of the command centre, who answers for the stage, from ``now`` (registration,
    verification, or an unmerge back to registered). Its timers keep deadline version 0:
    nothing else is timed before dispatch."""
    calendar = policy.calendar_at(COMMAND_CENTRE_LEVEL)
    return _start_stage(state, now, policy.dispatch_allowance(), calendar, DISPATCH_TIMERS)


def _start_review_clock(state: EventState, now: datetime, policy: SlaPolicy) -> EventState:
    """核查: the resolved event's review marks, ``review_minutes`` from the fix on the
    reviewer's level's calendar, with a new deadline version (the handling clocks' timers are
    gone)."""
    calendar = policy.calendar_at(ROLE_LEVEL[reviewer_role(state)])
    started = _start_stage(state, now, policy.review_allowance(), calendar, REVIEW_TIMERS)
    return replace(
        started,
        clock_fallback=state.clock_fallback or started.clock_fallback,
        deadline_version=state.deadline_version + 1,
    )


def _start_stage(
    state: EventState,
    now: datetime,
    allowance: timedelta,
    calendar: WorkCalendar,
    timers: tuple[TimerKind, ...],
) -> EventState:
    """A stage clock's three marks from ``now`` (``allowance`` of working time on
    ``calendar``), its warnings not sent yet; ``clock_fallback`` says whether the plan needed
    the calendar's fallback."""
    plan = plan_marks(calendar, now, allowance, allowance, timers, state)
    marks: dict[str, Any] = dict(plan.at)
    return replace(
        state,
        **marks,
        clock_fallback=plan.fallback,
        warnings_sent=state.warnings_sent - set(timers),
    )


@dataclass(frozen=True)
class _Outcome:
    state: EventState
    timers: tuple[TimerCommand, ...] = ()
    notifications: tuple[Notification, ...] = ()
    reason: EscalationReason | None = None


_Handler = Callable[[EventState, Command, datetime, SlaPolicy], _Outcome]


def apply(state: EventState, command: Command, *, now: datetime, policy: SlaPolicy) -> Decision:
    """Apply ``command`` to ``state`` at ``now`` (aware UTC) under ``policy``.

    Raises ``IllegalTransition`` for an action the table does not allow, ``StaleVersion`` when
    ``command.expected_version`` is not the state's version, ``InvalidCommand`` when a field the
    action needs is missing or contradicts the state, ``NaiveDatetime`` for a naive ``now``.
    Timer actions (``warn``, ``breach``) never raise for staleness: they return a no-op.
    """
    now = ensure_utc(now, "now")
    if command.action in SYSTEM_ACTIONS:
        if not _timer_is_current(state, command, now):
            return Decision(state=state)
    elif command.expected_version is not None and command.expected_version != state.version:
        raise StaleVersion(command.expected_version, state.version)

    rule = find_rule(state, command)
    if rule is None:
        review = command.action is Action.REVIEW and state.status == Status.RESOLVED
        if review and command.approved is None:
            raise InvalidCommand("review needs approved: true or false")
        raise IllegalTransition(state, command.action, allowed_actions(state))
    target = resolve_target(rule, state)

    outcome = _HANDLERS[command.action](state, command, now, policy)
    new_state = replace(outcome.state, version=state.version + 1)
    if new_state.status != target:
        raise AssertionError(f"{command.action} led to {new_state.status}, the table says {target}")
    _check(new_state)
    audit = AuditEntry(
        event_id=state.event_id,
        action=command.action,
        from_status=state.status,
        to_status=new_state.status,
        from_level=state.level,
        to_level=new_state.level,
        actor=command.actor,
        at=now,
        version=new_state.version,
        note=command.note,
        reason=outcome.reason,
        data={
            **encode_delta(state, new_state),
            **_timer_annotation(state, command),
            **_request_annotation(state, command),
        },
    )
    return Decision(
        state=new_state,
        audit=audit,
        timers=outcome.timers,
        notifications=outcome.notifications,
    )


def _timer_annotation(state: EventState, command: Command) -> dict[str, JsonValue]:
    """Which clock a warning or breach belongs to, at which share of its allowance, the
    deadline of that clock (the stage/level clock that fired) and the original promise for the
    same clock: the history shows each clock apart (``TIMER_ANNOTATIONS``; replay skips them)."""
    kind = command.timer
    if command.action not in SYSTEM_ACTIONS or kind is None:
        return {}
    clock = kind.clock
    breach = BREACH_TIMER[clock]
    promise = {Clock.ACK: state.promised_ack_at, Clock.RESOLVE: state.promised_due_at}.get(clock)
    return {
        "clock": clock.value,
        "percent": round(kind.fraction * 100),
        "clock_due_at": encode_field(TIMER_FIELDS[breach], getattr(state, TIMER_FIELDS[breach])),
        "promised_at": encode_field("promised_due_at", promise),
    }


def _request_annotation(state: EventState, command: Command) -> dict[str, JsonValue]:
    """What a decision on a holder's request decided (``REQUEST_ANNOTATIONS``; replay skips
    them): who asked, when, why and for which deadline, and for an extension the resolve
    deadline and the promise it replaced. The decision's own row names the approver (actor)
    and, for a refusal, the refusal's reason (note)."""
    if command.action not in DECISION_ACTIONS:
        return {}
    return {
        "asked_by": state.assignee_id,
        "asked_at": encode_field("requested_at", state.requested_at),
        "asked_reason": state.request_reason,
        "asked_until": encode_field("request_deadline", state.request_deadline),
        "previous_due_at": encode_field("due_at", state.due_at),
        "previous_promise": encode_field("promised_due_at", state.promised_due_at),
    }


def _check(state: EventState) -> None:
    problems = invariant_violations(state)
    if problems:
        raise AssertionError(f"event {state.event_id} would break invariants: {problems}")


def _timer_is_current(state: EventState, command: Command, now: datetime) -> bool:
    kind, version = command.timer, command.deadline_version
    if kind is None or version is None:
        raise InvalidCommand(f"{command.action} needs timer and deadline_version")
    if kind.is_breach != (command.action is Action.BREACH):
        raise InvalidCommand(f"timer {kind} cannot be sent as {command.action}")
    due = current_timer_due(state, kind, version)
    return due is not None and now >= due


# --- notifications -------------------------------------------------------------------------


def _to_queue(
    state: EventState, kind: NotificationKind, *, level: int, role: Role, detail: str = ""
) -> Notification:
    return Notification(
        kind=kind,
        event_id=state.event_id,
        level=level,
        audience=role,
        department=state.department if level == MAX_LEVEL else None,
        detail=detail,
    )


def _to_handler(state: EventState, kind: NotificationKind, detail: str = "") -> Notification:
    """To the assignee, or to the level's queue when nobody is assigned."""
    if state.assignee_id is None:
        return _to_queue(
            state, kind, level=state.level, role=LEVEL_QUEUE_ROLE[state.level], detail=detail
        )
    return Notification(
        kind=kind,
        event_id=state.event_id,
        level=state.level,
        recipients=(state.assignee_id,),
        department=state.department,
        detail=detail,
    )


def _to_people(
    state: EventState, kind: NotificationKind, people: Iterable[str | None], detail: str = ""
) -> tuple[Notification, ...]:
    recipients = tuple(dict.fromkeys(p for p in people if p is not None))
    if not recipients:
        return ()
    return (
        Notification(
            kind=kind,
            event_id=state.event_id,
            level=state.level,
            recipients=recipients,
            detail=detail,
        ),
    )


# --- deadline periods ----------------------------------------------------------------------

#: A state without a pending request: what a decision leaves, and what a change of holder or of
#: clocked status (a new period, a fix, a pause, a void) does to a request nobody decided (the
#: request row and the change's row stay in the audit log).
_NO_REQUEST: dict[str, Any] = {
    "request_kind": None,
    "requested_at": None,
    "request_reason": None,
    "request_deadline": None,
}


def _start_period(
    state: EventState, assignment: Assignment, now: datetime, policy: SlaPolicy
) -> EventState:
    """Dispatch to ``assignment``: fresh deadlines for its level on its level's calendar, a new
    deadline version."""
    ack_allowance = policy.ack_allowance(assignment.level)
    resolve_allowance = policy.resolve_allowance(assignment.level)
    calendar = policy.calendar_at(assignment.level)
    ack = plan_marks(calendar, now, ack_allowance, ack_allowance, ACK_TIMERS, state)
    resolve = plan_marks(calendar, now, resolve_allowance, resolve_allowance, RESOLVE_TIMERS, state)
    marks: dict[str, Any] = {**ack.at, **resolve.at}
    if state.promised_due_at is None:  # the clocks' first start: the promise is made
        marks["promised_ack_at"] = ack.at[TIMER_FIELDS[TimerKind.ACK_BREACH]]
        marks["promised_due_at"] = resolve.at[TIMER_FIELDS[TimerKind.RESOLVE_BREACH]]
    return replace(
        state,
        **marks,
        clock_fallback=ack.fallback or resolve.fallback,
        status=Status.DISPATCHED,
        level=assignment.level,
        assignee_id=assignment.assignee_id,
        assignee_role=assignment.role,
        department=assignment.department,
        ack_allowance=ack_allowance,
        resolve_allowance=resolve_allowance,
        ack_remaining=None,
        resolve_remaining=None,
        deadline_version=state.deadline_version + 1,
        warnings_sent=frozenset(),
        dispatched_at=now,
        acknowledged_at=None,
        resolved_at=None,
        **_NO_REQUEST,
    )


def _redeploy(
    state: EventState, assignment: Assignment, now: datetime, policy: SlaPolicy
) -> tuple[EventState, tuple[TimerCommand, ...]]:
    new = _start_period(state, assignment, now, policy)
    return new, cancel_timers(state) + set_timers(new, now)


def _assigned(
    old: EventState, new: EventState, detail: str, former: NotificationKind
) -> tuple[Notification, ...]:
    """ASSIGNED to the new handler; ``former`` (reassigned / escalated) to the one it left."""
    notes = [_to_handler(new, NotificationKind.ASSIGNED, detail)]
    if old.assignee_id is not None and old.assignee_id != new.assignee_id:
        notes.extend(_to_people(old, former, [old.assignee_id], detail))
    return tuple(notes)


# --- handlers ------------------------------------------------------------------------------


def _verify(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """A confirmed public report is registered (立案) now: ``created_at`` moves to the
    confirmation, so its clocks and the indicators measured from registration start here;
    the report's own time stays on the row (``received_at``). The verification clock stops
    (its timers are cancelled, its marks stay for 按时核实) and the dispatch clock starts."""
    registered = replace(state, status=Status.REGISTERED, created_at=now)
    new = _start_dispatch_clock(registered, now, policy)
    return _Outcome(new, cancel_timers(state) + set_timers(new, now))


def _dispatch(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    if command.assignment is None:
        raise InvalidCommand("dispatch needs an assignment (assignee or a level's queue)")
    new, timers = _redeploy(state, command.assignment, now, policy)
    if dispatched_up(state, command.assignment):
        new = replace(
            new,
            escalation_count=state.escalation_count + 1,
            last_escalation_reason=EscalationReason.DISPATCHED_UP,
        )
        notes = _assigned(state, new, "dispatch", NotificationKind.ESCALATED)
        return _Outcome(new, timers, notes, EscalationReason.DISPATCHED_UP)
    if state.status in (Status.DISPATCHED, Status.ACKNOWLEDGED):
        new = replace(new, redispatch_count=state.redispatch_count + 1)
    return _Outcome(new, timers, _assigned(state, new, "dispatch", NotificationKind.REASSIGNED))


def _acknowledge(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    new = replace(state, status=Status.ACKNOWLEDGED, acknowledged_at=now)
    if state.assignee_id is None:  # claimed from the level's queue
        new = replace(new, assignee_id=command.actor, assignee_role=command.actor_role)
    return _Outcome(new, cancel_timers(state, ACK_TIMERS))


def _claim(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """A queued event taken by one of its level's staff: the holder changes, the clocks run on
    (the queue's wait counts against the deadline, as the acknowledgement's claim does)."""
    if command.actor_role is None:
        raise InvalidCommand("claim needs the claimer's role")
    return _Outcome(replace(state, assignee_id=command.actor, assignee_role=command.actor_role))


def _resolve(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """The fix is reported: the handling clocks stop, the review clock (核查) starts."""
    resolved = replace(state, status=Status.RESOLVED, resolved_at=now, **_NO_REQUEST)
    new = _start_review_clock(resolved, now, policy)
    role = reviewer_role(state)
    level = ROLE_LEVEL[role]
    notes = (_to_queue(new, NotificationKind.REVIEW_REQUESTED, level=level, role=role),)
    return _Outcome(new, cancel_timers(state) + set_timers(new, now), notes)


def _resolution_working_time(state: EventState, now: datetime, policy: SlaPolicy) -> dict[str, Any]:
    """Report → close in working time on the category's calendar (the wall figure's span). A
    span reaching a year the calendar does not know counts those days whole and sets
    ``clock_fallback``, the alarm every fallback raises."""
    calendar: WorkCalendar = policy.calendar
    worked = working_between(calendar, state.created_at, now)
    return {
        "resolution_working_time": worked,
        "clock_fallback": state.clock_fallback or bool(gap_years(calendar, state.created_at, now)),
    }


def _review(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    if command.approved:
        new = replace(
            state,
            status=Status.CLOSED,
            closed_at=now,
            **_resolution_working_time(state, now, policy),
        )
        notes = _to_people(new, NotificationKind.CLOSED, [state.reporter_id, state.assignee_id])
        return _Outcome(new, cancel_timers(state), notes)
    same_handler = Assignment(
        level=state.level,
        assignee_id=state.assignee_id,
        role=state.assignee_role,
        department=state.department,
        reason="rework",
    )
    new, timers = _redeploy(state, same_handler, now, policy)
    new = replace(
        new,
        rework_count=state.rework_count + 1,
        rejection_note=command.note,
        rejected_at=now,
    )
    return _Outcome(new, timers, (_to_handler(new, NotificationKind.REVIEW_FAILED, command.note),))


def _escalate_to(
    state: EventState,
    command: Command,
    now: datetime,
    policy: SlaPolicy,
    reason: EscalationReason,
) -> _Outcome:
    target = escalation_target(state)
    if target is None:  # the table's guard keeps this from happening
        raise AssertionError("escalation above the top level")
    assignment = command.assignment
    if assignment is None:
        department = policy.category.department if target == MAX_LEVEL else None
        assignment = Assignment(level=target, department=department, reason="queue")
    if assignment.level != target:
        raise InvalidCommand(
            f"escalation goes to level {target}, the assignment is for level {assignment.level}"
        )
    new, timers = _redeploy(state, assignment, now, policy)
    new = replace(
        new,
        escalation_count=state.escalation_count + 1,
        last_escalation_reason=reason,
    )
    return _Outcome(
        new, timers, _assigned(state, new, reason.value, NotificationKind.ESCALATED), reason
    )


def _escalate(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    return _escalate_to(state, command, now, policy, EscalationReason.HANDLER_REQUEST)


def _return(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """回退: the holder's level (a department, or a grid or community) says the case is not
    theirs; it goes back to the command centre's shared queue to be dispatched again, its stage
    clocks restart there (the original promise does not move), and a reason is required. It is
    neither an escalation nor a re-dispatch: the statistics count it as a mis-dispatch."""
    if not command.note.strip():
        raise InvalidCommand("a return needs a reason (note)")
    queue = Assignment(level=COMMAND_CENTRE_LEVEL, reason="returned")
    new, timers = _redeploy(state, queue, now, policy)
    return _Outcome(new, timers, _assigned(state, new, "returned", NotificationKind.RETURNED))


def _pause(
    state: EventState,
    command: Command,
    now: datetime,
    policy: SlaPolicy,
    into: Status,
    kind: NotificationKind,
) -> _Outcome:
    """Into ``into`` (suspended, merged) with the running clocks' remaining time kept."""
    if state.due_at is None:
        raise AssertionError("a clocked status without a resolve deadline")
    ack_left = None
    calendar = policy.calendar_at(state.level)
    if state.status == Status.DISPATCHED and state.ack_due_at is not None:
        ack_left = remaining(calendar, state.ack_due_at, now)
    new = replace(
        state,
        status=into,
        resume_status=state.status,
        suspended_at=now,
        ack_remaining=ack_left,
        resolve_remaining=remaining(calendar, state.due_at, now),
        **_NO_REQUEST,
    )
    notes = (_to_handler(new, kind, command.note),)
    return _Outcome(new, cancel_timers(state), notes)


def _suspend(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    return _pause(state, command, now, policy, Status.SUSPENDED, NotificationKind.SUSPENDED)


def _resume(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    if state.resume_status is None or state.resolve_remaining is None:
        raise AssertionError("a suspended event without its resume status or remaining time")
    if state.resolve_allowance is None:
        raise AssertionError("a suspended event without its resolve allowance")
    calendar = policy.calendar_at(state.level)
    plans = [
        plan_marks(
            calendar,
            now,
            state.resolve_allowance,
            state.resolve_remaining,
            RESOLVE_TIMERS,
            state,
        )
    ]
    if state.ack_remaining is not None and state.ack_allowance is not None:
        plans.append(
            plan_marks(calendar, now, state.ack_allowance, state.ack_remaining, ACK_TIMERS, state)
        )
    marks: dict[str, Any] = {name: at for plan in plans for name, at in plan.at.items()}
    marks.update(_shifted_promises(state, now, policy))
    new = replace(
        state,
        **marks,
        clock_fallback=any(plan.fallback for plan in plans),
        status=state.resume_status,
        resume_status=None,
        suspended_at=None,
        ack_remaining=None,
        resolve_remaining=None,
        deadline_version=state.deadline_version + 1,
    )
    notes = (_to_handler(new, NotificationKind.RESUMED, command.note),)
    return _Outcome(new, set_timers(new, now), notes)


def _shifted_promises(state: EventState, now: datetime, policy: SlaPolicy) -> dict[str, datetime]:
    """The promises moved by a pause that ends at ``now``: the resolution promise always, the
    acknowledgement promise when the pause began before acknowledgement (its clock was running).
    A promise still ahead when the pause began keeps the working time it had left then (as the
    running clocks do); one already passed moves by the pause's working time, so it stays
    passed for anything done after the pause — a pause never mends a broken promise. On 24×7
    both are ``promise + (now − suspended_at)``."""
    if state.suspended_at is None:
        raise AssertionError("a paused event without suspended_at")
    began, calendar = state.suspended_at, policy.calendar_at(state.level)
    names = ["promised_due_at"]
    if state.resume_status is Status.DISPATCHED:
        names.append("promised_ack_at")
    shifted: dict[str, datetime] = {}
    for name in names:
        promise: datetime | None = getattr(state, name)
        if promise is None:
            continue
        if promise > began:
            shifted[name] = add_working(calendar, now, remaining(calendar, promise, began))
        else:
            shifted[name] = add_working(calendar, promise, remaining(calendar, now, began))
    return shifted


def _merge(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """Parked as a duplicate of another open event (the service links them): a running clock
    pauses with its remaining time kept, as a suspension does."""
    if state.status not in CLOCKED_STATUSES:  # a stage clock (verify, dispatch) stops
        merged = replace(state, status=Status.MERGED, resume_status=state.status)
        return _Outcome(merged, cancel_timers(state))
    return _pause(state, command, now, policy, Status.MERGED, NotificationKind.MERGED)


def _unmerge(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """Back where it was: a paused clock runs again with the time it had left."""
    if state.resume_status in CLOCKED_STATUSES:
        return _resume(state, command, now, policy)
    if state.resume_status is None:
        raise AssertionError("a merged event without the status it came from")
    back = replace(state, status=state.resume_status, resume_status=None)
    # Not a duplicate after all: it waits for dispatch (or verification) again, with that
    # stage's clock started anew (the merged time does not count against its stage).
    if back.status is Status.REGISTERED:
        new = _start_dispatch_clock(back, now, policy)
    elif back.status is Status.PENDING_VERIFICATION:
        new = _start_verify_clock(back, now, policy)
    else:
        return _Outcome(back)
    return _Outcome(new, set_timers(new, now))


def _void(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    new = replace(
        state,
        status=Status.VOIDED,
        voided_at=now,
        resume_status=None,
        suspended_at=None,
        ack_remaining=None,
        resolve_remaining=None,
        parked_until=None,
        **_NO_REQUEST,
    )
    notes = _to_people(new, NotificationKind.VOIDED, [state.reporter_id, state.assignee_id])
    return _Outcome(new, cancel_timers(state), notes)


# --- requests to the level above: 延期 (extension), 挂账 (parking) ---------------------------


def _reason(command: Command, what: str) -> str:
    reason = command.note.strip()
    if not reason:
        raise InvalidCommand(f"{what} needs a reason (note)", field="note")
    return reason


def _to_approver(state: EventState, kind: NotificationKind, detail: str) -> Notification:
    """To the queue of the holder's superior (the command centre above the top)."""
    role = SUPERIOR[state.assignee_role or LEVEL_QUEUE_ROLE[state.level]]
    return _to_queue(state, kind, level=ROLE_LEVEL[role], role=role, detail=detail)


def _ask(state: EventState, command: Command, now: datetime, kind: RequestKind) -> _Outcome:
    reason = _reason(command, f"a {kind.value} request")
    deadline = None if command.deadline is None else ensure_utc(command.deadline, "deadline")
    new = replace(
        state,
        request_kind=kind,
        requested_at=now,
        request_reason=reason,
        request_deadline=deadline,
    )
    return _Outcome(new, (), (_to_approver(new, NotificationKind.APPROVAL_REQUESTED, kind.value),))


def current_resolve_deadline(state: EventState) -> datetime | None:
    """The resolve deadline an extension must go beyond: the stage clock's, or the original
    promise when that is later."""
    found = [d for d in (state.due_at, state.promised_due_at) if d is not None]
    return max(found, default=None)


def _request_extension(
    state: EventState, command: Command, now: datetime, policy: SlaPolicy
) -> _Outcome:
    """延期申请: the holder asks the level above for a later resolve deadline, with a reason.
    The deadline must lie after the current one (and after now) and at most ``MAX_EXTENSION``
    from now. Nothing moves until it is approved: the clocks run on meanwhile."""
    if command.deadline is None:
        raise InvalidCommand("an extension needs the new deadline", field="deadline")
    deadline = ensure_utc(command.deadline, "deadline")
    current = current_resolve_deadline(state)
    floor = now if current is None else max(current, now)
    if deadline <= floor:
        raise InvalidCommand(
            f"the new deadline must be later than the current resolve deadline"
            f" ({floor.isoformat()})",
            field="deadline",
        )
    if deadline > now + MAX_EXTENSION:
        raise InvalidCommand(
            f"an extension reaches at most {MAX_EXTENSION.days} days ahead"
            f" (until {(now + MAX_EXTENSION).isoformat()})",
            field="deadline",
        )
    return _ask(state, command, now, RequestKind.EXTENSION)


def _approve_extension(
    state: EventState, command: Command, now: datetime, policy: SlaPolicy
) -> _Outcome:
    """延期批准: the resolve deadline (``due_at``) and the original promise
    (``promised_due_at``) move to the deadline asked for — besides a pause and a reopening's
    new cycle, the only change of the promise. The resolve allowance grows by the working time
    added, its warning marks are planned on it again (a mark moved ahead will fire again), the
    acknowledgement clock is untouched; a new deadline version replaces the timers."""
    deadline, due = state.request_deadline, state.due_at
    if deadline is None or due is None or state.resolve_allowance is None:
        raise AssertionError("a pending extension without its deadline, or a clock")
    if deadline <= now:
        raise InvalidCommand(
            f"the deadline asked for ({deadline.isoformat()}) has passed: refuse the request,"
            " and the holder asks again",
            field="deadline",
        )
    calendar = policy.calendar_at(state.level)
    allowance = state.resolve_allowance + working_between(calendar, due, deadline)
    plan = plan_marks(
        calendar, now, allowance, remaining(calendar, deadline, now), RESOLVE_TIMERS, state
    )
    marks: dict[str, Any] = {**plan.at, TIMER_FIELDS[TimerKind.RESOLVE_BREACH]: deadline}
    rearmed = {k for k in RESOLVE_TIMERS if marks[TIMER_FIELDS[k]] > now}
    new = replace(
        state,
        **marks,
        promised_due_at=deadline,
        resolve_allowance=allowance,
        clock_fallback=state.clock_fallback or plan.fallback,
        warnings_sent=state.warnings_sent - rearmed,
        deadline_version=state.deadline_version + 1,
        **_NO_REQUEST,
    )
    notes = (_to_handler(new, NotificationKind.REQUEST_APPROVED, RequestKind.EXTENSION.value),)
    return _Outcome(new, cancel_timers(state) + set_timers(new, now), notes)


def _refuse(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """The level above refuses the pending request, with a reason; nothing else changes."""
    kind = state.request_kind
    _reason(command, "a refusal")
    new = replace(state, **_NO_REQUEST)
    detail = "" if kind is None else kind.value
    return _Outcome(new, (), (_to_handler(new, NotificationKind.REQUEST_REFUSED, detail),))


def _request_parking(
    state: EventState, command: Command, now: datetime, policy: SlaPolicy
) -> _Outcome:
    """挂账申请: the holder asks to park a case that cannot be fixed now, with a reason and,
    optionally, the date to look at it again (after now, at most ``MAX_PARKING`` ahead)."""
    if command.deadline is not None:
        review = ensure_utc(command.deadline, "deadline")
        if not now < review <= now + MAX_PARKING:
            raise InvalidCommand(
                f"the review date must lie after now and at most {MAX_PARKING.days} days ahead",
                field="deadline",
            )
    return _ask(state, command, now, RequestKind.PARKING)


def _approve_parking(
    state: EventState, command: Command, now: datetime, policy: SlaPolicy
) -> _Outcome:
    """挂账批准: parked, with the clocks paused as a suspension pauses them (remaining time kept;
    unparking resumes them and moves the promise by the parked time, so parked time never counts
    against the handler); the review date is kept while parked."""
    review = state.request_deadline
    paused = _pause(state, command, now, policy, Status.PARKED, NotificationKind.REQUEST_APPROVED)
    return replace(paused, state=replace(paused.state, parked_until=review))


def _unpark(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """挂账解除: the clocks run again with the time they had left (``_resume``)."""
    resumed = _resume(state, command, now, policy)
    notes = (_to_handler(resumed.state, NotificationKind.UNPARKED, command.note),)
    return replace(resumed, state=replace(resumed.state, parked_until=None), notifications=notes)


# --- reopening ---------------------------------------------------------------------------


def _reopen(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    """重开: a closed case came back. A new cycle (``cycle`` + 1) dispatched to the command's
    assignment, or to the handler of the closed cycle: new clocks and a new promise; counted as
    rework (``rework_count`` + 1, so 返工率 includes it). The closure stays in the audit log."""
    _reason(command, "a reopening")
    assignment = command.assignment or Assignment(
        level=state.level,
        assignee_id=state.assignee_id,
        role=state.assignee_role,
        department=state.department,
        reason="reopen",
    )
    fresh = replace(
        state,
        promised_ack_at=None,
        promised_due_at=None,
        closed_at=None,
        resolution_working_time=None,
    )
    new, timers = _redeploy(fresh, assignment, now, policy)
    new = replace(new, cycle=state.cycle + 1, rework_count=state.rework_count + 1)
    notes = _assigned(state, new, "reopen", NotificationKind.REASSIGNED)
    return _Outcome(
        new,
        timers,
        (*notes, *_to_people(new, NotificationKind.REOPENED, [state.reporter_id], command.note)),
    )


def _fired(state: EventState, command: Command) -> tuple[EventState, TimerKind]:
    if command.timer is None:
        raise AssertionError("timer checked before")
    return replace(state, warnings_sent=state.warnings_sent | {command.timer}), command.timer


def stage_role(state: EventState, clock: Clock) -> Role:
    """Who answers for a stage clock: the grid head for 核实 (the grid's staff verify, the head
    leads them), the command centre for 派遣, the reviewer for 核查 (``reviewer_role``)."""
    if clock is Clock.VERIFY:
        return Role.HEAD
    if clock is Clock.REVIEW:
        return reviewer_role(state)
    return Role.DISPATCHER


def _stage_queue(state: EventState, kind: NotificationKind, timer: TimerKind) -> Notification:
    """A stage clock's message, to the queue of whoever answers for the stage (nobody holds
    the event while a stage clock runs): the grid head's, the command centre's, the
    reviewer's."""
    role = stage_role(state, timer.clock)
    return _to_queue(state, kind, level=ROLE_LEVEL[role], role=role, detail=timer.value)


def _warn(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    new, kind = _fired(state, command)
    if kind.is_stage:
        return _Outcome(new, (), (_stage_queue(new, NotificationKind.WARNING, kind),))
    return _Outcome(new, (), (_to_handler(new, NotificationKind.WARNING, kind.value),))


def _breach(state: EventState, command: Command, now: datetime, policy: SlaPolicy) -> _Outcome:
    marked, kind = _fired(state, command)
    alarm = _to_queue(
        marked, NotificationKind.BREACH, level=COMMAND_CENTRE_LEVEL, role=Role.DISPATCHER,
        detail=kind.value,
    )  # fmt: skip
    if kind.is_stage:  # reported, never escalated: the stage is nobody's level to leave
        own = _stage_queue(marked, NotificationKind.BREACH, kind)
        return _Outcome(marked, (), (alarm,) if own == alarm else (alarm, own))
    if escalation_target(state) is None:
        own = _to_handler(marked, NotificationKind.BREACH, kind.value)
        return _Outcome(marked, (), (alarm, own))
    reason = EscalationReason.ACK_OVERDUE if kind.is_ack else EscalationReason.DEADLINE_PASSED
    outcome = _escalate_to(marked, command, now, policy, reason)
    return replace(outcome, notifications=(alarm, *outcome.notifications))


_HANDLERS: dict[Action, _Handler] = {
    Action.VERIFY: _verify,
    Action.DISPATCH: _dispatch,
    Action.ACKNOWLEDGE: _acknowledge,
    Action.CLAIM: _claim,
    Action.RESOLVE: _resolve,
    Action.REVIEW: _review,
    Action.ESCALATE: _escalate,
    Action.RETURN: _return,
    Action.SUSPEND: _suspend,
    Action.RESUME: _resume,
    Action.VOID: _void,
    Action.MERGE: _merge,
    Action.UNMERGE: _unmerge,
    Action.REQUEST_EXTENSION: _request_extension,
    Action.APPROVE_EXTENSION: _approve_extension,
    Action.REFUSE_EXTENSION: _refuse,
    Action.REQUEST_PARKING: _request_parking,
    Action.APPROVE_PARKING: _approve_parking,
    Action.REFUSE_PARKING: _refuse,
    Action.UNPARK: _unpark,
    Action.REOPEN: _reopen,
    Action.WARN: _warn,
    Action.BREACH: _breach,
}

"""All SQL of the event lifecycle: load an event with what the dispatch core needs, choose a
handler, apply a command, persist the decision (version-checked), commit.

Every change goes through ``domain.lifecycle.apply`` and ``dispatch.store.record``, so each is one
transaction with one audit row and its outbox rows. Nothing here locks the event row while
deciding: the ``UPDATE ... WHERE version = :seen`` in ``record`` makes the second of two racing
writers fail with a 409 that carries the current version (optimistic locking).

The system's own writers (``auto_dispatch``, ``handle_timer``) are idempotent: they re-read the
event and do nothing when it has moved on, so RQ may run them twice, late, or never (the
reconciliation sweep in ``dispatch.jobs`` calls them directly).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlmodel import Session, col, select

from dispatch.access import check_visible
from dispatch.models import Category, Event
from dispatch.photos.service import Stage, count_photos
from dispatch.store import policy_for, record, record_many, timer_rows, to_state
from domain.lifecycle import (
    Action,
    Assignment,
    Candidate,
    Command,
    Decision,
    EventState,
    Role,
    SlaPolicy,
    Status,
    TimerKind,
    allowed_actions,
    apply,
    choose_assignee,
    escalation_target,
    pending_timers,
    reviewer_role,
    set_timers,
)
from domain.lifecycle.sla import timer_due_at
from grids.models import Grid
from kernel.errors import Conflict, Forbidden, Invalid, field_error
from kernel.settings import get_settings
from staff.models import Role as StaffRole
from staff.models import Staff
from staff.service import Principal

log = logging.getLogger("wangge.dispatch")

#: The actor recorded for automatic dispatch, timers and the sweep.
SYSTEM_ACTOR = "system"
#: Statuses that count as someone's open work (for load balancing).
LOAD_STATUSES = ("dispatched", "acknowledged", "suspended")
#: Statuses whose SLA clock runs (timers pending).
CLOCKED_STATUSES = ("dispatched", "acknowledged")
#: The level each staff role works at (grid 0, community 1, command centre 2, department 3).
STAFF_LEVEL: dict[StaffRole, int] = {
    StaffRole.member: 0,
    StaffRole.head: 0,
    StaffRole.community: 1,
    StaffRole.dispatcher: 2,
    StaffRole.department: 3,
}
#: Who may take the handler's actions; the checks below narrow it to the assignee or claimer.
HANDLER_ACTIONS = frozenset({Action.ACKNOWLEDGE, Action.RESOLVE, Action.ESCALATE})
COMMAND_CENTRE_ACTIONS = frozenset({Action.DISPATCH, Action.SUSPEND, Action.RESUME})
#: Attempts of a system writer that lost an optimistic race (it re-reads and decides again).
SYSTEM_ATTEMPTS = 3


@dataclass(frozen=True)
class Loaded:
    """An event row with its category, grid code, SLA policy and the core's state."""

    event: Event
    category: Category
    grid_code: str
    policy: SlaPolicy
    state: EventState

    @property
    def event_id(self) -> int:
        assert self.event.id is not None
        return self.event.id


@dataclass(frozen=True)
class ActionRequest:
    """What a person sent with an action (the route's body, validated)."""

    note: str = ""
    version: int | None = None
    approved: bool | None = None
    assignee_id: int | None = None
    level: int | None = None


def load(session: Session, event_id: int) -> Loaded | None:
    """The event with everything the dispatch core needs, read afresh (no lock)."""
    return load_many(session, [event_id]).get(event_id)


def load_many(session: Session, event_ids: Sequence[int]) -> dict[int, Loaded]:
    """Several events in one query (see ``load``)."""
    rows = session.exec(
        select(Event, Category, col(Grid.code))
        .join(Category, col(Category.id) == col(Event.category_id))
        .join(Grid, col(Grid.id) == col(Event.grid_id))
        .where(col(Event.id).in_(list(event_ids)))
        .execution_options(populate_existing=True)
    ).all()
    policies: dict[int, SlaPolicy] = {}
    found: dict[int, Loaded] = {}
    for event, category, grid_code in rows:
        assert event.id is not None and category.id is not None
        policy = policies.get(category.id) or policies.setdefault(category.id, policy_for(category))
        found[event.id] = Loaded(
            event=event,
            category=category,
            grid_code=grid_code,
            policy=policy,
            state=to_state(event, category_code=category.code, grid_code=grid_code),
        )
    return found


# --- candidates and the assignment choice ---------------------------------------------------

_POOLS: dict[int, str] = {
    0: "s.grid_id = :grid_id AND s.role IN ('member', 'head')",
    1: "s.role = 'community' AND s.community_id = :community_id",
    2: "s.role = 'dispatcher'",
    3: "s.role = 'department' AND s.department = :department",
}


def candidates(session: Session, loaded: Loaded, level: int) -> list[Candidate]:
    """The staff who could take the event at ``level``, with their open work and last
    assignment (the inputs of ``choose_assignee``)."""
    rows = session.execute(
        text(
            "SELECT s.id, s.role, s.on_duty, s.community_id, s.department,"
            " coalesce(w.open_count, 0), w.last_assigned_at"
            " FROM staff s LEFT JOIN LATERAL ("
            "   SELECT count(*) FILTER (WHERE e.status = ANY(:load)) AS open_count,"
            "          max(e.dispatched_at) AS last_assigned_at"
            "   FROM event e WHERE e.assignee_id = s.id"
            " ) w ON true"
            f" WHERE {_POOLS[level]}"
        ),
        _pool_params(loaded),
    ).all()
    return [
        Candidate(
            id=str(staff_id),
            role=Role(role),
            on_duty=bool(on_duty),
            open_count=int(open_count),
            last_assigned_at=last,
            grid=loaded.grid_code if level == 0 else None,
            community=str(community_id) if community_id is not None else None,
            department=department,
        )
        for staff_id, role, on_duty, community_id, department, open_count, last in rows
    ]


def _pool_params(loaded: Loaded) -> dict[str, object]:
    return {
        "grid_id": loaded.event.grid_id,
        "community_id": loaded.event.community_id,
        "department": loaded.category.department,
        "load": list(LOAD_STATUSES),
    }


#: Candidates already read in one batch, by the pool they came from; choosing someone counts
#: the new assignment on them, so a batch balances load as single calls would.
CandidateCache = dict[tuple[int, object], list[Candidate]]


def _pool_key(loaded: Loaded, level: int) -> tuple[int, object]:
    scope: object = {
        0: loaded.event.grid_id,
        1: loaded.event.community_id,
        3: loaded.category.department,
    }.get(level)
    return level, scope


def choose(
    session: Session,
    loaded: Loaded,
    *,
    level: int | None,
    now: datetime,
    cache: CandidateCache | None = None,
) -> Assignment:
    """Who takes the event at ``level`` (None: its starting level), or that level's queue."""
    target = level if level is not None else (2 if loaded.category.big else 0)
    key = _pool_key(loaded, target)
    pool = cache.get(key) if cache is not None else None
    if pool is None:
        pool = candidates(session, loaded, target)
        if cache is not None:
            cache[key] = pool
    assignment = choose_assignee(
        pool,
        category=loaded.policy.category,
        grid=loaded.grid_code,
        load_cap=get_settings().assignment_load_cap,
        now=now,
        level=target,
        community=str(loaded.event.community_id),
    )
    if cache is not None and assignment.assignee_id is not None:
        cache[key] = [
            replace(c, open_count=c.open_count + 1, last_assigned_at=now)
            if c.id == assignment.assignee_id
            else c
            for c in pool
        ]
    return assignment


# --- persisting a decision -------------------------------------------------------------------


def _commit(session: Session, loaded: Loaded, decision: Decision) -> None:
    record(session, decision, previous_version=loaded.state.version)
    session.commit()


def _system_write(
    session: Session, event_id: int, decide: Callable[[Loaded], Decision | None]
) -> Decision | None:
    """Re-read, decide, record, commit; on a lost race re-read and decide again."""
    for attempt in range(SYSTEM_ATTEMPTS):
        loaded = load(session, event_id)
        if loaded is None:
            session.rollback()
            return None
        decision = decide(loaded)
        if decision is None or decision.noop:
            session.rollback()
            return None
        try:
            _commit(session, loaded, decision)
        except Conflict:
            session.rollback()
            log.info("event %s changed under a system write (attempt %d)", event_id, attempt + 1)
            continue
        return decision
    return None


# --- system writers: automatic dispatch and timers ------------------------------------------


def auto_dispatch(session: Session, event_id: int, now: datetime) -> Decision | None:
    """Dispatch a registered event to the handler the assignment rules choose (or the level's
    queue). Does nothing unless the event is still registered; returns the decision applied."""

    def decide(loaded: Loaded) -> Decision | None:
        if loaded.state.status is not Status.REGISTERED:
            return None
        assignment = choose(session, loaded, level=None, now=now)
        command = Command(
            action=Action.DISPATCH, actor=SYSTEM_ACTOR, assignment=assignment, note="auto"
        )
        return apply(loaded.state, command, now=now, policy=loaded.policy)

    return _system_write(session, event_id, decide)


@dataclass(frozen=True)
class TimerBatch:
    """What ``handle_timers`` did: the decisions written, and the timers that came early
    (with their due time: to be put back)."""

    applied: list[Decision]
    early: list[tuple[int, TimerKind, int, datetime]]


def handle_timers(
    session: Session, timers: Sequence[tuple[int, TimerKind, int]], now: datetime
) -> TimerBatch:
    """Many fired timers at once (a burst of deadlines): one read of their events, the
    candidates read once per pool, all decisions written and committed together. A timer whose
    event changed meanwhile is retried on its own (``handle_timer``); stale ones do nothing."""
    loaded = load_many(session, sorted({t[0] for t in timers}))
    cache: CandidateCache = {}
    pending: list[tuple[Decision, int]] = []
    early: list[tuple[int, TimerKind, int, datetime]] = []
    for event_id, kind, deadline_version in timers:
        current = loaded.get(event_id)
        if current is None:
            continue
        state = current.state
        if not timer_is_due(state, kind, deadline_version, now):
            due = _due_if_current(state, kind, deadline_version)
            if due is not None and due > now:
                early.append((event_id, kind, deadline_version, due))
            continue
        decision = _timer_decision(session, current, kind, deadline_version, now, cache)
        pending.append((decision, state.version))
        loaded[event_id] = replace(current, state=decision.state)
    written, conflicted = record_many(session, pending)
    session.commit()
    for event_id, kind, deadline_version in timers:
        if event_id in conflicted:
            retried = handle_timer(session, event_id, kind, deadline_version, now)
            if retried is not None:
                written.append(retried)
    return TimerBatch(applied=written, early=early)


def _due_if_current(state: EventState, kind: TimerKind, deadline_version: int) -> datetime | None:
    if deadline_version != state.deadline_version or kind not in pending_timers(state):
        return None
    return timer_due_at(state, kind)


def _timer_decision(
    session: Session,
    loaded: Loaded,
    kind: TimerKind,
    deadline_version: int,
    now: datetime,
    cache: CandidateCache | None = None,
) -> Decision:
    state = loaded.state
    assignment = None
    action = Action.BREACH if kind.is_breach else Action.WARN
    target = escalation_target(state)
    if action is Action.BREACH and target is not None:
        assignment = choose(session, loaded, level=target, now=now, cache=cache)
    command = Command(
        action=action,
        actor=SYSTEM_ACTOR,
        timer=kind,
        deadline_version=deadline_version,
        assignment=assignment,
    )
    return apply(state, command, now=now, policy=loaded.policy)


def timer_is_due(state: EventState, kind: TimerKind, deadline_version: int, now: datetime) -> bool:
    """Whether a timer still belongs to the event's current deadlines and is due at ``now``."""
    if deadline_version != state.deadline_version or kind not in pending_timers(state):
        return False
    due = timer_due_at(state, kind)
    return due is not None and now >= due


def handle_timer(
    session: Session, event_id: int, kind: TimerKind, deadline_version: int, now: datetime
) -> Decision | None:
    """A warning or breach timer fired: re-read the event and apply it if it is still current
    (a breach escalates to the next level's chosen handler). Stale or early → nothing."""

    def decide(loaded: Loaded) -> Decision | None:
        if not timer_is_due(loaded.state, kind, deadline_version, now):
            return None
        return _timer_decision(session, loaded, kind, deadline_version, now)

    return _system_write(session, event_id, decide)


# --- people's actions ------------------------------------------------------------------------


def _same_scope(principal: Principal, event: Event, level: int) -> bool:
    """Whether ``principal`` works at ``level`` where ``event`` is (its grid, community...)."""
    if STAFF_LEVEL.get(principal.role) != level:
        return False
    if level == 0:
        return principal.grid_id == event.grid_id
    if level == 1:
        return principal.community_id == event.community_id
    if level == 3:
        return event.department is None or principal.department == event.department
    return True


def _is_grid_head(principal: Principal, event: Event) -> bool:
    return principal.role == StaffRole.head and principal.grid_id == event.grid_id


def authorize(principal: Principal, loaded: Loaded, action: Action) -> None:
    """Who may do what to this event (the domain checks the state, this checks the person).

    - acknowledge, resolve, escalate: the assignee; for a queued event (nobody assigned) anyone
      working at the event's level in its grid / community / department, who thereby claims it;
    - review: the grid head for a member's fix, the command centre for every other;
    - dispatch, suspend, resume: the command centre;
    - void: the command centre, and the grid's head while the event is not yet dispatched.
    """
    event, state = loaded.event, loaded.state
    if action in HANDLER_ACTIONS:
        if event.assignee_id is not None:
            if event.assignee_id != principal.staff_id:
                raise Forbidden(f"only the event's assignee may {action.value} it")
        elif not _same_scope(principal, event, event.level):
            raise Forbidden(
                f"the event waits in the level-{event.level} queue; only staff of that level"
                f" and place may {action.value} it"
            )
        return
    if action is Action.REVIEW:
        if reviewer_role(state) is Role.HEAD:
            if not _is_grid_head(principal, event):
                raise Forbidden("a grid member's fix is reviewed by the head of the event's grid")
        elif principal.role != StaffRole.dispatcher:
            raise Forbidden("this fix is reviewed by the command centre (dispatcher)")
        return
    if action in COMMAND_CENTRE_ACTIONS:
        if principal.role != StaffRole.dispatcher:
            raise Forbidden(f"only the command centre (dispatcher) may {action.value}")
        return
    if action is Action.VOID:
        if principal.role == StaffRole.dispatcher:
            return
        early = state.status in (Status.REGISTERED, Status.PENDING_VERIFICATION)
        if early and _is_grid_head(principal, event):
            return
        raise Forbidden(
            "only the command centre may void; the grid head only before the event is dispatched"
        )
    raise Forbidden(f"{action.value} is not a person's action")


def _manual_assignment(
    session: Session, loaded: Loaded, request: ActionRequest, now: datetime
) -> Assignment:
    """A dispatcher's choice: a named person (checked against the event's place) or a level
    (the assignment rules pick the person there)."""
    if request.assignee_id is None:
        if request.level is None:
            raise Invalid(field_error(("assignee_id",), "dispatch needs assignee_id or level"))
        return choose(session, loaded, level=request.level, now=now)
    staff = session.get(Staff, request.assignee_id)
    where = "assignee_id"
    if staff is None or staff.role not in STAFF_LEVEL:
        raise Invalid(field_error(where, f"no staff member {request.assignee_id} handles events"))
    level = STAFF_LEVEL[staff.role]
    if request.level is not None and request.level != level:
        raise Invalid(
            field_error(where, f"staff {staff.id} ({staff.role}) works at level {level}, "
                        f"not {request.level}")
        )  # fmt: skip
    event = loaded.event
    if level == 0 and staff.grid_id != event.grid_id:
        raise Invalid(field_error(where, f"staff {staff.id} works in another grid"))
    if level == 1 and staff.community_id != event.community_id:
        raise Invalid(field_error(where, f"staff {staff.id} works in another community"))
    return Assignment(
        level=level,
        assignee_id=str(staff.id),
        role=Role(staff.role.value),
        department=staff.department if level == 3 else None,
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
    if allowed and action is Action.DISPATCH:
        assignment = _manual_assignment(session, loaded, request, now)
    elif allowed and action is Action.ESCALATE:
        target = escalation_target(state)
        if target is not None:
            assignment = choose(session, loaded, level=target, now=now)
    elif allowed and action is Action.RESOLVE and get_settings().resolve_photo_required:
        if count_photos(session, loaded.event_id, Stage.resolve) < 1:
            raise Invalid(
                field_error(
                    ("photos",),
                    "attach at least one photo of the fix (stage 'resolve') before resolving",
                )
            )
    actor_role = Role(principal.role.value) if principal.role in STAFF_LEVEL else None
    return Command(
        action=action,
        actor=str(principal.staff_id),
        actor_role=actor_role,
        note=request.note,
        approved=request.approved,
        assignment=assignment,
        expected_version=request.version,
    )


def act(
    *,
    session: Session,
    principal: Principal,
    event_id: int,
    action: Action,
    request: ActionRequest,
    now: datetime,
) -> Event:
    """A person's action on an event: visibility (404), permission (403), the transition
    (409 when illegal or stale, naming the status, the allowed actions or the current
    version), then one transaction. Returns the event as stored."""
    loaded = load(session, event_id)
    check_visible(principal, loaded.event if loaded else None, event_id)
    assert loaded is not None
    authorize(principal, loaded, action)
    command = _command(session, principal, loaded, action, request, now)
    decision = apply(loaded.state, command, now=now, policy=loaded.policy)
    _commit(session, loaded, decision)
    session.refresh(loaded.event)
    return loaded.event


# --- what the reconciliation sweep looks for ---------------------------------------------------


def overdue_breaches(
    session: Session, *, before: datetime, limit: int
) -> list[tuple[int, TimerKind, int]]:
    """Clocked events whose acknowledgement or resolution deadline passed before ``before``
    without the breach being recorded: ``(event_id, kind, deadline_version)``, oldest first."""
    rows = session.execute(
        text(
            "SELECT id, deadline_version,"
            " (status = 'dispatched' AND ack_due_at <= :before"
            "  AND NOT ('ack_breach' = ANY(warnings_sent))) AS ack_late"
            " FROM event"
            " WHERE status IN ('dispatched', 'acknowledged') AND ("
            "  (status = 'dispatched' AND ack_due_at <= :before"
            "   AND NOT ('ack_breach' = ANY(warnings_sent)))"
            "  OR (due_at <= :before AND NOT ('resolve_breach' = ANY(warnings_sent))))"
            " ORDER BY least(CASE WHEN status = 'dispatched' THEN ack_due_at END, due_at), id"
            " LIMIT :limit"
        ),
        {"before": before, "limit": limit},
    ).all()
    return [
        (int(event_id), TimerKind.ACK_BREACH if ack_late else TimerKind.RESOLVE_BREACH, int(dv))
        for event_id, dv, ack_late in rows
    ]


def undispatched(session: Session, *, before: datetime, limit: int) -> list[int]:
    """Registered events created before ``before`` that no dispatch has reached yet."""
    rows = session.execute(
        text(
            "SELECT id FROM event WHERE status = 'registered' AND created_at <= :before"
            " ORDER BY created_at, id LIMIT :limit"
        ),
        {"before": before, "limit": limit},
    ).scalars()
    return [int(r) for r in rows]


def reschedule_open_timers(session: Session, *, now: datetime, batch: int = 1000) -> int:
    """Write ``timer.set`` outbox rows for every pending timer of every clocked event (after
    Redis lost its scheduled jobs). Setting a timer again is harmless: same job id. Commits."""
    done = 0
    last_id = 0
    while True:
        rows = session.exec(
            select(Event, Category, col(Grid.code))
            .join(Category, col(Category.id) == col(Event.category_id))
            .join(Grid, col(Grid.id) == col(Event.grid_id))
            .where(col(Event.status).in_(CLOCKED_STATUSES), col(Event.id) > last_id)
            .order_by(col(Event.id))
            .limit(batch)
        ).all()
        if not rows:
            return done
        for event, category, grid_code in rows:
            assert event.id is not None
            last_id = event.id
            state = to_state(event, category_code=category.code, grid_code=grid_code)
            timers = set_timers(state, now)
            session.add_all(timer_rows(event.id, timers, now=now))
            done += len(timers)
        session.commit()


def timer_due_time(
    session: Session, event_id: int, kind: TimerKind, deadline_version: int
) -> datetime | None:
    """When a timer is due, or None when it no longer belongs to the event's deadlines."""
    loaded = load(session, event_id)
    session.rollback()
    if loaded is None:
        return None
    return _due_if_current(loaded.state, kind, deadline_version)


def grace() -> timedelta:
    """How long past due a timer is left to RQ before the sweep handles it itself."""
    return timedelta(seconds=get_settings().sweep_grace_seconds)

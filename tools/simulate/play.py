"""Acting a plan out on the dispatch core: the people's commands in time order, due timers first.

``play`` decides what the people do next from what they see of the event (its ``Standing``) and
fires every timer the moment it is due, exactly as the SLA rules schedule it. All it knows of
the rules it asks an ``Engine``: ``CoreEngine`` is the real core (``domain.lifecycle.apply``);
the bulk writer also plays plans against its memo of the core's answers along known paths
(``tools.simulate.paths``).

People are symbolic in a path (``system``; ``mA`` the member the automatic dispatch picks, ``mB``
the other one; ``head``, ``comm``, ``disp``, ``dept``); ``plans.staff_ids`` maps them to staff.
At a shared-queue level (the command centre's) nobody is assigned: ``disp`` claims the event the
first time someone must act on it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from domain.lifecycle import (
    Action,
    Assignment,
    Clock,
    Command,
    Decision,
    EventState,
    SlaPolicy,
    Status,
    TimerKind,
    allowed_actions,
    apply,
    escalation_target,
    open_event,
    pending_timers,
    reviewer_role,
)
from domain.lifecycle.model import RUNNING_CLOCKS
from domain.lifecycle.sla import timer_due_at
from domain.roles import (
    COMMUNITY_LEVEL,
    DEPARTMENT_LEVEL,
    GRID_LEVEL,
    LEVEL_QUEUE_ROLE,
    SHARED_QUEUE_LEVELS,
    Role,
)
from tools.simulate.plans import Plan, reporter_of, staff_ids
from tools.simulate.world import US, World, from_us, to_us

SYSTEM = "system"
#: The symbolic person standing for each role above the members.
ROLE_KEY: Mapping[Role, str] = {
    Role.HEAD: "head",
    Role.COMMUNITY: "comm",
    Role.DISPATCHER: "disp",
    Role.DEPARTMENT: "dept",
}
#: An assignment in a path: level, assignee, role, reason (assignee and role None: the level's
#: shared queue).
Assign = tuple[int, str | None, Role | None, str]


class Move(NamedTuple):
    """One command of a path without its time: the bulk writer groups events by their moves."""

    action: Action
    actor: str
    assign: Assign | None = None
    approved: bool | None = None
    timer: TimerKind | None = None
    note: str = ""


class Step(NamedTuple):
    move: Move
    at: int  # µs since the epoch


@dataclass(frozen=True, slots=True)
class Standing:
    """What the people acting an event out see of it, besides its clocks."""

    status: Status
    level: int
    assignee: str | None  # symbolic person
    reviewer: str  # who reviews the handler's fix
    escalation: Assign | None  # where an escalation or a breach sends it (None at the top)


def handler_at(level: int) -> tuple[str, Role]:
    """Who takes an event at ``level``: the picked member in the grid, else the level's staff
    (at a shared-queue level: who claims it)."""
    if level == GRID_LEVEL:
        return "mA", Role.MEMBER
    role = LEVEL_QUEUE_ROLE[level]
    return ROLE_KEY[role], role


def assign_at(level: int) -> Assign:
    """Where the assignment rules send an event at ``level`` (``domain.lifecycle``): the
    level's shared queue, or its person."""
    if level in SHARED_QUEUE_LEVELS:
        return (level, None, None, "shared_queue")
    key, role = handler_at(level)
    return (level, key, role, "least_loaded_member" if role is Role.MEMBER else "least_loaded")


def standing(state: EventState, person_of: Mapping[str, str]) -> Standing:
    """The state as its people see it (``person_of`` maps staff ids to symbolic people)."""
    target = escalation_target(state)
    escalation: Assign | None = None
    if target is not None:
        escalation = assign_at(target)
    assignee = state.assignee_id
    return Standing(
        status=state.status,
        level=state.level,
        assignee=None if assignee is None else person_of[assignee],
        reviewer=ROLE_KEY[reviewer_role(state)],
        escalation=escalation,
    )


def resolve_due(state: EventState) -> datetime | None:
    """The resolution deadline while its clock runs."""
    return state.due_at if Clock.RESOLVE in RUNNING_CLOCKS.get(state.status, ()) else None


def timer_schedule(state: EventState) -> list[tuple[TimerKind, datetime]]:
    """The state's pending timers and when each is due, in the core's order."""
    schedule = []
    for kind in pending_timers(state):
        due = timer_due_at(state, kind)
        if due is not None:
            schedule.append((kind, due))
    return schedule


def earliest(schedule: Iterable[tuple[TimerKind, int]]) -> tuple[int, TimerKind] | None:
    """The timer that fires next: the earliest due, on a tie the first in the core's order."""
    best: tuple[int, TimerKind] | None = None
    for kind, at in schedule:
        if best is None or at < best[0]:
            best = (at, kind)
    return best


class Engine(Protocol):
    """The dispatch core as ``play`` uses it (times in µs)."""

    def open(self, at: int, *, trusted: bool) -> None: ...

    def act(self, step: Step) -> None: ...

    @property
    def standing(self) -> Standing: ...

    @property
    def next_timer(self) -> tuple[int, TimerKind] | None:
        """The timer that fires next and when (µs), if any."""
        ...

    def allows(self, action: Action) -> bool:
        """Whether a person may take ``action`` now (the transition table)."""
        ...

    def resolve_due(self) -> int | None: ...


class CoreEngine:
    """The real dispatch core: every step is ``domain.lifecycle.apply`` on the event's state;
    the decisions are kept for the writers. ``ids`` maps the symbolic people to staff ids (or
    to placeholders when the bulk writer derives its templates)."""

    standing: Standing  # both set when the event opens, and after every step
    next_timer: tuple[int, TimerKind] | None

    def __init__(
        self,
        *,
        event_id: str,
        policy: SlaPolicy,
        grid_code: str,
        reporter: str | None,
        ids: Mapping[str, str],
        department: str | None,
    ) -> None:
        self._event_id = event_id
        self._policy = policy
        self._grid = grid_code
        self._reporter = reporter
        self._ids = ids
        self._people = {v: k for k, v in ids.items()}
        self._department = department
        self.decisions: list[Decision] = []
        self._state: EventState | None = None
        self._due: int | None = None

    @property
    def state(self) -> EventState:
        assert self._state is not None, "the event is not open"
        return self._state

    def allows(self, action: Action) -> bool:
        return action in allowed_actions(self.state)

    def resolve_due(self) -> int | None:
        return self._due

    def open(self, at: int, *, trusted: bool) -> None:
        self._enter(
            open_event(
                event_id=self._event_id,
                policy=self._policy,
                now=from_us(at),
                reporter_id=self._reporter,
                trusted=trusted,
                grid=self._grid,
            )
        )

    def act(self, step: Step) -> None:
        decision = apply(self.state, self._command(step.move), now=from_us(step.at),
                         policy=self._policy)  # fmt: skip
        if decision.noop:
            raise AssertionError(f"event {self._event_id}: {step} was a no-op")
        self._enter(decision)

    def _enter(self, decision: Decision) -> None:
        state = decision.state
        self.decisions.append(decision)
        self._state = state
        self.standing = standing(state, self._people)
        self.next_timer = earliest((kind, to_us(due)) for kind, due in timer_schedule(state))
        due = resolve_due(state)
        self._due = None if due is None else to_us(due)

    def _command(self, move: Move) -> Command:
        assignment = None
        if move.assign is not None:
            level, key, role, reason = move.assign
            assignment = Assignment(
                level=level,
                assignee_id=None if key is None else self._ids[key],
                role=role,
                department=self._department if level == DEPARTMENT_LEVEL else None,
                reason=reason,
            )
        return Command(
            action=move.action,
            actor=SYSTEM if move.actor == SYSTEM else self._ids[move.actor],
            note=move.note,
            approved=move.approved,
            assignment=assignment,
            actor_role=Role.DISPATCHER if move.action is Action.CLAIM else None,
            timer=move.timer,
            deadline_version=self.state.deadline_version if move.timer is not None else None,
        )


_WARNINGS: Mapping[TimerKind, Move] = {
    kind: Move(Action.WARN, SYSTEM, timer=kind) for kind in TimerKind if not kind.is_breach
}


class _Cutoff(Exception):
    pass


def play(plan: Plan, *, engine: Engine, cutoff: int) -> list[Step]:
    """Act ``plan`` out on ``engine``, firing due timers before every step; stops (leaving the
    event open) at the first step after ``cutoff``. Returns the steps taken, the report first."""
    opened = Move(Action.REPORT if plan.public else Action.REGISTER, "")
    steps: list[Step] = [Step(opened, plan.t0)]
    engine.open(plan.t0, trusted=not plan.public)
    extra = iter(plan.extra)
    last = plan.t0

    def fire_until(t: int) -> None:
        while True:
            nxt = engine.next_timer
            if nxt is None or nxt[0] > t:
                return
            due, kind = nxt
            if due > cutoff:
                raise _Cutoff
            if kind.is_breach:
                move = Move(Action.BREACH, SYSTEM, assign=engine.standing.escalation, timer=kind)
            else:
                move = _WARNINGS[kind]
            do_now(Step(move, due))

    def do_now(step: Step) -> None:
        nonlocal last
        engine.act(step)
        steps.append(step)
        last = max(last, step.at)

    def do(t: int, move: Move) -> None:
        fire_until(t)
        if t > cutoff:
            raise _Cutoff
        do_now(Step(move, t))

    def handler(t: int) -> str:
        fire_until(t)
        key = engine.standing.assignee
        if key is None:  # the command centre's shared queue: a dispatcher claims it
            assert engine.standing.level in SHARED_QUEUE_LEVELS, "only shared queues wait"
            key, _ = handler_at(engine.standing.level)
            do(t, Move(Action.CLAIM, key))
        return key

    def ack(t: int) -> int:
        fire_until(t)
        if engine.standing.status is Status.DISPATCHED:
            do(t, Move(Action.ACKNOWLEDGE, handler(t)))
        return t

    def resolve(t: int) -> int:
        fire_until(t)
        while engine.standing.status is Status.DISPATCHED:  # escalated meanwhile: new handler
            ta = ack(last + next(extra, 300) * US)
            t = max(t, ta + next(extra, 300) * US)
            fire_until(t)
        do(t, Move(Action.RESOLVE, handler(t)))
        return t

    def voider() -> str:
        return "head" if engine.standing.level <= COMMUNITY_LEVEL else "disp"

    try:
        t = plan.t0
        if plan.public:
            t += plan.verify_after * US
            if plan.void_pending:
                do(t, Move(Action.VOID, "head"))
                return steps
            do(t, Move(Action.VERIFY, "head"))
        t += plan.dispatch_after * US
        first_level = engine.standing.level
        do(t, Move(Action.DISPATCH, SYSTEM, assign=assign_at(first_level), note="auto"))
        start = t
        if plan.big_escalate_after is not None:  # the command centre sends it on
            te = start + plan.big_escalate_after * US
            fire_until(te)
            now = engine.standing
            moved = now.level != first_level
            if now.status is Status.DISPATCHED and not moved and now.escalation is not None:
                do(te, Move(Action.ESCALATE, handler(te), assign=now.escalation))
                start = te
        if plan.redispatch_after is not None:
            tr = start + plan.redispatch_after * US
            fire_until(tr)
            now = engine.standing
            if now.status is Status.DISPATCHED and now.level == GRID_LEVEL:  # the other member
                other = "mB" if now.assignee == "mA" else "mA"
                assign = (GRID_LEVEL, other, Role.MEMBER, "manual")
                do(tr, Move(Action.DISPATCH, "disp", assign=assign))
                start = tr
        for c, approved in enumerate(plan.approved):
            ta = ack(start + plan.ack[c] * US)
            if c == 0 and plan.void_after is not None:
                do(ta + plan.void_after * US, Move(Action.VOID, voider()))
                return steps
            if c == 0 and plan.hand_escalate_after is not None:
                te = ta + plan.hand_escalate_after * US
                fire_until(te)
                if engine.allows(Action.ESCALATE):
                    up = engine.standing.escalation
                    do(te, Move(Action.ESCALATE, handler(te), assign=up))
                    ta = ack(te + next(extra, 300) * US)
            tr = ta + plan.work[c] * US
            if c == 0 and plan.suspend is not None:
                share, pause = plan.suspend
                ts = ta + int(plan.work[c] * share) * US
                fire_until(ts)
                due = engine.resolve_due()
                if engine.standing.status is Status.ACKNOWLEDGED and due is not None and due > ts:
                    do(ts, Move(Action.SUSPEND, "disp"))
                    do(ts + pause * US, Move(Action.RESUME, "disp"))
                    tr += pause * US
            tr = resolve(max(tr, last + US))
            tv = tr + plan.review[c] * US
            do(tv, Move(Action.REVIEW, engine.standing.reviewer, approved=approved))
            start = tv
    except _Cutoff:
        pass
    return steps


def act_out(
    world: World, plan: Plan, event_id: int, *, cutoff: int
) -> tuple[list[Step], CoreEngine]:
    """``plan`` acted out on the real core, with the event's real ids."""
    category = world.categories[plan.category]
    reporter = reporter_of(world, plan)
    engine = CoreEngine(
        event_id=str(event_id),
        policy=category.policy,
        grid_code=world.grids[plan.grid].code,
        reporter=None if reporter is None else str(reporter),
        ids=staff_ids(world, plan),
        department=category.department,
    )
    return play(plan, engine=engine, cutoff=cutoff), engine

"""Property tests: random command sequences never reach an undefined state, and the audit log
replays to the same state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.lifecycle import (
    Action,
    Assignment,
    Category,
    Command,
    DomainError,
    EventState,
    IllegalTransition,
    LevelAllowance,
    SlaPolicy,
    Status,
    TimerKind,
    TimerOp,
    allowed_actions,
    apply,
    invariant_violations,
    open_event,
    replay,
)
from domain.lifecycle.model import CREATION_ACTIONS, SYSTEM_ACTIONS, AuditEntry
from domain.lifecycle.sla import pending_timers, timer_due_at
from domain.roles import Role

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LEVEL_ROLE = {0: Role.MEMBER, 1: Role.COMMUNITY, 2: Role.DISPATCHER, 3: Role.DEPARTMENT}
POLICIES = st.builds(
    SlaPolicy,
    category=st.builds(
        Category,
        code=st.just("c"),
        ack_minutes=st.floats(0.05, 120),
        resolve_minutes=st.floats(0.1, 600),
        big=st.booleans(),
        department=st.sampled_from([None, "chengguan"]),
    ),
    levels=st.dictionaries(
        st.integers(0, 3),
        st.builds(
            LevelAllowance,
            multiplier=st.floats(0.5, 4),
            ack_minutes=st.none() | st.floats(0.1, 60),
            resolve_minutes=st.none() | st.floats(0.1, 600),
        ),
    ),
)


@dataclass(frozen=True)
class Intent:
    """A command before it meets the state (timers and escalations are aimed at the state)."""

    action: Action
    minutes: float
    approved: bool | None
    assign_level: int | None
    assignee: str | None
    timer: TimerKind
    stale: bool
    on_time: bool
    relative_level: bool
    aim: int | None


#: Every non-creation action, weighted so that long, deep histories are common (void ends them).
WEIGHTED_ACTIONS: list[Action] = [
    a
    for a, weight in {
        Action.VERIFY: 2, Action.DISPATCH: 3, Action.ACKNOWLEDGE: 4, Action.RESOLVE: 4,
        Action.REVIEW: 4, Action.ESCALATE: 2, Action.SUSPEND: 2, Action.RESUME: 3,
        Action.VOID: 1, Action.WARN: 3, Action.BREACH: 3, Action.MERGE: 1, Action.UNMERGE: 2,
        Action.CLAIM: 2, Action.RETURN: 1, Action.REQUEST_EXTENSION: 2,
        Action.APPROVE_EXTENSION: 2, Action.REFUSE_EXTENSION: 1, Action.REQUEST_PARKING: 1,
        Action.APPROVE_PARKING: 1, Action.REFUSE_PARKING: 1, Action.UNPARK: 2, Action.REOPEN: 1,
    }.items()
    for _ in range(weight)
]  # fmt: skip
assert set(WEIGHTED_ACTIONS) == set(Action) - CREATION_ACTIONS

INTENTS = st.builds(
    Intent,
    action=st.sampled_from(WEIGHTED_ACTIONS),
    minutes=st.floats(0, 90),
    approved=st.none() | st.booleans(),
    assign_level=st.none() | st.integers(0, 3),
    assignee=st.none() | st.sampled_from(["p1", "p2"]),
    timer=st.sampled_from(list(TimerKind)),
    stale=st.booleans(),
    on_time=st.booleans(),
    relative_level=st.booleans(),
    aim=st.none() | st.integers(0, 20),
)


def concretize(intent: Intent, state: EventState, now: datetime) -> tuple[Command, datetime]:
    now = now + timedelta(minutes=intent.minutes)
    assignment = None
    level = intent.assign_level
    if intent.relative_level and state.level < 3:
        level = state.level + 1
    if level is not None:
        role = LEVEL_ROLE[level] if intent.assignee else None
        assignment = Assignment(level, intent.assignee, role, "chengguan" if level == 3 else None)
    action = intent.action
    if intent.aim is not None:  # pick among the allowed actions, to reach deep states often
        allowed = [a for a in allowed_actions(state, include_system=True) if a is not Action.VOID]
        if allowed:
            action = allowed[intent.aim % len(allowed)]
    timer: TimerKind | None = None
    version: int | None = None
    if action in SYSTEM_ACTIONS:
        timer = intent.timer
        if intent.aim is not None:
            pending = pending_timers(state)
            timer = pending[intent.aim % len(pending)] if pending else timer
        action = Action.BREACH if timer.is_breach else Action.WARN
        version = state.deadline_version - 1 if intent.stale else state.deadline_version
        due = timer_due_at(state, timer)
        if intent.on_time and due is not None:
            now = max(now, due)
    deadline: datetime | None = None
    if action is Action.REQUEST_EXTENSION:  # later than the deadline, or (stale) not
        base = max(d for d in (state.due_at, state.promised_due_at, now) if d is not None)
        deadline = base + timedelta(minutes=intent.minutes - (10 if intent.stale else 0))
    elif action is Action.REQUEST_PARKING and intent.on_time:
        deadline = now + timedelta(days=intent.minutes)
    command = Command(
        action=action,
        actor="p1",
        actor_role=Role.MEMBER,
        note="" if intent.approved is False and action in NEEDS_REASON else REASON.get(action, ""),
        approved=intent.approved,
        assignment=assignment if action is not Action.REOPEN or intent.on_time else None,
        timer=timer,
        deadline_version=version,
        deadline=deadline,
    )
    return command, now


#: The actions that need a reason (note), and one for each.
REASON: dict[Action, str] = {
    Action.RETURN: "不属于本单位职责",
    Action.REQUEST_EXTENSION: "需等待物业配合",
    Action.REQUEST_PARKING: "需列入明年预算",
    Action.REFUSE_EXTENSION: "时限内可以完成",
    Action.REFUSE_PARKING: "应当立即处置",
    Action.REOPEN: "问题复发",
}
NEEDS_REASON = frozenset(REASON)


def check_decision(before: EventState, command: Command, decision_state: EventState,
                   audit: AuditEntry | None) -> None:  # fmt: skip
    if audit is None:
        assert command.action in SYSTEM_ACTIONS and decision_state is before
        return
    assert decision_state.version == before.version + 1
    assert (audit.from_status, audit.to_status) == (before.status, decision_state.status)
    assert (audit.from_level, audit.to_level) == (before.level, decision_state.level)
    assert abs(decision_state.level - before.level) <= 1 or command.action in (
        Action.DISPATCH,
        Action.RETURN,
        Action.REOPEN,
    )
    if command.action is Action.RETURN:  # back to the command centre's queue, not counted up
        assert decision_state.level == 2 and decision_state.assignee_id is None
        assert decision_state.escalation_count == before.escalation_count
        assert decision_state.redispatch_count == before.redispatch_count
    if command.action in (Action.REQUEST_EXTENSION, Action.REQUEST_PARKING):
        assert decision_state.request_kind is not None and before.request_kind is None
        assert command.note.strip() and decision_state.due_at == before.due_at
    if command.action is Action.APPROVE_EXTENSION:  # the deadline asked for, and only then
        assert decision_state.due_at == before.request_deadline
        assert decision_state.promised_due_at == before.request_deadline
        assert audit.data["asked_reason"] == before.request_reason
    if command.action is Action.REOPEN:  # a new cycle, counted as rework
        assert before.status is Status.CLOSED and decision_state.status is Status.DISPATCHED
        assert decision_state.cycle == before.cycle + 1
        assert decision_state.rework_count == before.rework_count + 1
    if command.action is Action.CLAIM:  # a claim takes the event; the clocks run on
        assert before.assignee_id is None and decision_state.assignee_id == command.actor
        assert (decision_state.due_at, decision_state.ack_due_at) == (
            before.due_at,
            before.ack_due_at,
        )
        assert decision_state.deadline_version == before.deadline_version
    ups = decision_state.escalation_count - before.escalation_count
    if command.action is Action.DISPATCH:  # only a dispatch to a department escalates
        assert ups == int(decision_state.level == 3 and before.level < 3)


@settings(max_examples=400, deadline=None)
@given(
    policy=POLICIES,
    trusted=st.booleans(),
    intents=st.lists(INTENTS, min_size=1, max_size=60),
)
def test_random_sequences_stay_defined_and_replay(
    policy: SlaPolicy, trusted: bool, intents: list[Intent]
) -> None:
    first = open_event(event_id="e1", policy=policy, now=T0, reporter_id="r", trusted=trusted)
    assert first.audit is not None
    state, log, now = first.state, [first.audit], T0
    for intent in intents:
        command, now = concretize(intent, state, now)
        allowed = allowed_actions(state, include_system=True)
        try:
            decision = apply(state, command, now=now, policy=policy)
        except IllegalTransition as exc:
            assert command.action not in allowed
            assert exc.state is state and list(exc.allowed) == allowed_actions(state)
            continue
        except DomainError:
            continue
        assert decision.noop or command.action in allowed
        check_decision(state, command, decision.state, decision.audit)
        for timer in decision.timers:
            assert timer.event_id == "e1"
            if timer.op is TimerOp.SET:
                assert timer.deadline_version == decision.state.deadline_version
                assert timer.fire_at is not None and timer.fire_at >= now
            else:
                assert timer.deadline_version == state.deadline_version
        if decision.audit is not None:
            log.append(decision.audit)
        state = decision.state
        assert invariant_violations(state) == []
        assert 0 <= state.level <= 3
        if state.status is Status.CLOSED:
            assert state.closed_at is not None
        if state.status is Status.ACKNOWLEDGED:
            assert state.assignee_id is not None
    assert replay(log) == state
    assert state.version == len(log)


@settings(max_examples=200, deadline=None)
@given(policy=POLICIES, intents=st.lists(INTENTS, max_size=25), kind=st.sampled_from(TimerKind))
def test_a_timer_job_run_twice_acts_at_most_once(
    policy: SlaPolicy, intents: list[Intent], kind: TimerKind
) -> None:
    state = open_event(event_id="e1", policy=policy, now=T0, reporter_id=None).state
    now = T0
    for intent in intents:
        command, now = concretize(intent, state, now)
        try:
            state = apply(state, command, now=now, policy=policy).state
        except DomainError:
            continue
    due = timer_due_at(state, kind)
    at = max(now, due) if due is not None else now
    action = Action.BREACH if kind.is_breach else Action.WARN
    job = Command(action, "system", timer=kind, deadline_version=state.deadline_version)
    once = apply(state, job, now=at, policy=policy)
    twice = apply(once.state, job, now=at + timedelta(seconds=1), policy=policy)
    assert twice.noop and twice.state is once.state

"""The original promise (``promised_ack_at`` / ``promised_due_at``): made at the first dispatch,
kept through rework, re-dispatch, escalation and breaches (which restart the stage clock
``due_at``), moved only by a pause; warnings and breaches name their clock in the history; the
rejection note is on the event (docs/decisions/0013)."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import CONTINUOUS
from domain.lifecycle import (
    Action,
    Assignment,
    DomainError,
    SlaPolicy,
    Status,
    TimerKind,
    apply,
    open_event,
    replay,
)
from domain.lifecycle.audit import TIMER_ANNOTATIONS
from domain.lifecycle.model import PROMISE_FIELDS, EventState
from domain.roles import Role
from tests.unit.dispatch.test_dispatch_engine import MEMBER, T0, Story, at
from tests.unit.dispatch.test_dispatch_properties import INTENTS, POLICIES, Intent, concretize


def promise(state: EventState) -> tuple[datetime | None, datetime | None]:
    return state.promised_ack_at, state.promised_due_at


def dispatched_story() -> Story:
    story = Story()
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    return story


def test_the_first_dispatch_makes_the_promise() -> None:
    story = Story()
    assert promise(story.state) == (None, None)
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    assert promise(story.state) == (at(11), at(61))
    assert (story.state.ack_due_at, story.state.due_at) == (at(11), at(61))


def test_rework_restarts_the_stage_clock_but_not_the_promise() -> None:
    story = dispatched_story()
    story.do(5, Action.ACKNOWLEDGE, actor="m1")
    story.do(50, Action.RESOLVE, actor="m1")
    story.do(55, Action.REVIEW, approved=False, note="垃圾未清运干净", actor="h1")
    assert story.state.status is Status.DISPATCHED and story.state.rework_count == 1
    assert story.state.due_at == at(55 + 60), "the stage clock restarts"
    assert promise(story.state) == (at(10), at(60)), "the promise does not"


def test_manual_redispatch_and_escalation_keep_the_promise() -> None:
    story = dispatched_story()
    other = Assignment(level=0, assignee_id="m2", role=Role.MEMBER)
    story.do(3, Action.DISPATCH, assignment=other)
    assert story.state.due_at == at(63) and promise(story.state) == (at(10), at(60))
    story.do(4, Action.ACKNOWLEDGE, actor="m2")
    story.do(6, Action.ESCALATE, actor="m2")
    assert story.state.level == 1 and story.state.due_at == at(66)
    assert promise(story.state) == (at(10), at(60))


def test_a_breach_restarts_the_next_levels_clock_not_the_promise() -> None:
    story = dispatched_story()
    story.timer(10, TimerKind.ACK_BREACH)
    assert story.state.level == 1 and story.state.due_at == at(70)
    assert promise(story.state) == (at(10), at(60))


def test_a_suspension_shifts_the_promise_by_the_paused_time() -> None:
    story = dispatched_story()
    story.do(4, Action.SUSPEND)
    assert promise(story.state) == (at(10), at(60)), "a pause moves it when it ends"
    story.do(34, Action.RESUME)
    assert promise(story.state) == (at(40), at(90))
    assert story.state.due_at == at(90), "the same shift as the stage clock's"


def test_after_acknowledgement_a_pause_moves_only_the_resolution_promise() -> None:
    story = dispatched_story()
    story.do(5, Action.ACKNOWLEDGE, actor="m1")
    story.do(30, Action.SUSPEND)  # the ack promise (at 10) was kept already
    story.do(45, Action.RESUME)
    assert promise(story.state) == (at(10), at(75))


def test_a_pause_never_mends_a_broken_promise() -> None:
    story = dispatched_story()
    story.do(5, Action.ACKNOWLEDGE, actor="m1")
    story.do(6, Action.ESCALATE, actor="m1")  # the community's clock runs to 66
    story.do(62, Action.SUSPEND)  # the promise (60) is broken already
    story.do(92, Action.RESUME)
    assert story.state.promised_due_at == at(90), "moved by the pause: still behind now"
    due = story.state.due_at
    assert due is not None and story.state.promised_due_at < at(92) < due


def test_warnings_and_breaches_name_their_clock_and_share() -> None:
    story = dispatched_story()
    warn = story.timer(5, TimerKind.ACK_WARN50)
    assert warn.audit is not None
    assert {k: warn.audit.data[k] for k in ("clock", "percent")} == {"clock": "ack", "percent": 50}
    assert warn.audit.data["clock_due_at"] == at(10).isoformat()
    assert warn.audit.data["promised_at"] == at(10).isoformat()
    story.timer(45, TimerKind.RESOLVE_WARN75)
    assert story.last.audit is not None
    assert story.last.audit.data["clock"] == "resolve" and story.last.audit.data["percent"] == 75
    breach = story.timer(60, TimerKind.RESOLVE_BREACH)
    assert breach.audit is not None
    assert (breach.audit.data["clock"], breach.audit.data["percent"]) == ("resolve", 100)
    assert breach.audit.data["clock_due_at"] == at(60).isoformat()
    # the community's clock, restarted by the breach, warns against its own deadline
    story.timer(60 + 30, TimerKind.RESOLVE_WARN50)
    assert story.last.audit is not None
    assert story.last.audit.data["clock_due_at"] == at(120).isoformat()
    assert story.last.audit.data["promised_at"] == at(60).isoformat()
    assert replay(story.log) == story.state, "the annotations are not state"
    manual = [e for e in story.log if e.action not in (Action.WARN, Action.BREACH)]
    assert all(not TIMER_ANNOTATIONS & set(e.data) for e in manual)


def test_the_rejection_note_is_on_the_event_until_the_next_review() -> None:
    story = dispatched_story()
    story.do(5, Action.ACKNOWLEDGE, actor="m1")
    story.do(10, Action.RESOLVE, actor="m1")
    story.do(12, Action.REVIEW, approved=False, note="照片看不出已清理", actor="h1")
    assert (story.state.rejection_note, story.state.rejected_at) == ("照片看不出已清理", at(12))
    story.do(13, Action.ACKNOWLEDGE, actor="m1")
    story.do(20, Action.RESOLVE, actor="m1")
    assert story.state.rejection_note == "照片看不出已清理", "the reviewer sees what was asked"
    story.do(22, Action.REVIEW, approved=False, note="还有一袋", actor="h1")
    assert (story.state.rejection_note, story.state.rejected_at) == ("还有一袋", at(22))
    story.do(23, Action.ACKNOWLEDGE, actor="m1")
    story.do(30, Action.RESOLVE, actor="m1")
    story.do(31, Action.REVIEW, approved=True, actor="h1")
    assert story.state.status is Status.CLOSED
    assert story.state.rejection_note == "还有一袋", "kept as the record of the last rework"
    assert replay(story.log) == story.state


# --- the property: nothing but a pause moves the promise --------------------------------------


#: The actions that end a pause (suspension, parking, merge): with an approved extension and a
#: reopening (a new cycle, a new promise) the only ones allowed to move the promise.
PAUSE_ENDS = frozenset({Action.RESUME, Action.UNMERGE, Action.UNPARK})
MOVES_PROMISE = PAUSE_ENDS | {Action.APPROVE_EXTENSION, Action.REOPEN}


@settings(max_examples=400, deadline=None)
@given(
    policy=POLICIES,
    trusted=st.booleans(),
    intents=st.lists(INTENTS, min_size=1, max_size=60),
)
def test_no_action_but_a_pause_an_extension_or_a_reopening_moves_the_original_deadline(
    policy: SlaPolicy, trusted: bool, intents: list[Intent]
) -> None:
    """Random sequences of every action (dispatch, re-dispatch, rework, escalation, warnings,
    breaches, suspension, merge, void...). A model independent of the engine (24×7: the first
    dispatch's level allowance from its instant, plus the length of every pause — for the
    acknowledgement promise, of every pause that began before acknowledgement; the deadline an
    approved extension asked for; a reopening's new first dispatch) predicts the promise after
    each step; only those may change it, and none but a reopening earlier."""
    assert policy.calendar is CONTINUOUS
    state = open_event(event_id="e1", policy=policy, now=T0, reporter_id="r", trusted=trusted).state
    now = T0
    expected: tuple[datetime | None, datetime | None] = (None, None)
    for intent in intents:
        command, now = concretize(intent, state, now)
        try:
            decision = apply(state, command, now=now, policy=policy)
        except DomainError:
            continue
        before, after = state, decision.state
        if command.action is Action.REOPEN or (
            before.promised_due_at is None and after.dispatched_at is not None
        ):
            level = after.level
            expected = (
                now + policy.ack_allowance(level),
                now + policy.resolve_allowance(level),
            )
        elif command.action in PAUSE_ENDS and before.suspended_at is not None:
            paused = now - before.suspended_at
            ack_running = before.resume_status is Status.DISPATCHED
            expected = (
                _shift(expected[0], paused) if ack_running else expected[0],
                _shift(expected[1], paused),
            )
        elif command.action is Action.APPROVE_EXTENSION:
            expected = (expected[0], before.request_deadline)
        assert promise(after) == expected, (command.action, before.status)
        if command.action not in MOVES_PROMISE and before.promised_due_at is not None:
            assert promise(after) == promise(before), command.action
        if command.action is Action.REOPEN:
            state = after
            continue
        for name in PROMISE_FIELDS:
            old, new = getattr(before, name), getattr(after, name)
            assert old is None or (new is not None and new >= old), name
        state = after


def _shift(promised: datetime | None, paused: timedelta) -> datetime | None:
    return None if promised is None else promised + paused

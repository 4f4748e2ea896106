"""延期 (extension) and 挂账 (parking) with the approval of the level above, and 重开 (reopening
a closed case): the transitions, what moves the clocks and the promise, and the audit rows
(issue 13)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.jurisdiction import Place, Principal
from domain.lifecycle import (
    Action,
    Assignment,
    IllegalTransition,
    InvalidCommand,
    NotificationKind,
    Status,
    TimerKind,
    TimerOp,
    invariant_violations,
    replay,
)
from domain.lifecycle.audit import REQUEST_ANNOTATIONS
from domain.lifecycle.model import MAX_EXTENSION, RequestKind
from domain.roles import Role
from domain.supervision import may_decide
from tests.unit.dispatch.test_dispatch_engine import MEMBER, Story, at


def held() -> Story:
    """Dispatched to member m1 at 0 (ack due 10, resolve due 60), acknowledged at 5."""
    story = Story()
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    story.do(5, Action.ACKNOWLEDGE, actor="m1")
    return story


# --- 延期 -------------------------------------------------------------------------------------


def test_a_request_needs_a_reason_and_a_later_bounded_deadline() -> None:
    story = held()
    with pytest.raises(InvalidCommand) as no_reason:
        story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="  ", deadline=at(120))
    assert no_reason.value.field == "note"
    with pytest.raises(InvalidCommand) as no_deadline:
        story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业")
    assert no_deadline.value.field == "deadline"
    for too_early in (at(60), at(30)):  # not after the current resolve deadline (60)
        with pytest.raises(InvalidCommand, match="later than the current"):
            story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业", deadline=too_early)
    too_far = at(10) + MAX_EXTENSION + timedelta(seconds=1)
    with pytest.raises(InvalidCommand, match="at most 30 days"):
        story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业", deadline=too_far)
    latest = at(10) + MAX_EXTENSION
    story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业", deadline=latest)
    assert story.state.request_kind is RequestKind.EXTENSION


def test_a_pending_extension_moves_nothing_and_a_second_request_is_illegal() -> None:
    story = held()
    before = story.state
    asked = story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业配合", deadline=at(180))
    s = story.state
    assert s.status is Status.ACKNOWLEDGED, "a request changes no status"
    assert (s.due_at, s.promised_due_at, s.deadline_version) == (
        before.due_at,
        before.promised_due_at,
        before.deadline_version,
    ), "the clock runs on while the request waits"
    assert asked.timers == ()
    assert (s.request_reason, s.request_deadline, s.requested_at) == ("等物业配合", at(180), at(10))
    # the grid head (the member's superior) is asked
    assert [(n.kind, n.audience, n.level) for n in asked.notifications] == [
        (NotificationKind.APPROVAL_REQUESTED, Role.HEAD, 0)
    ]
    for action in (Action.REQUEST_EXTENSION, Action.REQUEST_PARKING):
        with pytest.raises(IllegalTransition):
            story.do(11, action, actor="m1", note="再申请", deadline=at(200))
    with pytest.raises(IllegalTransition):  # no parking is pending
        story.do(11, Action.APPROVE_PARKING, actor="h1")


def test_an_approved_extension_moves_the_deadline_and_the_promise_to_the_one_asked() -> None:
    story = held()
    story.timer(30, TimerKind.RESOLVE_WARN50)
    story.do(40, Action.REQUEST_EXTENSION, actor="m1", note="等物业配合", deadline=at(180))
    approved = story.do(45, Action.APPROVE_EXTENSION, actor="h1", note="同意")
    s = story.state
    assert s.due_at == at(180) and s.promised_due_at == at(180)
    assert s.promised_ack_at == at(10), "the acknowledgement promise stays"
    assert s.request_kind is None and s.request_reason is None
    assert s.resolve_allowance == timedelta(minutes=60 + 120), "the allowance grows by the time"
    # the 50 % mark of 180 minutes from 0 is at 90: ahead again, so it fires again
    assert s.resolve_warn50_at == at(90) and TimerKind.RESOLVE_WARN50 not in s.warnings_sent
    sets = {t.kind: t.fire_at for t in approved.timers if t.op is TimerOp.SET}
    assert sets[TimerKind.RESOLVE_BREACH] == at(180)
    assert all(t.deadline_version == s.deadline_version for t in approved.timers if t.fire_at)
    audit = approved.audit
    assert audit is not None and audit.actor == "h1"
    assert {k: audit.data[k] for k in REQUEST_ANNOTATIONS} == {
        "asked_by": "m1",
        "asked_at": at(40).isoformat(),
        "asked_reason": "等物业配合",
        "asked_until": at(180).isoformat(),
        "previous_due_at": at(60).isoformat(),
        "previous_promise": at(60).isoformat(),
    }
    assert replay(story.log) == s, "the annotations are not state"
    # the old timers are stale: a breach at the old deadline does nothing
    stale = story.timer(60, TimerKind.RESOLVE_BREACH, version=s.deadline_version - 1)
    assert stale.noop


def test_a_refusal_needs_a_reason_and_moves_nothing() -> None:
    story = held()
    story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业", deadline=at(180))
    before = story.state
    with pytest.raises(InvalidCommand):
        story.do(12, Action.REFUSE_EXTENSION, actor="h1")
    refused = story.do(12, Action.REFUSE_EXTENSION, actor="h1", note="一小时内可以完成")
    s = story.state
    assert s.request_kind is None and (s.due_at, s.promised_due_at) == (
        before.due_at,
        before.promised_due_at,
    )
    assert refused.audit is not None and refused.audit.data["asked_reason"] == "等物业"
    assert [n.kind for n in refused.notifications] == [NotificationKind.REQUEST_REFUSED]
    with pytest.raises(IllegalTransition):  # nothing pending any more
        story.do(13, Action.APPROVE_EXTENSION, actor="h1")
    story.do(14, Action.REQUEST_EXTENSION, actor="m1", note="确实需要", deadline=at(180))


def test_an_approval_after_the_deadline_asked_for_is_refused_as_invalid() -> None:
    story = held()
    story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业", deadline=at(70))
    with pytest.raises(InvalidCommand, match="has passed"):
        story.do(71, Action.APPROVE_EXTENSION, actor="h1")


def test_a_change_of_holder_drops_the_pending_request() -> None:
    story = held()
    story.do(10, Action.REQUEST_EXTENSION, actor="m1", note="等物业", deadline=at(180))
    story.do(11, Action.ESCALATE, actor="m1")
    assert story.state.request_kind is None and story.state.level == 1
    assert invariant_violations(story.state) == []


def test_an_extension_at_the_top_after_a_breach_arms_the_breach_again() -> None:
    story = Story()
    dept = Assignment(level=3, assignee_id="d1", role=Role.DEPARTMENT, department="chengguan")
    story.do(0, Action.DISPATCH, assignment=dept)
    story.do(1, Action.ACKNOWLEDGE, actor="d1")
    story.timer(60, TimerKind.RESOLVE_BREACH)  # at the top: reported, not escalated
    assert TimerKind.RESOLVE_BREACH in story.state.warnings_sent
    story.do(70, Action.REQUEST_EXTENSION, actor="d1", note="需要审批", deadline=at(300))
    story.do(75, Action.APPROVE_EXTENSION, actor="dispatcher1")
    assert TimerKind.RESOLVE_BREACH not in story.state.warnings_sent
    again = story.timer(300, TimerKind.RESOLVE_BREACH)
    assert not again.noop, "the new deadline is watched as the old one was"


# --- 挂账 -------------------------------------------------------------------------------------


def test_parking_pauses_the_clocks_and_unparking_resumes_them_with_the_promise_moved() -> None:
    story = held()
    with pytest.raises(InvalidCommand, match="review date"):
        story.do(10, Action.REQUEST_PARKING, actor="m1", note="需列入预算", deadline=at(5))
    story.do(10, Action.REQUEST_PARKING, actor="m1", note="需列入预算", deadline=at(60 * 24 * 30))
    assert story.state.status is Status.ACKNOWLEDGED and story.state.due_at == at(60)
    parked = story.do(20, Action.APPROVE_PARKING, actor="h1")
    s = story.state
    assert s.status is Status.PARKED and s.parked_until == at(60 * 24 * 30)
    assert s.resolve_remaining == timedelta(minutes=40) and s.request_kind is None
    assert all(t.op is TimerOp.CANCEL for t in parked.timers), "no clock runs while parked"
    assert parked.audit is not None and parked.audit.data["asked_reason"] == "需列入预算"
    assert Action.UNPARK in story.allowed() and Action.RESUME not in story.allowed()
    story.do(20 + 600, Action.UNPARK, actor="dispatcher1")
    s = story.state
    assert s.status is Status.ACKNOWLEDGED and s.parked_until is None
    assert s.due_at == at(620 + 40), "the remaining time, from the unparking"
    assert s.promised_due_at == at(60 + 600), "parked time never counts against the handler"
    assert replay(story.log) == s


def test_a_refused_parking_keeps_the_case_with_its_holder() -> None:
    story = held()
    story.do(10, Action.REQUEST_PARKING, actor="m1", note="需列入预算")
    story.do(11, Action.REFUSE_PARKING, actor="h1", note="可先临时处置")
    assert story.state.status is Status.ACKNOWLEDGED and story.state.request_kind is None


def test_a_parked_case_can_be_voided() -> None:
    story = held()
    story.do(10, Action.REQUEST_PARKING, actor="m1", note="需列入预算", deadline=at(2000))
    story.do(11, Action.APPROVE_PARKING, actor="h1")
    story.do(12, Action.VOID, actor="dispatcher1")
    assert story.state.status is Status.VOIDED and story.state.parked_until is None


# --- 重开 -------------------------------------------------------------------------------------


def closed() -> Story:
    story = held()
    story.do(30, Action.RESOLVE, actor="m1")
    story.do(35, Action.REVIEW, approved=True, actor="h1")
    assert story.state.status is Status.CLOSED
    return story


def test_a_reopened_case_starts_a_new_cycle_counted_as_rework() -> None:
    story = closed()
    with pytest.raises(InvalidCommand):
        story.do(500, Action.REOPEN, actor="dispatcher1", note=" ")
    reopened = story.do(500, Action.REOPEN, actor="dispatcher1", note="同一处垃圾再次堆放")
    s = story.state
    assert s.status is Status.DISPATCHED and s.cycle == 2 and s.rework_count == 1
    assert (s.assignee_id, s.level) == ("m1", 0), "the handler of the closed cycle"
    assert (s.ack_due_at, s.due_at) == (at(510), at(560)), "clocks anew"
    assert (s.promised_ack_at, s.promised_due_at) == (at(510), at(560)), "a new promise"
    assert s.closed_at is None and s.resolved_at is None and s.acknowledged_at is None
    assert any(t.op is TimerOp.SET for t in reopened.timers)
    assert [e.action for e in story.log].count(Action.REVIEW) == 1, "the closure stays logged"
    assert replay(story.log) == s


def test_a_reopening_may_go_to_another_handler_and_only_a_closed_case_reopens() -> None:
    story = closed()
    other = Assignment(level=1, assignee_id="c1", role=Role.COMMUNITY)
    story.do(500, Action.REOPEN, actor="dispatcher1", note="复发", assignment=other)
    assert (story.state.level, story.state.assignee_id) == (1, "c1")
    with pytest.raises(IllegalTransition):
        story.do(501, Action.REOPEN, actor="dispatcher1", note="复发")


# --- who decides ----------------------------------------------------------------------------


def _person(staff_id: int, role: Role, grid: int | None = 1, community: int | None = 1
            ) -> Principal:  # fmt: skip
    return Principal(staff_id, staff_id, f"u{staff_id}", role, grid, community, None)


def test_the_level_above_decides_never_the_holder() -> None:
    here = Place(grid_id=1, community_id=1)
    member, head = _person(1, Role.MEMBER), _person(2, Role.HEAD)
    other_head = _person(3, Role.HEAD, grid=2)
    community, dispatcher = _person(4, Role.COMMUNITY), _person(5, Role.DISPATCHER, None, None)
    evaluator = _person(6, Role.EVALUATOR, None, None)
    assert may_decide(head, 1, Role.MEMBER, here)
    assert not may_decide(member, 1, Role.MEMBER, here), "not their own"
    assert not may_decide(_person(7, Role.MEMBER), 1, Role.MEMBER, here)
    assert not may_decide(other_head, 1, Role.MEMBER, here), "another grid's head"
    assert not may_decide(community, 1, Role.MEMBER, here), "the head decides a member's"
    assert may_decide(community, 2, Role.HEAD, here)
    assert may_decide(dispatcher, 1, Role.MEMBER, here), "the command centre is above all"
    assert may_decide(dispatcher, 9, Role.DEPARTMENT, here)
    assert not may_decide(dispatcher, 5, Role.DISPATCHER, here), "not a dispatcher's own"
    assert may_decide(_person(8, Role.DISPATCHER, None, None), 5, Role.DISPATCHER, here)
    assert not may_decide(evaluator, 1, Role.MEMBER, here)

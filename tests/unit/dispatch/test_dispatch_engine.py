"""Unit tests of open_event/apply with plain values: flow, deadlines, timers, notifications,
warnings, breaches, suspend/resume and the idempotence of timer jobs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.lifecycle import (
    Action,
    Assignment,
    Category,
    Command,
    Decision,
    EscalationReason,
    IllegalTransition,
    InvalidCommand,
    LevelAllowance,
    NaiveDatetime,
    NotificationKind,
    SlaPolicy,
    StaleVersion,
    Status,
    TimerKind,
    TimerOp,
    allowed_actions,
    apply,
    open_event,
    replay,
)
from domain.lifecycle.model import AuditEntry
from domain.roles import Role

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LITTER = Category(code="litter", ack_minutes=10, resolve_minutes=60)
POLICY = SlaPolicy(category=LITTER)
MEMBER = Assignment(level=0, assignee_id="m1", role=Role.MEMBER)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


class Story:
    """Applies commands in order and keeps the audit log."""

    def __init__(self, policy: SlaPolicy = POLICY, trusted: bool = True) -> None:
        self.policy = policy
        first = open_event(
            event_id="e1", policy=policy, now=T0, reporter_id="r1", trusted=trusted, grid="g1"
        )
        assert first.audit is not None
        self.state = first.state
        self.log: list[AuditEntry] = [first.audit]
        self.last = first

    def do(self, minutes: float, action: Action, **fields: object) -> Decision:
        actor = str(fields.pop("actor", "u1"))
        command = Command(action=action, actor=actor, **fields)  # type: ignore[arg-type]
        decision = apply(self.state, command, now=at(minutes), policy=self.policy)
        self.state = decision.state
        if decision.audit is not None:
            self.log.append(decision.audit)
        self.last = decision
        return decision

    def allowed(self) -> list[Action]:
        return allowed_actions(self.state)

    def timer(self, minutes: float, kind: TimerKind, version: int | None = None) -> Decision:
        action = Action.BREACH if kind.is_breach else Action.WARN
        v = self.state.deadline_version if version is None else version
        return self.do(minutes, action, actor="system", timer=kind, deadline_version=v)


def test_trusted_report_is_registered_at_level_0_without_clock() -> None:
    story = Story()
    assert story.state.status is Status.REGISTERED
    assert story.state.level == 0
    assert story.state.ack_due_at is None and story.state.deadline_version == 0
    assert story.log[0].action is Action.REGISTER and story.log[0].from_status is None


def test_public_report_waits_for_verification_and_asks_grid_staff() -> None:
    story = Story(trusted=False)
    assert story.state.status is Status.PENDING_VERIFICATION
    assert story.log[0].action is Action.REPORT
    (note,) = story.last.notifications
    assert note.kind is NotificationKind.VERIFY_REQUESTED and note.audience is Role.HEAD
    with pytest.raises(IllegalTransition):
        story.do(1, Action.DISPATCH, assignment=MEMBER)
    verified = story.do(1, Action.VERIFY)
    assert verified.state.status is Status.REGISTERED


def test_big_category_starts_at_the_command_centre() -> None:
    big = SlaPolicy(category=Category("collapse", 5, 120, big=True, department="zhujian"))
    assert Story(big).state.level == 2


def test_dispatch_sets_deadlines_and_six_timers_with_deterministic_ids() -> None:
    story = Story()
    d = story.do(1, Action.DISPATCH, assignment=MEMBER)
    s = d.state
    assert (s.status, s.assignee_id, s.assignee_role) == (Status.DISPATCHED, "m1", Role.MEMBER)
    assert s.ack_due_at == at(11) and s.due_at == at(61) and s.deadline_version == 1
    fire = {t.kind: t.fire_at for t in d.timers if t.op is TimerOp.SET}
    assert fire == {
        TimerKind.ACK_WARN50: at(6),
        TimerKind.ACK_WARN75: at(8.5),
        TimerKind.ACK_BREACH: at(11),
        TimerKind.RESOLVE_WARN50: at(31),
        TimerKind.RESOLVE_WARN75: at(46),
        TimerKind.RESOLVE_BREACH: at(61),
    }
    assert {t.job_id for t in d.timers} >= {"sla-e1-ack_breach-1", "sla-e1-resolve_warn50-1"}
    (note,) = d.notifications
    assert note.kind is NotificationKind.ASSIGNED and note.recipients == ("m1",)


def test_happy_path_closes_and_replays() -> None:
    story = Story()
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    d = story.do(3, Action.ACKNOWLEDGE, actor="m1")
    cancelled = {t.kind for t in d.timers if t.op is TimerOp.CANCEL}
    assert cancelled == {TimerKind.ACK_WARN50, TimerKind.ACK_WARN75, TimerKind.ACK_BREACH}
    d = story.do(20, Action.RESOLVE, actor="m1")
    assert {t.kind for t in d.timers if t.op is TimerOp.CANCEL} == {
        TimerKind.RESOLVE_WARN50,
        TimerKind.RESOLVE_WARN75,
        TimerKind.RESOLVE_BREACH,
    }
    # The review clock (核查) starts: its three timers, on a new deadline version.
    assert {t.kind for t in d.timers if t.op is TimerOp.SET} == {
        TimerKind.REVIEW_WARN50,
        TimerKind.REVIEW_WARN75,
        TimerKind.REVIEW_BREACH,
    }
    (note,) = d.notifications
    assert note.kind is NotificationKind.REVIEW_REQUESTED and note.audience is Role.HEAD
    d = story.do(25, Action.REVIEW, actor="h1", approved=True)
    assert d.state.status is Status.CLOSED and d.state.closed_at == at(25)
    assert d.state.resolved_at == at(20) and d.state.level == 0
    assert set(d.notifications[0].recipients) == {"r1", "m1"}
    assert story.state.version == 5
    assert replay(story.log) == story.state


def test_failed_review_is_rework_with_fresh_deadlines_for_the_same_handler() -> None:
    story = Story()
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    story.do(2, Action.ACKNOWLEDGE, actor="m1")
    story.do(10, Action.RESOLVE, actor="m1")
    d = story.do(12, Action.REVIEW, actor="h1", approved=False, note="still dirty")
    s = d.state
    assert (s.status, s.assignee_id, s.level, s.rework_count) == (Status.DISPATCHED, "m1", 0, 1)
    # versions: 1 dispatch, 2 the review clock at the fix, 3 the rework
    assert s.due_at == at(72) and s.deadline_version == 3 and s.resolved_at is None
    assert d.notifications[0].kind is NotificationKind.REVIEW_FAILED
    assert d.notifications[0].detail == "still dirty"
    assert replay(story.log) == story.state


def test_review_without_a_verdict_is_invalid() -> None:
    story = Story()
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    story.do(2, Action.ACKNOWLEDGE, actor="m1")
    story.do(3, Action.RESOLVE, actor="m1")
    with pytest.raises(InvalidCommand):
        story.do(4, Action.REVIEW)


def test_review_of_a_community_fix_goes_to_the_command_centre() -> None:
    story = Story()
    story.do(1, Action.DISPATCH, assignment=Assignment(1, "c1", Role.COMMUNITY))
    story.do(2, Action.ACKNOWLEDGE, actor="c1")
    d = story.do(3, Action.RESOLVE, actor="c1")
    assert d.notifications[0].audience is Role.DISPATCHER and d.notifications[0].level == 2


def test_illegal_action_names_state_and_allowed_actions() -> None:
    story = Story()
    with pytest.raises(IllegalTransition) as caught:
        story.do(1, Action.RESOLVE)
    assert caught.value.state == story.state
    assert caught.value.allowed == (Action.DISPATCH, Action.VOID, Action.MERGE)
    assert "registered" in str(caught.value)


def test_stale_expected_version_is_rejected() -> None:
    story = Story()
    with pytest.raises(StaleVersion):
        story.do(1, Action.DISPATCH, assignment=MEMBER, expected_version=7)
    story.do(1, Action.DISPATCH, assignment=MEMBER, expected_version=1)
    assert story.state.version == 2


def test_naive_now_is_rejected() -> None:
    story = Story()
    with pytest.raises(NaiveDatetime):
        apply(story.state, Command(Action.VOID, "u1"), now=datetime(2026, 3, 1), policy=POLICY)


def test_other_time_zones_are_normalised_to_utc() -> None:
    beijing = timezone(timedelta(hours=8))
    d = open_event(
        event_id="e9", policy=POLICY, now=T0.astimezone(beijing), reporter_id=None, grid="g1"
    )
    assert d.state.created_at == T0 and d.state.created_at.tzinfo is UTC


def test_manual_redispatch_is_counted_and_tells_the_former_handler() -> None:
    story = Story()
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    d = story.do(2, Action.DISPATCH, assignment=Assignment(0, "m2", Role.MEMBER))
    assert d.state.redispatch_count == 1 and d.state.deadline_version == 2
    kinds = {(n.kind, n.recipients) for n in d.notifications}
    assert kinds == {(NotificationKind.ASSIGNED, ("m2",)), (NotificationKind.REASSIGNED, ("m1",))}
    cancels = [t.job_id for t in d.timers if t.op is TimerOp.CANCEL]
    assert "sla-e1-ack_breach-1" in cancels and len(cancels) == 6


def test_escalation_by_hand_moves_up_one_level() -> None:
    story = Story()
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    d = story.do(2, Action.ESCALATE, actor="m1", assignment=Assignment(1, "c1", Role.COMMUNITY))
    assert (d.state.level, d.state.assignee_id, d.state.escalation_count) == (1, "c1", 1)
    assert d.audit is not None and d.audit.reason is EscalationReason.HANDLER_REQUEST
    assert (d.audit.from_level, d.audit.to_level) == (0, 1)
    with pytest.raises(InvalidCommand):
        story.do(3, Action.ESCALATE, assignment=Assignment(3, "d1", Role.DEPARTMENT))


def test_escalation_without_assignee_goes_to_the_level_queue_and_is_claimed() -> None:
    policy = SlaPolicy(category=Category("road", 10, 60, department="chengguan"))
    story = Story(policy)
    story.do(1, Action.DISPATCH, assignment=Assignment(2, "x1", Role.DISPATCHER))
    d = story.do(2, Action.ESCALATE)
    assert d.state.level == 3 and d.state.assignee_id is None
    assert d.state.department == "chengguan"
    queue = [n for n in d.notifications if n.kind is NotificationKind.ASSIGNED]
    assert queue[0].audience is Role.DEPARTMENT and queue[0].department == "chengguan"
    assert Action.ESCALATE not in allowed_actions(story.state)
    d = story.do(3, Action.ACKNOWLEDGE, actor="d7", actor_role=Role.DEPARTMENT)
    assert d.state.assignee_id == "d7" and d.state.assignee_role is Role.DEPARTMENT
    with pytest.raises(IllegalTransition):
        story.do(4, Action.ESCALATE)
    assert replay(story.log) == story.state


def test_a_queued_event_is_claimed_once_and_its_clocks_run_on() -> None:
    story = Story()
    story.do(1, Action.DISPATCH, assignment=Assignment(2, reason="shared_queue"))
    before = story.state
    assert Action.CLAIM in story.allowed()
    d = story.do(3, Action.CLAIM, actor="x2", actor_role=Role.DISPATCHER, expected_version=2)
    assert (d.state.status, d.state.assignee_id, d.state.assignee_role) == (
        Status.DISPATCHED, "x2", Role.DISPATCHER,
    )  # fmt: skip
    assert (d.state.due_at, d.state.ack_due_at, d.state.deadline_version) == (
        before.due_at, before.ack_due_at, before.deadline_version,
    )  # fmt: skip
    assert d.timers == () and d.audit is not None and d.audit.actor == "x2"
    assert Action.CLAIM not in story.allowed()
    with pytest.raises(StaleVersion):  # the second of two claims sent at once
        story.do(3, Action.CLAIM, actor="x1", actor_role=Role.DISPATCHER, expected_version=2)
    with pytest.raises(IllegalTransition):  # a late claim without a version: already held
        story.do(4, Action.CLAIM, actor="x1", actor_role=Role.DISPATCHER)
    story.do(5, Action.ACKNOWLEDGE, actor="x2")
    assert story.state.assignee_id == "x2"
    assert replay(story.log) == story.state


def test_a_dispatch_to_a_department_counts_as_an_escalation_not_a_redispatch() -> None:
    big = SlaPolicy(category=Category("collapse", 5, 120, big=True, department="zhujian"))
    story = Story(big)
    story.do(1, Action.DISPATCH, assignment=Assignment(2, reason="shared_queue"))
    story.do(2, Action.CLAIM, actor="x1", actor_role=Role.DISPATCHER)
    dept = Assignment(3, "d1", Role.DEPARTMENT, "zhujian")
    d = story.do(3, Action.DISPATCH, actor="x1", assignment=dept)
    assert (d.state.level, d.state.escalation_count, d.state.redispatch_count) == (3, 1, 0)
    assert d.state.last_escalation_reason is EscalationReason.DISPATCHED_UP
    assert d.audit is not None and d.audit.reason is EscalationReason.DISPATCHED_UP
    kinds = {(n.kind, n.recipients) for n in d.notifications}
    assert kinds == {(NotificationKind.ASSIGNED, ("d1",)), (NotificationKind.ESCALATED, ("x1",))}
    # to another department from there: a wrong dispatch corrected, a re-dispatch
    d = story.do(4, Action.DISPATCH, assignment=Assignment(3, "d2", Role.DEPARTMENT, "gongan"))
    assert (d.state.escalation_count, d.state.redispatch_count) == (1, 1)
    assert replay(story.log) == story.state


def test_per_level_allowances_come_from_configuration() -> None:
    levels = {
        0: LevelAllowance(),
        1: LevelAllowance(multiplier=2.0),
        2: LevelAllowance(ack_minutes=5, resolve_minutes=240),
    }
    story = Story(SlaPolicy(category=LITTER, levels=levels))
    story.do(0, Action.DISPATCH, assignment=Assignment(1, "c1", Role.COMMUNITY))
    assert story.state.ack_due_at == at(20) and story.state.due_at == at(120)
    story.do(1, Action.ESCALATE)
    assert story.state.ack_due_at == at(6) and story.state.due_at == at(241)
    story.do(2, Action.ESCALATE)  # level 3 is not configured: category minutes
    assert story.state.ack_due_at == at(12) and story.state.due_at == at(62)


def test_fractional_minutes_work_as_seconds() -> None:
    quick = SlaPolicy(category=Category("test", ack_minutes=0.05, resolve_minutes=0.1))
    story = Story(quick)
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    assert story.state.ack_due_at == T0 + timedelta(seconds=3)
    assert story.state.due_at == T0 + timedelta(seconds=6)


# --- timers ---


def dispatched() -> Story:
    story = Story()
    story.do(0, Action.DISPATCH, assignment=MEMBER)
    return story


def test_warning_is_sent_once_and_a_rerun_is_a_noop() -> None:
    story = dispatched()
    d = story.timer(5, TimerKind.ACK_WARN50)
    assert d.audit is not None and TimerKind.ACK_WARN50 in d.state.warnings_sent
    (note,) = d.notifications
    assert note.kind is NotificationKind.WARNING and note.recipients == ("m1",)
    assert note.detail == "ack_warn50"
    before = story.state
    again = story.timer(5.5, TimerKind.ACK_WARN50)
    assert again.noop and again.state is before and not again.timers and not again.notifications


def test_timer_before_its_time_is_a_noop() -> None:
    story = dispatched()
    assert story.timer(4.9, TimerKind.ACK_WARN50).noop
    assert story.timer(9.9, TimerKind.ACK_BREACH).noop
    assert story.state.version == 2


def test_timer_with_a_stale_deadline_version_is_a_noop() -> None:
    story = dispatched()
    story.do(1, Action.DISPATCH, assignment=Assignment(0, "m2", Role.MEMBER))
    assert story.timer(30, TimerKind.ACK_BREACH, version=1).noop
    assert story.state.level == 0


def test_ack_timer_after_acknowledgement_is_a_noop() -> None:
    story = dispatched()
    story.do(1, Action.ACKNOWLEDGE, actor="m1")
    assert story.timer(10, TimerKind.ACK_BREACH).noop
    assert story.state.status is Status.ACKNOWLEDGED


def test_timer_for_a_closed_or_voided_event_is_a_noop() -> None:
    story = dispatched()
    story.do(1, Action.VOID)
    assert story.timer(60, TimerKind.RESOLVE_BREACH, version=1).noop


def test_ack_breach_escalates_one_level_with_its_reason() -> None:
    story = dispatched()
    d = story.do(
        10,
        Action.BREACH,
        actor="system",
        timer=TimerKind.ACK_BREACH,
        deadline_version=1,
        assignment=Assignment(1, "c1", Role.COMMUNITY),
    )
    s = d.state
    assert (s.status, s.level, s.assignee_id, s.escalation_count) == (
        Status.DISPATCHED,
        1,
        "c1",
        1,
    )
    assert s.last_escalation_reason is EscalationReason.ACK_OVERDUE
    assert s.ack_due_at == at(20) and s.due_at == at(70) and s.deadline_version == 2
    assert d.audit is not None and d.audit.reason is EscalationReason.ACK_OVERDUE
    cancelled = {t.kind for t in d.timers if t.op is TimerOp.CANCEL}
    assert TimerKind.ACK_BREACH not in cancelled  # the running job is not cancelled
    assert TimerKind.RESOLVE_BREACH in cancelled
    assert all(t.deadline_version == 2 for t in d.timers if t.op is TimerOp.SET)
    kinds = [n.kind for n in d.notifications]
    assert kinds == [NotificationKind.BREACH, NotificationKind.ASSIGNED, NotificationKind.ESCALATED]
    # the same job run again (RQ retry) does nothing
    assert story.timer(10.1, TimerKind.ACK_BREACH, version=1).noop
    assert replay(story.log) == story.state


def test_resolve_breach_after_acknowledgement_is_deadline_passed() -> None:
    story = dispatched()
    story.do(1, Action.ACKNOWLEDGE, actor="m1")
    d = story.timer(60, TimerKind.RESOLVE_BREACH)
    assert d.state.level == 1 and d.state.assignee_id is None
    assert d.state.last_escalation_reason is EscalationReason.DEADLINE_PASSED


def test_breach_at_the_top_level_is_reported_not_escalated() -> None:
    story = Story()
    story.do(0, Action.DISPATCH, assignment=Assignment(3, "d1", Role.DEPARTMENT, "chengguan"))
    d = story.timer(60, TimerKind.RESOLVE_BREACH)
    assert d.audit is not None and d.state.level == 3 and d.state.status is Status.DISPATCHED
    assert d.state.deadline_version == 1 and d.timers == ()
    audiences = {(n.audience, n.recipients) for n in d.notifications}
    assert audiences == {(Role.DISPATCHER, ()), (None, ("d1",))}
    assert story.timer(61, TimerKind.RESOLVE_BREACH).noop


def test_suspend_pauses_the_clock_and_resume_shifts_the_deadline() -> None:
    story = dispatched()  # ack due at 10, resolve due at 60
    story.timer(5, TimerKind.ACK_WARN50)
    d = story.do(8, Action.SUSPEND, actor="x1", note="waiting for the owner")
    s = d.state
    assert s.status is Status.SUSPENDED and s.resume_status is Status.DISPATCHED
    assert s.ack_remaining == timedelta(minutes=2) and s.resolve_remaining == timedelta(minutes=52)
    cancelled = {t.kind for t in d.timers if t.op is TimerOp.CANCEL}
    assert TimerKind.ACK_WARN50 not in cancelled and len(cancelled) == 5
    assert story.timer(10, TimerKind.ACK_BREACH, version=1).noop  # clock stopped
    assert Action.RESUME in story.allowed()

    d = story.do(100, Action.RESUME, actor="x1")
    s = d.state
    assert s.status is Status.DISPATCHED and s.suspended_at is None
    assert s.ack_due_at == at(102) and s.due_at == at(152) and s.deadline_version == 2
    fire = {t.kind: t.fire_at for t in d.timers}
    assert TimerKind.ACK_WARN50 not in fire  # already sent before the pause
    assert fire[TimerKind.ACK_WARN75] == at(100)  # 7.5 min was due before the pause: now
    assert fire[TimerKind.ACK_BREACH] == at(102)
    assert fire[TimerKind.RESOLVE_WARN50] == at(152 - 30)
    assert fire[TimerKind.RESOLVE_WARN75] == at(152 - 15)
    assert story.timer(102, TimerKind.ACK_BREACH).state.level == 1
    assert replay(story.log) == story.state


def test_suspend_after_acknowledgement_returns_to_acknowledged() -> None:
    story = dispatched()
    story.do(1, Action.ACKNOWLEDGE, actor="m1")
    story.do(30, Action.SUSPEND)
    assert story.state.ack_remaining is None
    story.do(50, Action.RESUME)
    assert story.state.status is Status.ACKNOWLEDGED and story.state.due_at == at(80)


def test_suspend_after_the_deadline_resumes_overdue_at_once() -> None:
    story = dispatched()
    story.do(1, Action.ACKNOWLEDGE, actor="m1")
    story.do(70, Action.SUSPEND)
    assert story.state.resolve_remaining == timedelta(0)
    d = story.do(80, Action.RESUME)
    assert d.state.due_at == at(80)
    assert {t.fire_at for t in d.timers} == {at(80)}


def test_void_while_suspended_clears_the_pause() -> None:
    story = dispatched()
    story.do(1, Action.SUSPEND)
    d = story.do(2, Action.VOID)
    assert d.state.status is Status.VOIDED and d.state.suspended_at is None
    assert d.timers == () and story.allowed() == []
    assert replay(story.log) == story.state

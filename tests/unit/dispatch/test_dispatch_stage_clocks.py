"""The stage clocks around handling (docs/decisions/0021): 派遣 (registration → dispatch) and
核查 (fix → review decision): marks on the category's calendar, timers, warnings and breaches
that never escalate, the notice's addressee, the SLA state, and their interplay with
verification, merging and rework."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.calendar import working_between
from domain.lifecycle import (
    Action,
    Assignment,
    Category,
    Command,
    EventState,
    NotificationKind,
    SlaPolicy,
    SlaState,
    Status,
    TimerKind,
    TimerOp,
    apply,
    open_event,
    replay,
    sla_state,
)
from domain.lifecycle.audit import encode_field
from domain.lifecycle.model import DISPATCH_TIMERS, REVIEW_TIMERS, VERIFY_TIMERS, Clock
from domain.roles import Role
from domain.supervision import notice_for
from tests.kit.data import cn_calendar
from tests.unit.dispatch.test_dispatch_engine import MEMBER, Story, at

SH = ZoneInfo("Asia/Shanghai")
LITTER = Category(
    code="litter", ack_minutes=10, resolve_minutes=60, dispatch_minutes=4, review_minutes=20
)
POLICY = SlaPolicy(category=LITTER)


def _numbered(state: EventState) -> EventState:
    """The state under a numeric id, as stored events have (``notice_for`` needs one)."""
    return replace(state, event_id="1")


def _sets(timers: tuple[object, ...]) -> dict[TimerKind, datetime | None]:
    return {t.kind: t.fire_at for t in timers if t.op is TimerOp.SET}  # type: ignore[attr-defined]


def test_registration_starts_the_dispatch_clock_with_its_marks_and_timers() -> None:
    d = open_event(event_id="e1", policy=POLICY, now=at(0), reporter_id="r1")
    s = d.state
    assert (s.dispatch_warn50_at, s.dispatch_warn75_at, s.dispatch_due_at) == (at(2), at(3), at(4))
    assert _sets(d.timers) == {
        TimerKind.DISPATCH_WARN50: at(2),
        TimerKind.DISPATCH_WARN75: at(3),
        TimerKind.DISPATCH_BREACH: at(4),
    }
    assert {t.job_id for t in d.timers} == {f"sla-e1-{k.value}-0" for k in DISPATCH_TIMERS}
    assert s.deadline_version == 0 and s.promised_due_at is None
    assert sla_state(s, at(1.9)) is SlaState.OK
    assert sla_state(s, at(2)) is SlaState.WARNING
    assert sla_state(s, at(4)) is SlaState.BREACHED


def test_a_public_report_has_no_dispatch_clock_until_verified() -> None:
    story = Story(POLICY, trusted=False)
    assert story.state.dispatch_due_at is None
    assert set(_sets(story.last.timers)) == set(VERIFY_TIMERS)  # only its verification clock
    d = story.do(10, Action.VERIFY, actor="h1")
    assert d.state.dispatch_due_at == at(14)
    assert _sets(d.timers)[TimerKind.DISPATCH_BREACH] == at(14)
    assert replay(story.log) == story.state


def test_the_dispatch_clock_runs_in_working_time() -> None:
    cn = SlaPolicy(category=LITTER, calendar=cn_calendar())
    friday = datetime(2026, 3, 6, 17, 28, tzinfo=SH)  # 2 working minutes left that day
    d = open_event(event_id="e1", policy=cn, now=friday, reporter_id="r1")
    monday = datetime(2026, 3, 9, 8, 30, tzinfo=SH)
    assert d.state.dispatch_warn50_at == friday + timedelta(minutes=2)  # 17:30 sharp
    assert d.state.dispatch_warn75_at == monday + timedelta(minutes=1)
    assert d.state.dispatch_due_at == monday + timedelta(minutes=2)
    assert not d.state.clock_fallback


def test_dispatch_warnings_and_breach_go_to_the_command_centre_and_never_escalate() -> None:
    story = Story(POLICY)
    w = story.timer(2, TimerKind.DISPATCH_WARN50)
    (note,) = w.notifications
    assert note.kind is NotificationKind.WARNING and note.audience is Role.DISPATCHER
    assert note.level == 2
    before = story.state
    b = story.timer(4, TimerKind.DISPATCH_BREACH)
    assert b.state.status is Status.REGISTERED and b.state.level == 0
    assert b.state.escalation_count == 0 and b.timers == ()
    assert [n.kind for n in b.notifications] == [NotificationKind.BREACH]
    assert b.notifications[0].audience is Role.DISPATCHER
    assert b.audit is not None and b.audit.data["clock"] == Clock.DISPATCH.value
    assert b.audit.data["percent"] == 100
    assert b.audit.data["clock_due_at"] == encode_field("dispatch_due_at", at(4))
    assert b.audit.data["promised_at"] is None
    notice = notice_for(_numbered(before), _numbered(b.state), TimerKind.DISPATCH_BREACH, at(4))
    assert (notice.clock, notice.holder_id) == ("dispatch", None)
    assert notice.addressee_role is Role.DISPATCHER
    # fired once: the same timer again is a no-op
    assert story.timer(5, TimerKind.DISPATCH_BREACH, version=0).noop
    assert replay(story.log) == story.state


def test_dispatch_stops_the_dispatch_clock_and_keeps_its_deadline() -> None:
    story = Story(POLICY)
    d = story.do(3, Action.DISPATCH, assignment=MEMBER)
    cancelled = {t.job_id for t in d.timers if t.op is TimerOp.CANCEL}
    assert cancelled == {f"sla-e1-{k.value}-0" for k in DISPATCH_TIMERS}
    assert d.state.dispatch_due_at == at(4)  # kept: 按时派遣 compares dispatched_at with it
    assert story.timer(4, TimerKind.DISPATCH_BREACH, version=0).noop  # stale: not registered
    assert sla_state(story.state, at(4.5)) is SlaState.OK  # the ack clock: 5 of 10 minutes


def test_a_breach_before_dispatch_is_recorded_and_the_dispatch_still_possible() -> None:
    story = Story(POLICY)
    story.timer(4, TimerKind.DISPATCH_BREACH)
    d = story.do(6, Action.DISPATCH, assignment=MEMBER)
    assert d.state.status is Status.DISPATCHED
    assert d.state.dispatched_at is not None and d.state.dispatch_due_at is not None
    assert d.state.dispatched_at > d.state.dispatch_due_at  # late: not 按时派遣


def test_merging_a_registered_event_stops_its_dispatch_clock_and_unmerging_restarts_it() -> None:
    story = Story(POLICY)
    m = story.do(1, Action.MERGE)
    assert {t.op for t in m.timers} == {TimerOp.CANCEL} and len(m.timers) == 3
    assert sla_state(story.state, at(10)) is SlaState.OK
    u = story.do(30, Action.UNMERGE)
    assert u.state.status is Status.REGISTERED
    assert u.state.dispatch_due_at == at(34)  # a fresh allowance from the unmerge
    assert _sets(u.timers)[TimerKind.DISPATCH_BREACH] == at(34)
    assert replay(story.log) == story.state


def _resolved(story: Story, assignment: Assignment, handler: str) -> None:
    story.do(1, Action.DISPATCH, assignment=assignment)
    story.do(2, Action.ACKNOWLEDGE, actor=handler)
    story.do(10, Action.RESOLVE, actor=handler)


def test_the_fix_starts_the_review_clock() -> None:
    story = Story(POLICY)
    _resolved(story, MEMBER, "m1")
    s, d = story.state, story.last
    assert (s.review_warn50_at, s.review_warn75_at, s.review_due_at) == (at(20), at(25), at(30))
    assert _sets(d.timers) == {
        TimerKind.REVIEW_WARN50: at(20),
        TimerKind.REVIEW_WARN75: at(25),
        TimerKind.REVIEW_BREACH: at(30),
    }
    assert {t.deadline_version for t in d.timers if t.op is TimerOp.SET} == {2}
    assert sla_state(s, at(19)) is SlaState.OK
    assert sla_state(s, at(20)) is SlaState.WARNING
    assert sla_state(s, at(30)) is SlaState.BREACHED


def test_a_late_review_of_a_members_fix_is_put_before_the_grid_head() -> None:
    story = Story(POLICY)
    _resolved(story, MEMBER, "m1")
    before = story.state
    b = story.timer(30, TimerKind.REVIEW_BREACH)
    assert b.state.status is Status.RESOLVED and b.state.level == 0
    assert b.state.escalation_count == 0
    kinds = [(n.kind, n.audience, n.level) for n in b.notifications]
    assert kinds == [
        (NotificationKind.BREACH, Role.DISPATCHER, 2),
        (NotificationKind.BREACH, Role.HEAD, 0),
    ]
    notice = notice_for(_numbered(before), _numbered(b.state), TimerKind.REVIEW_BREACH, at(30))
    assert (notice.clock, notice.holder_role, notice.addressee_role) == (
        "review",
        Role.HEAD,
        Role.HEAD,
    )
    # the review still decides, late
    c = story.do(31, Action.REVIEW, actor="h1", approved=True)
    assert c.state.status is Status.CLOSED
    assert replay(story.log) == story.state


def test_a_late_review_of_a_community_fix_is_put_before_the_command_centre() -> None:
    story = Story(POLICY)
    _resolved(story, Assignment(1, "c1", Role.COMMUNITY), "c1")
    before = story.state
    b = story.timer(30, TimerKind.REVIEW_BREACH)
    assert [n.audience for n in b.notifications] == [Role.DISPATCHER]  # one message, not two
    notice = notice_for(_numbered(before), _numbered(b.state), TimerKind.REVIEW_BREACH, at(30))
    assert notice.addressee_role is Role.DISPATCHER


def test_the_review_decision_stops_the_review_clock() -> None:
    story = Story(POLICY)
    _resolved(story, MEMBER, "m1")
    version = story.state.deadline_version
    c = story.do(15, Action.REVIEW, actor="h1", approved=True)
    assert {t.job_id for t in c.timers if t.op is TimerOp.CANCEL} == {
        f"sla-e1-{k.value}-{version}" for k in REVIEW_TIMERS
    }
    assert c.state.review_due_at == at(30)  # kept: 按时核查 compares closed_at with it
    assert story.timer(30, TimerKind.REVIEW_BREACH, version=version).noop


def test_rework_stops_the_review_clock_and_the_next_fix_starts_it_anew() -> None:
    story = Story(POLICY)
    _resolved(story, MEMBER, "m1")
    version = story.state.deadline_version
    r = story.do(12, Action.REVIEW, actor="h1", approved=False, note="still dirty")
    assert {t.kind for t in r.timers if t.op is TimerOp.CANCEL} == set(REVIEW_TIMERS)
    assert story.timer(30, TimerKind.REVIEW_BREACH, version=version).noop
    story.do(13, Action.ACKNOWLEDGE, actor="m1")
    d = story.do(40, Action.RESOLVE, actor="m1")
    assert d.state.review_due_at == at(60)
    assert replay(story.log) == story.state


def test_stage_timers_cannot_be_sent_in_the_wrong_stage() -> None:
    story = Story(POLICY)
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    command = Command(
        action=Action.BREACH, actor="system", timer=TimerKind.REVIEW_BREACH, deadline_version=1
    )
    assert apply(story.state, command, now=at(100), policy=POLICY).noop


def test_a_reopened_case_keeps_the_closed_cycles_review_marks_until_its_next_fix() -> None:
    story = Story(POLICY)
    _resolved(story, MEMBER, "m1")
    story.do(15, Action.REVIEW, actor="h1", approved=True)
    d = story.do(100, Action.REOPEN, actor="d1", note="came back")
    assert d.state.status is Status.DISPATCHED
    assert not any(t.kind in REVIEW_TIMERS for t in d.timers)
    assert sla_state(d.state, at(101)) is SlaState.OK


def test_the_close_stores_the_resolution_in_working_time_and_a_reopening_clears_it() -> None:
    """Report (Sunday 16:00 in Shanghai) → close (Monday 09:00): 1,020 wall minutes, 30
    working minutes on the Chinese calendar (Monday from 08:30). A reopening clears them; the
    next close counts from the report again."""
    story = Story(SlaPolicy(category=LITTER, calendar=cn_calendar()))
    _resolved(story, MEMBER, "m1")
    d = story.do(1020, Action.REVIEW, actor="h1", approved=True)
    assert d.state.status is Status.CLOSED and d.state.closed_at == at(1020)
    assert d.state.resolution_working_time == timedelta(minutes=30)
    assert not d.state.clock_fallback
    assert d.audit is not None
    assert d.audit.data["resolution_working_time"] == 30 * 60 * 10**6  # µs, as every duration
    reopened = story.do(1030, Action.REOPEN, actor="d1", note="came back")
    assert reopened.state.resolution_working_time is None
    assert replay(story.log) == story.state


def test_on_the_continuous_calendar_working_time_is_the_wall_time() -> None:
    story = Story(POLICY)
    _resolved(story, MEMBER, "m1")
    d = story.do(61.9, Action.REVIEW, actor="h1", approved=True)
    assert d.state.resolution_working_time == timedelta(minutes=61.9)  # the wall time


def test_a_close_reaching_a_year_the_calendar_does_not_know_counts_it_whole_and_alarms() -> None:
    """No guessing: the days of 2027 (not loaded) count whole (the documented fallback) and the
    event's ``clock_fallback`` is set, the alarm every fallback raises."""
    story = Story(SlaPolicy(category=LITTER, calendar=cn_calendar()))
    _resolved(story, MEMBER, "m1")
    new_year = datetime(2027, 1, 2, 0, 0, tzinfo=SH)  # a Saturday, but 2027 is unknown
    minutes = (new_year - at(0)) / timedelta(minutes=1)
    d = story.do(minutes, Action.REVIEW, actor="h1", approved=True)
    assert d.state.clock_fallback
    # 2026 as the calendar says (its last working day ends at 17:30), 2027-01-01 whole
    end_of_2026 = datetime(2026, 12, 31, 17, 30, tzinfo=SH)
    known = working_between(story.policy.calendar, at(0), end_of_2026)
    assert d.state.resolution_working_time == known + timedelta(hours=24)

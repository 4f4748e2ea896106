"""The 立案/核实 stage clock (docs/decisions/0026): a public or hotline report's verification
allowance on the grid level's calendar, its warnings and breach (督办 to the grid head, never
an escalation), the decisions that stop it; and 结案 as the review's approval, timed by the
review clock."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.calendar import CONTINUOUS
from domain.lifecycle import (
    Action,
    Category,
    Command,
    EventState,
    NotificationKind,
    SlaPolicy,
    SlaState,
    Status,
    TimerKind,
    TimerOp,
    allowed_actions,
    open_event,
    replay,
    sla_state,
)
from domain.lifecycle.audit import encode_field
from domain.lifecycle.model import REVIEW_TIMERS, RUNNING_CLOCKS, VERIFY_TIMERS, Clock
from domain.lifecycle.transitions import find_rule
from domain.roles import Role
from domain.supervision import notice_for
from tests.kit.data import cn_calendar
from tests.unit.dispatch.test_dispatch_engine import MEMBER, Story, at

SH = ZoneInfo("Asia/Shanghai")
LITTER = Category(
    code="litter",
    ack_minutes=10,
    resolve_minutes=60,
    dispatch_minutes=4,
    review_minutes=20,
    verify_minutes=8,
)
POLICY = SlaPolicy(category=LITTER)


def _numbered(state: EventState) -> EventState:
    return replace(state, event_id="1")


def _sets(timers: tuple[object, ...]) -> dict[TimerKind, datetime | None]:
    return {t.kind: t.fire_at for t in timers if t.op is TimerOp.SET}  # type: ignore[attr-defined]


def _cancels(timers: tuple[object, ...]) -> set[str]:
    return {t.job_id for t in timers if t.op is TimerOp.CANCEL}  # type: ignore[attr-defined]


def test_the_verification_clock_runs_while_pending_verification() -> None:
    assert RUNNING_CLOCKS[Status.PENDING_VERIFICATION] == (Clock.VERIFY,)
    assert all(kind.is_stage for kind in VERIFY_TIMERS)


def test_a_public_report_starts_its_verification_clock_with_marks_and_timers() -> None:
    story = Story(POLICY, trusted=False)
    s, d = story.state, story.last
    assert (s.verify_warn50_at, s.verify_warn75_at, s.verify_due_at) == (at(4), at(6), at(8))
    assert _sets(d.timers) == {
        TimerKind.VERIFY_WARN50: at(4),
        TimerKind.VERIFY_WARN75: at(6),
        TimerKind.VERIFY_BREACH: at(8),
    }
    assert {t.job_id for t in d.timers} == {f"sla-e1-{k.value}-0" for k in VERIFY_TIMERS}
    assert s.deadline_version == 0 and s.dispatch_due_at is None
    assert sla_state(s, at(3.9)) is SlaState.OK
    assert sla_state(s, at(4)) is SlaState.WARNING
    assert sla_state(s, at(8)) is SlaState.BREACHED
    assert replay(story.log) == story.state


def test_a_staff_report_has_no_verification_clock() -> None:
    s = Story(POLICY).state
    assert (s.verify_warn50_at, s.verify_warn75_at, s.verify_due_at) == (None, None, None)


def test_verification_warnings_and_breach_go_to_the_grid_head_and_never_escalate() -> None:
    story = Story(POLICY, trusted=False)
    w = story.timer(4, TimerKind.VERIFY_WARN50)
    (note,) = w.notifications
    assert (note.kind, note.audience, note.level) == (NotificationKind.WARNING, Role.HEAD, 0)
    story.timer(6, TimerKind.VERIFY_WARN75)
    before = story.state
    b = story.timer(8, TimerKind.VERIFY_BREACH)
    assert b.state.status is Status.PENDING_VERIFICATION and b.state.level == 0
    assert b.state.escalation_count == 0 and b.timers == ()
    assert [(n.kind, n.audience, n.level) for n in b.notifications] == [
        (NotificationKind.BREACH, Role.DISPATCHER, 2),  # the command centre's alarm
        (NotificationKind.BREACH, Role.HEAD, 0),  # the grid head, who answers for it
    ]
    assert b.audit is not None and b.audit.data["clock"] == Clock.VERIFY.value
    assert b.audit.data["clock_due_at"] == encode_field("verify_due_at", at(8))
    notice = notice_for(_numbered(before), _numbered(b.state), TimerKind.VERIFY_BREACH, at(8))
    assert (notice.clock, notice.holder_id, notice.holder_role, notice.addressee_role) == (
        "verify",
        None,
        Role.MEMBER,
        Role.HEAD,
    )
    assert story.timer(9, TimerKind.VERIFY_BREACH, version=0).noop  # fired once
    # still decidable, late: not 按时核实 (decided after verify_due_at)
    v = story.do(10, Action.VERIFY, actor="h1")
    assert v.state.status is Status.REGISTERED and v.state.verify_due_at == at(8)
    assert replay(story.log) == story.state


def test_a_big_categorys_report_is_verified_on_the_grids_calendar_and_head() -> None:
    """A big category starts at the command centre (level 2), but its report is verified on
    site by the grid's staff: the grid level's calendar, the grid head's 督办."""
    big = replace(LITTER, big=True, department="zhujian")
    office = cn_calendar()
    policy = SlaPolicy(category=big, calendar=office, level_calendars={0: CONTINUOUS})
    sunday = datetime(2026, 3, 8, 10, 0, tzinfo=SH)  # not a working day on cn
    d = open_event(event_id="e1", policy=policy, now=sunday, reporter_id=None, trusted=False)
    assert d.state.level == 2
    assert d.state.verify_due_at == sunday + timedelta(minutes=8)  # 24x7 at the grid
    b = replace(d.state, event_id="1", version=2, warnings_sent=frozenset())
    notice = notice_for(b, b, TimerKind.VERIFY_BREACH, sunday)
    assert notice.addressee_role is Role.HEAD


def test_on_a_working_calendar_a_friday_evening_report_is_due_on_monday_morning() -> None:
    """Friday 17:28 in Shanghai, 8 working minutes on the Chinese calendar: 2 that evening
    (to 17:30), 6 on Monday from 08:30."""
    cn = SlaPolicy(category=LITTER, calendar=cn_calendar())
    friday = datetime(2026, 3, 6, 17, 28, tzinfo=SH)
    d = open_event(event_id="e1", policy=cn, now=friday, reporter_id=None, trusted=False)
    monday = datetime(2026, 3, 9, 8, 30, tzinfo=SH)
    assert d.state.verify_warn50_at == monday + timedelta(minutes=2)
    assert d.state.verify_warn75_at == monday + timedelta(minutes=4)
    assert d.state.verify_due_at == monday + timedelta(minutes=6)
    assert not d.state.clock_fallback


def test_each_decision_before_the_deadline_cancels_the_verification_timers() -> None:
    jobs = {f"sla-e1-{k.value}-0" for k in VERIFY_TIMERS}
    confirmed = Story(POLICY, trusted=False)
    c = confirmed.do(3, Action.VERIFY, actor="h1")
    assert _cancels(c.timers) == jobs
    assert set(_sets(c.timers)) == {
        TimerKind.DISPATCH_WARN50,
        TimerKind.DISPATCH_WARN75,
        TimerKind.DISPATCH_BREACH,
    }
    assert c.state.verify_due_at == at(8)  # kept: 按时核实 compares the decision with it
    assert confirmed.timer(8, TimerKind.VERIFY_BREACH, version=0).noop  # stale now
    rejected = Story(POLICY, trusted=False)  # rejected or linked: the report is voided
    r = rejected.do(3, Action.VOID, actor="h1", note="现场未发现")
    assert _cancels(r.timers) == jobs and not _sets(r.timers)
    assert rejected.timer(8, TimerKind.VERIFY_BREACH, version=0).noop


def test_merging_a_pending_report_stops_its_clock_and_unmerging_restarts_it() -> None:
    story = Story(POLICY, trusted=False)
    m = story.do(1, Action.MERGE)
    assert _cancels(m.timers) == {f"sla-e1-{k.value}-0" for k in VERIFY_TIMERS}
    assert sla_state(story.state, at(20)) is SlaState.OK
    u = story.do(30, Action.UNMERGE)
    assert u.state.status is Status.PENDING_VERIFICATION
    assert u.state.verify_due_at == at(38)  # a fresh allowance from the unmerge
    assert _sets(u.timers)[TimerKind.VERIFY_BREACH] == at(38)
    assert replay(story.log) == story.state


def test_the_close_is_the_reviews_approval_timed_by_the_review_clock() -> None:
    """结案 has no status nor clock of its own: the approval of the fix closes the event in the
    same transition, and the review clock (核查, review_minutes from the fix) is the closure
    stage's limit — an approval after review_due_at is a late close."""
    story = Story(POLICY)
    story.do(1, Action.DISPATCH, assignment=MEMBER)
    story.do(2, Action.ACKNOWLEDGE, actor="m1")
    story.do(10, Action.RESOLVE, actor="m1")
    resolved = story.state
    assert RUNNING_CLOCKS[Status.RESOLVED] == (Clock.REVIEW,)
    assert resolved.review_due_at == at(30)
    assert Action.REVIEW in allowed_actions(resolved)
    assert not any(s is Status.CLOSED for s in RUNNING_CLOCKS)  # no clock after the close
    rule = find_rule(resolved, Command(action=Action.REVIEW, actor="h1", approved=True))
    assert rule is not None and rule.target is Status.CLOSED
    version = resolved.deadline_version
    c = story.do(25, Action.REVIEW, actor="h1", approved=True)
    assert c.audit is not None and c.audit.action is Action.REVIEW
    assert c.state.status is Status.CLOSED and c.state.closed_at == at(25)
    assert c.state.review_due_at is not None
    assert c.state.closed_at <= c.state.review_due_at  # on time for 核查/结案
    assert _cancels(c.timers) == {f"sla-e1-{k.value}-{version}" for k in REVIEW_TIMERS}
    late = Story(POLICY)
    late.do(1, Action.DISPATCH, assignment=MEMBER)
    late.do(2, Action.ACKNOWLEDGE, actor="m1")
    late.do(10, Action.RESOLVE, actor="m1")
    late.timer(30, TimerKind.REVIEW_BREACH)  # the closure stage's breach is the review's
    closed = late.do(31, Action.REVIEW, actor="h1", approved=True).state
    assert closed.status is Status.CLOSED and closed.closed_at is not None
    assert closed.review_due_at is not None and closed.closed_at > closed.review_due_at

"""Per-level calendars (docs/decisions/0023): each clock runs on the calendar of the level that
answers for it — a handling period on its level's, 派遣 on the command centre's, 核查 on the
reviewer's — and an escalation to a level with another calendar plans anew on that one."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from domain.calendar import CONTINUOUS
from domain.lifecycle import (
    Action,
    Assignment,
    Category,
    Command,
    SlaPolicy,
    TimerKind,
    apply,
    open_event,
)
from domain.roles import Role
from tests.kit.data import cn_calendar

SH = ZoneInfo("Asia/Shanghai")
CN = cn_calendar()
ROAD = Category(
    code="road", ack_minutes=10, resolve_minutes=60, department="chengguan",
    dispatch_minutes=5, review_minutes=20,
)  # fmt: skip
#: The grid and the community on 24×7, the command centre and the department on working time.
MIXED = SlaPolicy(category=ROAD, calendar=CN, level_calendars={0: CONTINUOUS, 1: CONTINUOUS})
FRIDAY = datetime(2026, 3, 6, 17, 28, tzinfo=SH)  # 2 working minutes left that day
MONDAY = datetime(2026, 3, 9, 8, 30, tzinfo=SH)


def test_a_level_without_its_own_calendar_uses_the_categorys() -> None:
    assert MIXED.calendar_at(0) is CONTINUOUS and MIXED.calendar_at(1) is CONTINUOUS
    assert MIXED.calendar_at(2) is CN and MIXED.calendar_at(3) is CN
    assert SlaPolicy(category=ROAD).calendar_at(3) is CONTINUOUS


def test_each_clock_runs_on_the_calendar_of_the_level_that_answers_for_it() -> None:
    opened = open_event(event_id="e1", policy=MIXED, now=FRIDAY, reporter_id="r1")
    # 派遣 is the command centre's: working time, over the weekend
    assert opened.state.level == 0
    assert opened.state.dispatch_due_at == MONDAY + timedelta(minutes=3)
    member = Assignment(level=0, assignee_id="m1", role=Role.MEMBER)
    sent = apply(
        opened.state,
        Command(action=Action.DISPATCH, actor="d1", assignment=member),
        now=FRIDAY,
        policy=MIXED,
    )
    # the grid's handling runs round the clock
    assert sent.state.ack_due_at == FRIDAY + timedelta(minutes=10)
    assert sent.state.due_at == FRIDAY + timedelta(minutes=60)
    acked = apply(sent.state, Command(action=Action.ACKNOWLEDGE, actor="m1"), now=FRIDAY,
                  policy=MIXED)  # fmt: skip
    fixed = apply(acked.state, Command(action=Action.RESOLVE, actor="m1"), now=FRIDAY,
                  policy=MIXED)  # fmt: skip
    # 核查 of a member's fix is the grid head's (level 0): 24×7
    assert fixed.state.review_due_at == FRIDAY + timedelta(minutes=20)


def test_an_escalation_to_a_level_on_another_calendar_plans_anew_on_it() -> None:
    opened = open_event(event_id="e1", policy=MIXED, now=FRIDAY, reporter_id="r1")
    community = Assignment(level=1, assignee_id="c1", role=Role.COMMUNITY)
    sent = apply(
        opened.state,
        Command(action=Action.DISPATCH, actor="d1", assignment=community),
        now=FRIDAY - timedelta(minutes=60),
        policy=MIXED,
    )
    assert sent.state.due_at == FRIDAY  # 60 wall minutes at the community
    breached = apply(
        sent.state,
        Command(action=Action.BREACH, actor="system", timer=TimerKind.ACK_BREACH,
                deadline_version=sent.state.deadline_version),
        now=FRIDAY,
        policy=MIXED,
    )  # fmt: skip
    up = breached.state
    assert up.level == 2  # the command centre: working time from Friday 17:28
    assert up.ack_due_at == MONDAY + timedelta(minutes=8)  # 2 min Friday + 8 Monday
    assert up.due_at == MONDAY + timedelta(minutes=58)
    assert not up.clock_fallback


def test_a_pause_keeps_the_working_time_left_on_the_levels_calendar() -> None:
    opened = open_event(event_id="e1", policy=MIXED, now=FRIDAY, reporter_id="r1")
    centre = Assignment(level=2, assignee_id="d1", role=Role.DISPATCHER)
    sent = apply(opened.state, Command(action=Action.DISPATCH, actor="d1", assignment=centre),
                 now=FRIDAY, policy=MIXED)  # fmt: skip
    paused = apply(sent.state, Command(action=Action.SUSPEND, actor="d1", note="wait"),
                   now=FRIDAY + timedelta(hours=1), policy=MIXED)  # fmt: skip
    # two working minutes spent on Friday; the evening hour after 17:30 does not count
    assert paused.state.resolve_remaining == timedelta(minutes=58)


def test_the_publics_expected_date_counts_on_the_events_levels_calendar() -> None:
    from domain.intake import expected_datetime

    opened = open_event(event_id="e1", policy=MIXED, now=FRIDAY, reporter_id="r1")
    # registered at the grid (24×7): now plus the grid's 60 minutes
    expected = expected_datetime(opened.state, MIXED, verify_due=None, now=FRIDAY)
    assert expected == FRIDAY + timedelta(minutes=60)
    office = SlaPolicy(category=ROAD, level_calendars={0: CN})
    # the same on a grid with working hours: 2 minutes on Friday, 58 on Monday
    expected = expected_datetime(opened.state, office, verify_due=None, now=FRIDAY)
    assert expected == MONDAY + timedelta(minutes=58)

"""The dispatch engine's services on the real database (rolled back), called directly:
automatic dispatch (least loaded member, idempotent, big categories, off-duty members) and the
SLA timers (a breach escalates once, a warning is an audit row). The action routes over HTTP
are in tests/e2e/test_dispatch_actions.py.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text
from sqlmodel import Session

from dispatch.lifecycle import system
from domain.lifecycle import TimerKind
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.kit.dispatch import audit_actions, dispatched, outbox_topics, staff_id

# --- automatic dispatch ------------------------------------------------------------------------


def test_auto_dispatch_picks_the_least_loaded_member_and_writes_timers(
    db: Session, clock: Clock
) -> None:
    first = dispatched(db, clock)
    members = {staff_id(db, "g01m1"), staff_id(db, "g01m2")}
    assert first.status == "dispatched" and first.level == 0
    assert first.assignee_id in members and first.assignee_role == "member"
    assert first.ack_due_at == clock.now + timedelta(minutes=10)
    assert first.due_at == clock.now + timedelta(minutes=30)
    second = dispatched(db, clock)
    assert second.assignee_id in members - {first.assignee_id}, "load balanced"
    assert audit_actions(db, first.id or 0) == ["register", "dispatch"]
    topics = outbox_topics(db, first.id or 0)
    # 3 of the dispatch clock at registration (cancelled by the dispatch), 6 of ack and resolve
    assert topics.count("timer.set") == 9 and topics.count("timer.cancel") == 3
    assert topics.count("stream") == 2
    assert "dispatch" in topics and "notify" in topics
    assert db.execute(
        text("SELECT actor, note FROM event_audit WHERE event_id = :e AND version = 2"),
        {"e": first.id},
    ).one() == ("system", "auto")


def test_auto_dispatch_is_idempotent(db: Session, clock: Clock) -> None:
    event = dispatched(db, clock)
    assert system.auto_dispatch(UnitOfWork(db), event.id or 0, clock.now) is None
    assert audit_actions(db, event.id or 0) == ["register", "dispatch"]


def test_big_category_waits_in_the_command_centres_shared_queue(db: Session, clock: Clock) -> None:
    """Issue 18: not given to one named dispatcher (it was: assignee_role 'dispatcher')."""
    event = dispatched(db, clock, category="gas_safety")
    assert (event.level, event.status) == (2, "dispatched")
    assert event.assignee_id is None and event.assignee_role is None


def test_head_takes_it_when_both_members_are_off_duty(db: Session, clock: Clock) -> None:
    db.execute(text("UPDATE staff SET on_duty = false WHERE id IN (:a, :b)"), {
        "a": staff_id(db, "g01m1"), "b": staff_id(db, "g01m2"),
    })  # fmt: skip
    event = dispatched(db, clock)
    assert event.assignee_id == staff_id(db, "g01h") and event.assignee_role == "head"


# --- escalation by timer -----------------------------------------------------------------------


def test_breach_timer_escalates_once_and_a_stale_timer_does_nothing(
    db: Session, clock: Clock
) -> None:
    event = dispatched(db, clock)
    assert event.id is not None
    early = system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_BREACH, 1, clock.now)
    assert early is None, "not due yet"
    clock.advance(minutes=10)
    decision = system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_BREACH, 1, clock.now)
    assert decision is not None and decision.state.level == 1
    assert decision.state.assignee_id == str(staff_id(db, "comm01"))
    again = system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_BREACH, 1, clock.now)
    assert again is None, "deadline_version moved on: the second run is a no-op"
    rows = db.execute(
        text("SELECT action, reason, actor FROM event_audit WHERE event_id = :e AND version = 3"),
        {"e": event.id},
    ).one()
    assert tuple(rows) == ("breach", "ack_overdue", "system")


def test_warning_timer_is_an_audit_row_and_a_notification(db: Session, clock: Clock) -> None:
    event = dispatched(db, clock)
    assert event.id is not None
    clock.advance(minutes=5)
    decision = system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_WARN50, 1, clock.now)
    assert decision is not None and decision.audit is not None
    assert audit_actions(db, event.id)[-1] == "warn"
    assert system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_WARN50, 1, clock.now) is None

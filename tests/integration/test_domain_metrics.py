"""Domain metrics count what the database kept: a report, its first dispatch (and the lag
from the report), SLA warnings and breaches by clock, once each, after the commit; nothing
for a unit of work rolled back."""

from __future__ import annotations

from prometheus_client import REGISTRY
from sqlmodel import Session

from dispatch.lifecycle import system
from domain.lifecycle.model import TimerKind
from kernel.uow import UnitOfWork, after_commit
from tests.conftest import Clock
from tests.kit.dispatch import dispatched


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_reports_dispatches_warnings_and_breaches_are_counted(db: Session, clock: Clock) -> None:
    reported = value("wangge_events_reported_total", category="exposed_garbage", source="staff")
    lags = value("wangge_report_to_assigned_seconds_count")
    dispatches = value("wangge_event_transitions_total", action="dispatch", level="0")
    warnings = value("wangge_sla_warnings_total", clock="ack", percent="50")
    breaches = value("wangge_sla_breaches_total", clock="ack", level="0")

    event = dispatched(db, clock)
    assert event.id is not None
    assert (
        value("wangge_events_reported_total", category="exposed_garbage", source="staff")
        == reported + 1
    )
    assert value("wangge_event_transitions_total", action="dispatch", level="0") == dispatches + 1
    assert value("wangge_report_to_assigned_seconds_count") == lags + 1

    clock.advance(minutes=5)
    assert system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_WARN50, 1, clock.now)
    assert value("wangge_sla_warnings_total", clock="ack", percent="50") == warnings + 1
    # the same timer again is a no-op: not counted twice
    assert system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_WARN50, 1, clock.now) is None
    assert value("wangge_sla_warnings_total", clock="ack", percent="50") == warnings + 1

    clock.advance(minutes=10)
    assert system.handle_timer(UnitOfWork(db), event.id, TimerKind.ACK_BREACH, 1, clock.now)
    assert value("wangge_sla_breaches_total", clock="ack", level="0") == breaches + 1


def test_a_unit_rolled_back_runs_no_after_commit_callback(db: Session) -> None:
    called: list[str] = []
    unit = UnitOfWork(db)
    after_commit(db, lambda: called.append("first"))
    unit.rollback()
    unit.commit()
    assert called == []
    after_commit(db, lambda: called.append("second"))
    unit.commit()
    assert called == ["second"]

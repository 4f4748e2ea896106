"""The stage clocks over the real database (docs/decisions/0021): a registered event left
undispatched breaches its 派遣 stage, a fix left unreviewed its 核查 stage; each breach is
recorded without escalation, raises a 督办 notice for whoever answers for the stage, is found by
the reconciliation sweep when Redis missed it, and shows on the board and the event."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import Session

from dispatch.categories.models import Category
from dispatch.events.models import Event
from dispatch.lifecycle import reconcile, system
from domain.lifecycle import TimerKind
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.e2e.test_dispatch_actions import add_resolve_photo, url
from tests.kit.dispatch import dispatched, outbox_topics, report, username_of

Headers = Callable[[str], dict[str, str]]
NOTICES = "/api/v1/supervisions"
BOARD = "/api/v1/dispatch/board"


def _minutes(db: Session, event: Event, name: str) -> timedelta:
    category = db.get(Category, event.category_id)
    assert category is not None
    return timedelta(minutes=getattr(category, name))


def _event(db: Session, event_id: int) -> Event:
    event = db.get(Event, event_id)
    assert event is not None
    db.refresh(event)
    return event


def test_an_undispatched_event_breaches_its_dispatch_stage_with_a_notice_to_the_command_centre(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    eid = report(db, "g01m1", now=clock.now)  # registered; its dispatch request not run
    event = _event(db, eid)
    allowance = _minutes(db, event, "dispatch_minutes")
    assert event.status == "registered"
    assert event.dispatch_due_at == event.created_at + allowance  # exposed_garbage: 24x7
    assert event.dispatch_warn50_at == event.created_at + allowance / 2
    assert outbox_topics(db, eid).count("timer.set") == 3
    shown = client.get(f"/api/v1/events/{eid}", headers=token_for("dispatch1")).json()
    assert datetime.fromisoformat(shown["dispatch_due_at"]) == event.dispatch_due_at

    board = client.get(BOARD, headers=token_for("dispatch1")).json()
    breached_before = board["stages"]["dispatch"]["breached"]
    clock.advance(seconds=allowance.total_seconds() + 1)
    board = client.get(BOARD, headers=token_for("dispatch1")).json()
    assert board["stages"]["dispatch"]["breached"] == breached_before + 1
    # Redis missed it: the sweep's query finds it
    due = reconcile.overdue_breaches(db, before=clock.now, limit=10_000)
    assert (eid, TimerKind.DISPATCH_BREACH, 0) in due

    breach = system.handle_timer(UnitOfWork(db), eid, TimerKind.DISPATCH_BREACH, 0, clock.now)
    assert breach is not None and breach.audit is not None
    assert breach.state.status == "registered" and breach.state.level == 0  # no escalation
    assert breach.audit.data["clock"] == "dispatch" and breach.audit.data["percent"] == 100
    (notice,) = [n for n in client.get(NOTICES, headers=token_for("dispatch1")).json()
                 if n["event_id"] == eid]  # fmt: skip
    assert (notice["clock"], notice["holder_id"]) == ("dispatch", None)
    assert notice["addressee_role"] == "dispatcher"
    assert (eid, TimerKind.DISPATCH_BREACH, 0) not in reconcile.overdue_breaches(
        db, before=clock.now, limit=10_000
    )
    # recorded once: the same timer again does nothing
    again = system.handle_timer(UnitOfWork(db), eid, TimerKind.DISPATCH_BREACH, 0, clock.now)
    assert again is None
    # the dispatch still happens, late, and the clock stops
    assert system.auto_dispatch(UnitOfWork(db), eid, clock.now) is not None
    event = _event(db, eid)
    assert event.status == "dispatched" and event.dispatched_at is not None
    assert event.dispatch_due_at is not None and event.dispatched_at > event.dispatch_due_at
    count = db.execute(
        text("SELECT count(*) FROM supervision WHERE event_id = :e"), {"e": eid}
    ).scalar_one()
    assert count == 1


def test_a_fix_left_unreviewed_breaches_its_review_stage_with_a_notice_to_the_grid_head(
    client: TestClient, db: Session, clock: Clock, token_for: Headers
) -> None:
    event = dispatched(db, clock)
    eid = event.id or 0
    handler = token_for(username_of(db, event.assignee_id or 0))
    assert client.post(url(eid, "acknowledge"), headers=handler).status_code == 200
    add_resolve_photo(db, eid, event.assignee_id or 0, clock)
    clock.advance(minutes=5)
    fixed = client.post(url(eid, "resolve"), headers=handler)
    assert fixed.status_code == 200, fixed.text
    allowance = _minutes(db, event, "review_minutes")
    assert datetime.fromisoformat(fixed.json()["review_due_at"]) == clock.now + allowance
    version = _event(db, eid).deadline_version

    early = system.handle_timer(UnitOfWork(db), eid, TimerKind.REVIEW_BREACH, version, clock.now)
    assert early is None
    clock.advance(seconds=allowance.total_seconds())
    assert (eid, TimerKind.REVIEW_BREACH, version) in reconcile.overdue_breaches(
        db, before=clock.now, limit=10_000
    )
    breach = system.handle_timer(UnitOfWork(db), eid, TimerKind.REVIEW_BREACH, version, clock.now)
    assert breach is not None and breach.state.status == "resolved"
    assert breach.state.escalation_count == 0
    (notice,) = client.get(NOTICES, headers=token_for("g01h")).json()
    assert (notice["event_id"], notice["clock"]) == (eid, "review")
    assert (notice["holder_role"], notice["addressee_role"]) == ("head", "head")
    board = client.get(BOARD, headers=token_for("dispatch1")).json()
    assert board["stages"]["review"]["breached"] >= 1

    # the reviewer decides, late; the notice stays until acknowledged
    closed = client.post(url(eid, "review"), headers=token_for("g01h"), json={"approved": True})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    ack = client.post(f"{NOTICES}/{notice['id']}/acknowledge", headers=token_for("g01h"))
    assert ack.status_code == 200, ack.text

"""Migration 0019 fills ``promised_ack_at`` / ``promised_due_at`` and the rejection note of the
events logged before it from their audit logs: on histories the dispatch core wrote (rework,
breaches, suspensions), the backfill gives the columns the core set itself."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from sqlalchemy import text
from sqlmodel import Session

from dispatch.lifecycle import system
from dispatch.lifecycle.actions import ActionRequest, act
from domain.lifecycle import Action, TimerKind
from kernel.uow import UnitOfWork
from tests.conftest import Clock
from tests.e2e.test_dispatch_actions import add_resolve_photo
from tests.kit.dispatch import dispatched, principal, username_of

COLUMNS = "promised_ack_at, promised_due_at, rejection_note, rejected_at"


def _migration() -> ModuleType:
    path = Path(__file__).parents[2] / "alembic" / "versions" / "0019_original_promise.py"
    spec = importlib.util.spec_from_file_location("migration_0019", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _act(db: Session, clock: Clock, who: str, event_id: int, action: Action, **kw: object) -> None:
    request = ActionRequest(**kw)  # type: ignore[arg-type]
    act(uow=UnitOfWork(db), principal=principal(db, who), event_id=event_id, action=action,
        request=request, now=clock.now)  # fmt: skip


def _histories(db: Session, clock: Clock) -> list[int]:
    ids: list[int] = []
    # rework: rejected, fixed again late
    e = dispatched(db, clock)
    eid, member = e.id or 0, username_of(db, e.assignee_id or 0)
    add_resolve_photo(db, eid, e.assignee_id or 0, clock)
    clock.advance(minutes=2)
    _act(db, clock, member, eid, Action.ACKNOWLEDGE)
    _act(db, clock, member, eid, Action.RESOLVE)
    clock.advance(minutes=25)
    _act(db, clock, "g01h", eid, Action.REVIEW, approved=False, note="返工")
    ids.append(eid)
    # a suspension while both promises are ahead, then a breach that escalates
    e = dispatched(db, clock)
    eid = e.id or 0
    clock.advance(minutes=3)
    _act(db, clock, "dispatch1", eid, Action.SUSPEND, note="待审批")
    clock.advance(minutes=47)
    _act(db, clock, "dispatch1", eid, Action.RESUME)
    clock.advance(minutes=7)
    breach = system.handle_timer(UnitOfWork(db), eid, TimerKind.ACK_BREACH, 2, clock.now)
    assert breach is not None and breach.state.level == 1
    ids.append(eid)
    # acknowledged, then suspended after the ack promise passed: only the resolve one moves
    e = dispatched(db, clock)
    eid, member = e.id or 0, username_of(db, e.assignee_id or 0)
    clock.advance(minutes=1)
    _act(db, clock, member, eid, Action.ACKNOWLEDGE)
    clock.advance(minutes=14)
    _act(db, clock, "dispatch1", eid, Action.SUSPEND)
    clock.advance(hours=3)
    _act(db, clock, "dispatch1", eid, Action.RESUME)
    ids.append(eid)
    return ids


def test_the_backfill_gives_what_the_core_set(db: Session, clock: Clock) -> None:
    ids = _histories(db, clock)
    mine = {"ids": ids}
    select = f"SELECT id, {COLUMNS} FROM event WHERE id = ANY(:ids) ORDER BY id"
    written = db.execute(text(select), mine).all()
    assert all(row[2] is not None for row in written)
    rework, paused, late_pause = written
    assert rework[3] == "返工" and rework[2] < clock.now
    assert paused[2] - paused[1] == timedelta(minutes=20)
    assert late_pause[1] < late_pause[2] - timedelta(hours=3)
    everyone = db.execute(text("SELECT id, promised_due_at, rejection_note, rejected_at FROM event"
                               " ORDER BY id")).all()  # fmt: skip
    db.execute(text(f"UPDATE event SET ({COLUMNS}) = (NULL, NULL, NULL, NULL)"))
    db.execute(text(_migration().BACKFILL_SQL))
    assert db.execute(text(select), mine).all() == written
    again = db.execute(text("SELECT id, promised_due_at, rejection_note, rejected_at FROM event"
                            " ORDER BY id")).all()  # fmt: skip
    assert again == everyone

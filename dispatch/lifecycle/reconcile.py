"""What the reconciliation sweep looks for in PostgreSQL: breaches Redis never fired, events no
dispatch reached, and every open timer (to re-arm after Redis lost its data)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, literal, or_
from sqlmodel import Session, col, select

from dispatch import sla
from dispatch.categories.models import Category
from dispatch.events.models import Event
from dispatch.store import to_state
from domain.lifecycle import Status, TimerKind, set_timers
from domain.lifecycle.sla import BREACH_TIMER
from grids.models import Grid
from kernel.settings import get_settings

_event = cast(Table, Event.__table__)  # type: ignore[attr-defined]


def grace() -> timedelta:
    """How long past due a timer is left to RQ before the sweep handles it itself."""
    return timedelta(seconds=get_settings().sweep_grace_seconds)


def overdue_breaches(
    session: Session, *, before: datetime, limit: int
) -> list[tuple[int, TimerKind, int]]:
    """Timed events whose running clock's deadline (acknowledgement, resolution, dispatch,
    review) passed before ``before`` without the breach being recorded: ``(event_id, kind,
    deadline_version)``, oldest first (the acknowledgement breach first when both are due)."""
    e = _event
    late = [(kind, sla.breach_pending(e, kind, before)) for kind in BREACH_TIMER.values()]
    which = case(*((pending, literal(kind.value)) for kind, pending in late))
    rows = session.execute(
        select(e.c.id, e.c.deadline_version, which)
        .where(or_(*(pending for _, pending in late)))
        .order_by(sla.first_breach_at(e), e.c.id)
        .limit(limit)
    ).all()
    return [(int(event_id), TimerKind(kind), int(dv)) for event_id, dv, kind in rows]


def undispatched(session: Session, *, before: datetime, limit: int) -> list[int]:
    """Registered events created before ``before`` that no dispatch has reached yet."""
    rows = session.execute(
        select(col(Event.id))
        .where(col(Event.status) == Status.REGISTERED.value, col(Event.created_at) <= before)
        .order_by(col(Event.created_at), col(Event.id))
        .limit(limit)
    ).scalars()
    return [int(r) for r in rows]


def claim_undispatched(session: Session, *, limit: int) -> list[int]:
    """The oldest registered events (report order, ties by id), at most ``limit``, locked for
    this transaction; rows another transaction holds are skipped, so concurrent dispatchers
    take consecutive batches instead of waiting for each other."""
    rows = session.execute(
        select(col(Event.id))
        .where(col(Event.status) == Status.REGISTERED.value)
        .order_by(col(Event.created_at), col(Event.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).scalars()
    return [int(r) for r in rows]


def open_timers(
    session: Session, *, now: datetime, after_id: int = 0, batch: int = 1000
) -> tuple[dict[str, datetime], int | None]:
    """Every pending timer of the next ``batch`` clocked events with an id above ``after_id``
    (to re-arm after Redis lost them): ``{timer id: fire time}`` (a time past is ``now``) and
    the last event id read, None when there were none. Reads only: arming the same timer
    again is harmless (same id, same due time)."""
    rows = session.exec(
        select(Event, Category, col(Grid.code))
        .join(Category, col(Category.id) == col(Event.category_id))
        .join(Grid, col(Grid.id) == col(Event.grid_id))
        .where(sla.clocked(_event), col(Event.id) > after_id)
        .order_by(col(Event.id))
        .limit(batch)
    ).all()
    timers: dict[str, datetime] = {}
    last_id: int | None = None
    for event, category, grid_code in rows:
        assert event.id is not None
        last_id = event.id
        state = to_state(event, category_code=category.code, grid_code=grid_code)
        for timer in set_timers(state, now):
            assert timer.fire_at is not None
            timers[timer.job_id] = timer.fire_at
    return timers, last_id

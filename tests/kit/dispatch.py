"""Helpers for the dispatch-engine tests: seconds-long categories, reports through the real
report service (and auto-dispatched by the engine), people by username, the worker's jobs run
in the test's process, the outbox and audit of an event."""

from __future__ import annotations

import asyncio
import uuid
from contextlib import nullcontext
from datetime import datetime

from redis import Redis
from rq import SimpleWorker
from sqlalchemy import text
from sqlmodel import Session, col, select

from dispatch.categories.models import Category
from dispatch.categories.service import load_all
from dispatch.engine.queue import get_dispatch_queue
from dispatch.events.intake import submit
from dispatch.events.models import Event
from dispatch.events.schemas import EventCreate, LocationIn
from dispatch.lifecycle import system
from domain.coords import CoordSystem
from domain.jurisdiction import Principal
from grids.lookup import load_index
from kernel.reference import References
from kernel.uow import UnitOfWork
from staff.auth import principal_for
from staff.models import Staff, User
from tests.conftest import Clock, SessionPool
from tests.kit.events import GRID_01, interior_point


def principal(session: Session, username: str) -> Principal:
    user = session.exec(select(User).where(col(User.username) == username)).one()
    return principal_for(session, user)


def staff_id(session: Session, username: str) -> int:
    return principal(session, username).staff_id


def username_of(session: Session, staff: int) -> str:
    return str(
        session.execute(
            text("SELECT username FROM users WHERE staff_id = :s"), {"s": staff}
        ).scalar_one()
    )


def ensure_category(
    session: Session,
    code: str,
    *,
    ack_seconds: float,
    resolve_seconds: float,
    big: bool = False,
    department: str | None = "城管",
) -> Category:
    """A category with seconds-long limits (minutes may be fractional), made once."""
    found = session.exec(select(Category).where(col(Category.code) == code)).first()
    if found is not None:
        return found
    category = Category(
        code=code,
        name=f"测试-{code}",
        ack_minutes=ack_seconds / 60,
        resolve_minutes=resolve_seconds / 60,
        big=big,
        department=department,
    )
    session.add(category)
    session.commit()
    return category


def report(
    session: Session,
    username: str,
    *,
    now: datetime,
    category: str = "exposed_garbage",
    grid: str = GRID_01,
) -> int:
    """Report an event through the real report service (registered + dispatch outbox row), in
    the session's transaction (committed here, as the API's statement commits)."""
    lon, lat = interior_point(session, grid)
    references = References()
    result = asyncio.run(
        submit(
            pool=SessionPool(session),  # type: ignore[arg-type]
            sessions=lambda: nullcontext(session),
            grid_map=references.add("grid", load_index),
            categories=references.add("category", load_all),
            principal=principal(session, username),
            data=EventCreate(
                client_id=uuid.uuid4(),
                category=category,
                description="测试事件",
                location=LocationIn(lon=lon, lat=lat, coord=CoordSystem.wgs84, accuracy_m=5),
            ),
            now=now,
        )
    )
    session.commit()
    return result.event.id


def dispatched(db: Session, clock: Clock, reporter: str = "g01m1", **kw: str) -> Event:
    """A reported event, auto-dispatched by the engine."""
    event_id = report(db, reporter, now=clock.now, **kw)
    assert system.auto_dispatch(UnitOfWork(db), event_id, clock.now) is not None
    event = db.get(Event, event_id)
    assert event is not None
    db.refresh(event)
    return event


def work(redis: Redis) -> None:
    """Run every queued job (and RQ's due scheduled ones) in this process, then return."""
    SimpleWorker([get_dispatch_queue(redis)], connection=redis).work(
        burst=True, with_scheduler=True, logging_level="WARNING"
    )


def outbox_topics(session: Session, event_id: int) -> list[str]:
    return list(
        session.execute(
            text("SELECT topic FROM outbox WHERE event_id = :e ORDER BY id"), {"e": event_id}
        ).scalars()
    )


def audit_actions(session: Session, event_id: int) -> list[str]:
    return list(
        session.execute(
            text("SELECT action FROM event_audit WHERE event_id = :e ORDER BY version"),
            {"e": event_id},
        ).scalars()
    )


def staff_row(session: Session, staff: int) -> Staff:
    row = session.get(Staff, staff)
    assert row is not None
    return row

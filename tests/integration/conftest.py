"""Fixtures shared by the integration tests.

``make_event`` registers an event the way the report service does (``open_event`` and the
store's statement: the row, its registration audit and outbox rows), optionally dispatched to
a person, without going through ``POST /api/v1/events``. Tests of other parts (photos, for
instance) use it so they depend on the event store only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from dispatch.categories.models import Category
from dispatch.store import insert_event, next_event_id, policy_for, record
from domain.lifecycle import Action, Assignment, Command, apply, open_event
from domain.roles import Role
from grids.models import Grid
from staff.models import Staff, User
from tests.conftest import Clock

FIXTURE_CATEGORY = "zz_fixture"

MakeEvent = Callable[..., int]


def staff_of(session: Session, username: str) -> Staff:
    staff = session.exec(
        select(Staff)
        .join(User, col(User.staff_id) == col(Staff.id))
        .where(col(User.username) == username)
    ).one()
    return staff


def fixture_category(session: Session) -> Category:
    """A small (not big) category of the tests' own, created when missing."""
    category = session.exec(select(Category).where(col(Category.code) == FIXTURE_CATEGORY)).first()
    if category is None:
        category = Category(
            code=FIXTURE_CATEGORY, name="测试夹具类别", ack_minutes=30, resolve_minutes=60
        )
        session.add(category)
        session.flush()
    return category


def register_event(
    session: Session,
    now: datetime,
    reporter: str = "g01m1",
    *,
    assignee: str | None = None,
    category_code: str | None = None,
) -> int:
    """Register an event reported by ``reporter`` (grid staff) in their grid, dispatched to
    ``assignee`` when given; flushes, does not commit. The category is the tests' own unless
    ``category_code`` names a seeded one (use that when committing: nothing is left behind
    outside the truncated tables)."""
    db = session
    staff = staff_of(db, reporter)
    assert staff.id is not None and staff.grid_id is not None, "reporter must be grid staff"
    grid = db.get(Grid, staff.grid_id)
    assert grid is not None
    if category_code is None:
        category = fixture_category(db)
    else:
        category = db.exec(select(Category).where(col(Category.code) == category_code)).one()
    assert category.id is not None and grid.id is not None
    policy = policy_for(category)
    event_id = next_event_id(db)
    decision = open_event(
        event_id=str(event_id),
        policy=policy,
        now=now,
        reporter_id=str(staff.id),
        grid=grid.code,
    )
    lon, lat = db.execute(
        text(
            "SELECT ST_X(p), ST_Y(p) FROM"
            " (SELECT ST_PointOnSurface(geom) AS p FROM grid WHERE id = :id) s"
        ),
        {"id": grid.id},
    ).one()
    report = {
        "client_id": str(uuid.uuid4()),
        "request_hash": "0" * 64,
        "category_id": category.id,
        "grid_id": grid.id,
        "description": "fixture event",
        "coord": "wgs84",
        "orig_lon": lon,
        "orig_lat": lat,
        "accuracy_m": None,
        "snapped": False,
        "distance_m": 0.0,
        "source": "staff",
        "occurred_at": None,
        "received_at": now,
    }
    insert_event(db, decision, report, lon=lon, lat=lat)
    if assignee is not None:
        handler = staff_of(db, assignee)
        state = decision.state
        dispatched = apply(
            state,
            Command(
                action=Action.DISPATCH,
                actor=str(staff.id),
                assignment=Assignment(
                    level=0, assignee_id=str(handler.id), role=Role(handler.role.value)
                ),
            ),
            now=now,
            policy=policy,
        )
        record(db, dispatched, previous_version=state.version)
    db.flush()
    return event_id


@pytest.fixture
def make_event(db: Session, clock: Clock) -> MakeEvent:
    """``make_event("g01m1", assignee="g01m2")`` → the id of a registered (or dispatched) event
    in the reporter's grid."""

    def create(reporter: str = "g01m1", *, assignee: str | None = None) -> int:
        return register_event(db, clock.now, reporter, assignee=assignee)

    return create

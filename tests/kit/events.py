"""Events for the tests: points inside grids, report bodies, and events registered without
HTTP.

``register_event`` registers an event the way the report service does (``open_event`` and the
store's statement: the row, its registration audit and outbox rows), optionally dispatched to
a person, without going through ``POST /api/v1/events``; the ``make_event`` fixture
(tests/conftest.py) calls it on the test's session. Tests of other parts (photos, for instance)
use it so they depend on the event store only.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from dispatch.calendars.service import calendars
from dispatch.categories.models import Category
from dispatch.store import insert_event, next_event_id, policy_for, record
from domain.coords import wgs84_to_bd09, wgs84_to_gcj02
from domain.lifecycle import Action, Assignment, Command, apply, open_event
from domain.roles import Role
from grids.models import Grid
from staff.models import Staff, User

GRID_01 = "130203001001001"
GRID_02 = "130203001001002"


def interior_point(session: Session | Engine, grid_code: str) -> tuple[float, float]:
    """A WGS-84 point well inside a grid (PostGIS's point on surface)."""
    sql = text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid"
        " WHERE code = :code) s"
    )
    if isinstance(session, Engine):
        with session.connect() as conn:
            lon, lat = conn.execute(sql, {"code": grid_code}).one()
    else:
        lon, lat = session.execute(sql, {"code": grid_code}).one()
    return float(lon), float(lat)


def in_system(lon: float, lat: float, coord: str) -> tuple[float, float]:
    if coord == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if coord == "bd09":
        return wgs84_to_bd09(lon, lat)
    return lon, lat


def report_body(point: tuple[float, float], *, coord: str = "wgs84", **over: Any) -> dict[str, Any]:
    """A valid report at a WGS-84 point, sent in ``coord``."""
    lon, lat = in_system(point[0], point[1], coord)
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "category": "exposed_garbage",
        "description": "  路边垃圾堆放，约两立方米  ",
        "location": {"lon": lon, "lat": lat, "coord": coord, "accuracy_m": 8.0},
    }
    body.update(over)
    return body


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
    policy = policy_for(category, calendars(db, category.calendar_codes()))
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

"""All SQL of the categories: reads, admin writes (409 on a taken code or name), the seed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.calendars.service import calendars, check_covers, read_calendars
from dispatch.categories.models import Category
from dispatch.categories.schemas import CategoryCreate
from domain.calendar import WorkCalendar
from kernel.errors import Conflict, Invalid, NotFound, field_error
from kernel.uow import UnitOfWork
from staff.models import Staff


def list_categories(*, session: Session, include_inactive: bool = False) -> list[Category]:
    """Categories by code; only the active ones unless asked."""
    query = select(Category).order_by(col(Category.code))
    if not include_inactive:
        query = query.where(col(Category.active).is_(True))
    return list(session.exec(query))


def known_departments(*, session: Session) -> list[str]:
    """The departments that have staff on the roster (a category can only route to those)."""
    rows = session.exec(
        select(col(Staff.department)).where(col(Staff.department).is_not(None)).distinct()
    )
    return sorted(d for d in rows if d)


def _check_department(session: Session, department: str | None) -> None:
    if department is None:
        return
    known = known_departments(session=session)
    if department not in known:
        raise Invalid(
            field_error(
                "department",
                f"no staff belong to department {department!r}; known: {', '.join(known)}",
            )
        )


def _check_calendars(session: Session, named: Mapping[tuple[str, ...], str], now: datetime) -> None:
    """Each calendar named (by its field's path) exists and knows the current year: a deadline
    on it can be computed today (no guessing)."""
    known = calendars(session, named.values())
    for loc, code in named.items():
        calendar = known.get(code)
        if calendar is None:
            raise Invalid(field_error(loc, f"no calendar {code!r}"))
        check_covers(calendar, now, field=loc)


def _named_calendars(changes: Mapping[str, Any]) -> dict[tuple[str, ...], str]:
    """The calendars a create or an update names, by the path of their field."""
    named: dict[tuple[str, ...], str] = {
        ("level_calendars", level): code
        for level, code in changes.get("level_calendars", {}).items()
    }
    if "calendar" in changes:
        named[("calendar",)] = changes["calendar"]
    return named


def _taken(session: Session, *, code: str | None, name: str | None, skip: int | None) -> None:
    """409 naming the field when another category already has this code or name."""
    for field, value in (("code", code), ("name", name)):
        if value is None:
            continue
        other = session.execute(
            text(f"SELECT id FROM category WHERE {field} = :v AND id IS DISTINCT FROM :skip"),
            {"v": value, "skip": skip},
        ).first()
        if other is not None:
            raise Conflict(field_error(field, f"a category with {field} {value!r} exists"))


def create(*, uow: UnitOfWork, data: CategoryCreate, now: datetime) -> Category:
    """Insert a category (committed); a taken code or name is a 409 (also under a concurrent
    insert); a calendar that does not know the current year is a 422."""
    session = uow.session
    _check_department(session, data.department)
    _check_calendars(session, _named_calendars(data.model_dump()), now)
    _taken(session, code=data.code, name=data.name, skip=None)
    category = Category(**data.model_dump())
    try:
        with session.begin_nested():
            session.add(category)
    except IntegrityError as exc:  # lost a race with another admin
        raise Conflict(
            field_error("code", f"category {data.code!r} or its name already exists")
        ) from exc
    uow.commit()
    return category


def update(*, uow: UnitOfWork, code: str, changes: dict[str, Any], now: datetime) -> Category:
    """Change some fields of a category (committed); the result must still have ack ≤
    resolve."""
    session = uow.session
    category = session.exec(
        select(Category).where(col(Category.code) == code).with_for_update()
    ).one_or_none()
    if category is None:
        raise NotFound({"loc": ["code"], "msg": f"no category {code!r}"})
    if "department" in changes:
        _check_department(session, changes["department"])
    _check_calendars(session, _named_calendars(changes), now)
    if "name" in changes:
        _taken(session, code=None, name=changes["name"], skip=category.id)
    ack = changes.get("ack_minutes", category.ack_minutes)
    resolve = changes.get("resolve_minutes", category.resolve_minutes)
    if ack > resolve:
        raise Invalid(
            field_error(
                "ack_minutes",
                f"ack_minutes ({ack}) must not exceed resolve_minutes ({resolve})",
            )
        )
    for key, value in changes.items():
        setattr(category, key, value)
    try:
        with session.begin_nested():
            session.add(category)
    except IntegrityError as exc:
        raise Conflict(field_error("name", "another category has this name")) from exc
    uow.commit()
    return category


def load_categories(*, session: Session, path: Path) -> dict[str, int]:
    """Insert the seed's categories that are missing (by code or name). Existing rows are kept
    as they are, so an administrator's changes survive a reload."""
    seed = json.loads(path.read_text(encoding="utf-8"))["categories"]
    created = 0
    for item in seed:
        data = CategoryCreate(**item)
        result = session.execute(
            text("""
            INSERT INTO category (code, name, ack_minutes, resolve_minutes, big, department, active,
                                  calendar, verify_minutes, dispatch_minutes, review_minutes,
                                  level_calendars)
            VALUES (:code, :name, :ack_minutes, :resolve_minutes, :big, :department, :active,
                    :calendar, :verify_minutes, :dispatch_minutes, :review_minutes,
                    CAST(:level_calendars AS jsonb))
            ON CONFLICT DO NOTHING
            """),
            {**data.model_dump(), "level_calendars": json.dumps(data.level_calendars)},
        )
        created += result.rowcount  # type: ignore[attr-defined]
    session.flush()
    return {"categories": len(seed), "created": created}


@dataclass(frozen=True)
class Catalogue:
    """Every category by code, retired ones too (a report says why a code is refused), with
    the parsed calendars their clocks run on: the API keeps this in memory
    (service.reference). A calendar load changes the same reference version as a category
    edit (migration 0029), so the copy and its calendars are current together."""

    categories: Mapping[str, Category]
    calendars: Mapping[str, WorkCalendar]


async def load_all(conn: AsyncConnection[Any]) -> Catalogue:
    """The catalogue as it is now (two queries)."""
    cursor = await conn.execute(
        "SELECT id, code, name, ack_minutes, resolve_minutes, big, department, active, calendar,"
        " verify_minutes, dispatch_minutes, review_minutes, level_calendars FROM category"
    )
    categories = {
        code: Category(
            id=cid,
            code=code,
            name=name,
            ack_minutes=ack,
            resolve_minutes=resolve,
            big=big,
            department=department,
            active=active,
            calendar=calendar,
            verify_minutes=verify,
            dispatch_minutes=dispatch,
            review_minutes=review,
            level_calendars=levels,
        )
        for (
            cid,
            code,
            name,
            ack,
            resolve,
            big,
            department,
            active,
            calendar,
            verify,
            dispatch,
            review,
            levels,
        ) in await cursor.fetchall()
    }
    used = {code for category in categories.values() for code in category.calendar_codes()}
    return Catalogue(categories, await read_calendars(conn, used))

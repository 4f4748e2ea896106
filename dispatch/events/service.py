"""All SQL of events as the phone sees them: the idempotent report, lists, one event, history.

A report is one statement on the async pool (``dispatch.store.open_event``): the event row
(state columns from the dispatch core's ``open_event``), its audit row and outbox rows, and an
outbox row asking the dispatch engine to assign it. Idempotency rests on the unique
``client_id``: ``INSERT ... ON CONFLICT (client_id) DO NOTHING`` lets exactly one of any number
of concurrent identical submissions create the event; the others read it back.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any, cast

import anyio.to_thread
import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import ColumnElement, Select, Table, and_, func, or_, select
from sqlmodel import Session, col

from dispatch import store
from dispatch.access import check_visible, visible
from dispatch.events.schemas import (
    ActorOut,
    EventCreate,
    EventOut,
    EventRefs,
    HistoryEntry,
    HistoryOut,
    StaffRef,
    build_event_out,
)
from dispatch.models import Category, Event
from domain.lifecycle import Status, open_event
from domain.lifecycle.model import CLOCKED_STATUSES
from grids.index import GridIndex
from grids.lookup import locate
from grids.models import Grid
from kernel.errors import Conflict, Forbidden, Invalid, Unavailable, field_error
from kernel.reference import ReferenceCache
from kernel.settings import get_settings
from staff.models import Staff
from staff.service import Principal

#: A device clock may run this far ahead of the server's.
FUTURE_SKEW = timedelta(minutes=5)
#: Reports of things seen longer ago than this are refused (they belong to another channel).
MAX_AGE = timedelta(hours=72)
DISPATCH_TOPIC = "dispatch"

# --- reporting ----------------------------------------------------------------------


@dataclass(frozen=True)
class Submitted:
    event: EventOut
    created: bool


#: Attempts when the reference data changed under a report (a map load, a category edit).
_ATTEMPTS = 3


async def submit(
    *,
    pool: AsyncConnectionPool,
    session: Session,
    grid_map: ReferenceCache[GridIndex],
    categories: ReferenceCache[dict[str, Category]],
    principal: Principal,
    data: EventCreate,
    now: datetime,
) -> Submitted:
    """Register a report, or return the event an earlier identical report created.

    Everything is checked before anything is written (category, occurred_at window,
    location), against the in-memory grid map and categories (ADR 0005); then one statement
    writes the event, its audit row and its outbox rows (the change stream, the timers and
    the dispatch request), and refuses to if either copy was stale or ``client_id`` is taken.
    A stale copy is read again and the report decided again. The same ``client_id`` with the
    same body answers the earlier event (also when the report would now be refused, say it
    is older than 72 h by now); with a different body, or from someone else, it is a 409.
    """
    digest = data.request_hash()
    loc = data.location
    rechecked = False
    for _ in range(_ATTEMPTS):
        maps, cats = await grid_map.get(pool), await categories.get(pool)
        known = cats.value.get(data.category)
        if (known is None or not known.active) and not rechecked:
            # refused only on a copy known to be current (a notification may be on its way)
            rechecked = True
            categories.invalidate()
            continue
        try:
            category = _active_category(known, data.category)
            _check_occurred_at(data.occurred_at, now)
            where = await locate(
                pool=pool,
                index=maps.value,
                lon=loc.lon,
                lat=loc.lat,
                coord=loc.coord,
                accuracy_m=loc.accuracy_m or 0.0,
                loc=("location",),
            )
        except Invalid:
            earlier = await _by_client_id(pool, data.client_id)
            if earlier is None:
                raise
            return await _replayed(session, principal, earlier, digest)
        async with pool.connection() as conn:
            cursor = await conn.execute(_NEXT_ID)
            event_id = int((await cursor.fetchone() or (0,))[0])
            decision = open_event(
                event_id=str(event_id),
                policy=store.policy_for(category),
                now=now,
                reporter_id=str(principal.staff_id),
                trusted=True,
                grid=where.code,
            )
            report: dict[str, Any] = {
                "client_id": data.client_id,
                "request_hash": digest,
                "category_id": category.id,
                "grid_id": where.grid_id,
                "description": data.description,
                "coord": loc.coord.value,
                "orig_lon": loc.lon,
                "orig_lat": loc.lat,
                "accuracy_m": loc.accuracy_m,
                "snapped": where.snapped,
                "distance_m": where.distance_m,
                "source": "staff",
                "occurred_at": data.occurred_at,
                "received_at": now,
            }
            sql, params = store.open_event(
                decision,
                report,
                lon=where.lon,
                lat=where.lat,
                versions=(maps.version, cats.version),
                outbox=[(DISPATCH_TOPIC, {"event_id": event_id})],
            )
            try:
                cursor = await conn.execute(sql, params)
            except psycopg.errors.ForeignKeyViolation as exc:
                _removed_meanwhile(exc, grid_map, categories)
                continue
            inserted, current, reporter_name = await cursor.fetchone() or (None, False, None)
        if inserted is not None:
            row = {"id": event_id, **report, **store.state_columns(decision.state)}
            out = build_event_out(
                SimpleNamespace(**row),
                EventRefs(
                    grid_code=where.code,
                    category=category.code,
                    lon=where.lon,
                    lat=where.lat,
                    reporter=StaffRef(id=principal.staff_id, name=reporter_name or ""),
                ),
                tz=get_settings().tz,
            )
            return Submitted(out, created=True)
        earlier = None if not current else await _by_client_id(pool, data.client_id)
        if earlier is None:  # stale copies (or the grid vanished with them): decide again
            grid_map.invalidate()
            categories.invalidate()
            continue
        # client_id is taken: an earlier report, or a concurrent identical one that won
        return await _replayed(session, principal, earlier, digest)
    raise Unavailable("the grid map or the categories keep changing; retry the report")


def _removed_meanwhile(
    exc: psycopg.errors.ForeignKeyViolation,
    grid_map: ReferenceCache[GridIndex],
    categories: ReferenceCache[dict[str, Category]],
) -> None:
    """A row the report refers to was deleted after the copies were read: a grid or a
    community (a map load) or a category means reading them again; the reporter's own staff
    record gone means the caller can no longer report."""
    constraint = exc.diag.constraint_name or ""
    if "reporter" in constraint:
        raise Forbidden("your staff record no longer exists; sign in again") from exc
    if "category" in constraint:
        categories.invalidate()
    else:
        grid_map.invalidate()


_NEXT_ID = "SELECT nextval(pg_get_serial_sequence('event', 'id'))"


@dataclass(frozen=True)
class _Earlier:
    id: int
    request_hash: str
    reporter_id: int | None


async def _by_client_id(pool: AsyncConnectionPool, client_id: uuid.UUID) -> _Earlier | None:
    async with pool.connection() as conn:
        cursor = await conn.execute(
            "SELECT id, request_hash, reporter_id FROM event WHERE client_id = %(cid)s",
            {"cid": client_id},
        )
        row = await cursor.fetchone()
    return None if row is None else _Earlier(int(row[0]), str(row[1]), row[2])


async def _replayed(
    session: Session, principal: Principal, earlier: _Earlier, digest: str
) -> Submitted:
    if earlier.reporter_id != principal.staff_id or earlier.request_hash != digest:
        raise Conflict(
            field_error(
                "client_id",
                "this client_id was already used for a different report; "
                "generate a new UUID for a new report",
                "idempotency_conflict",
            )
        )

    out = await anyio.to_thread.run_sync(partial(event_out, session, event_id=earlier.id))
    assert out is not None
    return Submitted(out, created=False)


def _active_category(category: Category | None, code: str) -> Category:
    if category is None or not category.active:
        state = "is retired" if category is not None else "does not exist"
        raise Invalid(
            field_error(
                "category",
                f"category {code!r} {state}; see GET /api/v1/categories",
                "unknown_category",
            )
        )
    return category


def _check_occurred_at(occurred_at: datetime | None, now: datetime) -> None:
    if occurred_at is None:
        return
    if occurred_at > now + FUTURE_SKEW:
        raise Invalid(
            field_error(
                "occurred_at",
                f"occurred_at {occurred_at.isoformat()} is in the future (server time "
                f"{now.isoformat()}; at most {FUTURE_SKEW.seconds // 60} min of clock skew)",
                "in_future",
            )
        )
    if occurred_at < now - MAX_AGE:
        raise Invalid(
            field_error(
                "occurred_at",
                f"occurred_at {occurred_at.isoformat()} is more than "
                f"{int(MAX_AGE.total_seconds() // 3600)} h ago; report it to the command centre",
                "too_old",
            )
        )


# --- reading -----------------------------------------------------------------------

_staff = cast(Table, Staff.__table__)  # type: ignore[attr-defined]
_Reporter = _staff.alias("reporter")
_Assignee = _staff.alias("assignee")


def _view() -> Select[Any]:
    """Events with everything ``EventOut`` needs, in one query."""
    query: Select[Any] = (
        select(
            Event,
            col(Grid.code),
            col(Category.code),
            func.ST_X(Event.geom),
            func.ST_Y(Event.geom),
            _Reporter.c.id,
            _Reporter.c.name,
            _Assignee.c.id,
            _Assignee.c.name,
        )
        .join(Grid, col(Grid.id) == col(Event.grid_id))
        .join(Category, col(Category.id) == col(Event.category_id))
        .outerjoin(_Reporter, _Reporter.c.id == col(Event.reporter_id))
        .outerjoin(_Assignee, _Assignee.c.id == col(Event.assignee_id))
    )
    return query


def _present(row: Sequence[Any]) -> EventOut:
    event, grid_code, category, lon, lat, rid, rname, aid, aname = row
    refs = EventRefs(
        grid_code=grid_code,
        category=category,
        lon=float(lon),
        lat=float(lat),
        reporter=StaffRef(id=rid, name=rname) if rid is not None else None,
        assignee=StaffRef(id=aid, name=aname) if aid is not None else None,
    )
    return build_event_out(event, refs, tz=get_settings().tz)


def event_out(session: Session, *, event_id: int) -> EventOut | None:
    """One event as the API shows it (no visibility check: for callers that made it)."""
    row = session.execute(_view().where(col(Event.id) == event_id)).first()
    return None if row is None else _present(row)


def present(session: Session, events: Sequence[Event]) -> list[EventOut]:
    """``EventOut`` for event rows already loaded (e.g. after an action); one query."""
    ids = [e.id for e in events]
    rows = {r[0].id: r for r in session.execute(_view().where(col(Event.id).in_(ids))).all()}
    return [_present(rows[i]) for i in ids if i in rows]


def get_visible(session: Session, *, principal: Principal, event_id: int) -> EventOut:
    """One event, or 404 when it does not exist or the caller may not see it."""
    row = session.execute(_view().where(col(Event.id) == event_id)).first()
    check_visible(principal, row[0] if row else None, event_id)
    assert row is not None
    return _present(row)


@dataclass(frozen=True)
class EventFilter:
    scope: str | None = None  # mine | reported | grid | None (everything visible)
    statuses: tuple[Status, ...] = ()
    overdue: bool | None = None
    grid: str | None = None
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Page:
    items: list[EventOut]
    next_cursor: str | None


def _encode_cursor(due_at: datetime | None, event_id: int) -> str:
    raw = json.dumps([due_at.isoformat() if due_at else None, event_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime | None, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        due, event_id = json.loads(raw)
        if not isinstance(event_id, int) or isinstance(event_id, bool):
            raise ValueError("id")
        when = datetime.fromisoformat(due) if due is not None else None
        if when is not None and when.tzinfo is None:
            raise ValueError("naive")
        return when, event_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid(
            field_error("cursor", "not a cursor this service issued", "bad_cursor")
        ) from exc


def _after(due_at: datetime | None, event_id: int) -> ColumnElement[bool]:
    """Rows after (due_at, id) in the order due_at ASC NULLS LAST, id ASC."""
    if due_at is None:
        return and_(col(Event.due_at).is_(None), col(Event.id) > event_id)
    return or_(
        col(Event.due_at) > due_at,
        and_(col(Event.due_at) == due_at, col(Event.id) > event_id),
        col(Event.due_at).is_(None),
    )


def _scope(principal: Principal, scope: str) -> ColumnElement[bool]:
    if scope == "mine":
        return col(Event.assignee_id) == principal.staff_id
    if scope == "reported":
        return col(Event.reporter_id) == principal.staff_id
    # "grid": the caller's own patch, the grid for grid staff, else the community
    if principal.grid_id is not None:
        return col(Event.grid_id) == principal.grid_id
    if principal.community_id is not None:
        return col(Event.community_id) == principal.community_id
    raise Invalid(
        field_error(
            "scope",
            f"scope=grid needs a grid or community; role {principal.role} has neither",
        )
    )


def list_events(
    session: Session,
    *,
    principal: Principal,
    filters: EventFilter,
    now: datetime,
    limit: int,
    cursor: str | None,
) -> Page:
    """ "My tasks": visible events, filtered, by due time (no deadline last), then id."""
    if filters.since and filters.until and filters.since > filters.until:
        raise Invalid(field_error("since", "since is after until"))
    query = _view().where(visible(principal))
    if filters.scope:
        query = query.where(_scope(principal, filters.scope))
    if filters.statuses:
        query = query.where(col(Event.status).in_([s.value for s in filters.statuses]))
    if filters.overdue is not None:
        late = and_(
            col(Event.status).in_([s.value for s in CLOCKED_STATUSES]),
            col(Event.due_at) < now,
        )
        query = query.where(late if filters.overdue else ~late)
    if filters.grid:
        query = query.where(col(Grid.code) == filters.grid)
    if filters.category:
        query = query.where(col(Category.code) == filters.category)
    if filters.since:
        query = query.where(col(Event.created_at) >= filters.since)
    if filters.until:
        query = query.where(col(Event.created_at) < filters.until)
    if cursor:
        query = query.where(_after(*_decode_cursor(cursor)))
    query = query.order_by(col(Event.due_at).asc().nulls_last(), col(Event.id).asc()).limit(
        limit + 1
    )
    rows = session.execute(query).all()
    items = [_present(r) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last: Event = rows[limit - 1][0]
        assert last.id is not None
        next_cursor = _encode_cursor(last.due_at, last.id)
    return Page(items, next_cursor)


def history(session: Session, *, principal: Principal, event_id: int) -> HistoryOut:
    """The audit trail of a visible event, oldest first, with actors' names."""
    event = session.get(Event, event_id)
    check_visible(principal, event, event_id)
    rows = store.audit_rows(session, event_id)
    staff_ids = {int(r.actor) for r in rows if r.actor.isdigit()}
    names: dict[int, str] = {}
    if staff_ids:
        names = {
            sid: name
            for sid, name in session.execute(
                select(col(Staff.id), col(Staff.name)).where(col(Staff.id).in_(staff_ids))
            ).all()
            if sid is not None
        }
    tz = get_settings().tz
    return HistoryOut(
        event_id=event_id,
        items=[
            HistoryEntry(
                version=r.version,
                action=r.action,
                from_status=r.from_status,
                to_status=r.to_status,
                from_level=r.from_level,
                to_level=r.to_level,
                actor=ActorOut(
                    id=r.actor, name=names.get(int(r.actor)) if r.actor.isdigit() else None
                ),
                at=r.at.astimezone(tz),
                note=r.note,
                reason=r.reason,
            )
            for r in rows
        ],
    )


__all__ = [
    "EventFilter",
    "Page",
    "Submitted",
    "event_out",
    "get_visible",
    "history",
    "list_events",
    "present",
    "submit",
]

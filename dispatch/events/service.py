"""All SQL of events as the phone sees them: the idempotent report, lists, one event, history.

A report is one transaction: the event row (state columns from the dispatch core's
``open_event``), its audit row and outbox rows (``dispatch.store.record``), and an outbox row
asking the dispatch engine to assign it. Idempotency rests on the unique ``client_id``:
``INSERT ... ON CONFLICT (client_id) DO NOTHING`` lets exactly one of any number of concurrent
identical submissions create the event; the others read it back.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, Table, and_, func, or_, select, text
from sqlmodel import Session, col

from dispatch import store
from dispatch.access import check_visible, visible
from dispatch.domain import Status, open_event
from dispatch.domain.model import CLOCKED_STATUSES
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
from grids.models import Grid
from grids.service import COVERING_SQL, Location, covered, locate, locate_params
from service.auth.models import Staff
from service.auth.service import Principal
from service.errors import Conflict, Invalid, field_error
from service.settings import get_settings

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


def submit(
    *, session: Session, principal: Principal, data: EventCreate, now: datetime
) -> Submitted:
    """Register a report, or return the event an earlier identical report created.

    Validates everything before writing anything: category, occurred_at window, location.
    The same ``client_id`` with a different body (or from someone else) is a 409.

    The hot path is a handful of round trips: one read (an earlier report with this
    ``client_id``, the category, the next event id, the reporter's name), the grid lookup,
    one statement inserting the event and its dispatch request, the audit row and its
    change-stream row (``store.record``), and the commit.
    """
    digest = data.request_hash()
    params = _wgs84(data)
    first = (
        session.connection()
        .exec_driver_sql(
            _FIRST,
            {
                "cid": data.client_id,
                "code": data.category,
                "sid": principal.staff_id,
                **params,
            },
        )
        .one()
    )
    if first.earlier_id is not None:
        earlier = _Earlier(first.earlier_id, first.earlier_hash, first.earlier_reporter)
        return Submitted(_replayed(session, principal, earlier, digest), created=False)
    category = _active_category(first, data.category)
    _check_occurred_at(data.occurred_at, now)
    if first.grid_id is not None:  # inside the map: the lookup came with the first read
        where = covered((first.grid_id, first.grid_code, first.grid_name, first.community), params)
    else:  # outside every grid: snap within the GPS accuracy, or say how far out it is
        where = _locate(session, data)

    event_id = int(first.next_id)
    decision = open_event(
        event_id=str(event_id),
        policy=store.policy_for(category),
        now=now,
        reporter_id=str(principal.staff_id),
        trusted=True,
        grid=where.code,
    )
    values: dict[str, Any] = {
        "id": event_id,
        "client_id": data.client_id,
        "request_hash": digest,
        "category_id": category.id,
        "grid_id": where.grid_id,
        "description": data.description,
        "coord": data.location.coord.value,
        "orig_lon": data.location.lon,
        "orig_lat": data.location.lat,
        "accuracy_m": data.location.accuracy_m,
        "snapped": where.snapped,
        "distance_m": where.distance_m,
        "source": "staff",
        "occurred_at": data.occurred_at,
        "received_at": now,
        **store.state_columns(decision.state),
    }
    inserted = session.execute(
        _INSERT, {**values, "lon": where.lon, "lat": where.lat, "topic": DISPATCH_TOPIC}
    ).scalar_one_or_none()
    if inserted is None:
        # A concurrent identical submission won (ON CONFLICT waited for its commit).
        winner = _by_client_id(session, data)
        assert winner is not None
        return Submitted(_replayed(session, principal, winner, digest), created=False)

    store.record(session, decision, previous_version=None)
    session.commit()
    # The response is built from what was written (no read-back).
    out = build_event_out(
        Event(**values),
        EventRefs(
            grid_code=where.code,
            category=category.code,
            lon=where.lon,
            lat=where.lat,
            reporter=StaffRef(id=principal.staff_id, name=first.reporter_name or ""),
        ),
        tz=get_settings().tz,
    )
    return Submitted(out, created=True)


# An earlier report with this client_id, the category, a fresh event id, the reporter's name
# and the grid covering the point: one round trip (psycopg parameters, prepared).
_FIRST = f"""
    SELECT nextval(pg_get_serial_sequence('event', 'id')) AS next_id,
           (SELECT name FROM staff WHERE id = %(sid)s) AS reporter_name,
           e.id AS earlier_id, e.request_hash AS earlier_hash, e.reporter_id AS earlier_reporter,
           c.id AS category_id, c.code, c.name, c.ack_minutes, c.resolve_minutes, c.big,
           c.department, c.active,
           g.grid_id, g.grid_code, g.grid_name, g.community
    FROM (SELECT 1) one
    LEFT JOIN event e ON e.client_id = %(cid)s
    LEFT JOIN category c ON c.code = %(code)s
    LEFT JOIN LATERAL (SELECT * FROM ({COVERING_SQL}) x (grid_id, grid_code, grid_name, community)
    ) g ON true
"""

_STATE_COLUMNS = [n for n in store.STATE_FIELDS if n not in ("event_id", "category", "grid")]
_EVENT_COLUMNS = [
    "id", "client_id", "request_hash", "category_id", "grid_id", "description", "coord",
    "orig_lon", "orig_lat", "accuracy_m", "snapped", "distance_m", "source", "occurred_at",
    "received_at", *_STATE_COLUMNS,
]  # fmt: skip
# The event row and the dispatch engine's request, in one statement. ON CONFLICT makes
# exactly one of concurrent identical submissions insert; the others get no row back.
_INSERT = text(f"""
    WITH e AS (
        INSERT INTO event ({", ".join(_EVENT_COLUMNS)}, community_id, geom)
        SELECT {", ".join(":" + c for c in _EVENT_COLUMNS)}, g.community_id,
               ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)
        FROM grid g WHERE g.id = :grid_id
        ON CONFLICT (client_id) DO NOTHING
        RETURNING id
    ), o AS (
        INSERT INTO outbox (event_id, topic, payload, created_at, available_at, attempts)
        SELECT e.id, :topic, jsonb_build_object('event_id', e.id), :received_at, :received_at, 0
        FROM e
    )
    SELECT id FROM e
""")


@dataclass(frozen=True)
class _Earlier:
    id: int
    request_hash: str
    reporter_id: int | None


def _by_client_id(session: Session, data: EventCreate) -> _Earlier | None:
    row = session.execute(
        text("SELECT id, request_hash, reporter_id FROM event WHERE client_id = :cid"),
        {"cid": data.client_id},
    ).first()
    return None if row is None else _Earlier(int(row[0]), str(row[1]), row[2])


def _replayed(session: Session, principal: Principal, earlier: _Earlier, digest: str) -> EventOut:
    if earlier.reporter_id != principal.staff_id or earlier.request_hash != digest:
        raise Conflict(
            field_error(
                ("body", "client_id"),
                "this client_id was already used for a different report; "
                "generate a new UUID for a new report",
                "idempotency_conflict",
            )
        )
    out = event_out(session, event_id=earlier.id)
    assert out is not None
    session.commit()  # nothing was written; end the transaction, free the connection
    return out


def _active_category(first: Row[Any], code: str) -> Category:
    if first.category_id is None or not first.active:
        state = "is retired" if first.category_id is not None else "does not exist"
        raise Invalid(
            field_error(
                ("body", "category"),
                f"category {code!r} {state}; see GET /api/v1/categories",
                "unknown_category",
            )
        )
    return Category(
        id=first.category_id,
        code=first.code,
        name=first.name,
        ack_minutes=first.ack_minutes,
        resolve_minutes=first.resolve_minutes,
        big=first.big,
        department=first.department,
        active=first.active,
    )


def _check_occurred_at(occurred_at: datetime | None, now: datetime) -> None:
    if occurred_at is None:
        return
    if occurred_at > now + FUTURE_SKEW:
        raise Invalid(
            field_error(
                ("body", "occurred_at"),
                f"occurred_at {occurred_at.isoformat()} is in the future (server time "
                f"{now.isoformat()}; at most {FUTURE_SKEW.seconds // 60} min of clock skew)",
                "in_future",
            )
        )
    if occurred_at < now - MAX_AGE:
        raise Invalid(
            field_error(
                ("body", "occurred_at"),
                f"occurred_at {occurred_at.isoformat()} is more than "
                f"{int(MAX_AGE.total_seconds() // 3600)} h ago; report it to the command centre",
                "too_old",
            )
        )


def _wgs84(data: EventCreate) -> dict[str, float]:
    """The report's point in WGS-84 (the lookup's parameters)."""
    loc = data.location
    try:
        return locate_params(loc.lon, loc.lat, loc.coord)
    except Invalid as exc:
        raise Invalid(_body_loc(exc.detail)) from exc


def _body_loc(detail: Any) -> Any:
    """The grid service names query parameters; here the location is in the body."""
    if isinstance(detail, list):
        return [{**d, "loc": ["body", "location"]} for d in detail]
    return detail


def _locate(session: Session, data: EventCreate) -> Location:
    loc = data.location
    try:
        return locate(
            session=session,
            lon=loc.lon,
            lat=loc.lat,
            coord=loc.coord,
            accuracy_m=loc.accuracy_m or 0.0,
        )
    except Invalid as exc:
        raise Invalid(_body_loc(exc.detail)) from exc


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
            field_error(("query", "cursor"), "not a cursor this service issued", "bad_cursor")
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
            ("query", "scope"),
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
        raise Invalid(field_error(("query", "since"), "since is after until"))
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

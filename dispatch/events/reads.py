"""Reading events as the API shows them: my tasks (scopes, filters, keyset pages), one event,
its history. Only events the caller may see (``dispatch.access``); ``overdue`` is the SLA state
of ``domain.lifecycle`` (``dispatch.sla``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import ColumnElement, Select, Table, and_, func, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Session, col

from dispatch import sla, store
from dispatch.access import check_visible, visible
from dispatch.categories.models import Category
from dispatch.events.models import Event, EventAudit
from dispatch.events.schemas import (
    ActorOut,
    EventOut,
    EventRefs,
    HistoryEntry,
    HistoryOut,
    RequestRecordOut,
    StaffRef,
    build_event_out,
)
from domain.jurisdiction import Principal, Reach, reach_of
from domain.lifecycle import SlaState, Status
from domain.lifecycle.audit import time_in
from domain.lifecycle.model import DECISION_ACTIONS, REQUEST_ACTIONS, TERMINAL_STATUSES
from grids.models import Community, Grid
from kernel.db import BBOX_FILTER, bbox_params
from kernel.errors import Invalid, field_error
from kernel.paging import (
    BBox,
    FeaturePage,
    Page,
    check_window,
    cursor_instant,
    cursor_int,
    decode_cursor,
    encode_cursor,
)
from kernel.settings import get_settings
from staff.jurisdiction import within_sql
from staff.models import Staff

_event = cast(Table, Event.__table__)  # type: ignore[attr-defined]
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
        # rows written by the store's version-checked UPDATE replace what the session holds
        .execution_options(populate_existing=True)
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


def get_visible(
    session: Session, *, principal: Principal, event_id: int, now: datetime
) -> EventOut:
    """One event, or 404 when it does not exist or the caller may not see it; with the time
    it spent parked (挂账), from its audit rows."""
    row = session.execute(_view().where(col(Event.id) == event_id)).first()
    check_visible(principal, row[0] if row else None, event_id)
    assert row is not None
    moves = session.execute(
        select(col(EventAudit.at), col(EventAudit.from_status), col(EventAudit.to_status))
        .where(col(EventAudit.event_id) == event_id)
        .where(
            or_(
                col(EventAudit.from_status) == Status.PARKED,
                col(EventAudit.to_status) == Status.PARKED,
            )
        )
        .order_by(col(EventAudit.version))
    ).all()
    parked = time_in(
        Status.PARKED,
        (
            (at, None if before is None else Status(before), Status(after))
            for at, before, after in moves
        ),
        now,
    )
    return _present(row).model_copy(update={"parked_s": parked.total_seconds()})


@dataclass(frozen=True)
class EventFilter:
    scope: str | None = None  # mine | reported | grid | None (everything visible)
    statuses: tuple[Status, ...] = ()
    overdue: bool | None = None
    grid: str | None = None
    category: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    levels: tuple[int, ...] = ()
    community: str | None = None  # community code
    order: Order | None = None  # None: the default for the filters (``default_order``)
    sla_state: SlaState | None = None  # open events in this SLA state (the board's lists)
    queued: bool | None = None  # waiting in a level's queue: dispatched, nobody holds it
    request: str | None = None  # a pending request of this kind (extension | parking)


def queued_sql(event: Any) -> ColumnElement[bool]:
    """An event waits in its level's queue: dispatched to the level, held by nobody (a claim
    or an acknowledgement takes it out)."""
    return and_(event.c.status == Status.DISPATCHED.value, event.c.assignee_id.is_(None))


class Order(StrEnum):
    """How a list is sorted (ties by id, so pages never skip or repeat a row)."""

    DUE = "due"  # soonest resolution deadline first, none last: a handler's work queue
    NEWEST = "newest"  # newest report first: what I reported / was given lately
    LATE = "late"  # most overdue first: the earliest breached deadline of a running clock


def default_order(filters: EventFilter) -> Order:
    """``overdue=true`` by how late; ``scope=reported|mine`` without a status filter newest
    first (a history, not a queue); otherwise soonest deadline first."""
    if filters.overdue:
        return Order.LATE
    if filters.scope in ("reported", "mine") and not filters.statuses:
        return Order.NEWEST
    return Order.DUE


def _keyset(order: Order, cursor: str | None) -> tuple[list[Any], ColumnElement[bool] | None]:
    """ORDER BY terms for ``order``, and the condition for rows after ``cursor`` (whose first
    part names the order it was issued for)."""
    if order is Order.NEWEST:
        after = None
        if cursor:
            _, last_id = decode_cursor(cursor, _order_part(order), cursor_int)
            after = col(Event.id) < last_id
        return [col(Event.id).desc()], after
    key: Any = col(Event.due_at) if order is Order.DUE else sla.first_breach_at(_event)
    terms = [key.asc().nulls_last(), col(Event.id).asc()]
    if not cursor:
        return terms, None
    _, mark, last_id = decode_cursor(cursor, _order_part(order), cursor_instant, cursor_int)
    if mark is None:
        return terms, and_(key.is_(None), col(Event.id) > last_id)
    return terms, or_(key > mark, and_(key == mark, col(Event.id) > last_id), key.is_(None))


def _order_part(order: Order) -> Callable[[Any], str]:
    def part(value: Any) -> str:
        if value != order.value:
            raise ValueError("a cursor of another order")
        return str(value)

    return part


def _cursor(order: Order, event: Event, mark: datetime | None) -> str:
    if order is Order.NEWEST:
        return encode_cursor([order.value, event.id])
    return encode_cursor([order.value, mark.isoformat() if mark else None, event.id])


def _scope(principal: Principal, scope: str) -> ColumnElement[bool]:
    if scope == "mine":
        return col(Event.assignee_id) == principal.staff_id
    if scope == "reported":
        return col(Event.reporter_id) == principal.staff_id
    # "grid": the caller's own patch: the grid of grid staff, the community of community staff
    if reach_of(principal.role, principal.workplace) not in (Reach.GRID, Reach.COMMUNITY):
        raise Invalid(
            field_error(
                "scope",
                f"scope=grid needs a grid or community; role {principal.role} has neither",
            )
        )
    return within_sql(principal, grid=col(Event.grid_id), community=col(Event.community_id))


def list_events(
    session: Session,
    *,
    principal: Principal,
    filters: EventFilter,
    now: datetime,
    limit: int,
    cursor: str | None,
) -> Page[EventOut]:
    """Visible events, filtered, in ``filters.order`` (by default ``default_order``)."""
    check_window(filters.since, filters.until)
    query = _view().where(visible(principal))
    if filters.scope:
        query = query.where(_scope(principal, filters.scope))
    if filters.statuses:
        query = query.where(col(Event.status).in_([s.value for s in filters.statuses]))
    if filters.overdue is not None:
        late = sla.overdue(_event, now)
        query = query.where(late if filters.overdue else ~late)
    if filters.request is not None:
        query = query.where(col(Event.request_kind) == filters.request)
    if filters.sla_state is not None:
        query = query.where(
            col(Event.status).not_in([s.value for s in TERMINAL_STATUSES]),
            sla.sla_state(_event, now) == filters.sla_state.value,
        )
    if filters.queued is not None:
        waiting = queued_sql(_event)
        query = query.where(waiting if filters.queued else ~waiting)
    if filters.grid:
        query = query.where(col(Grid.code) == filters.grid)
    if filters.category:
        query = query.where(col(Category.code) == filters.category)
    if filters.levels:
        query = query.where(col(Event.level).in_(filters.levels))
    if filters.community:
        community = select(col(Community.id)).where(col(Community.code) == filters.community)
        query = query.where(col(Event.community_id) == community.scalar_subquery())
    if filters.since:
        query = query.where(col(Event.created_at) >= filters.since)
    if filters.until:
        query = query.where(col(Event.created_at) < filters.until)
    order = filters.order or default_order(filters)
    terms, after = _keyset(order, cursor)
    if after is not None:
        query = query.where(after)
    mark = sla.first_breach_at(_event) if order is Order.LATE else col(Event.due_at)
    query = query.add_columns(mark).order_by(*terms).limit(limit + 1)
    rows = session.execute(query).all()
    items = [_present(r[:-1]) for r in rows[:limit]]  # the last column is the sort mark
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = _cursor(order, last[0], last[-1])
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
                clock=r.data.get("clock"),
                percent=r.data.get("percent"),
                clock_due_at=_instant(r.data.get("clock_due_at"), tz),
                promised_at=_instant(r.data.get("promised_at"), tz),
                request=_request_record(r, tz),
            )
            for r in rows
        ],
    )


def _request_record(row: EventAudit, tz: tzinfo) -> RequestRecordOut | None:
    """A request row's ask, or a decision row's record of the request it decided."""
    if row.action in REQUEST_ACTIONS:  # StrEnum members: a row's text compares equal
        return RequestRecordOut(
            requested_by=row.actor,
            reason=row.note,
            deadline=_instant(row.data.get("request_deadline"), tz),
        )
    if row.action in DECISION_ACTIONS:
        return RequestRecordOut(
            requested_by=row.data.get("asked_by"),
            reason=row.data.get("asked_reason"),
            deadline=_instant(row.data.get("asked_until"), tz),
            previous_due_at=_instant(row.data.get("previous_due_at"), tz),
        )
    return None


def open_event_features(
    session: Session,
    *,
    principal: Principal,
    now: datetime,
    bbox: BBox | None,
    limit: int,
    offset: int,
    event_id: int | None = None,
) -> FeaturePage:
    """Open events the caller may see, as GeoJSON point features (``id``: the event id) with
    their SLA state at ``now``, inside ``bbox`` (or just ``event_id``), by id."""
    e = _event
    tz = get_settings().timezone
    feature = func.jsonb_build_object(
        "type", "Feature",
        "id", e.c.id,
        "geometry", func.cast(func.ST_AsGeoJSON(e.c.geom, 7), JSONB),
        "properties", func.jsonb_build_object(
            "id", e.c.id,
            "status", e.c.status,
            "level", e.c.level,
            "category", col(Category.code),
            "grid_code", col(Grid.code),
            "sla", sla.sla_state(e, now),
            "created_at", func.to_char(func.timezone(tz, e.c.created_at), _ISO_LOCAL),
            "due_at", func.to_char(func.timezone(tz, e.c.due_at), _ISO_LOCAL),
        ),
    )  # fmt: skip
    matching = (
        select(e.c.id.label("key"), feature.label("feature"))
        .select_from(
            e.join(Grid, col(Grid.id) == e.c.grid_id).join(
                Category, col(Category.id) == e.c.category_id
            )
        )
        .where(
            visible(principal),
            e.c.status.not_in([s.value for s in TERMINAL_STATUSES]),
            text(BBOX_FILTER.format(geom="event.geom")),
            *(() if event_id is None else (e.c.id == event_id,)),
        )
        .params(**bbox_params(bbox))
        .subquery()
    )
    total = session.execute(select(func.count()).select_from(matching)).scalar_one()
    rows = session.execute(
        select(matching.c.feature).order_by(matching.c.key).limit(limit).offset(offset)
    ).scalars()
    return FeaturePage(list(rows), int(total))


#: ISO 8601 with the offset of the service's zone, as PostgreSQL writes it.
_ISO_LOCAL = 'YYYY-MM-DD"T"HH24:MI:SSOF'


def _instant(value: str | None, tz: tzinfo) -> datetime | None:
    """An ISO 8601 instant of an audit row's data, in ``tz``."""
    return None if value is None else datetime.fromisoformat(value).astimezone(tz)

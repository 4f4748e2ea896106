"""A report from the phone, in one statement: the idempotent intake of events.

A report is one statement on the async pool (``dispatch.store.open_event``): the event row
(state columns from the dispatch core's ``open_event``), its audit row and outbox rows, and an
outbox row asking the dispatch engine to assign it. Idempotency rests on the unique
``client_id``: ``INSERT ... ON CONFLICT (client_id) DO NOTHING`` lets exactly one of any number
of concurrent identical submissions create the event; the others read it back.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
import psycopg
from psycopg_pool import AsyncConnectionPool
from sqlmodel import Session, col, select

from dispatch import metrics, store
from dispatch.access import place_of
from dispatch.categories.models import Category
from dispatch.categories.service import Catalogue
from dispatch.events.models import Event
from dispatch.events.reads import event_out
from dispatch.events.schemas import (
    DuplicateCandidate,
    EventCreate,
    EventOut,
    EventRefs,
    StaffRef,
    build_event_out,
)
from dispatch.lifecycle.merging import link, linkable
from dispatch.outbox import DISPATCH
from dispatch.public import duplicates
from dispatch.public.reads import candidates_of
from domain.jurisdiction import Principal, can_see
from domain.lifecycle import Action, Command, SlaPolicy, apply, open_event
from grids.index import GridIndex
from grids.lookup import Location, locate
from kernel.errors import Conflict, Forbidden, Invalid, Unavailable, field_error
from kernel.reference import ReferenceCache
from kernel.settings import get_settings
from kernel.uow import UnitOfWork

#: A device clock may run this far ahead of the server's.
FUTURE_SKEW = timedelta(minutes=5)
#: Reports of things seen longer ago than this are refused (they belong to another channel).
MAX_AGE = timedelta(hours=72)


@dataclass(frozen=True)
class Submitted:
    event: EventOut
    created: bool


#: Attempts when the reference data changed under a report (a map load, a category edit).
_ATTEMPTS = 3


async def submit(
    *,
    pool: AsyncConnectionPool,
    sessions: Callable[[], AbstractContextManager[Session]],
    grid_map: ReferenceCache[GridIndex],
    categories: ReferenceCache[Catalogue],
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
        known = cats.value.categories.get(data.category)
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
            return await _replayed(sessions, principal, earlier, digest, now)
        policy = store.policy_for(category, cats.value.calendars)
        if data.duplicate_of is not None:  # linked at once: not the hot path
            linked = partial(
                _linked, sessions, principal, data, digest, category, policy, where, now
            )
            return await anyio.to_thread.run_sync(linked)
        async with pool.connection() as conn:
            decision = open_event(
                event_id=store.DRAWN_ID,
                policy=policy,
                now=now,
                reporter_id=str(principal.staff_id),
                trusted=True,
                grid=where.code,
            )
            report = _report_row(data, digest, category, where, now)
            assert category.id is not None
            sql, params = store.open_event(
                decision,
                report,
                lon=where.lon,
                lat=where.lat,
                versions=(maps.version, cats.version),
                outbox=[(DISPATCH, {"event_id": 0})],  # the drawn id, written by the statement
                read_along=duplicates.query(
                    category_id=category.id, lon=where.lon, lat=where.lat, now=now
                ),
            )
            try:
                cursor = await conn.execute(sql, params)
            except psycopg.errors.ForeignKeyViolation as exc:
                _removed_meanwhile(exc, grid_map, categories)
                continue
            answer = await cursor.fetchone() or (None, False, None, [])
            inserted, current, reporter_name, near = answer
        if inserted is not None:
            metrics.observe_report(decision, category=category.code, source=report["source"])
            found = duplicates.from_json(near)
            row = {"id": inserted, **report, **store.state_columns(decision.state)}
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
            out.duplicate_candidates = [
                DuplicateCandidate(
                    event_id=c.event_id,
                    status=c.status,
                    created_at=c.created_at.astimezone(get_settings().tz),
                    distance_m=c.distance_m,
                )
                for c in found
            ]
            return Submitted(out, created=True)
        earlier = None if not current else await _by_client_id(pool, data.client_id)
        if earlier is None:  # stale copies (or the grid vanished with them): decide again
            grid_map.invalidate()
            categories.invalidate()
            continue
        # client_id is taken: an earlier report, or a concurrent identical one that won
        return await _replayed(sessions, principal, earlier, digest, now)
    raise Unavailable("the grid map or the categories keep changing; retry the report")


def _report_row(
    data: EventCreate, digest: str, category: Category, where: Location, now: datetime
) -> dict[str, Any]:
    """The report columns of a staff report (``dispatch.store.REPORT_COLUMNS``)."""
    loc = data.location
    return {
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


def _linked(
    sessions: Callable[[], AbstractContextManager[Session]],
    principal: Principal,
    data: EventCreate,
    digest: str,
    category: Category,
    policy: SlaPolicy,
    where: Location,
    now: datetime,
) -> Submitted:
    """A staff report linked at once to an open event it duplicates (one the reporter may
    see): opened and merged into it in one transaction, never dispatched; a dispatcher can
    unmerge it. The same ``client_id`` again answers the event made the first time."""
    with sessions() as session:
        uow = UnitOfWork(session)
        earlier = session.exec(select(Event).where(col(Event.client_id) == data.client_id)).first()
        if earlier is not None:
            assert earlier.id is not None
            _same_report(principal, earlier.reporter_id, earlier.request_hash, digest)
            out = event_out(session, event_id=earlier.id)
            assert out is not None
            return Submitted(out, created=False)
        target = data.duplicate_of
        assert target is not None
        original = session.get(Event, target)
        if original is None or not can_see(
            principal, place_of(original), (original.assignee_id, original.reporter_id)
        ):
            raise Invalid(field_error("duplicate_of", f"no open event {target} you may see"))
        event_id = store.next_event_id(session)
        linkable(session, target, event_id, "duplicate_of")
        opened = open_event(
            event_id=str(event_id),
            policy=policy,
            now=now,
            reporter_id=str(principal.staff_id),
            trusted=True,
            grid=where.code,
        )
        store.insert_event(
            session,
            opened,
            _report_row(data, digest, category, where, now),
            lon=where.lon,
            lat=where.lat,
        )
        merged = apply(
            opened.state,
            Command(
                action=Action.MERGE, actor=str(principal.staff_id), note=f"上报时并入事件 {target}"
            ),
            now=now,
            policy=policy,
        )
        store.record(session, merged, previous_version=opened.state.version)
        link(session, event_id, target)
        uow.commit()
        out = event_out(session, event_id=event_id)
        assert out is not None
        return Submitted(out, created=True)


def _same_report(
    principal: Principal, reporter_id: int | None, request_hash: str, digest: str
) -> None:
    """A ``client_id`` used before: the same report again, or a 409."""
    if reporter_id != principal.staff_id or request_hash != digest:
        raise Conflict(
            field_error(
                "client_id",
                "this client_id was already used for a different report; "
                "generate a new UUID for a new report",
                "idempotency_conflict",
            )
        )


def _removed_meanwhile(
    exc: psycopg.errors.ForeignKeyViolation,
    grid_map: ReferenceCache[GridIndex],
    categories: ReferenceCache[Catalogue],
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
    sessions: Callable[[], AbstractContextManager[Session]],
    principal: Principal,
    earlier: _Earlier,
    digest: str,
    now: datetime,
) -> Submitted:
    _same_report(principal, earlier.reporter_id, earlier.request_hash, digest)

    def answer() -> EventOut:
        """The event as the first answer showed it, its candidates as they are now."""
        with sessions() as session:
            out = event_out(session, event_id=earlier.id)
            event = session.get(Event, earlier.id)
            assert out is not None and event is not None
            out.duplicate_candidates = candidates_of(session, event, now=now)
            return out

    return Submitted(await anyio.to_thread.run_sync(answer), created=False)


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

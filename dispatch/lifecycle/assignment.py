"""Candidates for an assignment and the choice among them.

The pool at a level is the staff who serve it where the event is (``serving_sql``, compiled
from ``domain.jurisdiction``), each with their open work and last assignment; the choice itself
is ``domain.lifecycle.choose_assignee``. A pool is locked while it is counted and assigned from
(``lock_pools``), so concurrent writers never exceed the load cap together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import cast

from sqlalchemy import Table, func, select, true
from sqlmodel import Session

from dispatch.events.models import Event
from dispatch.lifecycle.loading import Loaded
from domain.jurisdiction import REACH, Place, scope_of
from domain.lifecycle import Assignment, Candidate, choose_assignee
from domain.lifecycle.assignment import target_place
from domain.lifecycle.model import OPEN_WORK_STATUSES
from domain.roles import LEVEL_ROLES, SHARED_QUEUE_LEVELS, Role, start_level
from kernel.db import xact_lock
from kernel.settings import get_settings
from staff.jurisdiction import serving_sql
from staff.models import Staff

_staff = cast(Table, Staff.__table__)  # type: ignore[attr-defined]
_event = cast(Table, Event.__table__)  # type: ignore[attr-defined]

#: Candidates already read in one batch, by the pool they came from; choosing someone counts
#: the new assignment on them, so a batch balances load as single calls would.
CandidateCache = dict[tuple[int, object], list[Candidate]]


def candidates(session: Session, place: Place, level: int) -> list[Candidate]:
    """The staff who serve ``level`` at ``place``, with their open work and last assignment
    (the inputs of ``choose_assignee``)."""
    s = _staff.alias("s")
    work = (
        select(
            func.count()
            .filter(_event.c.status.in_([v.value for v in OPEN_WORK_STATUSES]))
            .label("open_count"),
            func.max(_event.c.dispatched_at).label("last_assigned_at"),
        )
        .where(_event.c.assignee_id == s.c.id)
        .lateral("w")
    )
    rows = session.execute(
        select(
            s.c.id,
            s.c.role,
            s.c.on_duty,
            s.c.grid_id,
            s.c.community_id,
            s.c.department,
            func.coalesce(work.c.open_count, 0),
            work.c.last_assigned_at,
        )
        .select_from(s.outerjoin(work, true()))
        .where(
            serving_sql(
                level,
                place,
                role=s.c.role,
                grid=s.c.grid_id,
                community=s.c.community_id,
                department=s.c.department,
            )
        )
    ).all()
    return [
        Candidate(
            id=str(staff_id),
            role=Role(role),
            on_duty=bool(on_duty),
            open_count=int(open_count),
            last_assigned_at=last,
            workplace=Place(grid_id, community_id, department),
        )
        for staff_id, role, on_duty, grid_id, community_id, department, open_count, last in rows
    ]


def _pool_key(place: Place, level: int) -> tuple[int, object]:
    """Events whose places share this key draw on the same pool at ``level``."""
    return level, tuple(scope_of(REACH[role], place) for role in LEVEL_ROLES[level])


def pool_of(loaded: Loaded, level: int | None) -> tuple[int, object]:
    """The pool that ``choose`` draws on for ``loaded`` at ``level`` (None: its start)."""
    target = level if level is not None else start_level(loaded.category.big)
    return _pool_key(target_place(loaded.place, target, loaded.policy.category), target)


def lock_pools(session: Session, keys: Iterable[tuple[int, object]]) -> None:
    """Hold the pools' locks until the transaction ends (PostgreSQL advisory locks, taken in
    one order so that two batches cannot deadlock): while one writer counts a pool's open work
    and assigns from it, no other writer counts the same pool, so the load cap is exact across
    workers. Taking a lock the transaction already holds returns at once. A shared queue's
    level names nobody, so its pool needs no lock."""
    for key in sorted({repr(k) for k in keys if k[0] not in SHARED_QUEUE_LEVELS}):
        xact_lock(session, f"pool:{key}")


def choose(
    session: Session,
    loaded: Loaded,
    *,
    level: int | None,
    now: datetime,
    cache: CandidateCache | None = None,
) -> Assignment:
    """Who takes the event at ``level`` (None: its starting level), or that level's queue."""
    target = level if level is not None else start_level(loaded.category.big)
    place = target_place(loaded.place, target, loaded.policy.category)
    key = _pool_key(place, target)
    pool = cache.get(key) if cache is not None else None
    if pool is None and target in SHARED_QUEUE_LEVELS:
        pool = []  # nobody is chosen for a shared queue: no need to read the staff
    if pool is None:
        lock_pools(session, [key])
        pool = candidates(session, place, target)
        if cache is not None:
            cache[key] = pool
    assignment = choose_assignee(
        pool,
        category=loaded.policy.category,
        place=loaded.place,
        load_cap=get_settings().assignment_load_cap,
        now=now,
        level=target,
    )
    if cache is not None and assignment.assignee_id is not None:
        cache[key] = [
            replace(c, open_count=c.open_count + 1, last_assigned_at=now)
            if c.id == assignment.assignee_id
            else c
            for c in pool
        ]
    return assignment

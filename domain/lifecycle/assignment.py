"""The assignment choice: who handles an event at a level (pure; the service loads candidates).

Rules, level by level:

Who may be chosen at a level is who *serves* it where the event is (``domain.jurisdiction``):
the grid's members and head at level 0, the community's staff at level 1, the command centre at
level 2, the category's department at level 3. Among them:

- level 0 (grid): the members who are on duty and under the load cap; least open work first,
  then longest idle (never assigned counts as idle the longest), then lowest id. When no member
  qualifies, the head if on duty (the head is the fallback, so the cap does not apply to them).
- level 2 (the command centre): nobody is chosen. The event waits in the centre's shared
  queue (``SHARED_QUEUE_LEVELS``) until a dispatcher claims it; big categories start there.
- levels 1 and 3: the same ordering over everyone who serves the level.

Nobody qualifying is not an error: the result is the level's queue (``assignee_id`` None), which
the people holding that level's role see and claim by acknowledging.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from domain.jurisdiction import Place, serves
from domain.lifecycle.model import (
    Assignment,
    Category,
    ensure_utc,
)
from domain.roles import (
    DEPARTMENT_LEVEL,
    GRID_LEVEL,
    MAX_LEVEL,
    MIN_LEVEL,
    SHARED_QUEUE_LEVELS,
    Role,
    start_level,
)


@dataclass(frozen=True)
class Candidate:
    """A person who could take an event, as the service reads them from the database."""

    id: str
    role: Role
    on_duty: bool = True
    open_count: int = 0
    last_assigned_at: datetime | None = None
    workplace: Place = Place(None, None)


def _idle_rank(candidate: Candidate, now: datetime) -> tuple[int, datetime]:
    """Sorts the longest idle first: never assigned, then the earliest last assignment (a time
    in the future, from a skewed clock, counts as ``now``: idle zero)."""
    if candidate.last_assigned_at is None:
        return (0, now)
    last = ensure_utc(candidate.last_assigned_at, f"last_assigned_at of {candidate.id}")
    return (1, min(last, now))


def _best(pool: Iterable[Candidate], *, load_cap: int | None, now: datetime) -> Candidate | None:
    """Least open work, then longest idle, then lowest id, among on-duty people under the cap."""
    eligible = [c for c in pool if c.on_duty and (load_cap is None or c.open_count < load_cap)]
    if not eligible:
        return None
    return min(eligible, key=lambda c: (c.open_count, _idle_rank(c, now), c.id))


def target_place(place: Place, level: int, category: Category) -> Place:
    """Where an event of ``category`` at ``place`` is handled at ``level``: at the department
    level it is routed to the category's department."""
    if level == DEPARTMENT_LEVEL:
        return replace(place, department=category.department)
    return place


def choose_assignee(
    candidates: Iterable[Candidate],
    *,
    category: Category,
    place: Place,
    load_cap: int | None,
    now: datetime,
    level: int | None = None,
) -> Assignment:
    """Choose who handles an event of ``category`` at ``place`` (its grid and community) at
    ``level``: among the candidates who serve that level there (``domain.jurisdiction``).

    ``level`` None means the event's starting level (0, or 2 for a big category); pass the target
    level when escalating. ``load_cap`` None means no cap. Returns the level's queue when nobody
    qualifies.
    """
    now = ensure_utc(now, "now")
    if level is None:
        level = start_level(category.big)
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValueError(f"level must be in {MIN_LEVEL}..{MAX_LEVEL}, got {level}")
    where = target_place(place, level, category)
    if level in SHARED_QUEUE_LEVELS:
        return Assignment(level=level, department=where.department, reason="shared_queue")
    able = [c for c in candidates if serves(c.role, c.workplace, level, where)]
    if level == GRID_LEVEL:
        member = _best([c for c in able if c.role is Role.MEMBER], load_cap=load_cap, now=now)
        if member is not None:
            return _chosen(member, level, "least_loaded_member")
        head = _best([c for c in able if c.role is Role.HEAD], load_cap=None, now=now)
        if head is not None:
            return _chosen(head, level, "head_fallback")
        return Assignment(level=level, reason="queue")
    best = _best(able, load_cap=load_cap, now=now)
    if best is not None:
        return _chosen(best, level, "least_loaded")
    return Assignment(level=level, department=where.department, reason="queue")


def _chosen(candidate: Candidate, level: int, reason: str) -> Assignment:
    return Assignment(
        level=level,
        assignee_id=candidate.id,
        role=candidate.role,
        department=candidate.workplace.department if level == DEPARTMENT_LEVEL else None,
        reason=reason,
    )

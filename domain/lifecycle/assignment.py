"""The assignment choice: who handles an event at a level (pure; the service loads candidates).

Rules, level by level:

- level 0 (grid): the grid's members who are on duty and under the load cap; least open work
  first, then longest idle (never assigned counts as idle the longest), then lowest id. When no
  member qualifies, the grid's head if on duty (the head is the fallback, so the cap does not
  apply to them).
- level 1 (community): community staff of the grid's community, same ordering.
- level 2 (command centre): dispatchers, same ordering. Big categories start here.
- level 3 (department): staff of the category's department, same ordering.

Nobody qualifying is not an error: the result is the level's queue (``assignee_id`` None), which
the people holding that level's role see and claim by acknowledging.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.lifecycle.model import (
    MAX_LEVEL,
    MIN_LEVEL,
    Assignment,
    Category,
    Role,
    ensure_utc,
)


@dataclass(frozen=True)
class Candidate:
    """A person who could take an event, as the service reads them from the database."""

    id: str
    role: Role
    on_duty: bool = True
    open_count: int = 0
    last_assigned_at: datetime | None = None
    grid: str | None = None
    community: str | None = None
    department: str | None = None


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


def _chosen(candidate: Candidate, level: int, reason: str) -> Assignment:
    return Assignment(
        level=level,
        assignee_id=candidate.id,
        role=candidate.role,
        department=candidate.department if level == MAX_LEVEL else None,
        reason=reason,
    )


def choose_assignee(
    candidates: Iterable[Candidate],
    *,
    category: Category,
    grid: str | None,
    load_cap: int | None,
    now: datetime,
    level: int | None = None,
    community: str | None = None,
) -> Assignment:
    """Choose who handles an event of ``category`` in ``grid`` at ``level``.

    ``level`` None means the event's starting level (0, or 2 for a big category); pass the target
    level when escalating. ``community`` narrows level-1 staff to the grid's community (None: any).
    ``load_cap`` None means no cap. Returns the level's queue when nobody qualifies.
    """
    now = ensure_utc(now, "now")
    if level is None:
        level = 2 if category.big else 0
    if not MIN_LEVEL <= level <= MAX_LEVEL:
        raise ValueError(f"level must be in {MIN_LEVEL}..{MAX_LEVEL}, got {level}")
    people = list(candidates)

    if level == 0:
        members = [c for c in people if c.role is Role.MEMBER and c.grid == grid]
        member = _best(members, load_cap=load_cap, now=now)
        if member is not None:
            return _chosen(member, 0, "least_loaded_member")
        heads = [c for c in people if c.role is Role.HEAD and c.grid == grid]
        head = _best(heads, load_cap=None, now=now)
        if head is not None:
            return _chosen(head, 0, "head_fallback")
        return Assignment(level=0, reason="queue")

    if level == 1:
        pool = [
            c for c in people
            if c.role is Role.COMMUNITY and (community is None or c.community == community)
        ]  # fmt: skip
    elif level == 2:
        pool = [c for c in people if c.role is Role.DISPATCHER]
    else:
        pool = [
            c for c in people
            if c.role is Role.DEPARTMENT and category.department is not None
            and c.department == category.department
        ]  # fmt: skip
    best = _best(pool, load_cap=load_cap, now=now)
    if best is not None:
        return _chosen(best, level, "least_loaded")
    department = category.department if level == MAX_LEVEL else None
    return Assignment(level=level, department=department, reason="queue")

"""Jurisdiction: who works where, and so who may see and act on what. The one definition; the
SQL filters of the lists (``staff.jurisdiction``) are compiled from ``REACH`` and tested
against ``within``.

- A person's *reach* follows their role: grid staff (member, head) their grid, community
  staff their community, department staff what is routed to their department, the command
  centre, evaluators and administrators everything.
- A person sees an event within their reach, and any event they reported or hold.
- A person *serves* a level in a place (may be chosen for it, may claim it from the level's
  queue) when their role works at that level and the place is within their reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from domain.roles import ROLE_LEVEL, Role


class Reach(StrEnum):
    EVERYWHERE = "everywhere"
    GRID = "grid"
    COMMUNITY = "community"
    DEPARTMENT = "department"
    NOWHERE = "nowhere"


REACH: Mapping[Role, Reach] = {
    Role.MEMBER: Reach.GRID,
    Role.HEAD: Reach.GRID,
    Role.COMMUNITY: Reach.COMMUNITY,
    Role.DEPARTMENT: Reach.DEPARTMENT,
    Role.DISPATCHER: Reach.EVERYWHERE,
    Role.EVALUATOR: Reach.EVERYWHERE,
    Role.ADMIN: Reach.EVERYWHERE,
}


@dataclass(frozen=True)
class Place:
    """Where something is: its grid and community, and the department it is routed to (None:
    routed to no department)."""

    grid_id: int | str | None
    community_id: int | str | None
    department: str | None = None


@dataclass(frozen=True)
class Principal:
    """Who is calling: what the access token says, enough for every role and object check."""

    user_id: int
    staff_id: int
    username: str
    role: Role
    grid_id: int | None
    community_id: int | None
    department: str | None

    @property
    def workplace(self) -> Place:
        return Place(self.grid_id, self.community_id, self.department)


def reach_of(role: Role, workplace: Place) -> Reach:
    """A person's reach; a role without the workplace it needs (grid staff without a grid)
    reaches nowhere."""
    reach = REACH[role]
    needs = {
        Reach.GRID: workplace.grid_id,
        Reach.COMMUNITY: workplace.community_id,
        Reach.DEPARTMENT: workplace.department,
    }
    if reach in needs and needs[reach] in (None, ""):
        return Reach.NOWHERE
    return reach


def covers(reach: Reach, workplace: Place, place: Place) -> bool:
    """Whether ``place`` lies within ``reach`` from ``workplace``."""
    if reach is Reach.EVERYWHERE:
        return True
    if reach is Reach.GRID:
        return place.grid_id is not None and place.grid_id == workplace.grid_id
    if reach is Reach.COMMUNITY:
        return place.community_id is not None and place.community_id == workplace.community_id
    if reach is Reach.DEPARTMENT:
        return place.department is not None and place.department == workplace.department
    return False


def scope_of(reach: Reach, place: Place) -> object:
    """The part of a place a reach looks at: everyone with that reach who covers the place
    covers every place with the same scope (candidate pools are shared by it)."""
    if reach is Reach.GRID:
        return place.grid_id
    if reach is Reach.COMMUNITY:
        return place.community_id
    if reach is Reach.DEPARTMENT:
        return place.department
    return None


def within(principal: Principal, place: Place) -> bool:
    """Whether ``place`` is in the principal's jurisdiction."""
    return covers(reach_of(principal.role, principal.workplace), principal.workplace, place)


def can_see(principal: Principal, place: Place, involved: Iterable[int | None]) -> bool:
    """An event at ``place`` is visible within the principal's reach, and to the people
    ``involved`` in it (its reporter and its holder)."""
    return within(principal, place) or principal.staff_id in set(involved)


def serves(role: Role, workplace: Place, level: int, place: Place) -> bool:
    """Whether a person (their role and workplace) handles events at ``level`` in ``place``."""
    return ROLE_LEVEL.get(role) == level and covers(reach_of(role, workplace), workplace, place)


def heads_grid_of(principal: Principal, place: Place) -> bool:
    """The grid head (网格长) of the place's grid."""
    return principal.role is Role.HEAD and within(principal, place)

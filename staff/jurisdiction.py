"""Jurisdiction as SQL: the WHERE clauses of lists and candidate pools, compiled from the rules
of ``domain.jurisdiction`` (a property test checks that SQL and Python agree).

Columns are passed in, so the same rule filters events, patrols, grids and staff.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, true

from domain.jurisdiction import REACH, Place, Principal, Reach, reach_of
from domain.roles import LEVEL_ROLES

#: A column (or column attribute) or an SQL expression; a plain Python value where noted.
Column = Any


def covers_sql(
    reach: Reach,
    *,
    grid: Column,
    community: Column,
    department: Column,
    workplace_grid: Column,
    workplace_community: Column,
    workplace_department: Column,
) -> ColumnElement[bool]:
    """``domain.jurisdiction.covers`` in SQL: either side may be columns or values (a NULL on
    either side never matches, as None never does in Python)."""
    if reach is Reach.EVERYWHERE:
        return true()
    if reach is Reach.GRID:
        return _equal(grid, workplace_grid)
    if reach is Reach.COMMUNITY:
        return _equal(community, workplace_community)
    if reach is Reach.DEPARTMENT and department is not None:
        return _equal(department, workplace_department)
    return false()


def _is_sql(value: object) -> bool:
    return isinstance(value, ColumnElement) or hasattr(value, "__clause_element__")


def _equal(left: Column, right: Column) -> ColumnElement[bool]:
    if not _is_sql(left):
        left, right = right, left
    if not _is_sql(left):  # two plain values
        return true() if left is not None and left == right else false()
    if right is None:
        return false()
    equal: ColumnElement[bool] = left == right
    return equal


def within_sql(
    principal: Principal, *, grid: Column, community: Column, department: Column | None = None
) -> ColumnElement[bool]:
    """Rows whose place (these columns) is in the principal's jurisdiction."""
    workplace = principal.workplace
    return covers_sql(
        reach_of(principal.role, workplace),
        grid=grid,
        community=community,
        department=department,
        workplace_grid=workplace.grid_id,
        workplace_community=workplace.community_id,
        workplace_department=workplace.department,
    )


def visible_sql(
    principal: Principal,
    *,
    grid: Column,
    community: Column,
    department: Column | None = None,
    involved: Sequence[Column] = (),
) -> ColumnElement[bool]:
    """``domain.jurisdiction.can_see``: within the jurisdiction, or involved (reported, held)."""
    return or_(
        within_sql(principal, grid=grid, community=community, department=department),
        *(column == principal.staff_id for column in involved),
    )


def serving_sql(
    level: int,
    place: Place,
    *,
    role: Column,
    grid: Column,
    community: Column,
    department: Column,
) -> ColumnElement[bool]:
    """Staff (these columns: role and workplace) who serve ``level`` at ``place``
    (``domain.jurisdiction.serves``)."""
    return or_(
        *(
            and_(
                role == r.value,
                covers_sql(
                    REACH[r],
                    grid=place.grid_id,
                    community=place.community_id,
                    department=place.department,
                    workplace_grid=grid,
                    workplace_community=community,
                    workplace_department=department,
                ),
            )
            for r in LEVEL_ROLES[level]
        )
    )

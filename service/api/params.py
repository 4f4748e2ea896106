"""Parameters many routes share, declared once: ids in paths, page limits and cursors (their
bounds come from ``kernel.paging``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field, StringConstraints

from domain.codes import COMMUNITY_CODE_LENGTH, GRID_CODE_LENGTH
from domain.roles import MAX_LEVEL, MIN_LEVEL
from kernel.paging import MAX_BIGINT, MAX_LIMIT

#: The largest value of a PostgreSQL integer (int4) column.
MAX_INT = 2**31 - 1

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page")
]

EventId = Annotated[int, Path(ge=1, le=MAX_BIGINT, description="event id")]
PhotoId = Annotated[int, Path(ge=1, le=MAX_INT, description="photo id")]
PatrolId = Annotated[int, Path(ge=1, le=MAX_INT, description="patrol id")]
GridCode = Annotated[str, StringConstraints(pattern=rf"^\d{{{GRID_CODE_LENGTH}}}$")]
CommunityCode = Annotated[str, StringConstraints(pattern=rf"^\d{{{COMMUNITY_CODE_LENGTH}}}$")]
#: Levels as a repeatable query parameter (0 grid, 1 community, 2 command centre, 3 department).
Levels = Annotated[
    list[Annotated[int, Field(ge=MIN_LEVEL, le=MAX_LEVEL)]] | None,
    Query(description="repeatable: 0 grid, 1 community, 2 command centre, 3 department"),
]

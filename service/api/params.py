"""Query parameters many routes share, declared once: page limits and cursors (their bounds
come from ``kernel.paging``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from kernel.paging import MAX_LIMIT, MAX_ROWS_LIMIT

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="items per page")]
RowLimit = Annotated[int, Query(ge=1, le=MAX_ROWS_LIMIT, description="rows per page")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page")
]

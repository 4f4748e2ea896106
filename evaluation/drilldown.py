"""What stands behind a figure: the events of an indicator's numerator (or its grid-days or
grids), and the event list of a window, in keyset pages by id."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.indicators import INDICATOR_BY_CODE, Indicator, Source
from evaluation.indicators import STAFFED_SQL
from evaluation.models import COUNTER_COLUMNS
from evaluation.scope import Scope, bounds
from kernel.errors import NotFound, TooLarge
from kernel.paging import (
    DEFAULT_LIMIT,
    Page,
    cursor_date,
    cursor_int,
    cursor_text,
    decode_cursor,
    encode_cursor,
)
from kernel.settings import get_settings

#: Rows an export may hold.
EXPORT_MAX_ROWS = 200_000


#: Per-event SQL of each counter (the definitions of migration 0005; ``fd.at`` is the time of
#: the event's first dispatch, joined only when asked for).
_COUNTER_SQL: Mapping[str, str] = {
    **{
        name: f"(stats_counts(e, cat.resolve_minutes)).{name}"
        for name in COUNTER_COLUMNS
        if name != "dispatched_on_time"
    },
    "dispatched_on_time": "stats_dispatch_on_time(e, fd.at, stats_dispatch_limit())",
}
_FIRST_DISPATCH_JOIN = """
  LEFT JOIN LATERAL (SELECT a.at FROM event_audit a
                      WHERE a.event_id = e.id AND a.action = 'dispatch'
                        AND a.from_status = 'registered'
                      ORDER BY a.version LIMIT 1) fd ON true
"""

EVENT_COLUMNS: tuple[str, ...] = (
    "id", "client_id", "grid_code", "grid_name", "community", "category", "category_name",
    "status", "level", "source", "reporter_id", "assignee_id", "assignee_role", "department",
    "created_at", "dispatched_at", "acknowledged_at", "resolved_at", "closed_at", "voided_at",
    "due_at", "resolution_minutes", "closed_on_time", "rework_count", "redispatch_count",
    "escalation_count",
)  # fmt: skip

_EVENT_SELECT = """
SELECT e.id, e.client_id, g.code, g.name, cm.name, cat.code, cat.name, e.status, e.level,
       e.source, e.reporter_id, e.assignee_id, e.assignee_role, e.department, e.created_at,
       e.dispatched_at, e.acknowledged_at, e.resolved_at, e.closed_at, e.voided_at, e.due_at,
       CASE WHEN e.status = 'closed' THEN stats_minutes(e.created_at, e.closed_at) END,
       CASE WHEN e.status = 'closed' THEN stats_on_time(e, cat.resolve_minutes) END,
       e.rework_count, e.redispatch_count, e.escalation_count
  FROM event e
  JOIN grid g ON g.id = e.grid_id
  JOIN community cm ON cm.id = g.community_id
  JOIN category cat ON cat.id = e.category_id
"""


def _local(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(get_settings().tz).isoformat()
    return value


def _event_dict(row: Sequence[Any]) -> dict[str, Any]:
    out = {name: _local(value) for name, value in zip(EVENT_COLUMNS, row, strict=True)}
    out["client_id"] = str(out["client_id"])
    return out


@dataclass(frozen=True)
class Table(Page[dict[str, Any]]):
    """A page of rows with the names of their columns (what the exports write)."""

    columns: tuple[str, ...] = ()


def _size(limit: int, export: bool) -> int:
    """An export holds every row (up to ``EXPORT_MAX_ROWS``); a page ``limit`` of them."""
    return EXPORT_MAX_ROWS if export else limit


def _event_page(
    session: Session,
    *,
    where: str,
    params: dict[str, Any],
    cursor: str | None,
    limit: int,
    export: bool,
    first_dispatch: bool = False,
) -> Table:
    after = None if cursor is None else decode_cursor(cursor, cursor_int)
    rows = session.execute(
        text(f"""
        {_EVENT_SELECT}
        {_FIRST_DISPATCH_JOIN if first_dispatch else ""}
         WHERE {where} AND (CAST(:after AS bigint) IS NULL OR e.id > :after)
         ORDER BY e.id LIMIT :limit
        """),
        {**params, "after": after, "limit": limit + 1},
    ).all()
    if export and len(rows) > limit:
        raise TooLarge(f"more than {limit} rows: narrow the window or the filters")
    more = len(rows) > limit
    items = [_event_dict(r) for r in rows[:limit]]
    return Table(items, encode_cursor(items[-1]["id"]) if more else None, EVENT_COLUMNS)


def _scope_sql(scope: Scope) -> tuple[str, dict[str, Any]]:
    start, end = bounds(scope)
    where = (
        "e.created_at >= :start AND e.created_at < :end"
        " AND (CAST(:grids AS integer[]) IS NULL OR e.grid_id = ANY(:grids))"
        " AND (CAST(:category AS integer) IS NULL OR e.category_id = :category)"
    )
    params = {
        "start": start,
        "end": end,
        "grids": None if scope.grid_ids is None else list(scope.grid_ids),
        "category": scope.category_id,
    }
    return where, params


def numerator_sql(indicator: Indicator) -> str:
    """The per-event SQL of an event indicator's numerator (its events are those where > 0)."""
    return " + ".join(f"({k}) * {_COUNTER_SQL[name]}" for name, k in indicator.numerator.items())


def drilldown(
    *,
    session: Session,
    code: str,
    scope: Scope,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    export: bool = False,
) -> Table:
    """What stands behind an indicator's numerator: its events, or its grid-days / grids."""
    indicator = INDICATOR_BY_CODE.get(code)
    if indicator is None:
        raise NotFound({"loc": ["code"], "msg": f"no indicator {code!r}"})
    size = _size(limit, export)
    if indicator.source is Source.events:
        where, params = _scope_sql(scope)
        where += f" AND ({numerator_sql(indicator)}) > 0"
        return _event_page(
            session,
            where=where,
            params=params,
            cursor=cursor,
            limit=size,
            export=export,
            first_dispatch="dispatched_on_time" in indicator.numerator,
        )
    if indicator.source is Source.patrols:
        return _patrol_days(session, scope, cursor, size, export)
    return _grids(session, scope, staffed_only=code == "staffing", cursor=cursor, limit=size)


def _patrol_days(
    session: Session, scope: Scope, cursor: str | None, limit: int, export: bool
) -> Table:
    after = None if cursor is None else decode_cursor(cursor, cursor_date, cursor_text)
    after_day: date | None = None if after is None else after[0]
    rows = session.execute(
        text("""
        SELECT w.day, g.code, g.name, c.name, count(*) AS patrols, g.id
          FROM stats_patrol_walked w JOIN grid g ON g.id = w.grid_id
          JOIN community c ON c.id = g.community_id
         WHERE w.day BETWEEN :since AND :until
           AND (CAST(:grids AS integer[]) IS NULL OR w.grid_id = ANY(:grids))
           AND (CAST(:after_day AS date) IS NULL OR (w.day, g.code) > (:after_day, :after_code))
         GROUP BY w.day, g.id, c.name ORDER BY w.day, g.code LIMIT :limit
        """),
        {
            "since": scope.since,
            "until": scope.until,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "after_day": after_day,
            "after_code": None if after is None else after[1],
            "limit": limit + 1,
        },
    ).all()
    if export and len(rows) > limit:
        raise TooLarge(f"more than {limit} rows: narrow the window or the filters")
    items = [
        {"day": r[0].isoformat(), "grid_code": r[1], "grid_name": r[2], "community": r[3],
         "patrols": int(r[4])}
        for r in rows[:limit]
    ]  # fmt: skip
    more = len(rows) > limit
    nxt = encode_cursor([items[-1]["day"], items[-1]["grid_code"]]) if more else None
    return Table(items, nxt, ("day", "grid_code", "grid_name", "community", "patrols"))


def _grids(
    session: Session, scope: Scope, *, staffed_only: bool, cursor: str | None, limit: int
) -> Table:
    after = None if cursor is None else decode_cursor(cursor, cursor_text)
    staffed = set(
        session.execute(
            text(STAFFED_SQL),
            {"grids": None if scope.grid_ids is None else list(scope.grid_ids)},
        ).scalars()
    )
    rows = session.execute(
        text("""
        SELECT g.id, g.code, g.name, c.name, round((g.area_m2 / 1e6)::numeric, 6)
          FROM grid g JOIN community c ON c.id = g.community_id
         WHERE (CAST(:grids AS integer[]) IS NULL OR g.id = ANY(:grids))
           AND (CAST(:after AS text) IS NULL OR g.code > :after)
         ORDER BY g.code
        """),
        {"grids": None if scope.grid_ids is None else list(scope.grid_ids), "after": after},
    ).all()
    items = [
        {"grid_code": r[1], "grid_name": r[2], "community": r[3], "area_km2": float(r[4]),
         "staffed": r[0] in staffed}
        for r in rows if not staffed_only or r[0] in staffed
    ]  # fmt: skip
    more = len(items) > limit
    items = items[:limit]
    nxt = encode_cursor(items[-1]["grid_code"]) if more else None
    return Table(items, nxt, ("grid_code", "grid_name", "community", "area_km2", "staffed"))


def event_list(
    *,
    session: Session,
    scope: Scope,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_LIMIT,
    export: bool = False,
) -> Table:
    """The events reported in the window, with the scope's filters (for the roles that see
    every event: dispatcher, evaluator, admin)."""
    size = _size(limit, export)
    where, params = _scope_sql(scope)
    if status is not None:
        where += " AND e.status = :status"
        params["status"] = status
    return _event_page(
        session, where=where, params=params, cursor=cursor, limit=size, export=export
    )

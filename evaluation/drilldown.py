"""What stands behind a figure: the events of an indicator's numerator (or its grid-days or
grids), and the event list of a window, as listings read in keyset pages (``page``) or whole
(``stream_rows``: what the exports write)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from domain.evaluation.indicators import INDICATOR_BY_CODE, Indicator, Kind, Source
from domain.intake import CHANNEL_LABELS
from domain.lifecycle.model import STATUS_LABELS
from domain.roles import LEVEL_LABELS, ROLE_LABELS
from evaluation.auditcounts import AUDIT_COUNTER_SQL, AUDIT_FACTS_JOIN
from evaluation.indicators import STAFFED_SQL
from evaluation.intake import FROM_SQL as INTAKE_FROM_SQL
from evaluation.intake import INTAKE_SQL, KEPT_INTAKE_SQL
from evaluation.intake import WHERE_SQL as INTAKE_WHERE_SQL
from evaluation.intake import window_params as intake_params
from evaluation.models import COUNTER_COLUMNS
from evaluation.scope import Scope, bounds
from kernel.clock import utc_now
from kernel.errors import Invalid, NotFound, field_error
from kernel.paging import (
    Page,
    cursor_date,
    cursor_int,
    cursor_text,
    decode_cursor,
    encode_cursor,
)
from kernel.settings import get_settings

#: Per-event SQL of each counter (the definitions of migration 0005; ``fd.at`` is the time of
#: the event's first dispatch, joined only when asked for).
_COUNTER_SQL: Mapping[str, str] = {
    **{
        name: f"(stats_counts(e, cat.resolve_minutes)).{name}"
        for name in COUNTER_COLUMNS
        if name != "dispatched_on_time"
        and name not in AUDIT_COUNTER_SQL
        and name not in KEPT_INTAKE_SQL
    },
    "dispatched_on_time": "stats_dispatch_on_time(e, fd.at, stats_dispatch_limit())",
    **AUDIT_COUNTER_SQL,
}
_FIRST_DISPATCH_JOIN = """
  LEFT JOIN LATERAL (SELECT a.at FROM event_audit a
                      WHERE a.event_id = e.id AND a.action = 'dispatch'
                        AND a.from_status = 'registered'
                      ORDER BY a.version LIMIT 1) fd ON true
"""

_SELECTED: tuple[str, ...] = (
    "id", "client_id", "grid_code", "grid_name", "community", "category", "category_name",
    "status", "level", "source", "reporter_id", "reporter_name", "assignee_id", "assignee_name",
    "assignee_role", "department", "created_at", "dispatched_at", "acknowledged_at",
    "resolved_at", "closed_at", "voided_at", "due_at", "resolution_minutes", "closed_on_time",
    "rework_count", "redispatch_count", "escalation_count",
)  # fmt: skip
#: Coded columns, each shown in Chinese (``<code>_name``) right before its code.
_LABELS: Mapping[str, Mapping[Any, str]] = {
    "status": STATUS_LABELS,
    "level": LEVEL_LABELS,
    "source": CHANNEL_LABELS,
    "assignee_role": ROLE_LABELS,
}
EVENT_COLUMNS: tuple[str, ...] = tuple(
    name
    for column in _SELECTED
    for name in ((f"{column}_name", column) if column in _LABELS else (column,))
)

_EVENT_SELECT = """
SELECT e.id, e.client_id, g.code, g.name, cm.name, cat.code, cat.name, e.status, e.level,
       e.source, e.reporter_id, rs.name, e.assignee_id, hs.name, e.assignee_role, e.department,
       e.created_at,
       e.dispatched_at, e.acknowledged_at, e.resolved_at, e.closed_at, e.voided_at, e.due_at,
       CASE WHEN e.status = 'closed' THEN stats_minutes(e.created_at, e.closed_at) END,
       CASE WHEN e.status = 'closed' THEN stats_on_time(e, cat.resolve_minutes) END,
       e.rework_count, e.redispatch_count, e.escalation_count
  FROM event e
  JOIN grid g ON g.id = e.grid_id
  JOIN community cm ON cm.id = g.community_id
  JOIN category cat ON cat.id = e.category_id
  LEFT JOIN staff rs ON rs.id = e.reporter_id
  LEFT JOIN staff hs ON hs.id = e.assignee_id
"""


def _local(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(get_settings().tz)
    return value


def _event_dict(row: Sequence[Any]) -> dict[str, Any]:
    values = {name: _local(value) for name, value in zip(_SELECTED, row, strict=True)}
    values["client_id"] = str(values["client_id"])
    for column, labels in _LABELS.items():
        code = values[column]
        values[f"{column}_name"] = None if code is None else labels.get(code, str(code))
    return {name: values[name] for name in EVENT_COLUMNS}


@dataclass(frozen=True)
class Table(Page[dict[str, Any]]):
    """A page of rows with the names of their columns (what the exports write)."""

    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Listing:
    """A keyset-ordered listing: its SQL (ordered, without LIMIT) with the cursor's position
    bound, its columns, how a row becomes an item and an item the next page's cursor. Read a
    page of it (``page``) or every row of it (``rows``)."""

    sql: str
    params: Mapping[str, Any]
    columns: tuple[str, ...]
    item: Callable[[Sequence[Any]], dict[str, Any]]
    key: Callable[[dict[str, Any]], Any]


def page(session: Session, listing: Listing, limit: int) -> Table:
    """``limit`` items of the listing and the cursor of the next page (None at the end)."""
    rows = session.execute(
        text(f"{listing.sql} LIMIT :limit"), {**listing.params, "limit": limit + 1}
    ).all()
    items = [listing.item(r) for r in rows[:limit]]
    more = len(rows) > limit
    return Table(items, encode_cursor(listing.key(items[-1])) if more else None, listing.columns)


#: Rows fetched at a time from the server-side cursor of ``rows``.
STREAM_BATCH = 2000


def stream_rows(
    session: Session, listing: Listing, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every item of the listing (the first ``limit`` when given), read through a server-side
    cursor on the session's connection (one statement: one snapshot): memory stays flat
    however many rows there are. The session must stay open until the iterator is done (a
    request's session does: it closes after the response is sent)."""
    sql = listing.sql if limit is None else f"{listing.sql} LIMIT :limit"
    # Options on the statement, not the connection: the request's session has usually used its
    # connection already (signing the caller in), and a connection's options are fixed by then.
    statement = text(sql).execution_options(stream_results=True, yield_per=STREAM_BATCH)
    for row in session.connection().execute(statement, {**listing.params, "limit": limit}):
        yield listing.item(row)


def _event_listing(
    *,
    where: str,
    params: dict[str, Any],
    cursor: str | None,
    first_dispatch: bool = False,
    audit_facts: bool = False,
) -> Listing:
    after = None if cursor is None else decode_cursor(cursor, cursor_int)
    return Listing(
        sql=f"""
        {_EVENT_SELECT}
        {_FIRST_DISPATCH_JOIN if first_dispatch else ""}
        {AUDIT_FACTS_JOIN if audit_facts else ""}
         WHERE {where} AND (CAST(:after AS bigint) IS NULL OR e.id > :after)
         ORDER BY e.id""",
        params={**params, "after": after},
        columns=EVENT_COLUMNS,
        item=_event_dict,
        key=lambda item: item["id"],
    )


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


class Part(StrEnum):
    """Which events of an indicator a drill-down lists: those behind its numerator, or its
    misses (the denominator's events that are not in the numerator: what kept it below 1)."""

    numerator = "numerator"
    misses = "misses"


def _per_event(terms: Mapping[str, int], sql: Mapping[str, str]) -> str:
    return " + ".join(f"({k}) * {sql[name]}" for name, k in terms.items()) or "0"


def numerator_sql(indicator: Indicator) -> str:
    """The per-event SQL of an event indicator's numerator (its events are those where > 0)."""
    return _per_event(indicator.numerator, _COUNTER_SQL)


def part_sql(indicator: Indicator, part: Part, sql: Mapping[str, str] = _COUNTER_SQL) -> str:
    """The per-event SQL of the part listed: the numerator's contribution, or the misses'
    (the event's denominator contribution minus its numerator's)."""
    if part is Part.numerator:
        return _per_event(indicator.numerator, sql)
    return f"({_per_event(indicator.denominator, sql)}) - ({_per_event(indicator.numerator, sql)})"


def _check_part(indicator: Indicator, part: Part) -> None:
    if part is Part.misses and indicator.kind is Kind.COUNT:
        raise Invalid(field_error("part", f"{indicator.code} is a count: it has no misses"))
    if part is Part.misses and indicator.code == "coverage":
        raise Invalid(
            field_error("part", "coverage's misses are an area (gaps), not grids or events")
        )


def drilldown(
    *,
    code: str,
    scope: Scope,
    cursor: str | None = None,
    now: datetime | None = None,
    part: Part = Part.numerator,
) -> Listing:
    """What stands behind an indicator's numerator (its events, or its grid-days / grids), or
    its misses: the denominator's minus the numerator's (events that were due and did not make
    it, grid-days without a patrol, grids not fully staffed)."""
    indicator = INDICATOR_BY_CODE.get(code)
    if indicator is None:
        raise NotFound({"loc": ["code"], "msg": f"no indicator {code!r}"})
    _check_part(indicator, part)
    if indicator.source in (Source.events, Source.audit):
        where, params = _scope_sql(scope)
        where += f" AND ({part_sql(indicator, part)}) > 0"
        terms = {**indicator.numerator, **indicator.denominator}
        return _event_listing(
            where=where,
            params=params,
            cursor=cursor,
            first_dispatch="dispatched_on_time" in terms,
            audit_facts=indicator.source is Source.audit,
        )
    if indicator.source is Source.intake:
        return _reports(indicator, scope, cursor, now or utc_now(), part)
    if indicator.source is Source.patrols:
        return _patrol_days(scope, cursor, missed=part is Part.misses)
    return _grids(
        scope,
        staffed_only=code == "staffing" and part is Part.numerator,
        unstaffed_only=part is Part.misses,
        cursor=cursor,
    )


#: What a report listing shows: the event, and its public report's channel and verification.
REPORT_COLUMNS: tuple[str, ...] = (
    "id", "grid_code", "category", "source", "status", "received_at", "duplicate_of",
    "hotline_case", "verify_due_at", "verified_at", "outcome",
)  # fmt: skip


def _reports(
    indicator: Indicator, scope: Scope, cursor: str | None, now: datetime, part: Part
) -> Listing:
    """The reports of the window whose own contribution to the part is positive (the intake
    counters of ``evaluation.intake``)."""
    after = None if cursor is None else decode_cursor(cursor, cursor_int)
    numerator = part_sql(indicator, part, INTAKE_SQL)
    return Listing(
        sql=f"""
        SELECT e.id, g.code, cat.code, e.source, e.status, e.received_at, e.duplicate_of,
               p.hotline_case, p.verify_due_at, p.verified_at, p.outcome
          {INTAKE_FROM_SQL}
          JOIN grid g ON g.id = e.grid_id JOIN category cat ON cat.id = e.category_id
         WHERE {INTAKE_WHERE_SQL}
           AND ({numerator}) > 0 AND (CAST(:after AS bigint) IS NULL OR e.id > :after)
         ORDER BY e.id""",
        params={**intake_params(scope, now), "after": after},
        columns=REPORT_COLUMNS,
        item=lambda r: {name: _local(v) for name, v in zip(REPORT_COLUMNS, r, strict=True)},
        key=lambda item: item["id"],
    )


#: Grid-days of the window in scope with a patrol that walked (the numerator of 巡查覆盖率).
_WALKED_DAYS_SQL = """
SELECT w.day, g.code, g.name, c.name, count(*) AS patrols
  FROM stats_patrol_walked w JOIN grid g ON g.id = w.grid_id
  JOIN community c ON c.id = g.community_id
 WHERE w.day BETWEEN :since AND :until
   AND (CAST(:grids AS integer[]) IS NULL OR w.grid_id = ANY(:grids))
   AND (CAST(:after_day AS date) IS NULL OR (w.day, g.code) > (:after_day, :after_code))
 GROUP BY w.day, g.id, c.name ORDER BY w.day, g.code"""
#: Grid-days of the window in scope without a patrol that walked (the misses of 巡查覆盖率).
_MISSED_DAYS_SQL = """
SELECT d.day::date, g.code, g.name, c.name, 0 AS patrols
  FROM generate_series(CAST(:since AS date), CAST(:until AS date), interval '1 day') AS d(day)
 CROSS JOIN grid g JOIN community c ON c.id = g.community_id
 WHERE (CAST(:grids AS integer[]) IS NULL OR g.id = ANY(:grids))
   AND NOT EXISTS (SELECT 1 FROM stats_patrol_walked w
                    WHERE w.grid_id = g.id AND w.day = d.day::date)
   AND (CAST(:after_day AS date) IS NULL OR (d.day::date, g.code) > (:after_day, :after_code))
 ORDER BY d.day, g.code"""


def _patrol_days(scope: Scope, cursor: str | None, *, missed: bool = False) -> Listing:
    after = None if cursor is None else decode_cursor(cursor, cursor_date, cursor_text)
    return Listing(
        sql=_MISSED_DAYS_SQL if missed else _WALKED_DAYS_SQL,
        params={
            "since": scope.since,
            "until": scope.until,
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "after_day": None if after is None else after[0],
            "after_code": None if after is None else after[1],
        },
        columns=("day", "grid_code", "grid_name", "community", "patrols"),
        item=lambda r: {
            "day": r[0],
            "grid_code": r[1],
            "grid_name": r[2],
            "community": r[3],
            "patrols": int(r[4]),
        },  # fmt: skip
        key=lambda item: [item["day"].isoformat(), item["grid_code"]],
    )


def _grids(
    scope: Scope, *, staffed_only: bool, cursor: str | None, unstaffed_only: bool = False
) -> Listing:
    after = None if cursor is None else decode_cursor(cursor, cursor_text)
    return Listing(
        sql=f"""
        WITH staffed AS ({STAFFED_SQL})
        SELECT g.code, g.name, c.name, round((g.area_m2 / 1e6)::numeric, 6),
               g.id IN (SELECT id FROM staffed)
          FROM grid g JOIN community c ON c.id = g.community_id
         WHERE (CAST(:grids AS integer[]) IS NULL OR g.id = ANY(:grids))
           AND (CAST(:after AS text) IS NULL OR g.code > :after)
           AND (NOT :staffed_only OR g.id IN (SELECT id FROM staffed))
           AND (NOT :unstaffed_only OR g.id NOT IN (SELECT id FROM staffed))
         ORDER BY g.code""",
        params={
            "grids": None if scope.grid_ids is None else list(scope.grid_ids),
            "after": after,
            "staffed_only": staffed_only,
            "unstaffed_only": unstaffed_only,
        },
        columns=("grid_code", "grid_name", "community", "area_km2", "staffed"),
        item=lambda r: {
            "grid_code": r[0],
            "grid_name": r[1],
            "community": r[2],
            "area_km2": float(r[3]),
            "staffed": bool(r[4]),
        },  # fmt: skip
        key=lambda item: item["grid_code"],
    )


def event_list(*, scope: Scope, status: str | None = None, cursor: str | None = None) -> Listing:
    """The events reported in the window, with the scope's filters (for the roles that see
    every event: dispatcher, evaluator, admin)."""
    where, params = _scope_sql(scope)
    if status is not None:
        where += " AND e.status = :status"
        params["status"] = status
    return _event_listing(where=where, params=params, cursor=cursor)

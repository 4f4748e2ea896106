"""Persistence of the dispatch core's decisions: the one place that writes event state.

``record`` stores a ``Decision`` in the caller's transaction: the event row (with an
optimistic version check), its audit row, one outbox row per timer command and
notification, and one ``stream`` row announcing the audit row to the command centre.
Nothing reaches Redis here; the relay does that after commit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import func, or_, text, update
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col, select

from dispatch import metrics
from dispatch.categories.models import Category
from dispatch.events.models import Event, EventAudit
from domain.calendar import WorkCalendar
from domain.codes import community_code_of
from domain.lifecycle import (
    Action,
    AuditEntry,
    Decision,
    EscalationReason,
    EventState,
    LevelAllowance,
    RequestKind,
    SlaPolicy,
    Status,
    TimerCommand,
    TimerKind,
)
from domain.lifecycle import Category as CategoryValues
from domain.roles import Role
from kernel.db import driver_connection
from kernel.errors import Conflict, field_error
from kernel.settings import get_settings
from kernel.uow import after_commit

STATE_FIELDS = tuple(f.name for f in fields(EventState))
# Fields whose row value differs in type from the state's (ids and enums).
_ID_FIELDS = ("assignee_id", "reporter_id")
_ENUM_FIELDS = {
    "status": Status,
    "resume_status": Status,
    "assignee_role": Role,
    "last_escalation_reason": EscalationReason,
    "request_kind": RequestKind,
}
#: Outbox topic of the change stream: one row per audit row, published by the relay.
STREAM_TOPIC = "stream"
# State fields that are not columns of their own name on the event row.
_DERIVED = {"event_id", "category", "grid"}
_STATE_COLUMNS = tuple(name for name in STATE_FIELDS if name not in _DERIVED)
#: State columns a just-opened event never sets (``domain.lifecycle.open_event``: no holder, no
#: handling or review clock yet): the report statement leaves them to their defaults (NULL),
#: which keeps its text short enough for psycopg's statement cache. ``open_event`` checks.
_NOT_AT_OPEN = frozenset({
    "assignee_id", "assignee_role", "department", "ack_due_at", "due_at", "ack_allowance",
    "resolve_allowance", "ack_remaining", "resolve_remaining", "ack_warn50_at", "ack_warn75_at",
    "resolve_warn50_at", "resolve_warn75_at", "review_warn50_at", "review_warn75_at",
    "review_due_at", "promised_ack_at", "promised_due_at", "last_escalation_reason",
    "suspended_at", "resume_status", "dispatched_at", "acknowledged_at", "resolved_at",
    "closed_at", "voided_at", "rejection_note", "rejected_at", "request_kind", "requested_at",
    "request_reason", "request_deadline", "parked_until", "resolution_working_time",
})  # fmt: skip
_OPEN_COLUMNS = tuple(name for name in _STATE_COLUMNS if name not in _NOT_AT_OPEN)


def policy_for(category: Category, calendars: Mapping[str, WorkCalendar]) -> SlaPolicy:
    """The category's SLA values, the per-level allowances of the configuration and the
    calendars of its clocks: its own and each level's (``calendars`` holds at least
    ``category.calendar_codes()``: ``dispatch.calendars.service.calendars``, or the API's
    in-memory catalogue)."""
    levels = {
        int(level): LevelAllowance(**values)
        for level, values in get_settings().level_allowances.items()
    }
    return SlaPolicy(
        category=CategoryValues(
            code=category.code,
            ack_minutes=category.ack_minutes,
            resolve_minutes=category.resolve_minutes,
            big=category.big,
            department=category.department,
            dispatch_minutes=category.dispatch_minutes,
            review_minutes=category.review_minutes,
            verify_minutes=category.verify_minutes,
        ),
        levels=levels,
        calendar=calendars[category.calendar],
        level_calendars={int(lv): calendars[code] for lv, code in category.level_calendars.items()},
    )


def to_state(event: Event, *, category_code: str, grid_code: str | None) -> EventState:
    values: dict[str, Any] = {
        "event_id": str(event.id),
        "category": category_code,
        "grid": grid_code,
    }
    for name in STATE_FIELDS:
        if name in _DERIVED:
            continue
        value = getattr(event, name)
        if name in _ID_FIELDS:
            value = None if value is None else str(value)
        elif name in _ENUM_FIELDS and value is not None:
            value = _ENUM_FIELDS[name](value)
        elif name == "warnings_sent":
            value = frozenset(TimerKind(v) for v in value or ())
        values[name] = value
    return EventState(**values)


def state_columns(state: EventState) -> dict[str, Any]:
    """The event-row columns for a state."""
    values: dict[str, Any] = {}
    for name in STATE_FIELDS:
        if name in _DERIVED:
            continue
        value = getattr(state, name)
        if name in _ID_FIELDS:
            value = None if value is None else int(value)
        elif name in _ENUM_FIELDS and value is not None:
            value = value.value
        elif name == "warnings_sent":
            value = sorted(k.value for k in value)
        values[name] = value
    return values


def next_event_id(session: Session) -> int:
    """Reserve an event id before the row exists (the core needs it to open the event)."""
    return int(
        session.execute(text("SELECT nextval(pg_get_serial_sequence('event', 'id'))")).scalar_one()
    )


def record(session: Session, decision: Decision, *, previous_version: int | None) -> None:
    """Write a decision: state (version-checked), audit row, outbox rows. No commit.

    ``previous_version`` None means the event row was just inserted by the caller.
    Raises ``Conflict`` when another writer changed the event first.
    """
    if decision.noop:
        return
    if previous_version is not None:
        update_state(session, decision.state, previous_version=previous_version)
    _append(session, [decision])


def record_many(
    session: Session, decisions: Sequence[tuple[Decision, int]]
) -> tuple[list[Decision], list[int]]:
    """Write several ``(decision, previous_version)`` of existing events in one go (the timers'
    batches): one version-checked UPDATE for all events, one COPY for the audit rows and one
    for the outbox rows. No commit. Decisions for one event must be in order, each starting
    from the version the one before produced. An event changed meanwhile by another writer is
    left out with all its decisions (a failed version check is no database error: the rest
    goes on); returns the decisions written and the ids of the events left out."""
    first_seen: dict[int, int] = {}
    final: dict[int, EventState] = {}
    for decision, previous_version in decisions:
        if decision.noop:
            continue
        event_id = int(decision.state.event_id)
        first_seen.setdefault(event_id, previous_version)
        final[event_id] = decision.state
    updated = update_states(session, [(final[e], first_seen[e]) for e in final])
    written = [
        d for d, _ in decisions if not d.noop and int(d.state.event_id) in updated
    ]  # fmt: skip
    _append(session, written)
    return written, sorted(set(final) - updated)


# --- a new event in one statement (the report's hot path) ---------------------------

#: Columns of a new event that the caller gives (what was reported and where it landed);
#: the state columns come from the decision. ``community_id`` and ``geom`` are derived.
REPORT_COLUMNS = (
    "client_id", "request_hash", "category_id", "grid_id", "description", "coord", "orig_lon",
    "orig_lat", "accuracy_m", "snapped", "distance_m", "source", "occurred_at", "received_at",
)  # fmt: skip
_AUDIT_COLUMNS = (
    "version", "action", "from_status", "to_status", "from_level", "to_level", "actor", "at",
    "note", "reason", "data",
)  # fmt: skip


def audit_values(audit: AuditEntry) -> dict[str, Any]:
    """An audit entry as the values of its row (``_AUDIT_COLUMNS``, enums as their values):
    what the COPY of a batch, the report statement and the change-stream message write."""
    return {
        "version": audit.version,
        "action": audit.action.value,
        "from_status": audit.from_status.value if audit.from_status else None,
        "to_status": audit.to_status.value,
        "from_level": audit.from_level,
        "to_level": audit.to_level,
        "actor": audit.actor,
        "at": audit.at,
        "note": audit.note,
        "reason": audit.reason.value if audit.reason else None,
        "data": dict(audit.data),
    }


#: The event id a report is decided with when its statement draws the real one (``open_event``).
DRAWN_ID = "0"


@lru_cache(maxsize=8)
def _open_event_sql(read_along: str | None) -> str:
    """The new event, its audit row and every outbox row, in one statement: atomic on an
    autocommit connection, one round trip, prepared once. The rows travel as three JSON
    parameters typed by the tables' own row types (``jsonb_populate_record``): few parameters
    and a short text keep the statement in psycopg's cache of converted queries (long or
    many-parameter statements are re-parsed on every execution, which cost more than the rest
    of the report's Python).

    ``%(id)s`` NULL: the statement draws the event's id from its sequence and writes it
    wherever the decision carried the placeholder ``DRAWN_ID`` (the audit row's ``data``, the
    outbox payloads' ``event_id``): a report needs no round trip to reserve an id first.

    Nothing is written unless the reference data the caller used is current (the versions of
    ``reference_version``, ADR 0005) and ``client_id`` is new (ON CONFLICT: of concurrent
    identical reports exactly one inserts). Returns the new id (NULL when nothing was
    inserted), whether the references were current, the reporter's name, and the rows of
    ``read_along`` (a query run in the same statement, on the snapshot the insert started
    from, so without the new event) as a JSON array of objects."""
    columns = (*REPORT_COLUMNS, *_OPEN_COLUMNS)
    assert _AUDIT_COLUMNS[-1] == "data"
    along = (
        "NULL::json"
        if read_along is None
        else f"(SELECT coalesce(json_agg(r), '[]'::json) FROM ({read_along}) r)"
    )
    statement = f"""
        WITH v AS (
            SELECT * FROM jsonb_populate_record(NULL::event, %(event)s::jsonb)
        ), n AS (
            SELECT coalesce(%(id)s::bigint, nextval(pg_get_serial_sequence('event', 'id'))) AS id
        ), current_refs AS (
            SELECT 1 FROM reference_version g JOIN reference_version c ON c.name = 'category'
            WHERE g.name = 'grid'
              AND g.version = coalesce(%(grid_version)s::bigint, g.version)
              AND c.version = coalesce(%(category_version)s::bigint, c.version)
        ), e AS (
            INSERT INTO event (id, {", ".join(columns)}, community_id, geom)
            SELECT n.id, {", ".join("v." + c for c in columns)}, g.community_id,
                   ST_SetSRID(ST_MakePoint(%(lon)s::float8, %(lat)s::float8), 4326)
            FROM n, v JOIN grid g ON g.id = v.grid_id
            WHERE EXISTS (SELECT 1 FROM current_refs)
            ON CONFLICT (client_id) DO NOTHING
            RETURNING id
        ), a AS (
            INSERT INTO event_audit (event_id, {", ".join(_AUDIT_COLUMNS)})
            SELECT e.id, {", ".join("r." + c for c in _AUDIT_COLUMNS[:-1])},
                   jsonb_set(r.data, '{{event_id}}', to_jsonb(e.id::text), false)
            FROM e, jsonb_populate_record(NULL::event_audit, %(audit)s::jsonb) r
            RETURNING id
        ), o AS (
            INSERT INTO outbox (event_id, topic, payload, created_at, available_at, attempts)
            SELECT e.id, r.topic,
                   jsonb_set(r.payload, '{{event_id}}', to_jsonb(e.id), false)
                   || CASE WHEN r.topic = '{STREAM_TOPIC}'
                           THEN jsonb_build_object('audit_id', a.id) ELSE '{{}}' END,
                   r.at, r.at, 0
            FROM e, a, jsonb_to_recordset(%(outbox)s::jsonb)
                 AS r(topic text, payload jsonb, at timestamptz)
        )
        SELECT (SELECT id FROM e), EXISTS (SELECT 1 FROM current_refs),
               (SELECT s.name FROM staff s JOIN v ON s.id = v.reporter_id),
               {along}
    """
    # One line: psycopg caches the conversion of statements up to 4 kB only.
    assert "--" not in statement
    return " ".join(statement.split())


def open_event(
    decision: Decision,
    report: dict[str, Any],
    *,
    lon: float,
    lat: float,
    versions: tuple[int, int] | None,
    outbox: Sequence[tuple[str, dict[str, Any]]] = (),
    read_along: tuple[str, dict[str, Any]] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The statement and parameters writing a just-opened event (``domain.open_event``):
    ``report`` holds ``REPORT_COLUMNS``, ``versions`` the (grid map, categories) versions
    the caller decided with (None: decided on the rows as they are now, in the caller's own
    transaction), ``outbox`` extra ``(topic, payload)`` rows for the event (such as the
    dispatch request), ``read_along`` a query and its parameters answered in the same round
    trip (the reporter's duplicate candidates). A decision opened with ``DRAWN_ID`` gets its
    id from the statement (returned first). The API runs it on an autocommit connection;
    ``insert_event`` runs it in a session's transaction."""
    audit = decision.audit
    assert audit is not None
    rows = [
        {"topic": topic, "payload": payload, "at": at.isoformat()}
        for _, topic, payload, at in outbox_values(decision, None)
    ]
    rows += [{"topic": t, "payload": p, "at": audit.at.isoformat()} for t, p in outbox]
    event = {name: report[name] for name in REPORT_COLUMNS} | state_columns(decision.state)
    dropped = [name for name in _NOT_AT_OPEN if event[name] is not None]
    assert not dropped, f"the report statement does not write {dropped}"
    drawn = decision.state.event_id == DRAWN_ID
    params: dict[str, Any] = {
        "id": None if drawn else int(decision.state.event_id),
        "event": _json(event),
        "audit": _json(audit_values(audit)),
        "outbox": json.dumps(rows, ensure_ascii=False),
        "lon": lon,
        "lat": lat,
        "grid_version": None if versions is None else versions[0],
        "category_version": None if versions is None else versions[1],
    }
    if read_along is None:
        return _open_event_sql(None), params
    query, query_params = read_along
    shared = params.keys() & query_params.keys()
    assert all(params[k] == query_params[k] for k in shared), f"parameters differ: {shared}"
    return _open_event_sql(query), {**query_params, **params}


def insert_event(
    session: Session,
    decision: Decision,
    report: dict[str, Any],
    *,
    lon: float,
    lat: float,
    outbox: Sequence[tuple[str, dict[str, Any]]] = (),
) -> None:
    """``open_event`` in the session's transaction (jobs, tools, tests: whoever already holds a
    transaction and decided on the rows it reads). ``Conflict`` when ``client_id`` is taken."""
    sql, params = open_event(decision, report, lon=lon, lat=lat, versions=None, outbox=outbox)
    raw = driver_connection(session)
    row = raw.execute(sql, params).fetchone()
    if row is None or row[0] is None:
        raise Conflict(field_error("client_id", "this client_id was already used"))
    category, source = decision.state.category, str(report["source"])
    after_commit(
        session, lambda: metrics.observe_report(decision, category=category, source=source)
    )


#: An event row written whole, and an audit row, as the bulk writer COPYs finished histories
#: (text lines, columns in these orders).
EVENT_ROW_COLUMNS = ("id", *REPORT_COLUMNS, "community_id", "geom", *_STATE_COLUMNS)
AUDIT_ROW_COLUMNS = ("event_id", *_AUDIT_COLUMNS)


def copy_history(
    conn: psycopg.Connection[Any], events: Sequence[str], audits: Sequence[str]
) -> None:
    """Write finished histories with COPY: event rows (``EVENT_ROW_COLUMNS``) and their audit
    rows (``AUDIT_ROW_COLUMNS``), as COPY text lines; no outbox rows (the past has nothing
    left to send). In the connection's transaction; no commit."""
    for table, columns, lines in (
        ("event", EVENT_ROW_COLUMNS, events),
        ("event_audit", AUDIT_ROW_COLUMNS, audits),
    ):
        statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            for start in range(0, len(lines), 20_000):
                copy.write("".join(lines[start : start + 20_000]))


def _json(row: dict[str, Any]) -> str:
    return json.dumps({k: _json_value(v) for k, v in row.items()}, ensure_ascii=False, default=str)


def update_state(session: Session, state: EventState, *, previous_version: int) -> None:
    """``UPDATE event ... WHERE id = :id AND version = :seen``; ``Conflict`` (409, naming the
    current version) when another writer got there first."""
    event_id = int(state.event_id)
    result = session.execute(
        update(Event)
        .where(col(Event.id) == event_id, col(Event.version) == previous_version)
        .values(**state_columns(state))
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        current = session.execute(
            text("SELECT version FROM event WHERE id = :id"), {"id": event_id}
        ).scalar()
        raise Conflict(
            {
                "msg": "the event was changed by someone else; reload and retry",
                "event_id": event_id,
                "expected_version": previous_version,
                "current_version": current,
                "version": current,
            }
        )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.days} days {value.seconds} seconds {value.microseconds} microseconds"
    return value


@lru_cache
def _update_states_sql() -> str:
    table = Event.__table__  # type: ignore[attr-defined]
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    types = ", ".join(
        f"{name} {table.c[name].type.compile(dialect=dialect)}" for name in _STATE_COLUMNS
    )
    sets = ", ".join(f"{name} = v.{name}" for name in _STATE_COLUMNS)
    return (
        f"UPDATE event e SET {sets}"
        f" FROM jsonb_to_recordset(CAST(:rows AS jsonb)) AS v(id bigint, seen integer, {types})"
        " WHERE e.id = v.id AND e.version = v.seen RETURNING e.id"
    )


def update_states(session: Session, items: Sequence[tuple[EventState, int]]) -> set[int]:
    """Version-checked UPDATE of many events in one statement: each ``(state, seen)`` is
    written only where the row still has version ``seen``. Returns the ids written."""
    if not items:
        return set()
    rows = [
        {
            "id": int(state.event_id),
            "seen": seen,
            **{k: _json_value(v) for k, v in state_columns(state).items()},
        }
        for state, seen in items
    ]
    result = session.execute(text(_update_states_sql()), {"rows": json.dumps(rows)})
    return {int(i) for i in result.scalars()}


_AUDIT_COPY = f"COPY event_audit (id, event_id, {', '.join(_AUDIT_COLUMNS)}) FROM STDIN"
_OUTBOX_COPY = (
    "COPY outbox (event_id, topic, payload, created_at, available_at, attempts) FROM STDIN"
)


def _append(session: Session, decisions: Sequence[Decision]) -> None:
    """The audit rows, then their outbox rows (stream, timers, notifications), each with one
    COPY on the session's connection and transaction. Audit ids are taken from the identity
    sequence first: the change stream's message ids, in the order of ``decisions``."""
    if not decisions:
        return
    metrics.observe_after_commit(session, decisions)
    ids = session.execute(
        text(
            "SELECT nextval(pg_get_serial_sequence('event_audit', 'id'))"
            " FROM generate_series(1, :n)"
        ),
        {"n": len(decisions)},
    ).scalars()
    audit_ids = sorted(int(i) for i in ids)
    raw = driver_connection(session)
    with raw.cursor() as cursor:
        with cursor.copy(_AUDIT_COPY) as copy:
            for decision, audit_id in zip(decisions, audit_ids, strict=True):
                a = decision.audit
                assert a is not None
                row = audit_values(a) | {"data": Jsonb(dict(a.data))}
                copy.write_row((audit_id, int(a.event_id), *(row[c] for c in _AUDIT_COLUMNS)))
        with cursor.copy(_OUTBOX_COPY) as copy:
            for decision, audit_id in zip(decisions, audit_ids, strict=True):
                for event_id, topic, payload, at in outbox_values(decision, audit_id):
                    copy.write_row((event_id, topic, Jsonb(payload), at, at, 0))


OutboxValues = tuple[int, str, dict[str, Any], datetime]
# What a change-stream message carries of its audit row (besides ids and the time).
_STREAM_FIELDS = (
    "version",
    "action",
    "from_status",
    "to_status",
    "from_level",
    "to_level",
    "actor",
    "reason",
)


def outbox_values(decision: Decision, audit_id: int | None) -> list[OutboxValues]:
    """What the relay must hand on after the decision commits, as ``(event_id, topic,
    payload, at)``: the change (stream), the timer commands, the notifications.
    ``audit_id`` None: the statement that inserts the audit row adds it (``open_event``)."""
    audit = decision.audit
    assert audit is not None
    event_id = int(decision.state.event_id)
    now = audit.at
    change: dict[str, Any] = {} if audit_id is None else {"audit_id": audit_id}
    values = audit_values(audit)
    change |= {
        "event_id": event_id,
        **{k: values[k] for k in _STREAM_FIELDS},
        "at": now.isoformat(),
        **event_snapshot(decision.state),
    }
    rows: list[OutboxValues] = [(event_id, STREAM_TOPIC, change, now)]
    rows.extend(timer_values(event_id, decision.timers, now=now))
    for note in decision.notifications:
        payload = {
            "type": note.kind.value,
            "level": note.level,
            "recipients": list(note.recipients),
            "audience": note.audience.value if note.audience else None,
            "department": note.department,
            "detail": note.detail,
            "version": decision.state.version,
        }
        rows.append((event_id, "notify", payload, now))
    return rows


def timer_values(
    event_id: int, timers: Iterable[TimerCommand], *, now: datetime
) -> list[OutboxValues]:
    """One ``timer.set`` / ``timer.cancel`` outbox row per timer command."""
    return [
        (
            event_id,
            f"timer.{timer.op.value}",
            {
                "job_id": timer.job_id,
                "kind": timer.kind.value,
                "deadline_version": timer.deadline_version,
                "fire_at": timer.fire_at.isoformat() if timer.fire_at else None,
            },
            now,
        )
        for timer in timers
    ]


def event_snapshot(state: EventState) -> dict[str, Any]:
    """What a console needs of the event in a change message, beside the change itself: where
    it is, what it is, who holds it and its deadlines, the stage clocks' too (核实 while
    pending verification, 派遣 while registered, 核查 while resolved: a console shows each
    running clock's state from its warning mark and deadline; ``to_status``/``to_level``/
    ``version`` are the change's own fields)."""
    grid = state.grid
    return {
        "grid": grid,
        "community": community_code_of(grid) if grid else None,
        "category": state.category,
        "assignee_id": int(state.assignee_id) if state.assignee_id else None,
        "ack_due_at": _iso(state.ack_due_at),
        "due_at": _iso(state.due_at),
        "ack_warn_at": _iso(state.ack_warn50_at),
        "resolve_warn_at": _iso(state.resolve_warn50_at),
        "dispatch_due_at": _iso(state.dispatch_due_at),
        "dispatch_warn_at": _iso(state.dispatch_warn50_at),
        "review_due_at": _iso(state.review_due_at),
        "review_warn_at": _iso(state.review_warn50_at),
        "verify_due_at": _iso(state.verify_due_at),
        "verify_warn_at": _iso(state.verify_warn50_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def change_message(audit: EventAudit, snapshot: dict[str, Any]) -> dict[str, Any]:
    """One audit row as a message of the command centre's change stream (SSE data), with the
    event's ``snapshot`` (``event_snapshot``)."""
    return {
        "audit_id": audit.id,
        "event_id": audit.event_id,
        "version": audit.version,
        "action": audit.action,
        "from_status": audit.from_status,
        "to_status": audit.to_status,
        "from_level": audit.from_level,
        "to_level": audit.to_level,
        "actor": audit.actor,
        "reason": audit.reason,
        "at": audit.at.isoformat(),
        **snapshot,
    }


def last_rejection_at(session: Session, event_id: int) -> datetime | None:
    """When the event's fix was last rejected at review, or the closed case reopened (``None``
    if never): a new fix needs a photo taken after it."""
    rejected = (
        (col(EventAudit.action) == Action.REVIEW.value)
        & (col(EventAudit.from_status) == Status.RESOLVED.value)
        & (col(EventAudit.to_status) != Status.CLOSED.value)
    )
    return session.exec(
        select(func.max(col(EventAudit.at))).where(
            col(EventAudit.event_id) == event_id,
            or_(rejected, col(EventAudit.action) == Action.REOPEN.value),
        )
    ).one()


def held_by(session: Session, event_id: int, staff_id: int) -> bool:
    """Whether ``staff_id`` was ever assigned the event (an audit row made them its holder)."""
    return bool(
        session.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM event_audit WHERE event_id = :e"
                " AND data->>'assignee_id' = :s)"
            ),
            {"e": event_id, "s": str(staff_id)},
        ).scalar_one()
    )


def last_handover(session: Session, event_id: int) -> EventAudit | None:
    """The audit row that gave the event to its current holder (a dispatch, an escalation, a
    breach, a claim from a queue): the last one that changed the assignee or the level."""
    return session.exec(
        select(EventAudit)
        .where(
            col(EventAudit.event_id) == event_id,
            or_(
                text("event_audit.data ? 'assignee_id'"),
                col(EventAudit.from_level) != col(EventAudit.to_level),
            ),
        )
        .order_by(col(EventAudit.version).desc())
        .limit(1)
    ).first()


def audit_rows(session: Session, event_id: int) -> list[EventAudit]:
    """The event's audit trail, oldest first."""
    return list(
        session.exec(
            select(EventAudit)
            .where(col(EventAudit.event_id) == event_id)
            .order_by(col(EventAudit.version))
        )
    )

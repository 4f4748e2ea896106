"""Persistence of the dispatch core's decisions: the one place that writes event state.

``record`` stores a ``Decision`` in the caller's transaction: the event row (with an
optimistic version check), its audit row, one outbox row per timer command and
notification, and one ``stream`` row announcing the audit row to the command centre.
Nothing reaches Redis here; the relay does that after commit.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import text, update
from sqlmodel import Session, col, select

from dispatch.domain import Category as CategoryValues
from dispatch.domain import (
    Decision,
    EscalationReason,
    EventState,
    LevelAllowance,
    Role,
    SlaPolicy,
    Status,
    TimerCommand,
    TimerKind,
)
from dispatch.models import Category, Event, EventAudit, Outbox
from service.errors import Conflict
from service.settings import get_settings

STATE_FIELDS = tuple(f.name for f in fields(EventState))
# Fields whose row value differs in type from the state's (ids and enums).
_ID_FIELDS = ("assignee_id", "reporter_id")
_ENUM_FIELDS = {
    "status": Status,
    "resume_status": Status,
    "assignee_role": Role,
    "last_escalation_reason": EscalationReason,
}
#: Outbox topic of the change stream: one row per audit row, published by the relay.
STREAM_TOPIC = "stream"
# State fields that are not columns of their own name on the event row.
_DERIVED = {"event_id", "category", "grid"}


def policy_for(category: Category) -> SlaPolicy:
    """The category's SLA values plus the per-level allowances of the configuration."""
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
        ),
        levels=levels,
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
    state = decision.state
    event_id = int(state.event_id)
    if previous_version is not None:
        result = session.execute(
            update(Event)
            .where(col(Event.id) == event_id, col(Event.version) == previous_version)
            .values(**state_columns(state))
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
    audit = decision.audit
    assert audit is not None
    row = EventAudit(
        event_id=event_id,
        version=audit.version,
        action=audit.action.value,
        from_status=audit.from_status.value if audit.from_status else None,
        to_status=audit.to_status.value,
        from_level=audit.from_level,
        to_level=audit.to_level,
        actor=audit.actor,
        at=audit.at,
        note=audit.note,
        reason=audit.reason.value if audit.reason else None,
        data=dict(audit.data),
    )
    session.add(row)
    session.flush()  # the audit id is the change stream's message id
    now = audit.at
    session.add(
        Outbox(
            event_id=event_id,
            topic=STREAM_TOPIC,
            payload=change_message(row),
            created_at=now,
            available_at=now,
        )
    )
    write_timers(session, event_id, decision.timers, now=now)
    for note in decision.notifications:
        session.add(
            Outbox(
                event_id=event_id,
                topic="notify",
                payload={
                    "type": note.kind.value,
                    "level": note.level,
                    "recipients": list(note.recipients),
                    "audience": note.audience.value if note.audience else None,
                    "department": note.department,
                    "detail": note.detail,
                    "version": state.version,
                },
                created_at=now,
                available_at=now,
            )
        )
    session.flush()


def write_timers(
    session: Session, event_id: int, timers: Iterable[TimerCommand], *, now: datetime
) -> None:
    """One ``timer.set`` / ``timer.cancel`` outbox row per timer command (no flush)."""
    for timer in timers:
        session.add(
            Outbox(
                event_id=event_id,
                topic=f"timer.{timer.op.value}",
                payload={
                    "job_id": timer.job_id,
                    "kind": timer.kind.value,
                    "deadline_version": timer.deadline_version,
                    "fire_at": timer.fire_at.isoformat() if timer.fire_at else None,
                },
                created_at=now,
                available_at=now,
            )
        )


def change_message(audit: EventAudit) -> dict[str, Any]:
    """One audit row as a message of the command centre's change stream (SSE data)."""
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
    }


def audit_rows(session: Session, event_id: int) -> list[EventAudit]:
    """The event's audit trail, oldest first."""
    return list(
        session.exec(
            select(EventAudit)
            .where(col(EventAudit.event_id) == event_id)
            .order_by(col(EventAudit.version))
        )
    )

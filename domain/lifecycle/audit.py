"""The audit log as a source of truth: JSON-friendly state deltas and ``replay``.

Each ``AuditEntry.data`` holds exactly the ``EventState`` fields the transition changed, encoded
for JSON (instants as ISO 8601 UTC strings, durations as integer microseconds, enums as their
values, the set of sent warnings as a sorted list). The first entry of an event (``report`` or
``register``) holds every field. ``replay`` folds the deltas in order and checks that each entry
starts where the previous one ended, so a missing, reordered or foreign row is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from domain.lifecycle.errors import ReplayError
from domain.lifecycle.model import (
    AuditEntry,
    EscalationReason,
    EventState,
    JsonValue,
    RequestKind,
    Status,
    TimerKind,
    ensure_utc,
)
from domain.roles import Role

_INSTANTS = frozenset({
    "created_at", "ack_due_at", "due_at", "suspended_at", "dispatched_at", "acknowledged_at",
    "resolved_at", "closed_at", "voided_at", "ack_warn50_at", "ack_warn75_at",
    "resolve_warn50_at", "resolve_warn75_at", "promised_ack_at", "promised_due_at", "rejected_at",
    "requested_at", "request_deadline", "parked_until", "dispatch_warn50_at",
    "dispatch_warn75_at", "dispatch_due_at", "review_warn50_at", "review_warn75_at",
    "review_due_at", "verify_warn50_at", "verify_warn75_at", "verify_due_at",
})  # fmt: skip
_DURATIONS = frozenset({
    "ack_allowance", "resolve_allowance", "ack_remaining", "resolve_remaining",
    "resolution_working_time",
})  # fmt: skip
_ENUMS: Mapping[str, type[StrEnum]] = {
    "status": Status,
    "resume_status": Status,
    "assignee_role": Role,
    "last_escalation_reason": EscalationReason,
    "request_kind": RequestKind,
}
_KIND_SETS = frozenset({"warnings_sent"})
_PLAIN = frozenset({
    "event_id", "level", "version", "category", "grid", "reporter_id", "assignee_id",
    "department", "deadline_version", "rework_count", "redispatch_count", "escalation_count",
    "clock_fallback", "rejection_note", "cycle", "request_reason",
})  # fmt: skip

STATE_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(EventState))
#: Keys a warning's or breach's ``data`` carries beside the state delta: which clock fired
#: (``ack``/``resolve``), at which share of its allowance (50, 75, 100), that clock's deadline
#: and the original promise for it. They describe the row, not the state: replay skips them.
TIMER_ANNOTATIONS: frozenset[str] = frozenset({"clock", "percent", "clock_due_at", "promised_at"})
#: Keys a decision on a holder's request (approve or refuse an extension or a parking) carries
#: beside its delta: who asked (``asked_by``), when, why and for which deadline, and the resolve
#: deadline and promise before the decision. The delta clears the request; these keep what was
#: decided on the decision's own row. Replay skips them too.
REQUEST_ANNOTATIONS: frozenset[str] = frozenset(
    {"asked_by", "asked_at", "asked_reason", "asked_until", "previous_due_at", "previous_promise"}
)
ANNOTATIONS: frozenset[str] = TIMER_ANNOTATIONS | REQUEST_ANNOTATIONS
_ANNOTATION_INSTANTS = frozenset({
    "clock_due_at", "promised_at", "asked_at", "asked_until", "previous_due_at", "previous_promise",
})  # fmt: skip
_COVERED = _INSTANTS | _DURATIONS | frozenset(_ENUMS) | _KIND_SETS | _PLAIN
if set(STATE_FIELDS) != _COVERED:  # a new field must get a codec, or replay would lose it
    raise RuntimeError(f"audit codec out of date: {sorted(set(STATE_FIELDS) ^ _COVERED)}")


def encode_field(name: str, value: Any) -> JsonValue:
    """One state field as a JSON-friendly value."""
    if value is None:
        return None
    if name in _INSTANTS:
        return ensure_utc(value, name).isoformat()
    if name in _DURATIONS:
        delta: timedelta = value
        return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if name in _ENUMS:
        return str(value.value)
    if name in _KIND_SETS:
        return sorted(kind.value for kind in value)
    if name in _PLAIN:
        if not isinstance(value, str | int):  # bool is an int
            raise TypeError(f"{name} must be str or int, got {type(value).__name__}")
        return value
    raise KeyError(name)


def decode_field(name: str, value: JsonValue) -> Any:
    """The inverse of ``encode_field`` (and of an ``ANNOTATIONS`` value); raises
    ``ReplayError`` on a malformed value."""
    if value is None:
        return frozenset() if name in _KIND_SETS else None
    try:
        if name in _INSTANTS or name in _ANNOTATION_INSTANTS:
            return ensure_utc(datetime.fromisoformat(str(value)), name)
        if name in _DURATIONS:
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError("microseconds must be an integer")
            return timedelta(microseconds=value)
        if name in _ENUMS:
            return _ENUMS[name](str(value))
        if name in _KIND_SETS:
            if not isinstance(value, list):
                raise TypeError("expected a list")
            return frozenset(TimerKind(v) for v in value)
        if name in _PLAIN or name in ANNOTATIONS:
            return value
    except (TypeError, ValueError) as exc:
        raise ReplayError(f"audit field {name!r} holds a bad value {value!r}: {exc}") from exc
    raise ReplayError(f"audit data names an unknown field {name!r}")


def encode_delta(before: EventState | None, after: EventState) -> dict[str, JsonValue]:
    """The fields of ``after`` that differ from ``before`` (all of them when ``before`` is None)."""
    delta: dict[str, JsonValue] = {}
    for name in STATE_FIELDS:
        value = getattr(after, name)
        if before is None or getattr(before, name) != value:
            delta[name] = encode_field(name, value)
    return delta


def _decode(data: Mapping[str, JsonValue]) -> dict[str, Any]:
    return {
        name: decode_field(name, value) for name, value in data.items() if name not in ANNOTATIONS
    }


def replay(entries: Iterable[AuditEntry]) -> EventState:
    """Rebuild an event's state from its audit entries, oldest first."""
    state: EventState | None = None
    for index, entry in enumerate(entries):
        if state is None:
            if entry.from_status is not None:
                raise ReplayError(f"entry 0 ({entry.action}) does not create the event")
            try:
                state = EventState(**_decode(entry.data))
            except TypeError as exc:
                raise ReplayError(f"creating entry lacks fields: {exc}") from exc
        else:
            where = f"entry {index} ({entry.action.value}, version {entry.version})"
            if entry.event_id != state.event_id:
                raise ReplayError(f"{where} belongs to event {entry.event_id}")
            if entry.from_status is None:
                raise ReplayError(f"{where} creates the event a second time")
            if entry.version != state.version + 1:
                raise ReplayError(f"{where} follows version {state.version}: a gap or reordering")
            if entry.from_status != state.status or entry.from_level != state.level:
                raise ReplayError(
                    f"{where} starts from {entry.from_status}/{entry.from_level}, "
                    f"the log had reached {state.status}/{state.level}"
                )
            state = replace(state, **_decode(entry.data))
        if (state.status, state.level, state.version) != (
            entry.to_status,
            entry.to_level,
            entry.version,
        ):
            raise ReplayError(f"entry {index} data disagrees with its to_status/to_level/version")
    if state is None:
        raise ReplayError("an empty audit log describes no event")
    return state


def time_in(
    status: Status, moves: Iterable[tuple[datetime, Status | None, Status]], now: datetime
) -> timedelta:
    """How long an event stayed in ``status``, from its audit rows' ``(at, from_status,
    to_status)`` in order: each stay runs from the row that enters it to the row that leaves it
    (rows that stay in it do not matter); a stay not left yet counts up to ``now``."""
    total, since = timedelta(0), None
    for at, before, after in moves:
        if after is status and before is not status:
            since = at
        elif before is status and after is not status and since is not None:
            total += at - since
            since = None
    if since is not None:
        total += max(now - since, timedelta(0))
    return total

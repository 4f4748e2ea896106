"""Request and response shapes of events. ``EventOut`` is THE event representation of the API;
``build_event_out`` makes it from an event row and the few values that live in other tables
(the action routes of the dispatch engine reuse both)."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from domain.coords import CoordSystem
from domain.lifecycle import Status
from kernel.instants import UtcDatetime

DESCRIPTION_MAX = 2000

#: Text PostgreSQL can store (no NUL character): a NUL is a 422, not a database error.
NO_NUL = r"^[^\x00]*$"

Description = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=DESCRIPTION_MAX, pattern=NO_NUL
    ),
]
CategoryCode = Annotated[str, StringConstraints(min_length=1, max_length=32)]


class LocationIn(BaseModel):
    """Where the problem is, in the coordinate system the phone's map SDK reports."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=-180, le=180, allow_inf_nan=False, description="longitude, degrees")
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="latitude, degrees")
    coord: CoordSystem = Field(description="wgs84 (GPS), gcj02 (Amap/Tencent), bd09 (Baidu)")
    accuracy_m: float | None = Field(
        None, ge=0, le=10_000, allow_inf_nan=False, description="GPS accuracy radius, metres"
    )


class EventCreate(BaseModel):
    """A report. ``client_id`` is generated once on the phone; resending it is safe."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "client_id": "0b5c2a9e-8d7f-4f3e-9a51-7d2a1c3e4f60",
                    "category": "exposed_garbage",
                    "description": "学院路与北环路交叉口东北角垃圾桶满溢",
                    "location": {"lon": 118.1864, "lat": 39.6312, "coord": "gcj02",
                                 "accuracy_m": 8},
                    "occurred_at": "2026-03-02T09:41:00+08:00",
                }
            ]
        },
    )  # fmt: skip

    client_id: uuid.UUID = Field(description="idempotency key, a UUID made by the phone")
    category: CategoryCode = Field(description="a category code from GET /api/v1/categories")
    description: Description
    location: LocationIn
    occurred_at: UtcDatetime | None = Field(
        None, description="when the reporter saw it (device clock, with offset); ≤ 72 h ago"
    )
    duplicate_of: int | None = Field(
        None,
        ge=1,
        le=2**63 - 1,
        description="link the report to this open event (one of the candidates) instead of "
        "opening a new one: it is merged into it, counts once, and follows it",
    )

    def request_hash(self) -> str:
        """sha256 of the canonical JSON of the body: the same report always hashes the same,
        whatever its key order, whitespace or time-zone offset (a report without a link hashes
        as before links existed)."""
        body = self.model_dump(
            mode="json", exclude={"duplicate_of"} if self.duplicate_of is None else None
        )
        body["client_id"] = str(self.client_id)
        body["occurred_at"] = (
            self.occurred_at.astimezone(UTC).isoformat() if self.occurred_at else None
        )
        canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()


class StaffRef(BaseModel):
    id: int
    name: str


class PositionOut(BaseModel):
    lon: float
    lat: float
    coord: CoordSystem = Field(description="the coordinate system these numbers are in")


class LocationOut(BaseModel):
    """Where: ``lon``/``lat`` converted to WGS-84 (what the grid map uses, and ``coord`` says
    so), and ``as_sent``, the numbers the phone sent labelled with their own system."""

    lon: float = Field(description="WGS-84 longitude")
    lat: float = Field(description="WGS-84 latitude")
    coord: Literal[CoordSystem.wgs84] = Field(
        CoordSystem.wgs84, description="always wgs84: the system of lon and lat"
    )
    as_sent: PositionOut = Field(description="the position as the phone reported it")
    accuracy_m: float | None


class DuplicateCandidate(BaseModel):
    """An open event a new report may duplicate (same category, near, recent)."""

    event_id: int
    status: str
    created_at: datetime
    distance_m: float


class PendingRequestOut(BaseModel):
    """A holder's request waiting for the level above (延期 extension, 挂账 parking)."""

    kind: Literal["extension", "parking"]
    requested_at: datetime
    reason: str
    deadline: datetime | None = Field(
        description="extension: the new resolve deadline asked for; parking: the review date "
        "(null: none given)"
    )


class EventOut(BaseModel):
    """An event. Times are ISO 8601 in the service's time zone (Asia/Shanghai by default)."""

    id: int
    client_id: uuid.UUID
    grid_code: str
    category: str
    status: Status
    level: int = Field(description="0 grid, 1 community, 2 command centre, 3 department")
    assignee: StaffRef | None
    assignee_role: str | None
    department: str | None
    description: str
    location: LocationOut
    snapped: bool = Field(description="outside every grid but within GPS accuracy: snapped")
    distance_m: float = Field(description="distance to the grid when snapped, metres")
    reporter: StaffRef | None
    occurred_at: datetime | None
    received_at: datetime
    created_at: datetime
    ack_due_at: datetime | None
    due_at: datetime | None
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    voided_at: datetime | None
    suspended_at: datetime | None
    rework_count: int
    escalation_count: int
    version: int
    promised_ack_at: datetime | None = Field(
        None,
        description="the original promise: the acknowledgement deadline of the first dispatch. "
        "ack_due_at is the current stage clock (restarted by re-dispatch, escalation, rework); "
        "this moves only when a suspension pauses the clocks",
    )
    promised_due_at: datetime | None = Field(
        None,
        description="the original promise: the resolution deadline of the first dispatch, "
        "moved only by a suspension (按期处置率 measures against it); due_at is the current "
        "stage clock",
    )
    rejection_note: str | None = Field(
        None,
        description="the reviewer's note on the last rejected fix (返工 reason); kept until the "
        "next review decides (a new rejection replaces it, an approval keeps it as the record)",
    )
    rejected_at: datetime | None = Field(
        None,
        description="when the last fix was rejected; a fix is pending rework while the event "
        "is dispatched or acknowledged and rejected_at is later than its last resolution",
    )
    ack_allowance_s: float | None = Field(
        None,
        description="seconds allowed to acknowledge in the current deadline period, counted "
        "on the category's calendar (working seconds unless it is 24x7)",
    )
    resolve_allowance_s: float | None = Field(
        None,
        description="seconds allowed to resolve in the current period, on the category's calendar",
    )
    ack_warn_at: datetime | None = Field(
        None,
        description="when the acknowledgement clock enters 'warning' (50 % of its allowance "
        "on the category's calendar); a client shows the SLA state from this and ack_due_at",
    )
    resolve_warn_at: datetime | None = Field(
        None, description="when the resolution clock enters 'warning' (50 %), like ack_warn_at"
    )
    dispatch_due_at: datetime | None = Field(
        None,
        description="派遣时限: the registered event is to be dispatched by then (the category's "
        "dispatch_minutes on its calendar from registration); kept after the dispatch",
    )
    dispatch_warn_at: datetime | None = Field(
        None, description="when the dispatch clock enters 'warning' (50 %)"
    )
    review_due_at: datetime | None = Field(
        None,
        description="核查时限: the fix is to be reviewed (closed or sent back) by then (the "
        "category's review_minutes on its calendar from the resolution); kept after the review",
    )
    review_warn_at: datetime | None = Field(
        None, description="when the review clock enters 'warning' (50 %)"
    )
    verify_due_at: datetime | None = Field(
        None,
        description="立案/核实时限: a public or hotline report is to be verified (confirmed, "
        "rejected or linked) by then (the category's verify_minutes on the grid level's "
        "calendar from its receipt; the 按时核实 deadline); kept after the decision",
    )
    verify_warn_at: datetime | None = Field(
        None, description="when the verification clock enters 'warning' (50 %)"
    )
    clock_fallback: bool = Field(
        False,
        description="the deadlines reach a year the category's calendar has not loaded: those "
        "days were counted as whole working days (see README, 'Working calendars')",
    )
    cycle: int = Field(
        1,
        description="the case's cycle: 1, and one more each time the closed case was reopened "
        "(重开: a new dispatch, new clocks and promise; counted as rework)",
    )
    pending_request: PendingRequestOut | None = Field(
        None,
        description="the holder's request waiting for the level above (at most one); it moves "
        "nothing until approved",
    )
    parked_until: datetime | None = Field(
        None, description="a parked case's (挂账) review date; null when none was given"
    )
    parked_s: float | None = Field(
        None,
        description="on a single event's read only (GET /events/{id}): the wall-clock seconds "
        "it has spent parked (挂账) over its life, from its audit rows — a parking not lifted "
        "yet counts up to now; parked time never counts against the handler's clocks",
    )
    duplicate_candidates: list[DuplicateCandidate] | None = Field(
        None,
        description="on a new report's answer only: open events of the same category near it "
        "(nearest first) that it may duplicate",
    )


@dataclass(frozen=True)
class EventRefs:
    """What an ``EventOut`` needs beyond the event row: codes and names from other tables and
    the stored WGS-84 point."""

    grid_code: str
    category: str
    lon: float
    lat: float
    reporter: StaffRef | None = None
    assignee: StaffRef | None = None


def _local(value: datetime | None, tz: tzinfo) -> datetime | None:
    return None if value is None else value.astimezone(tz)


class EventRow(Protocol):
    """What ``build_event_out`` reads of an event: an ``Event`` row, or the values of one
    just written (the report answers from what it wrote, without reading it back)."""

    id: int | None
    client_id: uuid.UUID
    status: str
    level: int
    assignee_role: str | None
    department: str | None
    description: str
    coord: str
    orig_lon: float
    orig_lat: float
    accuracy_m: float | None
    snapped: bool
    distance_m: float
    occurred_at: datetime | None
    received_at: datetime
    created_at: datetime
    ack_due_at: datetime | None
    due_at: datetime | None
    dispatched_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    voided_at: datetime | None
    suspended_at: datetime | None
    rework_count: int
    escalation_count: int
    version: int
    promised_ack_at: datetime | None
    promised_due_at: datetime | None
    rejection_note: str | None
    rejected_at: datetime | None
    ack_allowance: timedelta | None
    resolve_allowance: timedelta | None
    ack_warn50_at: datetime | None
    resolve_warn50_at: datetime | None
    dispatch_warn50_at: datetime | None
    dispatch_due_at: datetime | None
    review_warn50_at: datetime | None
    review_due_at: datetime | None
    verify_warn50_at: datetime | None
    verify_due_at: datetime | None
    clock_fallback: bool
    cycle: int
    request_kind: str | None
    requested_at: datetime | None
    request_reason: str | None
    request_deadline: datetime | None
    parked_until: datetime | None


def _pending(event: EventRow, tz: tzinfo) -> PendingRequestOut | None:
    if event.request_kind is None or event.requested_at is None:
        return None
    return PendingRequestOut(
        kind="parking" if event.request_kind == "parking" else "extension",
        requested_at=event.requested_at.astimezone(tz),
        reason=event.request_reason or "",
        deadline=_local(event.request_deadline, tz),
    )


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()


def build_event_out(event: EventRow, refs: EventRefs, *, tz: tzinfo) -> EventOut:
    """The API representation of an event row; times shown in ``tz``."""
    assert event.id is not None
    return EventOut(
        id=event.id,
        client_id=event.client_id,
        grid_code=refs.grid_code,
        category=refs.category,
        status=Status(event.status),
        level=event.level,
        assignee=refs.assignee,
        assignee_role=event.assignee_role,
        department=event.department,
        description=event.description,
        location=LocationOut(
            lon=refs.lon,
            lat=refs.lat,
            as_sent=PositionOut(
                lon=event.orig_lon, lat=event.orig_lat, coord=CoordSystem(event.coord)
            ),
            accuracy_m=event.accuracy_m,
        ),
        snapped=event.snapped,
        distance_m=round(event.distance_m, 2),
        reporter=refs.reporter,
        occurred_at=_local(event.occurred_at, tz),
        received_at=event.received_at.astimezone(tz),
        created_at=event.created_at.astimezone(tz),
        ack_due_at=_local(event.ack_due_at, tz),
        due_at=_local(event.due_at, tz),
        dispatched_at=_local(event.dispatched_at, tz),
        acknowledged_at=_local(event.acknowledged_at, tz),
        resolved_at=_local(event.resolved_at, tz),
        closed_at=_local(event.closed_at, tz),
        voided_at=_local(event.voided_at, tz),
        suspended_at=_local(event.suspended_at, tz),
        rework_count=event.rework_count,
        escalation_count=event.escalation_count,
        version=event.version,
        promised_ack_at=_local(event.promised_ack_at, tz),
        promised_due_at=_local(event.promised_due_at, tz),
        rejection_note=event.rejection_note,
        rejected_at=_local(event.rejected_at, tz),
        ack_allowance_s=_seconds(event.ack_allowance),
        resolve_allowance_s=_seconds(event.resolve_allowance),
        ack_warn_at=_local(event.ack_warn50_at, tz),
        resolve_warn_at=_local(event.resolve_warn50_at, tz),
        dispatch_due_at=_local(event.dispatch_due_at, tz),
        dispatch_warn_at=_local(event.dispatch_warn50_at, tz),
        review_due_at=_local(event.review_due_at, tz),
        review_warn_at=_local(event.review_warn50_at, tz),
        verify_due_at=_local(event.verify_due_at, tz),
        verify_warn_at=_local(event.verify_warn50_at, tz),
        clock_fallback=event.clock_fallback,
        cycle=event.cycle,
        pending_request=_pending(event, tz),
        parked_until=_local(event.parked_until, tz),
    )


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str | None = Field(description="pass as ?cursor= for the next page; null: done")


class ActorOut(BaseModel):
    id: str = Field(description="staff id, or 'system' for timers, 'public' for citizens")
    name: str | None


class RequestRecordOut(BaseModel):
    """What a request row asked, or what a decision row decided on (延期, 挂账)."""

    requested_by: str | None = Field(description="staff id of the holder who asked")
    reason: str | None = Field(description="the request's reason")
    deadline: datetime | None = Field(
        description="the deadline asked for (extension) or the review date (parking)"
    )
    previous_due_at: datetime | None = Field(
        None, description="on a decision: the resolve deadline before it"
    )


class HistoryEntry(BaseModel):
    version: int
    action: str
    from_status: str | None
    to_status: str
    from_level: int | None
    to_level: int
    actor: ActorOut
    at: datetime
    note: str
    reason: str | None
    clock: str | None = Field(
        None,
        description="a warning's or breach's clock: 'verify' (立案/核实), 'dispatch' (派遣), "
        "'ack' (签收), 'resolve' (处置) or 'review' (核查/结案)",
    )
    percent: int | None = Field(
        None, description="a warning's or breach's share of its clock's allowance: 50, 75, 100"
    )
    clock_due_at: datetime | None = Field(
        None, description="the deadline of the stage clock that warned or breached"
    )
    promised_at: datetime | None = Field(
        None, description="the original promise for the same clock (promised_ack_at/_due_at)"
    )
    request: RequestRecordOut | None = Field(
        None,
        description="a 延期 / 挂账 request row: what was asked; a decision row (approve_*, "
        "refuse_*): the request it decided (the row's actor is the approver, its note the "
        "refusal's reason)",
    )


class HistoryOut(BaseModel):
    event_id: int
    items: list[HistoryEntry]

"""Tables of events and their append-only audit log.

The event row holds the dispatch core's ``EventState`` field for field (same names), so
``dispatch.store`` maps one to the other without a translation table.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Identity,
    Index,
    Interval,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel

from kernel.db import timestamp_field as _ts


class Event(SQLModel, table=True):
    """事件: one reported problem. The lifecycle columns mirror ``domain.lifecycle.EventState``."""

    __table_args__ = (
        Index("ix_event_open_due", "status", "due_at"),
        Index("ix_event_grid_created", "grid_id", "created_at"),
        Index("ix_event_assignee_status", "assignee_id", "status"),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    client_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False, unique=True))
    request_hash: str = Field(max_length=64, description="sha256 of the report body")
    category_id: int = Field(foreign_key="category.id", index=True)
    grid_id: int = Field(foreign_key="grid.id")
    community_id: int = Field(foreign_key="community.id", index=True)
    description: str = Field(sa_column=Column(Text, nullable=False))
    geom: Any = Field(sa_column=Column(Geometry("POINT", srid=4326), nullable=False))
    coord: str = Field(max_length=8, description="the coordinate system the phone sent")
    orig_lon: float
    orig_lat: float
    accuracy_m: float | None = None
    snapped: bool = False
    distance_m: float = 0.0
    source: str = Field(default="staff", max_length=16)
    occurred_at: datetime | None = _ts()
    received_at: datetime = _ts(nullable=False)
    reporter_id: int | None = Field(default=None, foreign_key="staff.id", index=True)
    # A report linked to an open event it duplicates: it counts once (the original), and its
    # reporter follows the original's progress.
    duplicate_of: int | None = Field(
        default=None, sa_column=Column(BigInteger, ForeignKey("event.id"), nullable=True)
    )

    # --- the dispatch core's state (EventState), field for field -----------------------
    status: str = Field(max_length=24)  # looked up through ix_event_open_due (status, due_at)
    level: int = 0
    version: int = 1
    assignee_id: int | None = Field(default=None, foreign_key="staff.id")
    assignee_role: str | None = Field(default=None, max_length=16)
    department: str | None = Field(default=None, max_length=32)
    created_at: datetime = _ts(nullable=False, index=True)
    ack_due_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    ack_allowance: timedelta | None = Field(default=None, sa_column=Column(Interval))
    resolve_allowance: timedelta | None = Field(default=None, sa_column=Column(Interval))
    ack_remaining: timedelta | None = Field(default=None, sa_column=Column(Interval))
    resolve_remaining: timedelta | None = Field(default=None, sa_column=Column(Interval))
    ack_warn50_at: datetime | None = _ts()
    ack_warn75_at: datetime | None = _ts()
    resolve_warn50_at: datetime | None = _ts()
    resolve_warn75_at: datetime | None = _ts()
    dispatch_warn50_at: datetime | None = _ts()
    dispatch_warn75_at: datetime | None = _ts()
    dispatch_due_at: datetime | None = _ts()
    review_warn50_at: datetime | None = _ts()
    review_warn75_at: datetime | None = _ts()
    review_due_at: datetime | None = _ts()
    verify_warn50_at: datetime | None = _ts()
    verify_warn75_at: datetime | None = _ts()
    verify_due_at: datetime | None = _ts()
    resolution_working_time: timedelta | None = Field(default=None, sa_column=Column(Interval))
    promised_ack_at: datetime | None = _ts()
    promised_due_at: datetime | None = _ts()
    clock_fallback: bool = Field(default=False, sa_column_kwargs={"server_default": text("false")})
    deadline_version: int = 0
    warnings_sent: list[str] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(String), nullable=False, server_default=text("'{}'")),
    )
    rework_count: int = 0
    redispatch_count: int = 0
    escalation_count: int = 0
    last_escalation_reason: str | None = Field(default=None, max_length=24)
    suspended_at: datetime | None = _ts()
    resume_status: str | None = Field(default=None, max_length=24)
    dispatched_at: datetime | None = _ts()
    acknowledged_at: datetime | None = _ts()
    resolved_at: datetime | None = _ts()
    closed_at: datetime | None = _ts(index=True)
    voided_at: datetime | None = _ts()
    rejection_note: str | None = Field(default=None, sa_column=Column(Text))
    rejected_at: datetime | None = _ts()
    cycle: int = Field(default=1, sa_column_kwargs={"server_default": text("1")})
    request_kind: str | None = Field(default=None, max_length=16)
    requested_at: datetime | None = _ts()
    request_reason: str | None = Field(default=None, sa_column=Column(Text))
    request_deadline: datetime | None = _ts()
    parked_until: datetime | None = _ts()


class EventAudit(SQLModel, table=True):
    """One append-only row per state change: who, what, when, from → to, note, and the
    changed fields (``data``) so the state can be replayed from the log."""

    __tablename__ = "event_audit"
    __table_args__ = (UniqueConstraint("event_id", "version"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    # Looked up through the unique (event_id, version) index.
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    version: int
    action: str = Field(max_length=24)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str = Field(max_length=24)
    from_level: int | None = None
    to_level: int
    actor: str = Field(max_length=64, description="staff id, or 'system' for timers")
    at: datetime = _ts(nullable=False, index=True)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    reason: str | None = Field(default=None, max_length=24)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    hash: bytes | None = Field(
        default=None,
        sa_column=Column(LargeBinary),
        description="sha256(previous row's hash || canonical text), set by the trigger audit_chain",
    )


class AuditDayHead(SQLModel, table=True):
    """A sealed day of the audit log (service time zone): its rows, the sha256 of their hashes
    in (event_id, version) order, and the head chained over the days sealed before it."""

    __tablename__ = "audit_day_head"

    day: date = Field(primary_key=True)
    rows: int = Field(sa_column=Column(BigInteger, nullable=False))
    digest: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    head: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    sealed_at: datetime = _ts(nullable=False)

"""Tables of the event lifecycle: categories, events, the audit log, the outbox,
photos and patrols.

The event row holds the dispatch core's ``EventState`` field for field (same names), so
``dispatch.store`` maps one to the other without a translation table.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Interval,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = True, index: bool = False) -> Any:
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index),
    )


class Category(SQLModel, table=True):
    """事件类别: what kind of problem, with its time limits and routing."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    name: str = Field(max_length=32, unique=True)
    ack_minutes: float = Field(gt=0)
    resolve_minutes: float = Field(gt=0)
    big: bool = False
    department: str | None = Field(default=None, max_length=32)
    active: bool = True


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

    # --- the dispatch core's state (EventState), field for field -----------------------
    status: str = Field(max_length=24, index=True)
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


class EventAudit(SQLModel, table=True):
    """One append-only row per state change: who, what, when, from → to, note, and the
    changed fields (``data``) so the state can be replayed from the log."""

    __tablename__ = "event_audit"
    __table_args__ = (UniqueConstraint("event_id", "version"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    version: int
    action: str = Field(max_length=24)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str = Field(max_length=24)
    from_level: int | None = None
    to_level: int
    actor: str = Field(max_length=64, description="staff id, or 'system' for timers")
    at: datetime = _ts(nullable=False)
    note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    reason: str | None = Field(default=None, max_length=24)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))


class Outbox(SQLModel, table=True):
    """Messages written in the same transaction as a state change; the relay hands them to
    RQ (timers, dispatch jobs) and to the notification adapters, then marks them done."""

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "available_at",
            postgresql_where=text("processed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    event_id: int | None = Field(default=None, sa_column=Column(BigInteger, index=True))
    topic: str = Field(max_length=32, description="timer.set | timer.cancel | notify | dispatch")
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    created_at: datetime = _ts(nullable=False)
    available_at: datetime = _ts(nullable=False)
    processed_at: datetime | None = _ts()
    attempts: int = 0
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class Photo(SQLModel, table=True):
    """An uploaded image, stored once by content hash under the media folder."""

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    media_type: str = Field(max_length=32)
    size_bytes: int
    width: int | None = None
    height: int | None = None
    exif_lon: float | None = None
    exif_lat: float | None = None
    exif_taken_at: str | None = Field(default=None, max_length=32)
    created_at: datetime = _ts(nullable=False)


class EventPhoto(SQLModel, table=True):
    """A photo attached to an event at a stage: ``report`` or ``resolve``."""

    __tablename__ = "event_photo"
    __table_args__ = (UniqueConstraint("event_id", "stage", "photo_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    photo_id: int = Field(foreign_key="photo.id")
    stage: str = Field(max_length=16)
    uploaded_by: int = Field(foreign_key="staff.id")
    created_at: datetime = _ts(nullable=False)


class Patrol(SQLModel, table=True):
    """巡查: one grid member's walk, a GPS track with times."""

    id: int | None = Field(default=None, primary_key=True)
    client_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False, unique=True))
    staff_id: int = Field(foreign_key="staff.id", index=True)
    grid_id: int = Field(foreign_key="grid.id", index=True)
    started_at: datetime = _ts(nullable=False)
    stopped_at: datetime | None = _ts()
    length_m: float | None = None
    track: Any = Field(default=None, sa_column=Column(Geometry("LINESTRING", srid=4326)))


class PatrolPoint(SQLModel, table=True):
    """A GPS fix of a patrol; ``batch_id`` makes each uploaded batch idempotent."""

    __tablename__ = "patrol_point"
    __table_args__ = (UniqueConstraint("patrol_id", "batch_id", "seq"),)

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    patrol_id: int = Field(foreign_key="patrol.id", index=True)
    batch_id: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False))
    seq: int
    at: datetime = _ts(nullable=False)
    geom: Any = Field(sa_column=Column(Geometry("POINT", srid=4326), nullable=False))
    accuracy_m: float | None = None

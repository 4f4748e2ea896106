"""Tables of patrols (巡查) and their GPS points."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Column, Identity, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field, SQLModel

from kernel.db import timestamp_field as _ts


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

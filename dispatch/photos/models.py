"""Tables of photos (stored once by content hash) and their links to events by stage."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from kernel.db import timestamp_field as _ts


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
    uploaded_by: int | None = Field(
        default=None, foreign_key="staff.id", description="staff id; None: sent by the public"
    )
    created_at: datetime = _ts(nullable=False)

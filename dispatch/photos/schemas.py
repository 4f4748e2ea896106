"""Shapes of photos as the API shows them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field


class Stage(StrEnum):
    """When a photo was taken: with the report, at the on-site verification of a public
    report (evidence for a rejection), or as evidence of the fix."""

    report = "report"
    verify = "verify"
    resolve = "resolve"


class Exif(BaseModel):
    """What the photo's EXIF says: evidence, never used to place the event."""

    lon: float | None
    lat: float | None
    taken_at: str | None


class PhotoOut(BaseModel):
    id: int
    sha256: str
    media_type: str
    size: int
    width: int | None
    height: int | None
    stage: Stage
    uploaded_by: int | None = Field(description="staff id; null: sent with a public report")
    created_at: datetime
    exif: Exif | None
    url: str


class PhotoList(BaseModel):
    items: list[PhotoOut]

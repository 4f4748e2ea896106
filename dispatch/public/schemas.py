"""Shapes of the public door on the Wangge API (/api/v1): hotline entry, verification, the
report's own facts (with the reporter's contact, for staff who may see the event), API
clients."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dispatch.events.schemas import Description, DuplicateCandidate, LocationIn
from domain.intake import Outcome, RejectReason

HotlineCase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[\w-]+$")
]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9+\- ()]{3,32}$")]


class HotlineReportIn(BaseModel):
    """A 12345 call entered by a dispatcher for the caller."""

    model_config = ConfigDict(extra="forbid")

    hotline_case: HotlineCase = Field(description="the hotline's own case number (unique)")
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    description: Description
    location: LocationIn
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] | None = None
    caller_name: Short | None = None
    caller_phone: Phone | None = None


class PublicReportOut(BaseModel):
    """A public or hotline report's own facts. ``reporter_*`` is personal data: only staff who
    may see the event read it, never the public door."""

    event_id: int
    channel: str
    token: str
    hotline_case: str | None
    address: str | None
    media_url: str | None
    attributes: dict[str, str]
    reporter_name: str | None
    reporter_phone: str | None
    reporter_email: str | None
    received_at: datetime
    verify_due_at: datetime
    verified_at: datetime | None
    outcome: str | None
    outcome_note: str
    duplicate_of: int | None
    duplicate_candidates: list[DuplicateCandidate] = Field(
        description="open events of the same category near it (nearest first)"
    )


class VerifyIn(BaseModel):
    """The on-site verification: confirmed, rejected (reason, and a photo at stage
    ``verify`` uploaded first) or a duplicate of an open event."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    reason: RejectReason | None = None
    duplicate_of: int | None = Field(None, ge=1)
    note: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] = ""
    version: int | None = Field(None, ge=1)


class ApiClientIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Short
    channel: Annotated[str, StringConstraints(pattern=r"^(public|hotline)$")]


class ApiClientOut(BaseModel):
    id: int
    name: str
    channel: str
    key_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    revoked_reason: str


class ApiClientIssued(ApiClientOut):
    api_key: str = Field(description="shown once; only its hash is stored")


class RevokeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""

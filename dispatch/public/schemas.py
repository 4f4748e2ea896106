"""Shapes of the public door on the Wangge API (/api/v1): hotline entry, verification, the
report's own facts (with the reporter's contact, for staff who may see the event), API
clients."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from dispatch.events.schemas import NO_NUL, Description, DuplicateCandidate, LocationIn
from domain.intake import Outcome, RejectReason
from kernel.paging import MAX_BIGINT

MAX_INT = 2**31 - 1

HotlineCase = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[\w-]+$")
]
Short = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=NO_NUL)
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500, pattern=NO_NUL)]
Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9+\- ()]{3,32}$")]


class HotlineReportIn(BaseModel):
    """A 12345 call entered by a dispatcher for the caller."""

    model_config = ConfigDict(extra="forbid")

    hotline_case: HotlineCase = Field(description="the hotline's own case number (unique)")
    category: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    description: Description
    location: LocationIn
    address: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=255, pattern=NO_NUL)]
        | None
    ) = None
    caller_name: Short | None = None
    caller_phone: Phone | None = None


class ReopenCandidate(BaseModel):
    """A closed event a confirmed report would reopen (复发): same category, near, recently
    closed."""

    event_id: int
    closed_at: datetime
    distance_m: float


class PublicReportOut(BaseModel):
    """Where an event's report came from, and a public or hotline report's own facts (a staff
    report has channel ``staff`` and none of them). ``reporter_*`` is personal data: only
    staff who may see the event read it, never the public door."""

    event_id: int
    channel: str
    token: str | None = Field(description="the Open311 token (public and hotline reports)")
    hotline_case: str | None
    address: str | None
    media_url: str | None
    attributes: dict[str, str] = {}
    reporter_name: str | None
    reporter_phone: str | None
    reporter_email: str | None
    received_at: datetime
    verify_due_at: datetime | None
    verified_at: datetime | None
    outcome: str | None
    outcome_note: str
    duplicate_of: int | None
    duplicate_candidates: list[DuplicateCandidate] = Field(
        description="open events of the same category near it (nearest first)"
    )
    reopen_candidates: list[ReopenCandidate] = Field(
        [],
        description="while it waits for verification: closed events of the same category "
        "near it closed within WANGGE_REOPEN_WINDOW_DAYS (nearest, then most recently closed)",
    )
    reopens: int | None = Field(
        None,
        description="the closed event a confirmation would reopen now (复发): the first reopen "
        "candidate, unless an open event of the category lies within the distance (it wins)",
    )


class VerifyIn(BaseModel):
    """The on-site verification: confirmed, rejected (reason, and a photo at stage
    ``verify`` uploaded first) or a duplicate of an open event. A confirmation that matches a
    recently closed event reopens it and links the report to it (``reopen``)."""

    model_config = ConfigDict(extra="forbid")

    outcome: Outcome
    reason: RejectReason | None = None
    duplicate_of: int | None = Field(None, ge=1, le=MAX_BIGINT)
    note: Text = ""
    version: int | None = Field(None, ge=1, le=MAX_INT)
    reopen: bool = Field(
        True,
        description="confirmed only: reopen a matching closed event (复发) instead of opening "
        "a new one (false: always a new event)",
    )


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

    reason: Text = ""


class MergeIn(BaseModel):
    """Merge this event into the open event ``into`` (command centre)."""

    model_config = ConfigDict(extra="forbid")

    into: int = Field(ge=1, le=MAX_BIGINT, description="the open event this one duplicates")
    note: Text = ""
    version: int | None = Field(None, ge=1, le=MAX_INT)


class UnmergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: Text = ""
    version: int | None = Field(None, ge=1, le=MAX_INT)


class VerificationTask(BaseModel):
    """A public or hotline report waiting for on-site verification (核实任务)."""

    event_id: int
    channel: str
    category: str
    grid_code: str
    description: str
    address: str | None
    lon: float
    lat: float
    received_at: datetime
    verify_due_at: datetime
    overdue: bool
    version: int

"""Tables of the public door: the API clients that may post, and what a public or hotline
report carries beyond its event row (who reported it — personal data, never shown publicly —
where it was said to be, and its verification)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Text, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlmodel import Field, SQLModel

from kernel.db import timestamp_field as _ts


class ApiClient(SQLModel, table=True):
    """An Open311 client an administrator issued a key to (an app, a WeChat mini-program's
    backend, the 12345 hotline system). Only the key's SHA-256 is stored; a revoked key is on
    the blocklist for good."""

    __tablename__ = "api_client"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=64, unique=True)
    channel: str = Field(max_length=16, description="public | hotline")
    key_prefix: str = Field(max_length=16, description="the key's first characters, to name it")
    key_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = _ts(nullable=False)
    revoked_at: datetime | None = _ts()
    revoked_reason: str = Field(
        default="", sa_column=Column(Text, nullable=False, server_default="")
    )


class PublicReport(SQLModel, table=True):
    """A public or hotline report's own facts, one row per such event."""

    __tablename__ = "public_report"

    event_id: int = Field(
        sa_column=Column(BigInteger, ForeignKey("event.id", ondelete="CASCADE"), primary_key=True)
    )
    channel: str = Field(max_length=16)
    token: uuid.UUID = Field(sa_column=Column(UUID(as_uuid=True), nullable=False, unique=True))
    api_client_id: int | None = Field(default=None, foreign_key="api_client.id", index=True)
    hotline_case: str | None = Field(default=None, max_length=32, unique=True)
    address: str | None = Field(default=None, max_length=255)
    media_url: str | None = Field(default=None, max_length=1024)
    attributes: dict[str, Any] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )
    # personal data: only staff who may see the event read it
    reporter_name: str | None = Field(default=None, max_length=64)
    reporter_phone: str | None = Field(default=None, max_length=32)
    reporter_email: str | None = Field(default=None, max_length=254)
    verify_due_at: datetime = _ts(nullable=False)
    verified_at: datetime | None = _ts()
    outcome: str | None = Field(default=None, max_length=16)
    outcome_note: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    verified_by: int | None = Field(default=None, foreign_key="staff.id")

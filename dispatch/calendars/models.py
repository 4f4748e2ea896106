"""The calendar table: a working calendar's JSON form (``domain.calendar``) and its revision."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, DateTime, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


class WorkCalendarRow(SQLModel, table=True):
    """工作日历: ``spec`` is ``domain.calendar.calendar_json``; ``revision`` goes up each load."""

    __tablename__ = "work_calendar"

    code: str = Field(primary_key=True, max_length=32)
    name: str = Field(max_length=64)
    spec: dict[str, Any] = Field(sa_column=Column(JSONB, nullable=False))
    revision: int = 1
    loaded_at: datetime = Field(
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now())
    )

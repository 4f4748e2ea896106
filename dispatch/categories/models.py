"""The category table: what kind of problem, with its time limits and routing."""

from __future__ import annotations

from sqlalchemy import Column, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel


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
    verify_minutes: float = Field(default=30.0, gt=0)
    calendar: str = Field(default="24x7", max_length=32, foreign_key="work_calendar.code")
    dispatch_minutes: float = Field(default=5.0, gt=0)  # 派遣时限: registration → dispatch
    review_minutes: float = Field(default=60.0, gt=0)  # 核查时限: fix → review decision
    #: A level's own calendar by level ("0" grid … "3" department); other levels use
    #: ``calendar`` (docs/decisions/0023).
    level_calendars: dict[str, str] = Field(
        default_factory=dict,
        sa_column=Column(JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    )

    def calendar_code_at(self, level: int) -> str:
        """The calendar of the clocks ``level`` answers for (``SlaPolicy.calendar_at``'s
        choice, by code)."""
        return self.level_calendars.get(str(level), self.calendar)

    def calendar_codes(self) -> set[str]:
        """Every calendar the category's clocks can run on."""
        return {self.calendar, *self.level_calendars.values()}

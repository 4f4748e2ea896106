"""Request and response shapes of the calendar routes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class CalendarOut(BaseModel):
    code: str
    name: str
    time_zone: str
    continuous: bool = Field(description="24×7: every minute counts, every year is known")
    years: list[int] = Field(description="the years whose working days are loaded")
    revision: int
    loaded_at: datetime
    categories: list[str] = Field(description="the categories whose clocks use it")


class CalendarFile(BaseModel):
    """A calendar's JSON form (see README, 'Working calendars'); validated as a whole by
    ``domain.calendar.parse_calendar``, every problem named."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "code": "cn",
                "name": "中国法定工作日",
                "time_zone": "Asia/Shanghai",
                "weekly": [1, 2, 3, 4, 5],
                "hours": [["08:30", "12:00"], ["13:30", "17:30"]],
                "seasons": [
                    {
                        "from": "05-01",
                        "to": "09-30",
                        "hours": [["08:30", "12:00"], ["14:00", "18:00"]],
                    }
                ],
                "years": [2027],
                "holidays": ["2027-01-01"],
                "workdays": [],
            }
        },
    )

    code: str = Field(description="1–32 letters, digits, '_' or '-'")
    name: str | None = None
    time_zone: str | None = Field(None, description="IANA zone; default Asia/Shanghai")
    continuous: bool | None = Field(None, description="true: a 24×7 calendar (nothing else)")
    weekly: list[int] | None = Field(None, description="ISO weekdays that work; default 1–5")
    hours: list[list[str]] | None = Field(None, description='[["HH:MM", "HH:MM"], …]')
    seasons: list[dict[str, Any]] | None = Field(
        None, description='hours by date range: [{"from": "MM-DD", "to": "MM-DD", "hours": …}]'
    )
    years: list[int] | None = Field(None, description="the years whose days the file gives")
    holidays: list[str] | None = Field(None, description="weekdays off (YYYY-MM-DD)")
    workdays: list[str] | None = Field(None, description="调休: rest days that work")

    def data(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CalendarLoaded(BaseModel):
    code: str
    created: bool
    years: list[int]
    revision: int

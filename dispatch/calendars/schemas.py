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
        extra="allow",
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

    code: str

    def data(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


class CalendarLoaded(BaseModel):
    code: str
    created: bool
    years: list[int]
    revision: int

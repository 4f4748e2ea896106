"""Request and response shapes of the category routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# Minutes are fractional so tests can use seconds; the bounds keep deadlines representable.
MIN_MINUTES = 0.001
MAX_MINUTES = 525_600.0  # one year

Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
# No NUL character: PostgreSQL text cannot hold it (a 422, not a database error).
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[^\x00]*$"),
]
Department = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=32, pattern=r"^[^\x00]*$"),
]
Minutes = Annotated[float, Field(ge=MIN_MINUTES, le=MAX_MINUTES, allow_inf_nan=False)]
CalendarCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
#: A level by its number as a JSON key: 0 grid, 1 community, 2 command centre, 3 department.
LevelKey = Literal["0", "1", "2", "3"]
_LEVEL_CALENDARS = (
    "a level's own calendar, by level ('0' grid, '1' community, '2' command centre, "
    '\'3\' department), e.g. {"0": "24x7", "3": "cn"}: the clocks a level answers for '
    "run on it (handling at that level; 派遣 on level 2's; 核查 on the reviewer's); levels "
    "not named use calendar. Replaced as a whole by an update ({} clears it)"
)
_CALENDAR = (
    "the working calendar its minutes are counted on (工作日历): '24x7' counts wall-clock "
    "minutes, 'cn' the working minutes of the Chinese working days with 调休"
)


class CategoryOut(BaseModel):
    code: str
    name: str
    ack_minutes: float = Field(description="time to acknowledge (签收时限), minutes")
    resolve_minutes: float = Field(description="closure target (处置时限), minutes")
    big: bool = Field(description="big matters start at the command centre and go to a department")
    department: str | None
    active: bool
    verify_minutes: float = Field(
        description="time to verify a public or hotline report on site (核实时限), minutes"
    )
    calendar: str = Field(description=_CALENDAR)
    dispatch_minutes: float = Field(
        description="time from registration to dispatch (派遣时限), minutes on the calendar"
    )
    review_minutes: float = Field(
        description="time from the fix to the review's decision (核查时限), minutes on the calendar"
    )
    level_calendars: dict[str, str] = Field(description=_LEVEL_CALENDARS)


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code = Field(description="ASCII slug, e.g. exposed_garbage")
    name: Name
    ack_minutes: Minutes
    resolve_minutes: Minutes
    big: bool = False
    department: Department | None = None
    active: bool = True
    verify_minutes: Minutes = 30.0
    calendar: CalendarCode = Field("24x7", description=_CALENDAR)
    dispatch_minutes: Minutes = 5.0
    review_minutes: Minutes = 60.0
    level_calendars: dict[LevelKey, CalendarCode] = Field(
        default_factory=dict, description=_LEVEL_CALENDARS
    )

    @model_validator(mode="after")
    def _ack_before_resolve(self) -> CategoryCreate:
        if self.ack_minutes > self.resolve_minutes:
            raise ValueError("ack_minutes must not exceed resolve_minutes")
        return self


class CategoryUpdate(BaseModel):
    """Only the fields sent change; ``code`` is the identity and cannot change."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    ack_minutes: Minutes | None = None
    resolve_minutes: Minutes | None = None
    big: bool | None = None
    department: Department | None = Field(None, description="null clears the department")
    active: bool | None = None
    verify_minutes: Minutes | None = None
    calendar: CalendarCode | None = Field(None, description=_CALENDAR)
    dispatch_minutes: Minutes | None = None
    review_minutes: Minutes | None = None
    level_calendars: dict[LevelKey, CalendarCode] | None = Field(None, description=_LEVEL_CALENDARS)

    @model_validator(mode="before")
    @classmethod
    def _no_null_except_department(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                if value is None and key != "department" and key in cls.model_fields:
                    raise ValueError(f"{key} cannot be null")
        return data

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)

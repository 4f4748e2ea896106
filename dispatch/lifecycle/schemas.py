"""Bodies of the action routes. Every body may carry ``version`` (the version the caller saw):
a stale one is a 409 with the current version, so two dispatchers never overwrite each other."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class ActionIn(BaseModel):
    """acknowledge, resolve, escalate, suspend, resume, void."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"version": 3, "note": "已到场处理"}]}
    )

    version: int | None = Field(
        None, ge=1, le=2**31 - 1, description="the event version you acted on; stale → 409"
    )
    note: Note = Field("", description="a remark kept in the audit trail")


class ReviewIn(ActionIn):
    """review: pass (close) or fail (rework, counted)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": 5, "approved": False, "note": "照片不清晰"}]}
    )

    approved: bool = Field(description="true: the fix is accepted; false: rework")


class DispatchIn(ActionIn):
    """dispatch / re-dispatch (command centre): a named person, or a level whose handler the
    assignment rules choose (the level's queue when nobody qualifies)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": 1, "level": 0}, {"assignee_id": 12}]}
    )

    assignee_id: int | None = Field(None, ge=1, le=2**31 - 1, description="staff id")
    level: int | None = Field(
        None, ge=0, le=3, description="0 grid, 1 community, 2 command centre, 3 department"
    )

    @model_validator(mode="after")
    def _one_target(self) -> DispatchIn:
        if self.assignee_id is None and self.level is None:
            raise ValueError("give assignee_id (a person) or level (0-3)")
        return self


class ReasonIn(ActionIn):
    """refuse_extension, refuse_parking: the reason is required (not blank)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"version": 6, "note": "时限内可以完成，不予延期"}]}
    )

    note: Reason = Field(description="the reason, kept in the audit trail (required)")


class ExtensionIn(ReasonIn):
    """request_extension (延期申请): the reason and the new resolve deadline asked for."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"version": 4, "note": "需等待物业配合", "deadline": "2026-12-03T17:30:00+08:00"}
            ]
        }
    )

    deadline: AwareDatetime = Field(
        description="the new resolve deadline, with its time zone: later than the current one "
        "(due_at, or promised_due_at when that is later) and at most 30 days ahead"
    )


class ParkingIn(ReasonIn):
    """request_parking (挂账申请): the reason and, optionally, the day to look at it again."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"version": 4, "note": "需列入明年预算", "review_on": "2027-03-01"}]
        }
    )

    review_on: date | None = Field(
        None,
        description="the review date (its start, in the service's time zone): after today and "
        "at most 366 days ahead; none: parked until unparked",
    )


class ReopenIn(ReasonIn):
    """reopen (重开, command centre): the reason; to a person or a level, or (neither) to the
    handler of the closed cycle."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"note": "同一处再次堆放垃圾", "level": 0}]}
    )

    assignee_id: int | None = Field(None, ge=1, le=2**31 - 1, description="staff id")
    level: int | None = Field(
        None, ge=0, le=3, description="0 grid, 1 community, 2 command centre, 3 department"
    )

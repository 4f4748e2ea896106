"""Bodies of the action routes. Every body may carry ``version`` (the version the caller saw):
a stale one is a 409 with the current version, so two dispatchers never overwrite each other."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]


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

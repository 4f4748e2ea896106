"""Response shapes of the command centre's board."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class SlaTally(BaseModel):
    total: int
    ok: int
    warning: int = Field(description="past half of the current allowance")
    breached: int = Field(description="past the current deadline")
    queued: int = Field(
        description="dispatched and held by nobody: waiting in the level's queue for one of its "
        "staff to claim (``POST /events/{id}/claim``); level 2 is the command centre's shared "
        "queue (``GET /dispatch/queue``)"
    )
    by_status: dict[str, int]


class LevelTally(SlaTally):
    level: int
    name: str


class GridTally(BaseModel):
    code: str
    name: str
    community: str
    open: int
    warning: int
    breached: int


class CommunityTally(BaseModel):
    code: str
    name: str
    open: int
    warning: int
    breached: int


class StageTally(BaseModel):
    ok: int
    warning: int = Field(description="past half of the stage's allowance")
    breached: int = Field(description="past the stage's deadline")


class StagesOut(BaseModel):
    verify: StageTally = Field(
        description="立案/核实: public and hotline reports pending verification on their "
        "verification clock (verify_minutes on the grid level's calendar)"
    )
    dispatch: StageTally = Field(
        description="派遣: registered events on their dispatch clock (dispatch_minutes)"
    )
    handling: StageTally = Field(
        description="处置: dispatched or acknowledged events on their ack and resolve clocks"
    )
    review: StageTally = Field(
        description="核查/结案: resolved events waiting for review on their review clock "
        "(review_minutes); the review's approval is the close (结案), so this is the closure "
        "stage too"
    )


class BoardOut(BaseModel):
    at: datetime
    open: SlaTally
    stages: StagesOut = Field(
        description="open events by stage and the SLA state of the stage's clock (events whose "
        "clocks are paused, parked or merged are in none)"
    )
    clock_fallback: int = Field(
        description="open events whose deadlines reach a year their category's calendar has "
        "not loaded: the fallback counted those days as whole working days (load the year: "
        "`wangge calendar load FILE`)"
    )
    calendars_without_next_year: list[str] = Field(
        description="calendars that active categories use and that have no days loaded for "
        "next year: load the State Council's schedule before the year turns"
    )
    supervisions_open: int = Field(
        description="督办 notices raised by breaches and not yet acknowledged by their addressees "
        "(``GET /api/v1/supervisions``)"
    )
    requests_pending: int = Field(
        description="open events whose holder's 延期 (extension) or 挂账 (parking) request waits "
        "for the level above (``pending_request`` on the event)"
    )
    parked: int = Field(description="挂账: parked events, their clocks stopped (also by_status)")
    parked_review_due: int = Field(
        description="parked events whose review date has come: look at them again (unpark)"
    )
    levels: list[LevelTally]
    grids: list[GridTally]
    communities: list[CommunityTally]

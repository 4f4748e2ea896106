"""The evaluator's door to the audit evidence: verify a window, read the sealed day heads.
Evaluators only (the command centre and admins are what is being checked). Thin: parse, call
``evaluation.verify`` / ``dispatch.ledger``, shape JSON."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from dispatch.ledger import day_heads
from domain.jurisdiction import Principal
from domain.roles import Role
from evaluation.verify import verify_window
from kernel.paging import Day
from service.api.deps import RolesAllowed, SessionDep
from service.api.docs import AUTHENTICATED

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=AUTHENTICATED)
Evaluator = Annotated[Principal, Depends(RolesAllowed(Role.EVALUATOR))]
Since = Annotated[
    Day | None,
    Query(description="first day (service time zone), inclusive; default: the first report"),
]
Until = Annotated[Day | None, Query(description="last day, inclusive; default: today")]


class DiscrepancyOut(BaseModel):
    what: str
    event_ids: list[int]
    more_ids: int
    detail: dict[str, Any]


class CheckOut(BaseModel):
    name: str
    description: str
    ok: bool
    seconds: float
    counts: dict[str, int]
    notes: list[str]
    discrepancies: list[DiscrepancyOut]


class VerifyOut(BaseModel):
    since: date
    until: date
    ok: bool
    seconds: float
    checks: list[CheckOut]


class DayHeadOut(BaseModel):
    day: date
    rows: int
    digest: str
    head: str


@router.get("/verify", response_model=VerifyOut)
def verify(session: SessionDep, _: Evaluator, since: Since = None, until: Until = None) -> Any:
    """What ``wangge audit verify`` prints, as JSON: every check with its counts and each
    discrepancy with the event ids (``ok`` false when anything disagrees)."""
    return verify_window(session, since, until).as_dict()


@router.get("/heads", response_model=list[DayHeadOut])
def heads(session: SessionDep, _: Evaluator, since: Since = None, until: Until = None) -> Any:
    """The sealed day heads (hex), for publication and for checking a bundle against."""
    return [
        DayHeadOut(day=h.day, rows=h.rows, digest=h.digest.hex(), head=h.head.hex())
        for h in day_heads(session, since, until)
    ]

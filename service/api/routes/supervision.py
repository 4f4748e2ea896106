"""督办 (supervision notices): the addressee's list and acknowledgement (their counts are a
statistics route: ``service.api.routes.stats``). Thin: parse, call the service, shape."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from dispatch.supervision import service
from domain.jurisdiction import Principal
from kernel.paging import DEFAULT_LIMIT
from kernel.settings import get_settings
from service.api.deps import STAFF_WRITERS, AnyUser, Now, RolesAllowed, SessionDep, UowDep
from service.api.docs import AUTHENTICATED, problems
from service.api.params import Limit

router = APIRouter(prefix="/api/v1", tags=["supervision"], responses=AUTHENTICATED)
Writer = Annotated[Principal, Depends(RolesAllowed(*STAFF_WRITERS))]


class SupervisionOut(BaseModel):
    id: int
    event_id: int
    version: int
    clock: str = Field(
        description="the clock that ran out: 'verify' (立案/核实), 'dispatch' (派遣), 'ack', "
        "'resolve' (处置) or 'review' (核查/结案)"
    )
    holder_id: int | None
    holder_role: str
    addressee_role: str
    grid_id: int | None
    community_id: int | None
    department: str | None
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: int | None


def _out(notice: service.Supervision) -> SupervisionOut:
    tz = get_settings().tz
    data = notice.model_dump()
    data["raised_at"] = notice.raised_at.astimezone(tz)
    if notice.acknowledged_at is not None:
        data["acknowledged_at"] = notice.acknowledged_at.astimezone(tz)
    return SupervisionOut(**data)


@router.get("/supervisions", response_model=list[SupervisionOut])
def list_supervisions(
    session: SessionDep,
    principal: AnyUser,
    open_only: Annotated[
        bool, Query(alias="open", description="only those not acknowledged")
    ] = True,
    limit: Limit = DEFAULT_LIMIT,
) -> list[SupervisionOut]:
    """Supervision notices addressed to me (the command centre, evaluators and admins: all in
    their reach), newest first."""
    notices = service.listed(session, principal=principal, open_only=open_only, limit=limit)
    return [_out(n) for n in notices]


@router.post(
    "/supervisions/{notice_id}/acknowledge",
    response_model=SupervisionOut,
    responses=problems(403, 404, 409),
)
def acknowledge_supervision(
    notice_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    uow: UowDep,
    principal: Writer,
    now: Now,
) -> SupervisionOut:
    """The addressee (the holder's superior, within whose reach the event is) acknowledges a
    notice; once (409 afterwards, naming who did)."""
    notice = service.acknowledge(uow.session, principal=principal, notice_id=notice_id, now=now)
    uow.commit()
    return _out(notice)

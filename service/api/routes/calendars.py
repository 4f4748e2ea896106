"""Routes of the working calendars. Thin: parse, call the service, shape the response."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path

from dispatch.calendars import service
from dispatch.calendars.schemas import CalendarFile, CalendarLoaded, CalendarOut
from domain.calendar import calendar_json
from domain.jurisdiction import Principal
from domain.roles import Role
from service.api.deps import AnyUser, Now, RolesAllowed, SessionDep, UowDep
from service.api.docs import AUTHENTICATED, problems

router = APIRouter(prefix="/api/v1/calendars", tags=["calendars"], responses=AUTHENTICATED)
Admin = Annotated[Principal, Depends(RolesAllowed(Role.ADMIN))]
CodePath = Annotated[str, Path(max_length=32)]


@router.get("", response_model=list[CalendarOut])
def list_calendars(session: SessionDep, _: AnyUser) -> list[CalendarOut]:
    """The working calendars, the years each knows and the categories that use it."""
    return [CalendarOut(**c) for c in service.list_calendars(session)]


@router.get("/{code}", responses=problems(404))
def get_calendar(code: CodePath, session: SessionDep, _: AnyUser) -> dict[str, Any]:
    """One calendar in its file form (working days, 调休, hours, zone)."""
    return calendar_json(service.get_calendar(session, code))


@router.put("", response_model=CalendarLoaded)
def load_calendar(body: CalendarFile, uow: UowDep, _: Admin, now: Now) -> CalendarLoaded:
    """Load a calendar file (admin), as ``wangge calendar load FILE``: a new code is created, a
    known one gets the file's years (years loaded before are kept), zone, week and hours. Every
    problem of an invalid file is listed (422); nothing changes then."""
    summary = service.load_calendar(uow.session, body.data(), now=now)
    uow.commit()
    return CalendarLoaded(**summary)

"""Public and hotline reports: checked, placed in their grid (the same conversion and snapping
as staff reports), opened as pending verification (待核实) with a verification deadline, and
answered with their duplicate candidates. One transaction: the event, its audit and outbox
rows (the verification request to the grid), its public-report row."""

from __future__ import annotations

import hashlib
import json
import uuid
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import IO

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dispatch.calendars.service import calendars
from dispatch.categories.models import Category
from dispatch.photos.service import Checked, attach_public_photo, checked_upload
from dispatch.public import duplicates
from dispatch.public.duplicates import Candidate
from dispatch.public.models import PublicReport
from dispatch.store import insert_event, next_event_id, policy_for
from domain.coords import CoordSystem
from domain.intake import Channel, check_attributes
from domain.lifecycle import open_event
from grids.lookup import Location
from kernel.errors import Conflict, Invalid, field_error
from kernel.uow import UnitOfWork


@dataclass(frozen=True)
class PublicReportIn:
    """A report from outside the grid staff, as the door parsed it (lengths already checked)."""

    channel: Channel
    category: str
    description: str
    lon: float
    lat: float
    coord: CoordSystem = CoordSystem.wgs84
    accuracy_m: float | None = None
    address: str | None = None
    media_url: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    reporter_name: str | None = None
    reporter_phone: str | None = None
    reporter_email: str | None = None
    hotline_case: str | None = None

    def request_hash(self) -> str:
        body = asdict(self)
        canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class PublicSubmitted:
    event_id: int
    token: uuid.UUID
    verify_due_at: datetime
    candidates: list[Candidate]
    category: Category


def active_category(session: Session, code: str, loc: str = "category") -> Category:
    category = session.exec(select(Category).where(col(Category.code) == code)).first()
    if category is None or not category.active:
        raise Invalid(field_error(loc, f"no active service {code!r}", "unknown_category"))
    return category


def submit(
    *,
    uow: UnitOfWork,
    data: PublicReportIn,
    where: Location,
    api_client_id: int | None,
    entered_by: int | None,
    now: datetime,
    photo: IO[bytes] | None = None,
) -> PublicSubmitted:
    """Open a pending-verification event for a public or hotline report. ``where`` is the
    grid its point fell in (``grids.lookup.locate``); ``entered_by`` the dispatcher who typed
    a hotline call in (None when a client posted it). A hotline case number is unique: a
    second report with it is a 409 naming the first."""
    if data.channel is Channel.STAFF:
        raise Invalid(field_error("channel", "staff report through POST /api/v1/events"))
    session = uow.session
    category = active_category(session, data.category)
    attributes, problems = check_attributes(category.code, data.attributes)
    if problems:
        raise Invalid([{"loc": ["attribute"], "msg": p, "type": "value_error"} for p in problems])
    if data.hotline_case is not None:
        _case_is_new(session, data.hotline_case)
    assert category.id is not None
    with ExitStack() as stack:
        checked = None if photo is None else stack.enter_context(checked_upload(photo))
        return _write(
            uow, data, where, category, attributes, api_client_id, entered_by, now, checked
        )


def _write(
    uow: UnitOfWork,
    data: PublicReportIn,
    where: Location,
    category: Category,
    attributes: dict[str, str],
    api_client_id: int | None,
    entered_by: int | None,
    now: datetime,
    photo: Checked | None,
) -> PublicSubmitted:
    """Everything checked: the event, its public row and photo, in one transaction."""
    session = uow.session
    assert category.id is not None
    event_id = next_event_id(session)
    decision = open_event(
        event_id=str(event_id),
        policy=policy_for(category, calendars(session, category.calendar_codes())),
        now=now,
        reporter_id=None if entered_by is None else str(entered_by),
        trusted=False,
        grid=where.code,
        note=f"{data.channel.value} report",
    )
    token = uuid.uuid4()
    report = {
        "client_id": token,
        "request_hash": data.request_hash(),
        "category_id": category.id,
        "grid_id": where.grid_id,
        "description": data.description,
        "coord": data.coord.value,
        "orig_lon": data.lon,
        "orig_lat": data.lat,
        "accuracy_m": data.accuracy_m,
        "snapped": where.snapped,
        "distance_m": where.distance_m,
        "source": data.channel.value,
        "occurred_at": None,
        "received_at": now,
    }
    insert_event(session, decision, report, lon=where.lon, lat=where.lat)
    # The statistics' 按时核实 deadline is the verification clock's (one definition: ADR 0026).
    due = decision.state.verify_due_at
    assert due is not None
    session.add(
        PublicReport(
            event_id=event_id,
            channel=data.channel.value,
            token=token,
            api_client_id=api_client_id,
            hotline_case=data.hotline_case,
            address=data.address,
            media_url=data.media_url,
            attributes=attributes,
            reporter_name=data.reporter_name,
            reporter_phone=data.reporter_phone,
            reporter_email=data.reporter_email,
            verify_due_at=due,
        )
    )
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent report with the same case number won
        uow.rollback()
        assert data.hotline_case is not None
        _case_is_new(session, data.hotline_case)
        raise Conflict(field_error("hotline_case", "hotline case number taken")) from exc
    if photo is not None:
        attach_public_photo(session, event_id=event_id, photo=photo, now=now)
    found = duplicates.candidates(
        session, category_id=category.id, lon=where.lon, lat=where.lat, now=now, exclude=event_id
    )
    uow.commit()
    return PublicSubmitted(event_id, token, due, found, category)


def _case_is_new(session: Session, case: str) -> None:
    earlier = session.exec(
        select(PublicReport.event_id).where(col(PublicReport.hotline_case) == case)
    ).first()
    if earlier is not None:
        raise Conflict(
            field_error(
                "hotline_case",
                f"hotline case {case} was already entered as event {earlier}",
                "duplicate_case",
                event_id=earlier,
            )
        )

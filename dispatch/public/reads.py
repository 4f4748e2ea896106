"""Staff's view of a public or hotline report (with the reporter's contact: staff who may see
the event need it to call back; never shown by the public door)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from dispatch.access import check_visible, visible
from dispatch.categories.models import Category
from dispatch.events.models import Event
from dispatch.events.schemas import DuplicateCandidate
from dispatch.public import duplicates
from dispatch.public.models import PublicReport
from dispatch.public.schemas import PublicReportOut, ReopenCandidate, VerificationTask
from domain.jurisdiction import Principal
from domain.lifecycle import Status
from grids.models import Grid
from kernel.settings import get_settings


def point_of(session: Session, event_id: int) -> tuple[float, float]:
    """An event's WGS-84 ``(lon, lat)``."""
    lon, lat = session.execute(
        select(func.ST_X(col(Event.geom)), func.ST_Y(col(Event.geom))).where(
            col(Event.id) == event_id
        )
    ).one()
    return float(lon), float(lat)


def candidates_of(session: Session, event: Event, *, now: datetime) -> list[DuplicateCandidate]:
    """The open events an event may duplicate (same rule as at its report)."""
    assert event.id is not None
    lon, lat = point_of(session, event.id)
    found = duplicates.candidates(
        session,
        category_id=event.category_id,
        lon=lon,
        lat=lat,
        now=now,
        exclude=event.id,
    )
    tz = get_settings().tz
    return [
        DuplicateCandidate(
            event_id=c.event_id,
            status=c.status,
            created_at=c.created_at.astimezone(tz),
            distance_m=c.distance_m,
        )
        for c in found
    ]


def public_report(
    session: Session, *, principal: Principal, event_id: int, now: datetime
) -> PublicReportOut:
    event = check_visible(principal, session.get(Event, event_id), event_id)
    report = session.get(PublicReport, event_id)
    tz = get_settings().tz
    if report is None:  # a staff report: its source and candidates only
        return PublicReportOut(
            event_id=event_id,
            channel=event.source,
            token=None,
            hotline_case=None,
            address=None,
            media_url=None,
            reporter_name=None,
            reporter_phone=None,
            reporter_email=None,
            received_at=event.received_at.astimezone(tz),
            verify_due_at=None,
            verified_at=None,
            outcome=None,
            outcome_note="",
            duplicate_of=event.duplicate_of,
            duplicate_candidates=candidates_of(session, event, now=now),
        )
    return PublicReportOut(
        event_id=event_id,
        channel=report.channel,
        token=str(report.token),
        hotline_case=report.hotline_case,
        address=report.address,
        media_url=report.media_url,
        attributes={str(k): str(v) for k, v in report.attributes.items()},
        reporter_name=report.reporter_name,
        reporter_phone=report.reporter_phone,
        reporter_email=report.reporter_email,
        received_at=event.received_at.astimezone(tz),
        verify_due_at=report.verify_due_at.astimezone(tz),
        verified_at=None if report.verified_at is None else report.verified_at.astimezone(tz),
        outcome=report.outcome,
        outcome_note=report.outcome_note,
        duplicate_of=event.duplicate_of,
        duplicate_candidates=candidates_of(session, event, now=now),
        **reopen_of(session, event, now=now),
    )


def reopen_of(session: Session, event: Event, *, now: datetime) -> dict[str, Any]:
    """``reopen_candidates`` and ``reopens`` of a report waiting for verification (empty
    otherwise): what a confirmation at ``now`` would reopen."""
    assert event.id is not None
    if event.status != Status.PENDING_VERIFICATION.value:
        return {"reopen_candidates": [], "reopens": None}
    lon, lat = point_of(session, event.id)
    match = duplicates.reopen_match(
        session, event_id=event.id, category_id=event.category_id, lon=lon, lat=lat, now=now
    )
    tz = get_settings().tz
    return {
        "reopen_candidates": [
            ReopenCandidate(
                event_id=c.event_id, closed_at=c.closed_at.astimezone(tz), distance_m=c.distance_m
            )
            for c in match.closed
        ],
        "reopens": None if match.target is None else match.target.event_id,
    }


def verification_tasks(
    session: Session, *, principal: Principal, now: datetime, overdue: bool | None, limit: int
) -> list[VerificationTask]:
    """The reports waiting for verification that the caller may see (a grid's staff: their
    grid's), soonest deadline first."""
    stmt = (
        sa_select(
            Event,
            PublicReport,
            col(Category.code),
            col(Grid.code),
            func.ST_X(col(Event.geom)),
            func.ST_Y(col(Event.geom)),
        )
        .join(PublicReport, col(PublicReport.event_id) == col(Event.id))
        .join(Category, col(Category.id) == col(Event.category_id))
        .join(Grid, col(Grid.id) == col(Event.grid_id))
        .where(col(Event.status) == Status.PENDING_VERIFICATION.value, visible(principal))
        .order_by(col(PublicReport.verify_due_at), col(Event.id))
        .limit(limit)
    )
    if overdue is not None:
        late = col(PublicReport.verify_due_at) < now
        stmt = stmt.where(late if overdue else ~late)
    tz = get_settings().tz
    out: list[VerificationTask] = []
    for event, report, category, grid, lon, lat in session.execute(stmt).all():
        out.append(
            VerificationTask(
                event_id=event.id,
                channel=report.channel,
                category=category,
                grid_code=grid,
                description=event.description,
                address=report.address,
                lon=round(float(lon), 7),
                lat=round(float(lat), 7),
                received_at=event.received_at.astimezone(tz),
                verify_due_at=report.verify_due_at.astimezone(tz),
                overdue=report.verify_due_at < now,
                version=event.version,
            )
        )
    return out

"""Routes of patrols (巡查). Thin: parse, call ``patrols.service``, shape."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from starlette.responses import Response

from domain.jurisdiction import Principal
from domain.roles import Role
from kernel.paging import DEFAULT_LIMIT
from kernel.settings import get_settings
from patrols import service
from patrols.schemas import (
    BatchOut,
    CoverageOut,
    Day,
    GridCoverageOut,
    PatrolDetail,
    PatrolOut,
    PatrolPage,
    PatrolStart,
    PatrolStop,
    PointBatch,
)
from patrols.service import TrackPoint
from service.api.deps import AnyUser, Now, RolesAllowed, SessionDep, UowDep
from service.api.docs import AUTHENTICATED, problems
from service.api.params import Cursor, Limit, PatrolId

router = APIRouter(prefix="/api/v1", tags=["patrols"], responses=AUTHENTICATED)

Walker = Annotated[Principal, Depends(RolesAllowed(Role.MEMBER, Role.HEAD))]
GridCode = Annotated[str, Query(pattern=r"^\d{15}$", description="15-digit grid code")]


def _today(now: datetime) -> date:
    return now.astimezone(get_settings().tz).date()


@router.post(
    "/patrols",
    response_model=PatrolOut,
    status_code=201,
    responses={
        200: {"description": "already started with this client_id", "model": PatrolOut},
        **problems(409),
    },
)
def start_patrol(
    uow: UowDep, principal: Walker, now: Now, body: PatrolStart, response: Response
) -> PatrolOut:
    """Start a walk in your grid; the same ``client_id`` again returns the same patrol (200)."""
    view, created = service.start_patrol(
        uow=uow,
        principal=principal,
        client_id=body.client_id,
        started_at=body.started_at,
        now=now,
    )
    response.status_code = 201 if created else 200
    return view


@router.get("/patrols", response_model=PatrolPage)
def list_patrols(
    session: SessionDep,
    principal: AnyUser,
    grid: GridCode | None = None,
    day: Annotated[
        Day | None, Query(alias="date", description="calendar day (Asia/Shanghai)")
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
) -> PatrolPage:
    """Patrols you may see, newest first (cursor pagination)."""
    items, next_cursor = service.list_patrols(
        session=session,
        principal=principal,
        grid_code=grid,
        day=day,
        limit=limit,
        cursor=cursor,
    )
    return PatrolPage(items=list(items), next_cursor=next_cursor)


@router.get("/patrols/coverage", response_model=CoverageOut, name="patrol_coverage")
def coverage(
    session: SessionDep,
    principal: AnyUser,
    now: Now,
    day: Annotated[Day | None, Query(alias="date", description="default: today")] = None,
    grid: GridCode | None = None,
) -> CoverageOut:
    """Per grid, for one day: patrolled or not, patrols, metres walked, share of the area
    within 50 m of the tracks. Grids you may read only (all for the command centre)."""
    the_day = day or _today(now)
    rows = service.coverage_for(session=session, principal=principal, day=the_day, grid_code=grid)
    patrolled = sum(1 for r in rows if r.patrolled)
    return CoverageOut(
        date=the_day,
        grid_count=len(rows),
        patrolled_grids=patrolled,
        patrolled_ratio=round(patrolled / len(rows), 4) if rows else None,
        grids=[GridCoverageOut.of(r) for r in rows],
    )


@router.get("/patrols/{patrol_id}", response_model=PatrolDetail, responses=problems(404))
def get_patrol(session: SessionDep, principal: AnyUser, patrol_id: PatrolId) -> PatrolDetail:
    view = service.get_patrol(session=session, principal=principal, patrol_id=patrol_id)
    return view


@router.post(
    "/patrols/{patrol_id}/points",
    response_model=BatchOut,
    status_code=201,
    responses={
        200: {"description": "this batch_id was already stored", "model": BatchOut},
        **problems(404, 409),
    },
)
def add_points(
    uow: UowDep,
    principal: Walker,
    now: Now,
    patrol_id: PatrolId,
    body: PointBatch,
    response: Response,
) -> BatchOut:
    """Upload GPS points (≤ 500 per batch; idempotent per ``batch_id``). Owner only."""
    result = service.add_points(
        uow=uow,
        principal=principal,
        patrol_id=patrol_id,
        batch_id=body.batch_id,
        points=[
            TrackPoint(lon=p.lon, lat=p.lat, coord=p.coord, at=p.at, accuracy_m=p.accuracy_m)
            for p in body.points
        ],
        now=now,
    )
    response.status_code = 200 if result.duplicate else 201
    return BatchOut(
        patrol_id=result.patrol_id,
        batch_id=result.batch_id,
        points=result.points,
        duplicate=result.duplicate,
    )


@router.post("/patrols/{patrol_id}/stop", response_model=PatrolDetail, responses=problems(404, 409))
def stop_patrol(
    uow: UowDep,
    principal: Walker,
    now: Now,
    patrol_id: PatrolId,
    body: Annotated[PatrolStop | None, Body()] = None,
) -> PatrolDetail:
    """Stop the walk: builds the track (points in time order) and its length. Owner only;
    stopping again returns the stopped patrol unchanged."""
    view = service.stop_patrol(
        uow=uow,
        principal=principal,
        patrol_id=patrol_id,
        stopped_at=None if body is None else body.stopped_at,
        now=now,
    )
    return view

"""巡查: grid staff's walks, recorded as GPS tracks, and the per-grid, per-day coverage.

A patrol is started by its owner (idempotent on the phone's ``client_id``), fed GPS points
in batches (idempotent per ``batch_id``: a retried batch changes nothing) and stopped,
which builds its ``track`` (the points in time order) and its geodesic ``length_m``. A batch
that arrives after the stop (a phone that was offline) is still taken when its times lie
within the patrol, and the track is rebuilt.

A patrol belongs to the calendar day (``settings.timezone``, Asia/Shanghai) on which it
started, and to its owner's grid. ``patrol_coverage`` reports, per grid and day, whether the
grid was patrolled, how far was walked, and which share of its area lies within
``COVERAGE_BUFFER_M`` of the day's tracks, all computed by PostGIS.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col, func, select

from domain.coords import CoordSystem, to_wgs84
from domain.jurisdiction import Principal
from grids.models import Grid
from kernel.db import BBOX_FILTER, bbox_params
from kernel.errors import Conflict, Forbidden, Invalid, NotFound, field_error
from kernel.paging import BBox, FeaturePage, check_window, cursor_int, decode_cursor, encode_cursor
from kernel.settings import get_settings
from kernel.uow import UnitOfWork
from patrols.models import Patrol, PatrolPoint
from patrols.schemas import MAX_BATCH_POINTS, PatrolDetail
from staff.jurisdiction import visible_sql, within_sql
from staff.models import Staff

CLOCK_SKEW = timedelta(minutes=5)  # tolerated difference between phone and server clocks
MAX_START_AGE = timedelta(hours=72)  # a patrol started offline may be synced this late
COVERAGE_BUFFER_M = 50.0


@dataclass(frozen=True)
class TrackPoint:
    """One GPS fix as the phone sent it."""

    lon: float
    lat: float
    coord: CoordSystem
    at: datetime
    accuracy_m: float | None = None


@dataclass(frozen=True)
class BatchResult:
    patrol_id: int
    batch_id: uuid.UUID
    points: int
    duplicate: bool


# --- who sees what -----------------------------------------------------------------------


def visible(principal: Principal) -> ColumnElement[bool]:
    """Patrols ``principal`` may see: their own, and those in their jurisdiction
    (``domain.jurisdiction``: their grid, their community, everything for the command centre,
    evaluators and admins)."""
    return visible_sql(
        principal,
        grid=col(Patrol.grid_id),
        community=col(Grid.community_id),
        involved=(col(Patrol.staff_id),),
    )


def visible_grids(principal: Principal) -> ColumnElement[bool]:
    """Grids whose patrol coverage ``principal`` may read (their jurisdiction)."""
    return within_sql(principal, grid=col(Grid.id), community=col(Grid.community_id))


def _not_found(patrol_id: int) -> NotFound:
    return NotFound({"loc": ["patrol_id"], "msg": f"no patrol {patrol_id}"})


def _visible_patrol(
    session: Session, principal: Principal, patrol_id: int, *, lock: bool = False
) -> Patrol:
    query = (
        select(Patrol)
        .join(Grid, col(Grid.id) == col(Patrol.grid_id))
        .where(col(Patrol.id) == patrol_id, visible(principal))
        .execution_options(populate_existing=True)
    )
    if lock:
        query = query.with_for_update(of=Patrol)
    patrol = session.exec(query).one_or_none()
    if patrol is None:
        raise _not_found(patrol_id)
    return patrol


def _own_patrol(session: Session, principal: Principal, patrol_id: int) -> Patrol:
    """The patrol, locked for update, when ``principal`` owns it: 404 when they cannot see
    it, 403 when they can but it is someone else's walk."""
    patrol = _visible_patrol(session, principal, patrol_id, lock=True)
    if patrol.staff_id != principal.staff_id:
        raise Forbidden("only the patrol's owner may add points to it or stop it")
    return patrol


# --- views -----------------------------------------------------------------------------

_VIEW_SQL = """
    SELECT p.id, p.client_id, p.staff_id, s.name, g.code, p.started_at, p.stopped_at,
           p.length_m,
           (SELECT count(*) FROM patrol_point pp WHERE pp.patrol_id = p.id) AS point_count,
           {track} AS track
    FROM patrol p JOIN staff s ON s.id = p.staff_id JOIN grid g ON g.id = p.grid_id
    WHERE p.id = ANY(:ids)
    ORDER BY p.started_at DESC, p.id DESC
"""


def _views(session: Session, ids: Sequence[int], *, with_track: bool = False) -> list[PatrolDetail]:
    if not ids:
        return []
    track = "ST_AsGeoJSON(p.track, 7)::jsonb" if with_track else "NULL::jsonb"
    rows = session.execute(text(_VIEW_SQL.format(track=track)), {"ids": list(ids)}).all()
    tz = get_settings().tz
    return [
        PatrolDetail(
            id=r[0],
            client_id=r[1],
            staff_id=r[2],
            staff_name=r[3],
            grid_code=r[4],
            started_at=r[5].astimezone(tz),
            stopped_at=None if r[6] is None else r[6].astimezone(tz),
            length_m=None if r[7] is None else round(float(r[7]), 2),
            point_count=int(r[8]),
            track=r[9],
        )
        for r in rows
    ]


def _view(session: Session, patrol_id: int, *, with_track: bool = False) -> PatrolDetail:
    return _views(session, [patrol_id], with_track=with_track)[0]


# --- start, points, stop ---------------------------------------------------------------


def start_patrol(
    *,
    uow: UnitOfWork,
    principal: Principal,
    client_id: uuid.UUID,
    started_at: datetime | None,
    now: datetime,
) -> tuple[PatrolDetail, bool]:
    """Start a walk in the caller's grid; commits. Returns the patrol and whether it is new.

    The same ``client_id`` again (a retry) returns the existing patrol; reused by someone
    else, or with a different ``started_at``, it is a 409.
    """
    session = uow.session
    staff = session.get(Staff, principal.staff_id)
    if staff is None or staff.grid_id is None:
        raise Forbidden("only grid staff with a grid may patrol")
    start = now if started_at is None else started_at
    if start > now + CLOCK_SKEW:
        raise Invalid(
            field_error(
                "started_at",
                f"started_at {start.isoformat()} is in the future (server time "
                f"{now.isoformat()}, {CLOCK_SKEW.seconds // 60} min tolerated)",
            )
        )
    if start < now - MAX_START_AGE:
        raise Invalid(
            field_error(
                "started_at",
                f"started_at {start.isoformat()} is more than "
                f"{MAX_START_AGE.total_seconds() / 3600:.0f} h ago",
            )
        )
    new_id = session.execute(
        insert(Patrol)
        .values(client_id=client_id, staff_id=staff.id, grid_id=staff.grid_id, started_at=start)
        .on_conflict_do_nothing(index_elements=["client_id"])
        .returning(col(Patrol.id))
    ).scalar()
    if new_id is not None:
        uow.commit()
        return _view(session, new_id), True
    existing = session.exec(select(Patrol).where(col(Patrol.client_id) == client_id)).one()
    assert existing.id is not None
    if existing.staff_id != principal.staff_id:
        raise Conflict({"loc": ["client_id"], "msg": "this client_id belongs to another patrol"})
    if started_at is not None and existing.started_at != started_at:
        raise Conflict(
            {
                "loc": ["started_at"],
                "msg": "patrol already started with this client_id at "
                f"{existing.started_at.isoformat()}, not {started_at.isoformat()}",
                "patrol_id": existing.id,
            }
        )
    uow.commit()  # nothing written; ends the transaction
    return _view(session, existing.id), False


def _check_times(patrol: Patrol, points: Sequence[TrackPoint], now: datetime) -> None:
    earliest = patrol.started_at - CLOCK_SKEW
    latest = now + CLOCK_SKEW
    if patrol.stopped_at is not None:
        latest = min(latest, patrol.stopped_at + CLOCK_SKEW)
    errors: list[dict[str, Any]] = []
    for index, point in enumerate(points):
        if point.at > now + CLOCK_SKEW:
            why = f"is in the future (server time {now.isoformat()})"
        elif point.at < earliest:
            why = f"is before the patrol started ({patrol.started_at.isoformat()})"
        elif point.at > latest:
            assert patrol.stopped_at is not None
            why = f"is after the patrol stopped ({patrol.stopped_at.isoformat()})"
        else:
            continue
        errors.append(
            {
                "loc": ["points", index, "at"],
                "msg": f"point {index}: time {point.at.isoformat()} {why}",
                "type": "out_of_range",
            }
        )
    if errors:
        raise Invalid(errors[:20])


def add_points(
    *,
    uow: UnitOfWork,
    principal: Principal,
    patrol_id: int,
    batch_id: uuid.UUID,
    points: Sequence[TrackPoint],
    now: datetime,
) -> BatchResult:
    """Store one batch of points (converted to WGS-84); commits. A batch already stored
    (same ``batch_id``) changes nothing and comes back with ``duplicate`` True."""
    session = uow.session
    if not 1 <= len(points) <= MAX_BATCH_POINTS:
        raise Invalid(field_error("points", f"send 1 to {MAX_BATCH_POINTS} points per batch"))
    patrol = _own_patrol(session, principal, patrol_id)
    stored = int(
        session.execute(
            select(func.count())
            .select_from(PatrolPoint)
            .where(col(PatrolPoint.patrol_id) == patrol_id, col(PatrolPoint.batch_id) == batch_id)
        ).scalar_one()
    )
    if stored:
        uow.commit()  # nothing written; releases the lock
        if stored != len(points):
            raise Conflict(
                {
                    "loc": ["batch_id"],
                    "msg": f"batch {batch_id} was stored with {stored} points, "
                    f"not {len(points)}; use a new batch_id for new points",
                }
            )
        return BatchResult(patrol_id, batch_id, stored, duplicate=True)
    _check_times(patrol, points, now)
    converted = [to_wgs84(p.lon, p.lat, p.coord) for p in points]
    # One statement for the whole batch (one round trip, statement triggers fire once).
    session.execute(
        _INSERT_POINTS,
        {
            "patrol_id": patrol_id,
            "batch_id": batch_id,
            "seqs": list(range(len(points))),
            "ats": [p.at for p in points],
            "lons": [lon for lon, _ in converted],
            "lats": [lat for _, lat in converted],
            "accs": [p.accuracy_m for p in points],
        },
    )
    if patrol.stopped_at is not None:
        _build_track(session, patrol_id)
    uow.commit()
    return BatchResult(patrol_id, batch_id, len(points), duplicate=False)


_INSERT_POINTS = text("""
    INSERT INTO patrol_point (patrol_id, batch_id, seq, at, geom, accuracy_m)
    SELECT :patrol_id, :batch_id, t.seq, t.at, ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326), t.acc
    FROM unnest(CAST(:seqs AS integer[]), CAST(:ats AS timestamptz[]),
                CAST(:lons AS float8[]), CAST(:lats AS float8[]), CAST(:accs AS float8[]))
         AS t(seq, at, lon, lat, acc)
    ON CONFLICT (patrol_id, batch_id, seq) DO NOTHING
""")

_BUILD_TRACK = text("""
    UPDATE patrol p
    SET track = t.line,
        length_m = COALESCE(ST_Length(t.line::geography), 0)
    FROM (
        SELECT CASE WHEN count(*) >= 2
                    THEN ST_MakeLine(pp.geom ORDER BY pp.at, pp.id) END AS line
        FROM patrol_point pp WHERE pp.patrol_id = :id
    ) t
    WHERE p.id = :id
""")


def _build_track(session: Session, patrol_id: int) -> None:
    """The track is the points in time order; fewer than two points make no line."""
    session.execute(_BUILD_TRACK, {"id": patrol_id})


def stop_patrol(
    *,
    uow: UnitOfWork,
    principal: Principal,
    patrol_id: int,
    stopped_at: datetime | None,
    now: datetime,
) -> PatrolDetail:
    """Stop the walk, build its track and geodesic length; commits. Stopping a stopped
    patrol changes nothing (a retried stop)."""
    session = uow.session
    patrol = _own_patrol(session, principal, patrol_id)
    if patrol.stopped_at is not None:
        uow.commit()  # nothing written; releases the lock
        return _view(session, patrol_id, with_track=True)
    stop = now if stopped_at is None else stopped_at
    if stop > now + CLOCK_SKEW:
        raise Invalid(field_error("stopped_at", "stopped_at is in the future"))
    if stop < patrol.started_at:
        raise Invalid(
            field_error(
                "stopped_at",
                f"stopped_at {stop.isoformat()} is before the patrol started "
                f"({patrol.started_at.isoformat()})",
            )
        )
    patrol.stopped_at = stop
    session.add(patrol)
    session.flush()
    _build_track(session, patrol_id)
    uow.commit()
    return _view(session, patrol_id, with_track=True)


def get_patrol(*, session: Session, principal: Principal, patrol_id: int) -> PatrolDetail:
    _visible_patrol(session, principal, patrol_id)
    return _view(session, patrol_id, with_track=True)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    tz = get_settings().tz
    following = day + timedelta(days=1)
    return (
        datetime(day.year, day.month, day.day, tzinfo=tz),
        datetime(following.year, following.month, following.day, tzinfo=tz),
    )


def list_patrols(
    *,
    session: Session,
    principal: Principal,
    grid_code: str | None = None,
    day: date | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[PatrolDetail], str | None]:
    """Visible patrols, newest first, in keyset pages by id."""
    query = (
        select(col(Patrol.id))
        .join(Grid, col(Grid.id) == col(Patrol.grid_id))
        .where(visible(principal))
    )
    if grid_code is not None:
        query = query.where(col(Grid.code) == grid_code)
    if day is not None:
        start, end = _day_bounds(day)
        query = query.where(col(Patrol.started_at) >= start, col(Patrol.started_at) < end)
    if cursor is not None:
        # ids are int4: a larger one means "everything before it" (not a database error)
        before = min(decode_cursor(cursor, cursor_int), 2**31 - 1)
        query = query.where(col(Patrol.id) < before)
    ids: list[int] = list(
        session.execute(query.order_by(col(Patrol.id).desc()).limit(limit + 1)).scalars()
    )
    more = len(ids) > limit
    ids = ids[:limit]
    views = sorted(_views(session, ids), key=lambda v: v.id, reverse=True)
    return views, (encode_cursor(ids[-1]) if more else None)


# --- coverage --------------------------------------------------------------------------


@dataclass(frozen=True)
class GridDayCoverage:
    """Patrol coverage of one grid on one calendar day.

    - ``patrolled``: at least one patrol that day recorded a GPS point (a patrol started
      and stopped without points does not count);
    - ``patrols``: patrols started that day in the grid (with or without points);
    - ``length_m``: metres walked (geodesic length of the tracks, unclipped);
    - ``covered_share``: share (0..1) of the grid's area within ``COVERAGE_BUFFER_M`` of
      the day's tracks (tracks clipped to the grid); 0 when not patrolled, None when not
      computed (``with_share=False``).
    """

    grid_id: int
    grid_code: str
    grid_name: str
    community: str
    day: date
    patrolled: bool
    patrols: int
    length_m: float
    covered_share: float | None


_COVERAGE_SQL = """
WITH days AS (
    SELECT d::date AS day
    FROM generate_series(CAST(:day_from AS date), CAST(:day_to AS date), interval '1 day') d
),
walks AS (
    SELECT p.grid_id,
           (p.started_at AT TIME ZONE :tz)::date AS day,
           CASE WHEN p.track IS NOT NULL THEN p.track
                ELSE (SELECT CASE WHEN count(*) >= 2
                                  THEN ST_MakeLine(pp.geom ORDER BY pp.at, pp.id)
                                  ELSE ST_Union(pp.geom) END
                      FROM patrol_point pp WHERE pp.patrol_id = p.id)
           END AS geom
    FROM patrol p
    WHERE p.started_at >= (CAST(:day_from AS date)::timestamp AT TIME ZONE :tz)
      AND p.started_at < ((CAST(:day_to AS date) + 1)::timestamp AT TIME ZONE :tz)
),
per_day AS (
    SELECT grid_id, day, count(*) AS patrols,
           COALESCE(sum(ST_Length(geom::geography)), 0) AS length_m,
           -- collected, not unioned: the buffer of a collection is the buffer of the
           -- union, and skipping the noding avoids GEOS's worst cases (one pair of
           -- self-crossing walks: 7 s unioned, 0.1 s collected; typical days: similar)
           ST_Collect(geom) AS tracks
    FROM walks GROUP BY grid_id, day
)
SELECT g.id, g.code, g.name, c.name, d.day,
       a.tracks IS NOT NULL AS patrolled,
       COALESCE(a.patrols, 0) AS patrols,
       COALESCE(a.length_m, 0) AS length_m,
       CASE WHEN a.tracks IS NULL THEN 0.0
            WHEN NOT CAST(:with_share AS boolean) THEN NULL
            ELSE LEAST(1.0, ST_Area(ST_Intersection(
                     g.geom, ST_Buffer(a.tracks::geography, :buffer_m)::geometry)::geography)
                 / ST_Area(g.geom::geography))
       END AS covered_share
FROM grid g
JOIN community c ON c.id = g.community_id
CROSS JOIN days d
LEFT JOIN per_day a ON a.grid_id = g.id AND a.day = d.day
WHERE (CAST(:grid_code AS text) IS NULL OR g.code = :grid_code)
  AND (CAST(:grid_ids AS integer[]) IS NULL OR g.id = ANY(:grid_ids))
ORDER BY d.day, g.code
"""


def patrol_coverage(
    session: Session,
    day_from: date,
    day_to: date,
    grid_code: str | None = None,
    *,
    grid_ids: Collection[int] | None = None,
    with_share: bool = True,
) -> list[GridDayCoverage]:
    """One ``GridDayCoverage`` per grid and calendar day in ``[day_from, day_to]``
    (inclusive, days in ``settings.timezone``), ordered by day then grid code, including
    grid-days without any patrol (``patrolled`` False). ``grid_code`` or ``grid_ids``
    restrict the grids. The patrol-coverage indicator (巡查覆盖率) is
    ``sum(c.patrolled) / len(result)`` over the whole map and period; it does not need the
    area shares, the costly part (a buffer and an intersection per patrolled grid-day):
    ``with_share=False`` skips them (``covered_share`` is then None for patrolled grid-days).
    """
    check_window(day_from, day_to, names=("date", "date"))
    # The spatial functions' cost estimates make the planner JIT-compile this query, which
    # costs ~1 s on every call and saves nothing at this size; off for this transaction.
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    rows = session.execute(
        text(_COVERAGE_SQL),
        {
            "day_from": day_from,
            "day_to": day_to,
            "tz": get_settings().timezone,
            "buffer_m": COVERAGE_BUFFER_M,
            "grid_code": grid_code,
            "grid_ids": None if grid_ids is None else list(grid_ids),
            "with_share": with_share,
        },
    ).all()
    return [
        GridDayCoverage(
            grid_id=r[0],
            grid_code=r[1],
            grid_name=r[2],
            community=r[3],
            day=r[4],
            patrolled=bool(r[5]),
            patrols=int(r[6]),
            length_m=round(float(r[7]), 2),
            covered_share=None if r[8] is None else round(float(r[8]), 6),
        )
        for r in rows
    ]


def coverage_for(
    *, session: Session, principal: Principal, day: date, grid_code: str | None = None
) -> list[GridDayCoverage]:
    """The day's coverage of the grids ``principal`` may read (404 for a grid they may not,
    or that does not exist)."""
    grid_ids: list[int] = list(
        session.execute(select(col(Grid.id)).where(visible_grids(principal))).scalars()
    )
    if grid_code is not None:
        known = session.exec(
            select(col(Grid.id)).where(col(Grid.code) == grid_code, visible_grids(principal))
        ).first()
        if known is None:
            raise NotFound({"loc": ["grid"], "msg": f"no grid {grid_code}"})
    return patrol_coverage(session, day, day, grid_code, grid_ids=grid_ids)


def coverage_features(
    *,
    session: Session,
    principal: Principal,
    day: date,
    bbox: BBox | None,
    limit: int,
    offset: int,
) -> FeaturePage:
    """The day's coverage of the grids ``principal`` may read, as GeoJSON features (the grid's
    polygon; ``id``: the grid code) inside ``bbox``, by code."""
    rows = coverage_for(session=session, principal=principal, day=day)
    shapes = dict(
        session.execute(
            text(
                "SELECT id, ST_AsGeoJSON(geom, 7)::jsonb FROM grid"
                " WHERE id = ANY(:ids) AND " + BBOX_FILTER.format(geom="geom")
            ),
            {"ids": [r.grid_id for r in rows], **bbox_params(bbox)},
        ).all()
    )
    features = [
        {
            "type": "Feature",
            "id": r.grid_code,
            "geometry": shapes[r.grid_id],
            "properties": {
                "grid_code": r.grid_code,
                "grid_name": r.grid_name,
                "community": r.community,
                "date": r.day.isoformat(),
                "patrolled": r.patrolled,
                "patrols": r.patrols,
                "length_m": r.length_m,
                "covered_share": r.covered_share,
            },
        }
        for r in rows
        if r.grid_id in shapes
    ]
    return FeaturePage(features[offset : offset + limit], len(features))

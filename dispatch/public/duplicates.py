"""Duplicate candidates of a new report: open events of the same category near it, recent,
nearest first (``domain.intake.DuplicateRule``). One statement, on the partial GiST index of
the open, unlinked events' categories and points (migration 0018: only the report's category
is visited); the statuses are the domain's ``LINKABLE_STATUSES``. A staff report runs it
inside its own statement (``query``, ``dispatch.store.open_event``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from domain.intake import (
    LINKABLE_STATUSES,
    ClosedCandidate,
    DuplicateRule,
    ReopenRule,
    matches,
    reopen_order,
    to_reopen,
)
from domain.lifecycle import Status
from kernel.db import driver_connection
from kernel.settings import get_settings

#: The index predicate of ``ix_event_open_category_geog`` spelled as the domain says it (the
#: index's own text lists the statuses that are not linkable; both hold the same events).
_OPEN = ", ".join(f"'{s.value}'" for s in sorted(LINKABLE_STATUSES))

CANDIDATES_SQL = f"""
SELECT e.id, e.status, e.created_at, ST_Distance(e.geom::geography, p.g) AS d
FROM (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g) p
JOIN event e ON ST_DWithin(e.geom::geography, p.g, %(distance)s::float8)
WHERE e.status NOT IN ('closed', 'voided', 'resolved') AND e.status IN ({_OPEN})
  AND e.duplicate_of IS NULL
  AND e.category_id = %(category_id)s::integer
  AND e.created_at >= %(since)s
  AND e.id <> %(exclude)s::bigint
ORDER BY e.geom::geography <-> p.g, e.id
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Candidate:
    event_id: int
    status: str
    created_at: datetime
    distance_m: float


def rule() -> DuplicateRule:
    """The configured rule (``WANGGE_DUPLICATE_*``)."""
    settings = get_settings()
    return DuplicateRule(
        distance_m=settings.duplicate_distance_m,
        window=timedelta(hours=settings.duplicate_window_hours),
        limit=settings.duplicate_limit,
    )


def _params(
    category_id: int, lon: float, lat: float, now: datetime, exclude: int | None
) -> dict[str, Any]:
    r = rule()
    return {
        "lon": lon,
        "lat": lat,
        "distance": r.distance_m,
        "category_id": category_id,
        "since": now - r.window,
        "exclude": exclude or 0,
        "limit": r.limit,
    }


def _rows(rows: list[Any]) -> list[Candidate]:
    return [Candidate(int(i), str(s), c, round(float(d), 1)) for i, s, c, d in rows]


def candidates(
    session: Session,
    *,
    category_id: int,
    lon: float,
    lat: float,
    now: datetime,
    exclude: int | None = None,
) -> list[Candidate]:
    """The candidates of a report at WGS-84 ``(lon, lat)``, in the session's transaction."""
    raw = driver_connection(session)
    params = _params(category_id, lon, lat, now, exclude)
    return _rows(raw.execute(CANDIDATES_SQL, params).fetchall())


def query(*, category_id: int, lon: float, lat: float, now: datetime) -> tuple[str, dict[str, Any]]:
    """The candidate search of a report not yet written, as a statement and its parameters,
    for ``dispatch.store.open_event`` to answer in the report's own round trip."""
    return CANDIDATES_SQL, _params(category_id, lon, lat, now, None)


def from_json(rows: list[dict[str, Any]]) -> list[Candidate]:
    """The rows of ``query`` as ``open_event`` returns them (JSON objects)."""
    return _rows(
        [(r["id"], r["status"], datetime.fromisoformat(r["created_at"]), r["d"]) for r in rows]
    )


# --- closed events a confirmed report may reopen (复发) -----------------------------------------

#: Closed, unlinked events of the report's category near it, closed since ``since``: nearest
#: first, then the most recently closed (``domain.intake.reopen_order``). Answered from the
#: partial GiST index ``ix_event_closed_category_geog`` (category, point, close) of migration
#: 0031: only the report's category's closures near it are visited.
CLOSED_SQL = """
SELECT e.id, e.category_id, e.status, e.closed_at, ST_Distance(e.geom::geography, p.g) AS d,
       e.duplicate_of IS NOT NULL AS linked, e.version
FROM (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g) p
JOIN event e ON ST_DWithin(e.geom::geography, p.g, %(distance)s::float8)
WHERE e.status = 'closed' AND e.duplicate_of IS NULL
  AND e.category_id = %(category_id)s::integer
  AND e.closed_at >= %(since)s AND e.closed_at <= %(now)s
  AND e.id <> %(exclude)s::bigint
ORDER BY e.geom::geography <-> p.g, e.closed_at DESC, e.id
LIMIT %(limit)s
"""


#: The open, unlinked events of the category within the distance of a point, however old (the
#: duplicate window does not apply: an open case there is the problem being handled, so nothing
#: closed is reopened); reports still waiting for verification do not count (not yet known to
#: be real). The same partial index as ``CANDIDATES_SQL``.
OPEN_NEAR_SQL = f"""
SELECT e.id
FROM (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g) p
JOIN event e ON ST_DWithin(e.geom::geography, p.g, %(distance)s::float8)
WHERE e.status NOT IN ('closed', 'voided', 'resolved') AND e.status IN ({_OPEN})
  AND e.status <> 'pending_verification'
  AND e.duplicate_of IS NULL
  AND e.category_id = %(category_id)s::integer
  AND e.id <> %(exclude)s::bigint
ORDER BY e.id
"""


def reopen_rule() -> ReopenRule:
    """The configured rule: the duplicate distance, ``WANGGE_REOPEN_WINDOW_DAYS``."""
    settings = get_settings()
    return ReopenRule(
        distance_m=settings.duplicate_distance_m,
        window=timedelta(days=settings.reopen_window_days),
    )


def closed_candidates(
    session: Session,
    *,
    category_id: int,
    lon: float,
    lat: float,
    now: datetime,
    exclude: int | None = None,
) -> list[ClosedCandidate]:
    """The closed events a report at WGS-84 ``(lon, lat)`` verified at ``now`` would reopen
    (``domain.intake.matches`` holds for each), in ``reopen_order``; none when the rule is
    off."""
    r = reopen_rule()
    if not r.enabled:
        return []
    raw = driver_connection(session)
    rows = raw.execute(
        CLOSED_SQL,
        {
            "lon": lon,
            "lat": lat,
            "distance": r.distance_m,
            "category_id": category_id,
            "since": r.since(now),
            "now": now,
            "exclude": exclude or 0,
            "limit": rule().limit,
        },
    ).fetchall()
    found = [
        ClosedCandidate(
            event_id=int(i),
            category_id=int(c),
            status=Status(s),
            closed_at=at,
            distance_m=round(float(d), 1),
            linked=bool(linked),
            version=int(v),
        )
        for i, c, s, at, d, linked, v in rows
    ]
    return sorted((c for c in found if matches(r, category_id, c, now)), key=reopen_order)


@dataclass(frozen=True)
class ReopenMatch:
    """What a confirmation of a report at a point would do: the closed events it matches
    (``reopen_order``), the open events of its category within the distance (any age), and the
    event it reopens (``domain.intake.to_reopen``: none when an open one exists)."""

    closed: list[ClosedCandidate]
    open_near: list[int]
    target: ClosedCandidate | None


def reopen_match(
    session: Session,
    *,
    event_id: int,
    category_id: int,
    lon: float,
    lat: float,
    now: datetime,
) -> ReopenMatch:
    """The reopen decision for the report ``event_id`` at ``(lon, lat)`` verified at ``now``."""
    closed = closed_candidates(
        session, category_id=category_id, lon=lon, lat=lat, now=now, exclude=event_id
    )
    open_near: list[int] = []
    if closed:
        raw = driver_connection(session)
        params = {
            "lon": lon,
            "lat": lat,
            "distance": reopen_rule().distance_m,
            "category_id": category_id,
            "exclude": event_id,
        }
        open_near = [int(r[0]) for r in raw.execute(OPEN_NEAR_SQL, params).fetchall()]
    target = to_reopen(reopen_rule(), category_id, open_near=len(open_near), closed=closed, now=now)
    return ReopenMatch(closed=closed, open_near=open_near, target=target)

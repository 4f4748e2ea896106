"""Duplicate candidates of a new report: open events of the same category near it, recent,
nearest first (``domain.intake.DuplicateRule``). One statement, on the partial GiST index of
the open, unlinked events' categories and points (migration 0018: only the report's category
is visited); the statuses are the domain's ``LINKABLE_STATUSES``. A staff report runs it
inside its own statement (``query``, ``dispatch.store.open_event``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from sqlmodel import Session

from domain.intake import LINKABLE_STATUSES, DuplicateRule
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
    raw = session.connection().connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
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

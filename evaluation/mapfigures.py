"""The map's coverage and staffing figures (``grids.service.coverage``), kept in
``stats_map_cache`` under a fingerprint of the grid, subdistrict and staff tables (row counts,
newest row versions, total area): a union of every grid takes ~0.5 s on a 1,000-grid map.

Reads never write: a request whose fingerprint is not cached computes the figures itself; the
worker (and ``wangge load-data``) refresh the cache when the map or the roster changed.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from sqlalchemy import text
from sqlmodel import Session

from grids.service import Coverage, coverage
from kernel.uow import UnitOfWork

_FINGERPRINT_SQL = """
SELECT concat_ws(':',
  (SELECT count(*) || '/' || coalesce(max(xmin::text::bigint), 0) || '/'
          || coalesce(sum(area_m2), 0) FROM grid),
  (SELECT count(*) || '/' || coalesce(max(xmin::text::bigint), 0) FROM subdistrict),
  (SELECT count(*) || '/' || coalesce(max(xmin::text::bigint), 0) FROM staff))
"""


def _fingerprint(session: Session) -> str:
    return str(session.execute(text(_FINGERPRINT_SQL)).scalar_one())


def _cached(session: Session, fingerprint: str) -> Coverage | None:
    figures = session.execute(
        text("SELECT figures FROM stats_map_cache WHERE fingerprint = :f"), {"f": fingerprint}
    ).scalar_one_or_none()
    return None if figures is None else Coverage(**figures)


def map_figures(session: Session) -> Coverage:
    """The current map's figures: cached, or computed now (not stored: reads never write)."""
    return _cached(session, _fingerprint(session)) or coverage(session=session)


def refresh_map_figures(uow: UnitOfWork) -> bool:
    """Compute and store the figures when the map or the roster changed; commits. Returns
    whether it had to."""
    fingerprint = _fingerprint(uow.session)
    if _cached(uow.session, fingerprint) is not None:
        uow.rollback()
        return False
    figures = coverage(session=uow.session)
    uow.session.execute(
        text("DELETE FROM stats_map_cache WHERE fingerprint <> :f"), {"f": fingerprint}
    )
    uow.session.execute(
        text("""
        INSERT INTO stats_map_cache (fingerprint, figures, computed_at)
        VALUES (:f, CAST(:figures AS jsonb), now()) ON CONFLICT DO NOTHING
        """),
        {"f": fingerprint, "figures": json.dumps(asdict(figures))},
    )
    uow.commit()
    return True

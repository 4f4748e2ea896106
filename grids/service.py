"""Reads of the grid map: GeoJSON built by PostGIS, communities, coverage and staffing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from kernel.db import BBOX_FILTER, bbox_params
from kernel.errors import NotFound
from kernel.paging import BBox, FeaturePage

_FEATURES_SQL = """
    SELECT t.code, ST_AsGeoJSON(t.*, 'geom', 7)::jsonb || jsonb_build_object('id', t.code)
           AS feature FROM (
        SELECT g.code, g.name, c.name AS community, c.code AS community_code,
               round((g.area_m2 / 1e6)::numeric, 4) AS area_km2,
               COALESCE((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name,
                                                             'role', s.role)
                                          ORDER BY s.role = 'head' DESC, s.id)
                         FROM staff s WHERE s.grid_id = g.id), '[]'::jsonb) AS staff,
               g.geom
        FROM grid g JOIN community c ON c.id = g.community_id
        {where}
    ) t
"""


def feature_collection(*, session: Session) -> str:
    """All grids as a GeoJSON FeatureCollection text, ordered by code."""
    sql = f"""SELECT jsonb_build_object('type', 'FeatureCollection',
                   'features', COALESCE(jsonb_agg(feature ORDER BY code), '[]'::jsonb))::text
              FROM ({_FEATURES_SQL.format(where="")}) f"""
    return str(session.execute(text(sql)).scalar_one())


def grid_feature(*, session: Session, code: str) -> str:
    """One grid as a GeoJSON Feature text; ``NotFound`` naming the code."""
    sql = f"SELECT feature::text FROM ({_FEATURES_SQL.format(where='WHERE g.code = :code')}) f"
    row = session.execute(text(sql), {"code": code}).scalar_one_or_none()
    if row is None:
        raise NotFound({"loc": ["code"], "msg": f"no grid with code {code!r}"})
    return str(row)


def grid_features(*, session: Session, bbox: BBox | None, limit: int, offset: int) -> FeaturePage:
    """Grids as GeoJSON features (``id``: the grid code) intersecting ``bbox``, by code."""
    where = "WHERE " + BBOX_FILTER.format(geom="g.geom")
    return _page(session, _FEATURES_SQL.format(where=where), bbox, limit, offset)


_COMMUNITY_FEATURES_SQL = f"""
    SELECT c.code, jsonb_build_object(
             'type', 'Feature', 'id', c.code,
             'geometry', ST_AsGeoJSON(ST_Multi(ST_Union(g.geom)), 7)::jsonb,
             'properties', jsonb_build_object(
                 'code', c.code, 'name', c.name, 'grid_count', count(g.id),
                 'area_km2', round((sum(g.area_m2) / 1e6)::numeric, 4))) AS feature
    FROM community c JOIN grid g ON g.community_id = c.id
    GROUP BY c.id
    HAVING {BBOX_FILTER.format(geom="ST_Union(g.geom)")}
"""


def community_features(
    *, session: Session, bbox: BBox | None, limit: int, offset: int
) -> FeaturePage:
    """Communities as GeoJSON features, their outline the union of their grids, by code."""
    return _page(session, _COMMUNITY_FEATURES_SQL, bbox, limit, offset)


def _page(
    session: Session, features_sql: str, bbox: BBox | None, limit: int, offset: int
) -> FeaturePage:
    """One page of ``features_sql`` (rows of ``code, feature``) by code, and the total."""
    row = session.execute(
        text(f"""
        WITH f AS ({features_sql})
        SELECT (SELECT count(*) FROM f),
               (SELECT coalesce(jsonb_agg(feature ORDER BY code), '[]'::jsonb)
                  FROM (SELECT * FROM f ORDER BY code LIMIT :limit OFFSET :offset) p)
        """),
        {**bbox_params(bbox), "limit": limit, "offset": offset},
    ).one()
    return FeaturePage(list(row[1]), int(row[0]))


def map_extent(*, session: Session) -> BBox | None:
    """The bounding box of the map (None when no map is loaded)."""
    row = session.execute(
        text(
            "SELECT ST_XMin(x), ST_YMin(x), ST_XMax(x), ST_YMax(x)"
            " FROM (SELECT ST_Extent(geom) AS x FROM grid) e"
        )
    ).one()
    return None if row[0] is None else (float(row[0]), float(row[1]), float(row[2]), float(row[3]))


def communities(*, session: Session) -> list[dict[str, Any]]:
    """Communities that have grids, with their grid codes and area."""
    rows = session.execute(
        text("""
        SELECT c.code, c.name, count(g.id) AS grids,
               round((sum(g.area_m2) / 1e6)::numeric, 4) AS area_km2,
               array_agg(g.code ORDER BY g.code)
        FROM community c JOIN grid g ON g.community_id = c.id
        GROUP BY c.id ORDER BY c.code
    """)
    ).all()
    return [
        {
            "code": r[0],
            "name": r[1],
            "grid_count": r[2],
            "area_km2": float(r[3]),
            "grids": list(r[4]),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class Coverage:
    grid_count: int
    jurisdiction_area_km2: float
    covered_area_km2: float
    coverage_ratio: float
    overlap_area_m2: float
    gap_area_m2: float
    fully_staffed_grids: int
    staffing_ratio: float


def coverage(*, session: Session) -> Coverage:
    """Coverage against the stored jurisdiction, overlaps between grids, and 一长两员 staffing.

    Overlap is measured pairwise (sum of the intersections of neighbouring grids), gaps as
    the part of the jurisdiction no grid covers; both geodesically.
    """
    row = session.execute(
        text("""
        WITH j AS (SELECT ST_Union(geom) AS geom FROM subdistrict),
             u AS (SELECT ST_Union(geom) AS geom, count(*) AS n FROM grid),
             o AS (SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom)::geography)), 0)
                          AS area
                   FROM grid a JOIN grid b ON a.id < b.id AND ST_Intersects(a.geom, b.geom)
                   WHERE ST_Dimension(ST_Intersection(a.geom, b.geom)) = 2),
             staffed AS (
                SELECT count(*) AS n FROM grid g
                WHERE (SELECT count(*) FILTER (WHERE s.role = 'head') >= 1
                          AND count(*) FILTER (WHERE s.role = 'member') >= 2
                        FROM staff s WHERE s.grid_id = g.id))
        SELECT u.n,
               coalesce(ST_Area(j.geom::geography), 0),
               coalesce(ST_Area(ST_Intersection(u.geom, j.geom)::geography), 0),
               o.area,
               coalesce(ST_Area(ST_Difference(j.geom, u.geom)::geography), 0),
               staffed.n
        FROM u, j, o, staffed
    """)
    ).one()
    n, j_area, covered, overlap, gap, staffed = (
        int(row[0]),
        float(row[1]),
        float(row[2]),
        float(row[3]),
        float(row[4]),
        int(row[5]),
    )
    return Coverage(
        grid_count=n,
        jurisdiction_area_km2=round(j_area / 1e6, 4),
        covered_area_km2=round(covered / 1e6, 4),
        coverage_ratio=round(covered / j_area, 6) if j_area else 0.0,
        overlap_area_m2=round(overlap, 2),
        gap_area_m2=round(gap, 2),
        fully_staffed_grids=staffed,
        staffing_ratio=round(staffed / n, 6) if n else 0.0,
    )


def area_coverage(*, session: Session, grid_ids: Sequence[int]) -> tuple[float, float]:
    """Coverage narrowed to some grids (a grid or community filter of the statistics): the
    part of their area that lies within the jurisdiction, and their own area, in km² (rounded
    as ``coverage`` rounds). The whole map's figures are ``coverage``'s."""
    row = session.execute(
        text("""
        WITH j AS (SELECT ST_Union(geom) AS geom FROM subdistrict),
             u AS (SELECT ST_Union(geom) AS geom FROM grid WHERE id = ANY(:ids))
        SELECT coalesce(ST_Area(ST_Intersection(u.geom, j.geom)::geography), 0),
               coalesce(ST_Area(u.geom::geography), 0)
          FROM u, j
        """),
        {"ids": list(grid_ids)},
    ).one()
    return round(float(row[0]) / 1e6, 4), round(float(row[1]) / 1e6, 4)

"""All SQL of the grid map: loading, point lookup, GeoJSON reads, coverage."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from grids.coords import CoordSystem, to_wgs84
from grids.validate import errors, validate_map
from service.errors import Invalid, NotFound

SNAP_CAP_M = 50.0
SUBDISTRICT_CODE_LEN = 9

# --- loading -------------------------------------------------------------------------


def read_map_file(path: Path) -> dict[str, Any]:
    """A FeatureCollection (WGS-84) from GeoJSON, or from a Shapefile / GeoPackage."""
    suffix = path.suffix.lower()
    if suffix in (".geojson", ".json"):
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    if suffix in (".shp", ".gpkg"):
        return _read_ogr(path)
    raise Invalid(
        {"field": "path", "msg": f"unsupported map format {suffix!r} (geojson, shp, gpkg)"}
    )


def _read_ogr(path: Path) -> dict[str, Any]:
    import pyogrio.raw
    import shapely
    from pyproj import CRS, Transformer

    meta, _, wkbs, columns = pyogrio.raw.read(path)
    names = list(meta["fields"])
    geoms = shapely.from_wkb(wkbs)
    crs = meta.get("crs")
    if crs and CRS.from_user_input(crs) != CRS.from_epsg(4326):
        tf = Transformer.from_crs(crs, 4326, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: _stack(tf.transform(xy[:, 0], xy[:, 1])))
    features = [
        {
            "type": "Feature",
            "geometry": shapely.geometry.mapping(g),
            "properties": {n: _plain(columns[i][k]) for i, n in enumerate(names)},
        }
        for k, g in enumerate(geoms)
    ]
    return {"type": "FeatureCollection", "features": features}


def _stack(xy: tuple[Any, Any]) -> Any:
    import numpy as np

    return np.column_stack(xy)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@dataclass(frozen=True)
class LoadSummary:
    grids: int
    communities: int
    created: int
    updated: int
    removed: int


def load_map(*, session: Session, fc: dict[str, Any]) -> LoadSummary:
    """Validate everything first, then upsert communities and grids by code in one transaction.

    A file with any problem changes nothing: the problems are raised as one 422 listing
    each feature (index and code) and why. Grids absent from the new map are removed
    when nothing refers to them, otherwise the load is refused.
    """
    problems = errors(validate_map(fc))
    if problems:
        raise Invalid(
            {
                "msg": "the grid map is invalid; nothing was changed",
                "problems": [str(p) for p in problems],
            }
        )
    features = fc["features"]
    communities = {
        f["properties"]["community_code"]: f["properties"]["community"] for f in features
    }
    for code, name in sorted(communities.items()):
        session.execute(
            text(
                "INSERT INTO community (code, name) VALUES (:code, :name) "
                "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"
            ),
            {"code": code, "name": name},
        )
    before = set(session.execute(text("SELECT code FROM grid")).scalars())
    for f in features:
        p = f["properties"]
        session.execute(
            text("""
            INSERT INTO grid (code, name, community_id, geom, area_m2)
            SELECT :code, :name, c.id, g.geom, ST_Area(g.geom::geography)
            FROM community c,
                 (SELECT ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326)) AS geom) g
            WHERE c.code = :community_code
            ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name,
                community_id = EXCLUDED.community_id, geom = EXCLUDED.geom,
                area_m2 = EXCLUDED.area_m2
            """),
            {
                "code": p["code"],
                "name": p["name"],
                "community_code": p["community_code"],
                "geometry": json.dumps(f["geometry"]),
            },
        )
    new_codes = {f["properties"]["code"] for f in features}
    stale = sorted(before - new_codes)
    if stale:
        referenced = (
            session.execute(
                text(
                    "SELECT DISTINCT g.code FROM grid g JOIN staff s ON s.grid_id = g.id "
                    "WHERE g.code = ANY(:codes)"
                ),
                {"codes": stale},
            )
            .scalars()
            .all()
        )
        if referenced:
            session.rollback()
            raise Invalid(
                {
                    "msg": "grids missing from the new map still have staff; nothing was changed",
                    "grids": list(referenced),
                }
            )
        session.execute(text("DELETE FROM grid WHERE code = ANY(:codes)"), {"codes": stale})
    _ensure_subdistrict(session, fc)
    session.flush()
    return LoadSummary(
        grids=len(features),
        communities=len(communities),
        created=len(new_codes - before),
        updated=len(new_codes & before),
        removed=len(stale),
    )


def _ensure_subdistrict(session: Session, fc: dict[str, Any]) -> None:
    """The jurisdiction is fixed once: from the file's metadata, else the first map's union.

    Later maps are measured against it, which is what makes coverage a real check.
    """
    meta = fc.get("metadata") or {}
    code = str(meta.get("subdistrict_code") or features_code_prefix(fc))
    if session.execute(text("SELECT 1 FROM subdistrict WHERE code = :c"), {"c": code}).first():
        return
    boundary = meta.get("jurisdiction")
    session.execute(
        text("""
        INSERT INTO subdistrict (code, name, geom, area_m2)
        SELECT :code, :name, b.geom, ST_Area(b.geom::geography)
        FROM (SELECT ST_Multi(
                CASE WHEN CAST(:boundary AS text) IS NULL
                     THEN (SELECT ST_Union(geom) FROM grid)
                     ELSE ST_SetSRID(ST_GeomFromGeoJSON(:boundary), 4326) END) AS geom) b
        """),
        {
            "code": code,
            "name": str(meta.get("subdistrict") or "街道"),
            "boundary": json.dumps(boundary) if boundary else None,
        },
    )


def features_code_prefix(fc: dict[str, Any]) -> str:
    return str(fc["features"][0]["properties"]["code"])[:SUBDISTRICT_CODE_LEN]


# --- lookup --------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    grid_id: int
    code: str
    name: str
    community: str
    snapped: bool
    distance_m: float
    lon: float
    lat: float


# A point on a shared edge or vertex is covered by several grids: it belongs to the one
# with the lowest code (docs/decisions/0002-grid-lookup.md). ST_Covers and the GiST index
# answer the common case with one index probe.
_COVERING = text("""
    SELECT g.id, g.code, g.name, c.name
    FROM grid g JOIN community c ON c.id = g.community_id
    WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326))
    ORDER BY g.code LIMIT 1
""")
_NEAREST = text("""
    SELECT g.id, g.code, g.name, c.name,
           ST_Distance(g.geom::geography, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)::geography)
    FROM grid g JOIN community c ON c.id = g.community_id
    ORDER BY g.geom <-> ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), g.code LIMIT 1
""")


def locate(
    *,
    session: Session,
    lon: float,
    lat: float,
    coord: CoordSystem = CoordSystem.wgs84,
    accuracy_m: float = 0.0,
    field: str = "location",
) -> Location:
    """The grid a point falls in, after converting it to WGS-84.

    Outside every grid but within min(accuracy, 50 m): snapped to the nearest grid.
    Farther: ``Invalid`` saying how far outside the jurisdiction the point is.
    """
    wlon, wlat = to_wgs84(lon, lat, coord)
    params = {"lon": wlon, "lat": wlat}
    row = session.execute(_COVERING, params).first()
    if row is not None:
        return Location(row[0], row[1], row[2], row[3], False, 0.0, wlon, wlat)
    near = session.execute(_NEAREST, params).first()
    if near is None:
        raise NotFound("no grid map is loaded")
    distance = float(near[4])
    tolerance = min(max(accuracy_m, 0.0), SNAP_CAP_M)
    if distance > tolerance:
        raise Invalid(
            [
                {
                    "loc": ["query" if field == "location" else "body", field],
                    "msg": (
                        f"point ({wlon:.6f}, {wlat:.6f}) WGS-84 is outside the jurisdiction, "
                        f"{distance:.1f} m from the nearest grid {near[1]} "
                        f"(snapping allows min(accuracy_m, {SNAP_CAP_M:.0f} m) = {tolerance:.1f} m)"
                    ),
                    "type": "outside_jurisdiction",
                    "distance_m": round(distance, 1),
                }
            ]
        )
    return Location(near[0], near[1], near[2], near[3], True, distance, wlon, wlat)


# --- reads (GeoJSON built by PostGIS) ------------------------------------------------

_FEATURES_SQL = """
    SELECT ST_AsGeoJSON(t.*, 'geom', 7)::jsonb AS feature FROM (
        SELECT g.code, g.name, c.name AS community, c.code AS community_code,
               round((g.area_m2 / 1e6)::numeric, 4) AS area_km2,
               COALESCE((SELECT jsonb_agg(jsonb_build_object('id', s.id, 'name', s.name,
                                                             'role', s.role) ORDER BY s.role, s.id)
                         FROM staff s WHERE s.grid_id = g.id), '[]'::jsonb) AS staff,
               g.geom
        FROM grid g JOIN community c ON c.id = g.community_id
        {where}
        ORDER BY g.code
    ) t
"""


def feature_collection(*, session: Session) -> str:
    sql = f"""SELECT jsonb_build_object('type', 'FeatureCollection',
                   'features', COALESCE(jsonb_agg(feature), '[]'::jsonb))::text
              FROM ({_FEATURES_SQL.format(where="")}) f"""
    return str(session.execute(text(sql)).scalar_one())


def grid_feature(*, session: Session, code: str) -> str:
    sql = f"SELECT feature::text FROM ({_FEATURES_SQL.format(where='WHERE g.code = :code')}) f"
    row = session.execute(text(sql), {"code": code}).scalar_one_or_none()
    if row is None:
        raise NotFound({"loc": ["path", "code"], "msg": f"no grid with code {code!r}"})
    return str(row)


def communities(*, session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        text("""
        SELECT c.code, c.name, count(g.id) AS grids,
               round((coalesce(sum(g.area_m2), 0) / 1e6)::numeric, 4) AS area_km2,
               coalesce(array_agg(g.code ORDER BY g.code) FILTER (WHERE g.id IS NOT NULL), '{}')
        FROM community c LEFT JOIN grid g ON g.community_id = c.id
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
    """Coverage against the stored jurisdiction, overlaps between grids, and 一长两员 staffing."""
    row = session.execute(
        text("""
        WITH j AS (SELECT ST_Union(geom) AS geom FROM subdistrict),
             u AS (SELECT ST_Union(geom) AS geom, sum(area_m2) AS total, count(*) AS n FROM grid),
             staffed AS (
                SELECT count(*) AS n FROM grid g
                WHERE (SELECT count(*) FILTER (WHERE s.role = 'head') >= 1
                          AND count(*) FILTER (WHERE s.role = 'member') >= 2
                        FROM staff s WHERE s.grid_id = g.id))
        SELECT u.n,
               coalesce(ST_Area(j.geom::geography), 0),
               coalesce(ST_Area(ST_Intersection(u.geom, j.geom)::geography), 0),
               coalesce(u.total - ST_Area(u.geom::geography), 0),
               coalesce(ST_Area(ST_Difference(j.geom, u.geom)::geography), 0),
               staffed.n
        FROM u, j, staffed
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
        overlap_area_m2=round(max(overlap, 0.0), 2),
        gap_area_m2=round(gap, 2),
        fully_staffed_grids=staffed,
        staffing_ratio=round(staffed / n, 6) if n else 0.0,
    )

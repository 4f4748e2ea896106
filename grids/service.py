"""All SQL of the grid map: loading, point lookup, GeoJSON reads, coverage."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import text
from sqlmodel import Session

from grids.coords import CoordSystem, to_wgs84
from grids.index import GridEntry, GridIndex
from grids.validate import REQUIRED_PROPERTIES, errors, validate_map
from service.errors import Invalid, NotFound, field_error
from service.reference import ReferenceCache

SNAP_CAP_M = 50.0
SUBDISTRICT_CODE_LEN = 9
_DBF_NAME_LEN = 10  # Shapefile (dBASE) field names are cut to 10 characters

# --- loading -------------------------------------------------------------------------


def read_map_file(path: Path) -> dict[str, Any]:
    """A FeatureCollection (WGS-84) from GeoJSON, or from a Shapefile / GeoPackage.

    An unreadable file is ``Invalid`` naming the file and why, like a bad feature.
    """
    suffix = path.suffix.lower()
    if suffix not in (".geojson", ".json", ".shp", ".gpkg"):
        raise Invalid(
            {"field": "path", "msg": f"unsupported map format {suffix!r} (geojson, shp, gpkg)"}
        )
    if not path.is_file():
        raise Invalid({"field": "path", "msg": f"no such file: {path}"})
    try:
        if suffix in (".shp", ".gpkg"):
            return _read_ogr(path)
        data = json.loads(path.read_text(encoding="utf-8"))
    except Exception as exc:  # any reader failure is the file's fault, reported as such
        raise Invalid({"field": "path", "msg": f"cannot read {path.name}: {exc}"}) from exc
    if not isinstance(data, dict):
        raise Invalid({"field": "path", "msg": f"{path.name} is not a GeoJSON object"})
    return data


def _read_ogr(path: Path) -> dict[str, Any]:
    import pyogrio.raw
    from pyproj import CRS, Transformer

    meta, _, wkbs, columns = pyogrio.raw.read(path)
    names = [_property_name(str(n)) for n in meta["fields"]]
    geoms = shapely.from_wkb(wkbs)
    crs = meta.get("crs")
    if crs and CRS.from_user_input(crs) != CRS.from_epsg(4326):
        tf = Transformer.from_crs(crs, 4326, always_xy=True)
        geoms = shapely.transform(geoms, lambda xy: _stack(tf.transform(xy[:, 0], xy[:, 1])))
    features = [
        {
            "type": "Feature",
            "geometry": None if g is None else shapely.geometry.mapping(g),
            "properties": {n: _plain(columns[i][k]) for i, n in enumerate(names)},
        }
        for k, g in enumerate(geoms)
    ]
    return {"type": "FeatureCollection", "features": features}


def _property_name(name: str) -> str:
    """Undo the Shapefile's 10-character field names (``community_`` → ``community_code``)."""
    if len(name) == _DBF_NAME_LEN:
        for full in REQUIRED_PROPERTIES:
            if full.startswith(name):
                return full
    return name


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
    """Validate everything first, then upsert communities and grids by code.

    A file with any problem changes nothing: the problems are raised as one ``Invalid``
    listing each feature (index and code) and why, before the first write. Grids absent
    from the new map are removed when no row refers to them (staff, events, patrols...),
    otherwise the load is refused, also before the first write. Rings are stored
    counter-clockwise (RFC 7946) whatever the file's winding.
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
    new_codes = {f["properties"]["code"] for f in features}
    # Until commit, nothing may start pointing at a grid this load is about to remove (a
    # foreign-key check takes ROW SHARE); plain reads, lookups included, carry on.
    session.execute(text("LOCK TABLE grid IN EXCLUSIVE MODE"))
    before = set(session.execute(text("SELECT code FROM grid")).scalars())
    stale = sorted(before - new_codes)
    referenced = _referenced_grids(session, stale)
    if referenced:
        raise Invalid(
            {
                "msg": "grids missing from the new map are still referenced; nothing was changed",
                "grids": referenced,
            }
        )
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
    for f in features:
        p = f["properties"]
        session.execute(
            text("""
            INSERT INTO grid (code, name, community_id, geom, area_m2)
            SELECT :code, :name, c.id, g.geom, ST_Area(g.geom::geography)
            FROM community c,
                 (SELECT ST_ForcePolygonCCW(ST_Multi(
                     ST_SetSRID(ST_GeomFromGeoJSON(:geometry), 4326))) AS geom) g
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
    if stale:
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


def _referenced_grids(session: Session, codes: Sequence[str]) -> list[str]:
    """Which of ``codes`` some row points at, found through every foreign key to ``grid``.

    Read from the catalog so tables added later (events, patrols...) are covered too.
    """
    if not codes:
        return []
    fks = session.execute(
        text("""
        SELECT format('%I.%I', n.nspname, r.relname), a.attname
        FROM pg_constraint k
        JOIN pg_class r ON r.oid = k.conrelid
        JOIN pg_namespace n ON n.oid = r.relnamespace
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
        WHERE k.contype = 'f' AND k.confrelid = 'grid'::regclass
        """)
    ).all()
    found: set[str] = set()
    for table, column in fks:
        col = '"' + str(column).replace('"', '""') + '"'
        rows = session.execute(
            text(
                f"SELECT g.code FROM grid g WHERE g.code = ANY(:codes) "
                f"AND EXISTS (SELECT 1 FROM {table} t WHERE t.{col} = g.id)"
            ),
            {"codes": list(codes)},
        ).scalars()
        found.update(rows)
    return sorted(found)


def _ensure_subdistrict(session: Session, fc: dict[str, Any]) -> None:
    """The jurisdiction coverage is measured against.

    A map whose metadata carries a ``jurisdiction`` boundary sets it (a survey comes with
    its official boundary). Otherwise it is fixed once, from the first map's union, and
    later maps are measured against it, which is what makes coverage a real check.
    """
    meta = fc.get("metadata") or {}
    code = str(meta.get("subdistrict_code") or features_code_prefix(fc))
    boundary = meta.get("jurisdiction")
    exists = session.execute(text("SELECT 1 FROM subdistrict WHERE code = :c"), {"c": code}).first()
    if exists and not boundary:
        return
    session.execute(
        text("""
        INSERT INTO subdistrict (code, name, geom, area_m2)
        SELECT :code, :name, b.geom, ST_Area(b.geom::geography)
        FROM (SELECT ST_ForcePolygonCCW(ST_Multi(
                CASE WHEN CAST(:boundary AS text) IS NULL
                     THEN (SELECT ST_Union(geom) FROM grid)
                     ELSE ST_SetSRID(ST_GeomFromGeoJSON(:boundary), 4326) END)) AS geom) b
        ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, geom = EXCLUDED.geom,
            area_m2 = EXCLUDED.area_m2
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


# The boundary rule in PostGIS (docs/decisions/0002-grid-lookup.md); ``%(name)s`` parameters,
# run as prepared statements on the async pool.
#
# COVERING_SQL: the grids whose closed polygon covers the point (ST_Covers, so the boundary
# counts; the GiST index finds the candidates); a point on a shared edge or vertex is covered
# by several and belongs to the one with the lowest code. Lookups answer this from memory
# (grids.index, ADR 0005); the statement states the rule in PostGIS and is what bench/locate
# measures as "the PostGIS query alone".
COVERING_SQL = """
SELECT g.id, g.code, g.name, c.name
FROM grid g JOIN community c ON c.id = g.community_id
WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326))
ORDER BY g.code LIMIT 1
"""

# NEAREST_SQL, only when nothing covers the point: the geodesically nearest grid and its
# distance in metres on the spheroid. The KNN operator ``<->`` ranks in degrees, so it only
# bounds the search: a degree of longitude is cos(lat) times shorter than one of latitude,
# so every grid within ``d0 / cos(lat)`` degrees (2 % margin) of the point is ranked by its
# true distance; ties within 1 mm go to the lowest code.
NEAREST_SQL = """
SELECT g.id, g.code, g.name, c.name, ST_Distance(g.geom::geography, p.pt::geography) AS d
FROM (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS pt) p
CROSS JOIN LATERAL (
    SELECT k.geom <-> p.pt AS d0 FROM grid k ORDER BY k.geom <-> p.pt LIMIT 1) n
JOIN grid g ON ST_DWithin(g.geom, p.pt, n.d0 * 1.02 / greatest(cos(radians(ST_Y(p.pt))), 0.01))
JOIN community c ON c.id = g.community_id
ORDER BY round(ST_Distance(g.geom::geography, p.pt::geography)::numeric, 3), g.code
LIMIT 1
"""


def locate_params(
    lon: float,
    lat: float,
    coord: CoordSystem = CoordSystem.wgs84,
    *,
    loc: Sequence[str | int] = ("query",),
) -> dict[str, float]:
    """The WGS-84 parameters of the lookup statements for a point reported in ``coord``.

    Callers validate the ranges of what they were given; a GCJ-02/BD-09 point at the very
    edge of the globe could still convert to an impossible WGS-84 one, refused here.
    """
    wlon, wlat = to_wgs84(lon, lat, coord)
    if not (-180.0 <= wlon <= 180.0 and -90.0 <= wlat <= 90.0):
        raise Invalid(
            field_error((*loc, "coord"), f"({lon}, {lat}) in {coord} is not a place on Earth")
        )
    return {"lon": wlon, "lat": wlat}


def snapped(
    row: Sequence[Any] | None,
    params: dict[str, float],
    *,
    accuracy_m: float,
    loc: Sequence[str | int],
) -> Location:
    """A ``NEAREST_SQL`` row as a snapped Location, or the error it means: the point is
    farther outside than min(accuracy_m, 50 m)."""
    wlon, wlat = params["lon"], params["lat"]
    if row is None:
        raise NotFound("no grid map is loaded")
    grid_id, code, name, community, distance = row
    distance = float(distance)
    tolerance = min(max(accuracy_m, 0.0), SNAP_CAP_M)
    if distance > tolerance:
        raise Invalid(
            [
                {
                    "loc": list(loc),
                    "msg": (
                        f"point ({wlon:.6f}, {wlat:.6f}) WGS-84 is outside the jurisdiction, "
                        f"{distance:.1f} m from the nearest grid {code} "
                        f"(snapping allows min(accuracy_m, {SNAP_CAP_M:.0f} m) = {tolerance:.1f} m)"
                    ),
                    "type": "outside_jurisdiction",
                    "distance_m": round(distance, 1),
                }
            ]
        )
    return Location(int(grid_id), code, name, community, True, distance, wlon, wlat)


async def load_index(conn: AsyncConnection[Any]) -> GridIndex:
    """The stored map as an in-memory index (``service.reference`` keeps it per process).
    The last index built is reused while the rows read are the same (building one takes a
    fraction of a second; a process re-reads the map on every change notification)."""
    global _last_index
    cursor = await conn.execute(
        "SELECT g.id, g.code, g.name, c.name, ST_AsBinary(g.geom)"
        " FROM grid g JOIN community c ON c.id = g.community_id ORDER BY g.code"
    )
    rows = [
        (int(gid), code, name, community, bytes(wkb))
        for gid, code, name, community, wkb in await cursor.fetchall()
    ]
    fingerprint = hashlib.sha256(repr(rows).encode()).digest()
    if _last_index is not None and _last_index[0] == fingerprint:
        return _last_index[1]
    entries = [
        (GridEntry(gid, code, name, community), shapely.from_wkb(wkb))
        for gid, code, name, community, wkb in rows
    ]
    index = await asyncio.to_thread(GridIndex, entries)  # ~0.2 s: not on the event loop
    _last_index = (fingerprint, index)
    return index


_last_index: tuple[bytes, GridIndex] | None = None


async def locate(
    *,
    pool: AsyncConnectionPool,
    index: GridIndex,
    lon: float,
    lat: float,
    coord: CoordSystem = CoordSystem.wgs84,
    accuracy_m: float = 0.0,
    loc: Sequence[str | int] = ("query",),
) -> Location:
    """The grid a point falls in, after converting it to WGS-84.

    Inside the map the in-memory index answers (no round trip); outside every grid the
    geodesically nearest one is asked of PostGIS (``NEAREST_SQL``): within min(accuracy,
    50 m) the point snaps to it, farther it is ``Invalid`` at ``loc`` saying how far out.
    """
    params = locate_params(lon, lat, coord, loc=loc)
    hit = index.covering(params["lon"], params["lat"])
    if hit is not None:
        return Location(
            hit.grid_id, hit.code, hit.name, hit.community, False, 0.0, params["lon"], params["lat"]
        )
    async with pool.connection() as conn:
        near = await (await conn.execute(NEAREST_SQL, params)).fetchone()
    return snapped(near, params, accuracy_m=accuracy_m, loc=loc)


@dataclass(frozen=True)
class GridLocator:
    """The lookup as a request makes it: the process's copy of the map, and the pool for
    points outside every grid (one dependency for the route instead of two)."""

    pool: AsyncConnectionPool
    grid_map: ReferenceCache[GridIndex]

    async def locate(
        self, lon: float, lat: float, coord: CoordSystem, accuracy_m: float
    ) -> Location:
        index = (await self.grid_map.get(self.pool)).value
        return await locate(
            pool=self.pool, index=index, lon=lon, lat=lat, coord=coord, accuracy_m=accuracy_m
        )


# --- reads (GeoJSON built by PostGIS) ------------------------------------------------

_FEATURES_SQL = """
    SELECT t.code, ST_AsGeoJSON(t.*, 'geom', 7)::jsonb AS feature FROM (
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
        raise NotFound({"loc": ["path", "code"], "msg": f"no grid with code {code!r}"})
    return str(row)


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

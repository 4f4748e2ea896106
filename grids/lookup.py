"""The grid a point is in: coordinates converted to WGS-84, the in-memory index first, PostGIS
for points outside every grid (geodesic snapping). The boundary rule is ADR 0002's."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from domain.coords import CoordSystem, to_wgs84
from grids.index import GridEntry, GridIndex
from kernel.errors import Invalid, NotFound, field_error
from kernel.reference import ReferenceCache

SNAP_CAP_M = 50.0


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
    loc: Sequence[str | int] = (),
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
    loc: Sequence[str | int] = (),
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
        self,
        lon: float,
        lat: float,
        coord: CoordSystem,
        accuracy_m: float,
        *,
        loc: Sequence[str | int] = (),
    ) -> Location:
        index = (await self.grid_map.get(self.pool)).value
        return await locate(
            pool=self.pool,
            index=index,
            lon=lon,
            lat=lat,
            coord=coord,
            accuracy_m=accuracy_m,
            loc=loc,
        )

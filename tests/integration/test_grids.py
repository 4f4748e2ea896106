"""The grid map on PostGIS, without HTTP: the lookup as the report path calls it, PostGIS vs
Shapely (and the API's in-memory index) on random points, coverage measured after the map
changes. Requests to the grid routes are in tests/e2e/test_grids.py.

Geometry for choosing test points comes from data/grids.geojson (``tests.kit.data``), the file
the test database was loaded from; what the service answers is always checked against PostGIS
itself.
"""

from __future__ import annotations

import asyncio
import random

import pytest
import shapely
from shapely.strtree import STRtree
from sqlalchemy import text
from sqlmodel import Session

from grids import lookup, service
from grids.index import GridIndex
from kernel.errors import Invalid
from tests.conftest import SessionPool
from tests.kit.data import grid_map, outer_edge_point, shared_vertices, union


def stored_index(db: Session) -> GridIndex:
    """The in-memory index exactly as the API builds it from the stored map."""

    async def load() -> GridIndex:
        async with SessionPool(db).connection() as conn:
            return await lookup.load_index(conn)  # type: ignore[arg-type]

    return asyncio.run(load())


def test_service_locate_names_the_callers_location_in_its_errors(db: Session) -> None:
    """The report path calls the same lookup with the body's location as ``loc``."""
    index, pool = stored_index(db), SessionPool(db)

    def run(lon: float, lat: float, accuracy_m: float) -> lookup.Location:
        return asyncio.run(
            lookup.locate(
                pool=pool,  # type: ignore[arg-type]
                index=index,
                lon=lon,
                lat=lat,
                accuracy_m=accuracy_m,
                loc=("body", "location"),
            )
        )

    (lon, lat), owner = outer_edge_point(20.0)
    loc = run(lon, lat, 30)
    assert (loc.code, loc.snapped, round(loc.distance_m)) == (owner, True, 20)
    with pytest.raises(Invalid) as exc:
        run(lon, lat, 5)
    assert exc.value.detail[0]["loc"] == ["body", "location"]
    (vlon, vlat), codes = next(v for v in shared_vertices() if len(v[1]) >= 3)
    loc = run(vlon, vlat, 0)
    assert loc.code == min(codes) and not loc.snapped


def test_postgis_and_shapely_agree_on_10000_random_points(db: Session) -> None:
    """One batched query for PostGIS; for Shapely, an STRtree over the GeoJSON and the API's
    own in-memory index (grids.index, built from the stored map). Points are drawn in the
    map's bounding box, so some fall outside every grid (None on every side)."""
    codes, polygons = grid_map()
    minx, miny, maxx, maxy = union().bounds
    rng = random.Random(20240601)
    xs = [rng.uniform(minx, maxx) for _ in range(10_000)]
    ys = [rng.uniform(miny, maxy) for _ in range(10_000)]
    by_postgis = db.execute(
        text("""
        SELECT (SELECT min(g.code) FROM grid g
                WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), 4326)))
        FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) WITH ORDINALITY AS p(x, y, i)
        ORDER BY p.i
        """),
        {"xs": xs, "ys": ys},
    ).scalars()
    tree = STRtree(list(polygons))
    point_index, grid_index = tree.query(shapely.points(xs, ys), predicate="covered_by")
    by_shapely: list[str | None] = [None] * len(xs)
    for i, g in zip(point_index.tolist(), grid_index.tolist(), strict=True):
        current = by_shapely[i]
        by_shapely[i] = codes[g] if current is None else min(current, codes[g])
    postgis = list(by_postgis)
    index = stored_index(db)
    by_index = [
        None if (hit := index.covering(x, y)) is None else hit.code
        for x, y in zip(xs, ys, strict=True)
    ]
    assert by_index == by_shapely
    assert len(postgis) == 10_000
    inside = sum(c is not None for c in postgis)
    assert 5_000 < inside < 10_000  # both cases are exercised
    disagree = [
        (xs[i], ys[i], a, b)
        for i, (a, b) in enumerate(zip(postgis, by_shapely, strict=True))
        if a != b
    ]
    assert disagree == []


def test_coverage_sees_a_gap_an_overlap_and_an_unstaffed_grid(db: Session) -> None:
    """Coverage is measured, not assumed: shrink one grid to half its size (a gap of 3/4 of
    it), move one member away, then grow another grid into its neighbours."""
    codes = grid_map()[0]
    shrunk, unstaffed, grown = codes[3], codes[9], codes[40]
    area = db.execute(text("SELECT area_m2 FROM grid WHERE code = :c"), {"c": shrunk}).scalar_one()
    db.execute(
        text("""UPDATE grid SET geom = ST_Multi(ST_Translate(ST_Scale(
                    ST_Translate(geom, -ST_X(ST_Centroid(geom)), -ST_Y(ST_Centroid(geom))),
                    0.5, 0.5), ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom))))
                WHERE code = :c"""),
        {"c": shrunk},
    )
    db.execute(
        text("""UPDATE staff SET grid_id = NULL WHERE id = (SELECT min(s.id) FROM staff s
                JOIN grid g ON g.id = s.grid_id WHERE g.code = :c AND s.role = 'member')"""),
        {"c": unstaffed},
    )
    c = service.coverage(session=db)
    assert c.grid_count == 44
    assert c.gap_area_m2 == pytest.approx(0.75 * area, rel=1e-3)
    assert c.covered_area_km2 == pytest.approx(16.18 - 0.75 * area / 1e6, abs=1e-3)
    assert c.coverage_ratio == pytest.approx(1 - 0.75 * area / 16.18e6, abs=1e-5)
    assert c.overlap_area_m2 < 1.0
    assert c.fully_staffed_grids == 43

    db.execute(
        text(
            "UPDATE grid SET geom = ST_Multi(ST_Buffer(geom, 0.0002, 'join=mitre')) WHERE code = :c"
        ),
        {"c": grown},
    )
    assert service.coverage(session=db).overlap_area_m2 > 1000  # a ~20 m band into neighbours

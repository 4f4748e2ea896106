"""What the test database is loaded from (``data/``), as the tests read it: the category seed
(``SEED``, data/categories.json) and the grid map as Shapely shapes (data/grids.geojson), with
the points of it tests choose: shared vertices and edges, points just outside an outer edge.
``neighbour_subdistrict`` is the map moved east as another subdistrict of the district.
What the service answers is always checked against PostGIS itself, not against these."""

from __future__ import annotations

import copy
import json
import math
from functools import cache
from typing import Any

import shapely
from pyproj import Transformer
from shapely.geometry import LineString, Point, Polygon, mapping, shape
from shapely.geometry.polygon import orient

from domain.calendar import WorkCalendar, parse_calendar
from kernel.settings import ROOT, get_settings

# the categories of data/categories.json, as the test database was seeded with them
SEED: list[dict[str, Any]] = json.loads(
    (get_settings().data_dir / "categories.json").read_text(encoding="utf-8")
)["categories"]


@cache
def cn_calendar() -> WorkCalendar:
    """The seeded Chinese working calendar (data/calendars/cn.json)."""
    path = get_settings().data_dir / "calendars" / "cn.json"
    return parse_calendar(json.loads(path.read_text(encoding="utf-8")))


Coord = tuple[float, float]
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)


@cache
def grid_map() -> tuple[tuple[str, ...], tuple[Polygon, ...]]:
    """Codes and polygons of the loaded map, in code order."""
    fc = json.loads((ROOT / "data" / "grids.geojson").read_text(encoding="utf-8"))
    features = sorted(fc["features"], key=lambda f: f["properties"]["code"])
    return (
        tuple(f["properties"]["code"] for f in features),
        tuple(shape(f["geometry"]) for f in features),
    )


@cache
def union() -> Polygon:
    u = shapely.unary_union(list(grid_map()[1]))
    assert isinstance(u, Polygon)
    return orient(u, 1.0)  # counter-clockwise: the outside is right of each edge


def shared_vertices() -> list[tuple[Coord, list[str]]]:
    """Vertices that belong to two or more grids (with those grids' codes)."""
    owners: dict[Coord, set[str]] = {}
    for code, poly in zip(*grid_map(), strict=True):
        for xy in poly.exterior.coords:
            owners.setdefault((xy[0], xy[1]), set()).add(code)
    return [(xy, sorted(c)) for xy, c in sorted(owners.items()) if len(c) >= 2]


def shared_segments() -> list[tuple[Coord, Coord, list[str]]]:
    """Ring segments that two grids both have (same two vertices): shared edges."""
    owners: dict[tuple[Coord, Coord], set[str]] = {}
    for code, poly in zip(*grid_map(), strict=True):
        ring = [(x, y) for x, y in poly.exterior.coords]
        for a, b in zip(ring, ring[1:], strict=False):
            key = (a, b) if a <= b else (b, a)
            owners.setdefault(key, set()).add(code)
    return [(a, b, sorted(c)) for (a, b), c in sorted(owners.items()) if len(c) == 2]


def outer_edge_point(metres_out: float, index: int = 0) -> tuple[Coord, str]:
    """A point ``metres_out`` outside the map, off the middle of one of its outer edges,
    and the code of the grid owning that edge."""
    outline = union().exterior
    edges = [
        LineString([outline.coords[i], outline.coords[i + 1]])
        for i in range(len(outline.coords) - 1)
    ]
    edges.sort(key=lambda e: -e.length)
    edge = edges[index]
    (ax, ay), (bx, by) = (TO_UTM.transform(*xy) for xy in edge.coords)
    mx, my = (ax + bx) / 2, (ay + by) / 2
    length = math.hypot(bx - ax, by - ay)
    nx, ny = (by - ay) / length, -(bx - ax) / length  # right of a→b: outside a CCW ring
    lon, lat = TO_UTM.transform(mx + nx * metres_out, my + ny * metres_out, direction="INVERSE")
    assert not union().contains(Point(lon, lat))
    mid_lon, mid_lat = TO_UTM.transform(mx - nx * 0.5, my - ny * 0.5, direction="INVERSE")
    owner = [c for c, p in zip(*grid_map(), strict=True) if p.contains(Point(mid_lon, mid_lat))]
    assert len(owner) == 1
    return (lon, lat), owner[0]


HOME_SUBDISTRICT = "130203001"  # the seeded map's subdistrict


def neighbour_subdistrict(serial: str, *, dx: float, rename: bool = True) -> dict[str, Any]:
    """The seeded map moved ``dx`` degrees east as subdistrict ``130203<serial>`` (codes
    renumbered; community names marked with the serial unless ``rename`` is False)."""
    fc: dict[str, Any] = copy.deepcopy(
        json.loads((ROOT / "data" / "grids.geojson").read_text(encoding="utf-8"))
    )
    code = f"130203{serial}"
    for f in fc["features"]:
        p = f["properties"]
        p["code"] = code + p["code"][9:]
        p["community_code"] = code + p["community_code"][9:]
        if rename:
            p["community"] = p["community"].replace("社区", f"{serial}社区")
        f["geometry"] = mapping(shapely.affinity.translate(shape(f["geometry"]), xoff=dx))
    fc["metadata"] = {"subdistrict": f"邻街道{serial}", "subdistrict_code": code}
    return fc

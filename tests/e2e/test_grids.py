"""The grid map over HTTP: point lookup (boundary, snapping, coordinate systems, input
validation), GeoJSON reads, communities, coverage, the lookup's OpenAPI document. The lookup
called directly, PostGIS vs Shapely and coverage after map changes are in
tests/integration/test_grids.py.

Geometry for choosing test points comes from data/grids.geojson (``tests.kit.data``), the file
the test database was loaded from; what the service answers is always checked against PostGIS
itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape
from sqlalchemy import text
from sqlmodel import Session

from domain.coords import wgs84_to_bd09, wgs84_to_gcj02
from tests.kit.data import (
    TO_UTM,
    Coord,
    grid_map,
    outer_edge_point,
    shared_segments,
    shared_vertices,
    union,
)

Headers = Callable[[str], dict[str, str]]
LOCATE = "/api/v1/grids/locate"
COMMUNITIES = ("新景楼", "益民园", "都市花园", "龙泉西里", "吉庆里", "荣馨园")


def covering_codes(db: Session, lon: float, lat: float) -> list[str]:
    """PostGIS's own answer: every grid whose closed polygon covers the point."""
    return list(
        db.execute(
            text(
                "SELECT code FROM grid"
                " WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326)) ORDER BY code"
            ),
            {"x": lon, "y": lat},
        ).scalars()
    )


def locate(client: TestClient, headers: dict[str, str], **params: Any) -> Any:
    return client.get(LOCATE, params=params, headers=headers)


# --- lookup ----------------------------------------------------------------------------


def test_interior_point_of_every_grid(client: TestClient, token_for: Headers) -> None:
    h = token_for("g01m1")
    for code, poly in zip(*grid_map(), strict=True):
        p = poly.representative_point()
        r = locate(client, h, lon=p.x, lat=p.y)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["grid"]["code"] == code
        assert body["grid"]["name"] and body["grid"]["community"].endswith("社区")
        assert body["snapped"] is False and body["distance_m"] == 0
        assert body["wgs84"] == [p.x, p.y]


def test_shared_vertex_belongs_to_the_lowest_code(
    client: TestClient, token_for: Headers, db: Session
) -> None:
    h = token_for("dispatch1")
    vertices = [(xy, codes) for xy, codes in shared_vertices() if union().contains(Point(xy))]
    assert len(vertices) > 20
    many = 0
    for (lon, lat), codes in vertices:
        covering = covering_codes(db, lon, lat)
        assert covering == codes  # a vertex is exactly on each of its grids' boundaries
        many += len(codes) >= 3
        r = locate(client, h, lon=lon, lat=lat)
        assert r.status_code == 200, r.text
        assert r.json()["grid"]["code"] == min(codes)
        assert r.json()["snapped"] is False
    assert many > 0, "the map has T-junctions or four-way corners; some vertex has 3+ grids"


def test_shared_edge_belongs_to_the_lowest_code(
    client: TestClient, token_for: Headers, db: Session
) -> None:
    """Points along shared edges; where PostGIS finds a point on both grids (exactly on the
    edge), the answer is the lower code, else the one grid that covers it."""
    h = token_for("dispatch1")
    on_both = 0
    for a, b, codes in shared_segments()[:40]:
        for t in (0.5, 0.25, 0.125):
            lon, lat = a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
            covering = covering_codes(db, lon, lat)
            assert covering and set(covering) <= set(codes)
            on_both += len(covering) == 2
            r = locate(client, h, lon=lon, lat=lat)
            assert r.status_code == 200, r.text
            assert r.json()["grid"]["code"] == covering[0]
    assert on_both > 0, "no sampled edge point lies on both grids; the tie rule went untested"


def test_just_outside_snaps_within_accuracy(client: TestClient, token_for: Headers) -> None:
    h = token_for("g02m1")
    (lon, lat), owner = outer_edge_point(20.0)
    r = locate(client, h, lon=lon, lat=lat, accuracy_m=30)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["snapped"] is True
    assert body["grid"]["code"] == owner
    assert 19.0 < body["distance_m"] < 21.0
    # a generous accuracy is capped at 50 m, which still covers 20 m
    assert locate(client, h, lon=lon, lat=lat, accuracy_m=500).json()["snapped"] is True


def test_outside_beyond_accuracy_is_422_with_the_distance(
    client: TestClient, token_for: Headers
) -> None:
    h = token_for("g02m1")
    (lon, lat), _ = outer_edge_point(20.0)
    for accuracy in (0, 10):
        r = locate(client, h, lon=lon, lat=lat, accuracy_m=accuracy)
        assert r.status_code == 422, r.text
        (err,) = r.json()["detail"]
        assert err["type"] == "outside_jurisdiction"
        assert "outside the jurisdiction" in err["msg"]
        assert 19.0 < err["distance_m"] < 21.0
    # the cap: 80 m outside is too far even when the phone claims 500 m accuracy
    (lon, lat), _ = outer_edge_point(80.0, index=1)
    r = locate(client, h, lon=lon, lat=lat, accuracy_m=500)
    assert r.status_code == 422, r.text
    assert "= 50.0 m" in r.json()["detail"][0]["msg"]


def test_far_outside_says_how_far(client: TestClient, token_for: Headers) -> None:
    h = token_for("g03m1")
    r = locate(client, h, lon=116.3975, lat=39.9087, accuracy_m=50)  # Tiananmen, Beijing
    assert r.status_code == 422, r.text
    (err,) = r.json()["detail"]
    assert err["loc"] == ["query"]
    assert "outside the jurisdiction" in err["msg"]
    assert 140_000 < err["distance_m"] < 160_000
    assert f"{err['distance_m']:.1f} m" in err["msg"]
    r = locate(client, h, lon=0, lat=0)  # no GCJ-02 offset outside China; still far
    assert r.status_code == 422 and r.json()["detail"][0]["distance_m"] > 10_000_000


@pytest.mark.parametrize(("coord", "convert"), [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_each_coordinate_system_lands_in_the_same_grid(
    client: TestClient,
    token_for: Headers,
    coord: str,
    convert: Callable[[float, float], Coord],
) -> None:
    h = token_for("g04m2")
    moved = 0
    for code, poly in list(zip(*grid_map(), strict=True))[::4]:
        p = poly.representative_point()
        lon, lat = convert(p.x, p.y)
        r = locate(client, h, lon=lon, lat=lat, coord=coord)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["grid"]["code"] == code
        assert body["wgs84"] == pytest.approx([p.x, p.y], abs=1e-8)  # < 1 mm
        # the same numbers taken as WGS-84 are hundreds of metres away
        ax, ay = TO_UTM.transform(p.x, p.y)
        bx, by = TO_UTM.transform(lon, lat)
        assert math.hypot(ax - bx, ay - by) > 200
        wrong = locate(client, h, lon=lon, lat=lat)
        moved += wrong.status_code != 200 or wrong.json()["grid"]["code"] != code
    assert moved > 0, "an unconverted point should land elsewhere at least once"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": 181, "lat": 39.66}, "lon"),
        ({"lon": -180.5, "lat": 39.66}, "lon"),
        ({"lon": 118.17, "lat": 90.01}, "lat"),
        ({"lon": 118.17, "lat": -91}, "lat"),
        ({"lon": "east", "lat": 39.66}, "lon"),
        ({"lon": 118.17, "lat": "39.66N"}, "lat"),
        ({"lon": "nan", "lat": 39.66}, "lon"),
        ({"lon": 118.17, "lat": "inf"}, "lat"),
        ({"lat": 39.66}, "lon"),
        ({"lon": 118.17}, "lat"),
        ({"lon": 118.17, "lat": 39.66, "coord": "utm50"}, "coord"),
        ({"lon": 118.17, "lat": 39.66, "accuracy_m": -1}, "accuracy_m"),
        ({"lon": 118.17, "lat": 39.66, "accuracy_m": "good"}, "accuracy_m"),
    ],
)
def test_bad_coordinates_are_422_naming_the_field(
    client: TestClient, token_for: Headers, params: dict[str, Any], field: str
) -> None:
    r = locate(client, token_for("g01m1"), **params)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["detail"]] == [["query", field]]
    error = r.json()["detail"][0]
    assert set(error) <= {"type", "loc", "msg", "input", "ctx"}, error  # FastAPI's shape
    if error["type"] == "missing":
        assert error["input"] is None


def test_bd09_at_the_edge_of_the_globe_is_422_not_500(
    client: TestClient, token_for: Headers
) -> None:
    r = locate(client, token_for("g01m1"), lon=-180, lat=-90, coord="bd09")
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", "coord"]


def test_locate_needs_a_signed_in_user(client: TestClient) -> None:
    r = client.get(LOCATE, params={"lon": 118.17, "lat": 39.66})
    assert r.status_code == 401


# --- properties ------------------------------------------------------------------------


@st.composite
def map_points(draw: st.DrawFn) -> Coord:
    """Points of the closed jurisdiction: anywhere inside, on shared edges, on vertices."""
    kind = draw(st.sampled_from(["inside", "edge", "vertex"]))
    if kind == "vertex":
        xy, _ = draw(st.sampled_from(shared_vertices()))
        return xy
    if kind == "edge":
        a, b, _ = draw(st.sampled_from(shared_segments()))
        t = draw(st.floats(0, 1))
        return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
    minx, miny, maxx, maxy = union().bounds
    lon = draw(st.floats(minx, maxx))
    lat = draw(st.floats(miny, maxy))
    assume(union().contains(Point(lon, lat)))
    return lon, lat


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.filter_too_much],
)
@given(point=map_points())
def test_any_point_of_the_jurisdiction_lands_in_exactly_one_grid(
    client: TestClient, token_for: Headers, db: Session, point: Coord
) -> None:
    lon, lat = point
    covering = covering_codes(db, lon, lat)
    assert len(covering) >= 1, "the tiling leaves no gap"
    r = locate(client, token_for("dispatch2"), lon=lon, lat=lat)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["snapped"] is False
    assert body["grid"]["code"] == covering[0]


# --- reads -----------------------------------------------------------------------------


def test_grids_are_a_geojson_feature_collection(client: TestClient, token_for: Headers) -> None:
    r = client.get("/api/v1/grids", headers=token_for("evaluator"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    assert len(fc["features"]) == 44
    codes, polygons = grid_map()
    assert [f["properties"]["code"] for f in fc["features"]] == list(codes)
    total = 0.0
    for f, poly in zip(fc["features"], polygons, strict=True):
        props = f["properties"]
        assert set(props) >= {"code", "name", "community", "area_km2", "staff"}
        assert 0.15 <= props["area_km2"] <= 0.8
        total += props["area_km2"]
        roles = sorted(s["role"] for s in props["staff"])
        assert roles == ["head", "member", "member"], props["code"]
        assert props["staff"][0]["role"] == "head"
        assert all(s["name"] for s in props["staff"])
        geom = shape(f["geometry"])
        assert f["geometry"]["type"] == "MultiPolygon"
        assert geom.geoms[0].exterior.is_ccw  # RFC 7946
        assert geom.symmetric_difference(poly).area < 1e-12
    assert total == pytest.approx(16.18, abs=0.01)


def test_one_grid_as_a_feature_and_404_for_an_unknown_code(
    client: TestClient, token_for: Headers
) -> None:
    h = token_for("comm01")
    code = grid_map()[0][7]
    r = client.get(f"/api/v1/grids/{code}", headers=h)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    feature = r.json()
    assert feature["type"] == "Feature" and feature["properties"]["code"] == code
    assert len(feature["properties"]["staff"]) == 3
    r = client.get("/api/v1/grids/130203001009999", headers=h)
    assert r.status_code == 404
    assert "130203001009999" in r.json()["detail"][0]["msg"]
    r = client.get("/api/v1/grids/not-a-code", headers=h)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "code"]


def test_communities(client: TestClient, token_for: Headers) -> None:
    r = client.get("/api/v1/communities", headers=token_for("g05h"))
    assert r.status_code == 200, r.text
    communities = r.json()
    names = [c["name"] for c in communities]
    assert all(any(n.startswith(seed) for n in names) for seed in COMMUNITIES)
    assert sum(c["grid_count"] for c in communities) == 44
    assert sum(c["area_km2"] for c in communities) == pytest.approx(16.18, abs=0.01)
    for c in communities:
        assert len(c["grids"]) == c["grid_count"] > 0
        assert all(g.startswith(c["code"]) for g in c["grids"])


def test_coverage(client: TestClient, token_for: Headers) -> None:
    r = client.get("/api/v1/coverage", headers=token_for("evaluator"))
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["grid_count"] == 44
    assert c["jurisdiction_area_km2"] == pytest.approx(16.18, abs=0.01)
    assert c["covered_area_km2"] == pytest.approx(16.18, abs=0.01)
    assert c["coverage_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert c["overlap_area_m2"] < 1.0
    assert c["gap_area_m2"] < 1.0
    assert c["fully_staffed_grids"] == 44
    assert c["staffing_ratio"] == 1.0


def test_the_lookup_documents_its_query_and_security_in_openapi(client: TestClient) -> None:
    """The lookup validates its query string as one model (service.query); the OpenAPI
    document still lists each parameter, and the bearer scheme."""
    operation = client.get("/openapi.json").json()["paths"]["/api/v1/grids/locate"]["get"]
    params = {p["name"]: p for p in operation["parameters"]}
    assert set(params) == {"lon", "lat", "coord", "accuracy_m"}
    assert all(p["in"] == "query" for p in params.values())
    assert params["lon"]["required"] and params["lat"]["required"]
    assert not params["coord"]["required"]
    assert params["coord"]["schema"]["enum"] == ["wgs84", "gcj02", "bd09"]
    assert params["lat"]["schema"]["maximum"] == 90
    assert operation["security"] == [{"OAuth2PasswordBearer": []}]

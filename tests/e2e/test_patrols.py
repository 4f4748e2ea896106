"""Patrols (巡查) on the real database: idempotent start and batches, point checks, the
track and its length, and per-grid daily coverage computed by PostGIS."""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.geometry import LineString, shape
from sqlalchemy import text
from sqlmodel import Session

from domain.coords import CoordSystem, to_wgs84, wgs84_to_gcj02
from patrols.service import patrol_coverage
from tests.conftest import Clock

Headers = Callable[[str], dict[str, str]]
Lonlat = tuple[float, float]

GRID01 = "130203001001001"
GRID02 = "130203001001002"
# 10:00 in Shanghai on 2024-05-10
T0 = datetime(2024, 5, 10, 2, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_clock(clock: Clock) -> Clock:
    clock.now = T0
    return clock


def start(
    client: TestClient,
    headers: dict[str, str],
    client_id: uuid.UUID | None = None,
    started_at: datetime | None = None,
) -> Any:
    body: dict[str, str] = {"client_id": str(client_id or uuid.uuid4())}
    if started_at is not None:
        body["started_at"] = started_at.isoformat()
    return client.post("/api/v1/patrols", headers=headers, json=body)


def points_along(
    coords: list[Lonlat], t0: datetime, step_s: float = 20, coord: str = "wgs84"
) -> list[dict[str, Any]]:
    return [
        {
            "lon": lon,
            "lat": lat,
            "coord": coord,
            "at": (t0 + timedelta(seconds=step_s * i)).isoformat(),
            "accuracy_m": 5,
        }
        for i, (lon, lat) in enumerate(coords)
    ]


def send(
    client: TestClient,
    headers: dict[str, str],
    patrol_id: int,
    points: list[dict[str, Any]],
    batch_id: uuid.UUID | None = None,
) -> Any:
    return client.post(
        f"/api/v1/patrols/{patrol_id}/points",
        headers=headers,
        json={"batch_id": str(batch_id or uuid.uuid4()), "points": points},
    )


def interpolate(a: Lonlat, b: Lonlat, n: int) -> list[Lonlat]:
    return [
        (a[0] + (b[0] - a[0]) * i / (n - 1), a[1] + (b[1] - a[1]) * i / (n - 1)) for i in range(n)
    ]


def haversine_m(coords: list[Lonlat]) -> float:
    r = 6_371_008.8
    total = 0.0
    for (lon1, lat1), (lon2, lat2) in zip(coords, coords[1:], strict=False):
        p1, p2 = math.radians(lat1), math.radians(lat2)
        dp, dl = p2 - p1, math.radians(lon2 - lon1)
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        total += 2 * r * math.asin(math.sqrt(h))
    return total


def grid_shape(db: Session, code: str) -> Any:
    raw = db.execute(
        text("SELECT ST_AsGeoJSON(geom, 9) FROM grid WHERE code = :c"), {"c": code}
    ).scalar_one()
    return shape(json.loads(raw))


def point_count(db: Session, patrol_id: int) -> int:
    return int(
        db.execute(
            text("SELECT count(*) FROM patrol_point WHERE patrol_id = :p"), {"p": patrol_id}
        ).scalar_one()
    )


# --- start ---------------------------------------------------------------------------


def test_start_is_idempotent_on_client_id(client: TestClient, token_for: Headers) -> None:
    cid = uuid.uuid4()
    first = start(client, token_for("g01m1"), cid)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["grid_code"] == GRID01 and body["stopped_at"] is None
    assert datetime.fromisoformat(body["started_at"]) == T0
    assert body["started_at"].endswith("+08:00")  # shown in Asia/Shanghai, like events
    again = start(client, token_for("g01m1"), cid)
    assert again.status_code == 200 and again.json() == body
    # the same key with another start time, or by someone else, is a conflict
    r = start(client, token_for("g01m1"), cid, started_at=T0 - timedelta(minutes=3))
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "started_at"]
    r = start(client, token_for("g01m2"), cid)
    assert r.status_code == 409 and r.json()["detail"][0]["loc"] == ["body", "client_id"]


def test_start_checks_role_and_time(client: TestClient, token_for: Headers) -> None:
    r = start(client, token_for("g01h"), started_at=T0 - timedelta(hours=1))
    assert r.status_code == 201 and r.json()["grid_code"] == GRID01
    for who in ("dispatch1", "evaluator", "comm01"):
        assert start(client, token_for(who)).status_code == 403, who
    r = start(client, token_for("g01m1"), started_at=T0 + timedelta(minutes=30))
    assert r.status_code == 422 and "future" in r.text
    assert r.json()["detail"][0]["loc"] == ["body", "started_at"]
    r = start(client, token_for("g01m1"), started_at=T0 - timedelta(days=4))
    assert r.status_code == 422 and "72 h" in r.text
    r = client.post(
        "/api/v1/patrols",
        headers=token_for("g01m1"),
        json={"client_id": str(uuid.uuid4()), "started_at": "2024-05-10T10:00:00"},
    )
    assert r.status_code == 422  # naive time
    r = client.post("/api/v1/patrols", headers=token_for("g01m1"), json={"client_id": "x"})
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "client_id"]


# --- points ------------------------------------------------------------------------------


def test_batches_are_idempotent_and_converted_to_wgs84(
    client: TestClient, token_for: Headers, db: Session, fixed_clock: Clock
) -> None:
    me = token_for("g01m1")
    patrol_id = start(client, me).json()["id"]
    fixed_clock.advance(minutes=10)
    wgs = [(118.1640, 39.6710), (118.1645, 39.6712), (118.1650, 39.6715)]
    gcj = [wgs84_to_gcj02(lon, lat) for lon, lat in wgs]
    batch = uuid.uuid4()
    pts = points_along(gcj, T0 + timedelta(minutes=1), coord="gcj02")
    r = send(client, me, patrol_id, pts, batch)
    assert r.status_code == 201, r.text
    assert r.json() == {
        "patrol_id": patrol_id,
        "batch_id": str(batch),
        "points": 3,
        "duplicate": False,
    }
    retry = send(client, me, patrol_id, pts, batch)
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert point_count(db, patrol_id) == 3
    # the same batch id with other contents is refused, nothing added
    r = send(client, me, patrol_id, pts[:2], batch)
    assert r.status_code == 409 and "new batch_id" in r.text
    assert point_count(db, patrol_id) == 3
    # stored in WGS-84
    stored = db.execute(
        text("SELECT ST_X(geom), ST_Y(geom) FROM patrol_point WHERE patrol_id = :p ORDER BY seq"),
        {"p": patrol_id},
    ).all()
    for (x, y), (lon, lat) in zip(stored, gcj, strict=True):
        ex, ey = to_wgs84(lon, lat, CoordSystem.gcj02)
        assert (x, y) == pytest.approx((ex, ey), abs=1e-9)
        assert abs(x - lon) > 1e-4  # the GCJ-02 offset was really removed
    r = send(client, me, patrol_id, points_along(wgs, T0 + timedelta(minutes=2)))
    assert r.status_code == 201 and point_count(db, patrol_id) == 6
    assert client.get(f"/api/v1/patrols/{patrol_id}", headers=me).json()["point_count"] == 6
    # a full batch (500, the maximum), some points without accuracy
    full = points_along([(118.164 + i * 1e-6, 39.671) for i in range(500)], T0, step_s=1)
    for p in full[::2]:
        del p["accuracy_m"]
    assert send(client, me, patrol_id, full).status_code == 201
    assert point_count(db, patrol_id) == 506
    nulls = db.execute(
        text("SELECT count(*) FROM patrol_point WHERE patrol_id = :p AND accuracy_m IS NULL"),
        {"p": patrol_id},
    ).scalar_one()
    assert nulls == 250


def test_bad_points_are_422_naming_the_index(
    client: TestClient, token_for: Headers, db: Session, fixed_clock: Clock
) -> None:
    me = token_for("g01m1")
    patrol_id = start(client, me).json()["id"]
    fixed_clock.advance(minutes=10)
    good = points_along([(118.164, 39.671)] * 4, T0 + timedelta(minutes=1))

    def with_point(index: int, **changes: Any) -> list[dict[str, Any]]:
        pts = [dict(p) for p in good]
        pts[index].update(changes)
        return pts

    future = (fixed_clock.now + timedelta(minutes=6)).isoformat()
    r = send(client, me, patrol_id, with_point(2, at=future))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert [d["loc"] for d in detail] == [["body", "points", 2, "at"]]
    assert "point 2" in detail[0]["msg"] and "future" in detail[0]["msg"]
    before = (T0 - timedelta(minutes=6)).isoformat()
    r = send(client, me, patrol_id, with_point(1, at=before))
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "points", 1, "at"]
    assert "before the patrol started" in r.text
    # within the clock skew is fine
    r = send(client, me, patrol_id, with_point(0, at=(T0 - timedelta(minutes=4)).isoformat()))
    assert r.status_code == 201
    cases: list[tuple[dict[str, Any], list[Any]]] = [
        ({"lon": 200}, ["body", "points", 3, "lon"]),
        ({"lat": "north"}, ["body", "points", 3, "lat"]),
        ({"coord": "utm"}, ["body", "points", 3, "coord"]),
        ({"at": "2024-05-10T10:05:00"}, ["body", "points", 3, "at"]),
        ({"accuracy_m": -1}, ["body", "points", 3, "accuracy_m"]),
    ]
    for change, loc in cases:
        r = send(client, me, patrol_id, with_point(3, **change))
        assert r.status_code == 422, change
        assert r.json()["detail"][0]["loc"] == loc, change
    too_many = points_along([(118.164, 39.671)] * 501, T0, step_s=0.5)
    r = send(client, me, patrol_id, too_many)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "points"]
    assert send(client, me, patrol_id, []).status_code == 422
    assert point_count(db, patrol_id) == 4  # only the one good batch


def test_only_the_owner_adds_points_or_stops(
    client: TestClient, token_for: Headers, fixed_clock: Clock
) -> None:
    patrol_id = start(client, token_for("g01m1")).json()["id"]
    fixed_clock.advance(minutes=5)
    pts = points_along([(118.164, 39.671), (118.165, 39.672)], T0 + timedelta(minutes=1))
    # a colleague of the grid sees it, but may not write to it
    r = send(client, token_for("g01m2"), patrol_id, pts)
    assert r.status_code == 403 and "owner" in r.text
    assert (
        client.post(f"/api/v1/patrols/{patrol_id}/stop", headers=token_for("g01h")).status_code
        == 403
    )
    # another grid does not even see it
    assert send(client, token_for("g02m1"), patrol_id, pts).status_code == 404
    assert (
        client.post(f"/api/v1/patrols/{patrol_id}/stop", headers=token_for("g02m1")).status_code
        == 404
    )
    url = f"/api/v1/patrols/{patrol_id}"
    for who, status in (
        ("g01m1", 200),
        ("g01m2", 200),
        ("g01h", 200),
        ("comm01", 200),
        ("dispatch1", 200),
        ("evaluator", 200),
        ("g02m1", 404),
        ("comm02", 404),
        ("dept_cg", 404),
    ):
        assert client.get(url, headers=token_for(who)).status_code == status, who
    assert send(client, token_for("g01m1"), 10**9, pts).status_code == 404
    assert client.get("/api/v1/patrols/0", headers=token_for("g01m1")).status_code == 422


# --- stop, track, length --------------------------------------------------------------


def test_stop_builds_the_track_in_time_order_and_its_length(
    client: TestClient, token_for: Headers, fixed_clock: Clock
) -> None:
    me = token_for("g01m1")
    patrol_id = start(client, me).json()["id"]
    fixed_clock.advance(minutes=30)
    walk = [
        (118.1625, 39.6695),
        (118.1640, 39.6700),
        (118.1660, 39.6698),
        (118.1670, 39.6715),
        (118.1655, 39.6730),
        (118.1630, 39.6735),
    ]
    pts = points_along(walk, T0 + timedelta(minutes=1), step_s=60)
    # the later half arrives first: order comes from the times, not the upload order
    assert send(client, me, patrol_id, pts[3:]).status_code == 201
    assert send(client, me, patrol_id, pts[:3]).status_code == 201
    r = client.post(f"/api/v1/patrols/{patrol_id}/stop", headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert datetime.fromisoformat(body["stopped_at"]) == fixed_clock.now
    assert body["track"]["type"] == "LineString"
    assert [tuple(c) for c in body["track"]["coordinates"]] == [
        pytest.approx(c, abs=1e-7) for c in walk
    ]
    expected = haversine_m(walk)
    assert body["length_m"] == pytest.approx(expected, rel=0.01)
    # stopping again changes nothing
    fixed_clock.advance(minutes=1)
    again = client.post(f"/api/v1/patrols/{patrol_id}/stop", headers=me)
    assert again.status_code == 200 and again.json() == body
    assert client.get(f"/api/v1/patrols/{patrol_id}", headers=me).json() == body


def test_a_late_batch_after_stop_extends_the_track(
    client: TestClient, token_for: Headers, fixed_clock: Clock
) -> None:
    me = token_for("g01m1")
    patrol_id = start(client, me).json()["id"]
    fixed_clock.advance(minutes=20)
    first = [(118.1625, 39.6695), (118.1640, 39.6700)]
    assert send(client, me, patrol_id, points_along(first, T0, step_s=60)).status_code == 201
    stopped = client.post(f"/api/v1/patrols/{patrol_id}/stop", headers=me).json()
    assert stopped["length_m"] == pytest.approx(haversine_m(first), rel=0.01)
    late = [(118.1660, 39.6698)]
    r = send(client, me, patrol_id, points_along(late, T0 + timedelta(minutes=5)))
    assert r.status_code == 201
    body = client.get(f"/api/v1/patrols/{patrol_id}", headers=me).json()
    assert body["length_m"] == pytest.approx(haversine_m(first + late), rel=0.01)
    assert len(body["track"]["coordinates"]) == 3
    after_stop = (fixed_clock.now + timedelta(minutes=6)).isoformat()
    fixed_clock.advance(minutes=10)
    r = send(
        client, me, patrol_id, [{"lon": 118.166, "lat": 39.67, "coord": "wgs84", "at": after_stop}]
    )
    assert r.status_code == 422 and "after the patrol stopped" in r.text


def test_a_patrol_without_points_stops_without_a_track(
    client: TestClient, token_for: Headers, fixed_clock: Clock
) -> None:
    me = token_for("g01m1")
    patrol_id = start(client, me).json()["id"]
    r = client.post(
        f"/api/v1/patrols/{patrol_id}/stop",
        headers=me,
        json={"stopped_at": (T0 - timedelta(minutes=1)).isoformat()},
    )
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "stopped_at"]
    r = client.post(f"/api/v1/patrols/{patrol_id}/stop", headers=me)
    assert r.status_code == 200
    assert r.json()["track"] is None and r.json()["length_m"] == 0 and r.json()["point_count"] == 0


# --- listing -----------------------------------------------------------------------------


def test_list_by_grid_and_shanghai_day(
    client: TestClient, token_for: Headers, fixed_clock: Clock
) -> None:
    ids = [start(client, token_for(who)).json()["id"] for who in ("g01m1", "g01m2", "g02m1")]
    # 00:30 on 11 May in Shanghai is still 10 May in UTC
    fixed_clock.now = datetime(2024, 5, 10, 16, 30, tzinfo=UTC)
    late = start(client, token_for("g01m1")).json()["id"]
    day10 = client.get(
        "/api/v1/patrols", params={"date": "2024-05-10"}, headers=token_for("dispatch1")
    ).json()
    assert [p["id"] for p in day10["items"]] == ids[::-1]
    day11 = client.get(
        "/api/v1/patrols", params={"date": "2024-05-11", "grid": GRID01}, headers=token_for("g01h")
    ).json()
    assert [p["id"] for p in day11["items"]] == [late]
    # a member sees their grid's patrols only
    mine = client.get("/api/v1/patrols", headers=token_for("g01m2")).json()
    assert {p["id"] for p in mine["items"]} == {ids[0], ids[1], late}
    assert (
        client.get("/api/v1/patrols", params={"grid": GRID02}, headers=token_for("g01m2")).json()[
            "items"
        ]
        == []
    )
    # pagination
    page1 = client.get(
        "/api/v1/patrols", params={"limit": 2}, headers=token_for("dispatch1")
    ).json()
    assert len(page1["items"]) == 2 and page1["next_cursor"]
    page2 = client.get(
        "/api/v1/patrols",
        params={"limit": 2, "cursor": page1["next_cursor"]},
        headers=token_for("dispatch1"),
    ).json()
    assert [p["id"] for p in page1["items"] + page2["items"]] == sorted([*ids, late], reverse=True)
    assert page2["next_cursor"] is None
    for url in ("/api/v1/patrols", "/api/v1/patrols/coverage"):
        for bad in ("10/05/2024", "9999-12-31", "0001-01-01"):
            r = client.get(url, params={"date": bad}, headers=token_for("g01m1"))
            assert r.status_code == 422, (url, bad)
            assert r.json()["detail"][0]["loc"] == ["query", "date"]


# --- coverage ------------------------------------------------------------------------------


def _walk_and_stop(
    client: TestClient,
    headers: dict[str, str],
    clock: Clock,
    day_start: datetime,
    coords: list[Lonlat],
) -> dict[str, Any]:
    clock.now = day_start
    patrol_id = start(client, headers).json()["id"]
    clock.advance(minutes=40)
    r = send(client, headers, patrol_id, points_along(coords, day_start + timedelta(minutes=1)))
    assert r.status_code == 201, r.text
    stopped: dict[str, Any] = client.post(
        f"/api/v1/patrols/{patrol_id}/stop", headers=headers
    ).json()
    return stopped


def _expected_share(grid: Any, coords: list[Lonlat]) -> float:
    """The same measure computed independently: shapely in UTM zone 50N."""
    to_utm = Transformer.from_crs(4326, 32650, always_xy=True).transform
    g = shapely.transform(grid, to_utm, interleaved=False)
    track = shapely.transform(LineString(coords), to_utm, interleaved=False)
    return float(g.intersection(track.buffer(50, quad_segs=32)).area / g.area)


def test_coverage_edge_versus_middle(
    client: TestClient, token_for: Headers, db: Session, fixed_clock: Clock
) -> None:
    grid = grid_shape(db, GRID01)
    ring = (
        list(grid.geoms[0].exterior.coords)
        if grid.geom_type == "MultiPolygon"
        else list(grid.exterior.coords)
    )
    a, b = ring[0][:2], ring[1][:2]  # one edge of the grid
    centroid = grid.centroid
    mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)
    dx, dy = centroid.x - mid[0], centroid.y - mid[1]
    # the same edge moved to the middle, shortened by 10 % so it stays inside
    inner = [
        (a[0] + dx + (b[0] - a[0]) * 0.05, a[1] + dy + (b[1] - a[1]) * 0.05),
        (b[0] + dx - (b[0] - a[0]) * 0.05, b[1] + dy - (b[1] - a[1]) * 0.05),
    ]
    edge_walk = interpolate(a, b, 15)
    middle_walk = interpolate(inner[0], inner[1], 15)
    me = token_for("g01m1")
    day1 = datetime(2024, 5, 10, 1, 0, tzinfo=UTC)  # 09:00 Shanghai
    day2 = datetime(2024, 5, 11, 1, 0, tzinfo=UTC)
    edge = _walk_and_stop(client, me, fixed_clock, day1, edge_walk)
    middle = _walk_and_stop(client, me, fixed_clock, day2, middle_walk)
    assert edge["length_m"] == pytest.approx(haversine_m(edge_walk), rel=0.01)
    assert middle["length_m"] == pytest.approx(haversine_m(middle_walk), rel=0.01)

    rows = patrol_coverage(db, date(2024, 5, 10), date(2024, 5, 11), GRID01)
    assert [(r.day, r.grid_code) for r in rows] == [
        (date(2024, 5, 10), GRID01),
        (date(2024, 5, 11), GRID01),
    ]
    e, m = rows
    assert e.covered_share is not None and m.covered_share is not None
    assert e.patrolled and m.patrolled and e.patrols == m.patrols == 1
    assert e.length_m == pytest.approx(edge["length_m"], abs=0.05)
    assert 0 < e.covered_share < m.covered_share <= 1
    # along an edge half the 50 m band lies outside the grid; through the middle all of it
    assert 1.6 < m.covered_share / e.covered_share < 2.4, (e, m)
    assert e.covered_share == pytest.approx(_expected_share(grid, edge_walk), rel=0.02)
    assert m.covered_share == pytest.approx(_expected_share(grid, middle_walk), rel=0.02)

    # the HTTP view of the same day, for the member (their grid only) and the centre (all)
    r = client.get("/api/v1/patrols/coverage", params={"date": "2024-05-10"}, headers=me)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["grid_count"] == 1 and body["patrolled_grids"] == 1
    assert body["grids"][0]["covered_share"] == pytest.approx(e.covered_share)
    everyone = client.get(
        "/api/v1/patrols/coverage", params={"date": "2024-05-10"}, headers=token_for("dispatch1")
    ).json()
    assert everyone["grid_count"] == 44 and everyone["patrolled_grids"] == 1
    assert everyone["patrolled_ratio"] == pytest.approx(1 / 44, abs=1e-4)


def test_grids_not_patrolled_that_day(
    client: TestClient, token_for: Headers, db: Session, fixed_clock: Clock
) -> None:
    walk = [(118.1640, 39.6710), (118.1650, 39.6715)]
    _walk_and_stop(client, token_for("g01m1"), fixed_clock, T0, walk)
    # grid 02: started and stopped without a single point — counted, but not patrolled
    fixed_clock.now = T0
    empty = start(client, token_for("g02m1")).json()["id"]
    client.post(f"/api/v1/patrols/{empty}/stop", headers=token_for("g02m1"))
    day = date(2024, 5, 10)
    by_code = {r.grid_code: r for r in patrol_coverage(db, day, day)}
    assert len(by_code) == 44
    assert by_code[GRID01].patrolled and (by_code[GRID01].covered_share or 0) > 0
    two = by_code[GRID02]
    assert (two.patrolled, two.patrols, two.length_m, two.covered_share) == (False, 1, 0.0, 0.0)
    others = [r for code, r in by_code.items() if code not in (GRID01, GRID02)]
    assert all(not r.patrolled and r.patrols == 0 and r.covered_share == 0 for r in others)
    # without the area shares: the same flags, counts and lengths
    quick = patrol_coverage(db, day, day, with_share=False)
    assert [(r.grid_code, r.patrolled, r.patrols, r.length_m) for r in quick] == [
        (r.grid_code, r.patrolled, r.patrols, r.length_m) for r in by_code.values()
    ]
    assert {r.grid_code for r in quick if r.covered_share is None} == {GRID01}
    # the next day nothing was patrolled anywhere
    next_day = patrol_coverage(db, date(2024, 5, 11), date(2024, 5, 11))
    assert not any(r.patrolled for r in next_day)
    r = client.get(
        "/api/v1/patrols/coverage",
        params={"date": "2024-05-10", "grid": GRID02},
        headers=token_for("g02h"),
    )
    assert r.status_code == 200
    assert r.json()["grids"][0]["patrolled"] is False and r.json()["patrolled_grids"] == 0
    # a member asking for another grid, or an unknown one
    r = client.get("/api/v1/patrols/coverage", params={"grid": GRID01}, headers=token_for("g02m1"))
    assert r.status_code == 404
    r = client.get(
        "/api/v1/patrols/coverage",
        params={"grid": "999999999999999"},
        headers=token_for("dispatch1"),
    )
    assert r.status_code == 404


def test_an_open_patrol_counts_from_its_points(
    client: TestClient, token_for: Headers, db: Session, fixed_clock: Clock
) -> None:
    me = token_for("g01m1")
    patrol_id = start(client, me).json()["id"]
    fixed_clock.advance(minutes=10)
    walk = [(118.1640, 39.6710), (118.1650, 39.6715), (118.1655, 39.6720)]
    assert send(client, me, patrol_id, points_along(walk, T0)).status_code == 201
    (row,) = patrol_coverage(db, date(2024, 5, 10), date(2024, 5, 10), GRID01)
    assert row.patrolled and row.length_m == pytest.approx(haversine_m(walk), rel=0.01)
    assert row.covered_share is not None and 0 < row.covered_share < 1

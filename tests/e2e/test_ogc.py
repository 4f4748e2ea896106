"""OGC API – Features over HTTP (in process): landing page, conformance, collections with their
extent, items with ``bbox`` / ``limit`` / ``offset`` and ``next`` links, feature ids, one
feature, and the same object-level rules as the rest of the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tests.kit.events import GRID_01, GRID_02, MakeEvent

Headers = Callable[[str], dict[str, str]]
BASE = "/api/v1/ogc"
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


def _get(client: TestClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    r = client.get(BASE + path, params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_landing_conformance_and_collections(client: TestClient, token_for: Headers) -> None:
    h = token_for("evaluator")
    landing = _get(client, h, "")
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    assert CORE in _get(client, h, "/conformance")["conformsTo"]
    found = _get(client, h, "/collections")["collections"]
    assert [c["id"] for c in found] == ["grids", "communities", "events", "patrol-coverage"]
    minx, miny, maxx, maxy = found[0]["extent"]["spatial"]["bbox"][0]
    assert 118 < minx < maxx < 119 and 39 < miny < maxy < 40
    one = _get(client, h, "/collections/grids")
    assert any(link["rel"] == "items" for link in one["links"])
    assert client.get(BASE, headers={}).status_code == 401  # same bearer token as the API


def test_items_page_with_limit_offset_and_next(client: TestClient, token_for: Headers) -> None:
    h = token_for("g01m1")
    r = client.get(f"{BASE}/collections/grids/items", params={"limit": 10}, headers=h)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    page = r.json()
    assert page["type"] == "FeatureCollection"
    assert (page["numberMatched"], page["numberReturned"]) == (44, 10)
    ids = [f["id"] for f in page["features"]]
    assert ids == sorted(ids) and ids[0] == GRID_01
    assert all(f["geometry"]["type"] == "MultiPolygon" for f in page["features"])
    seen = list(ids)
    while (nxt := next((x for x in page["links"] if x["rel"] == "next"), None)) is not None:
        page = client.get(nxt["href"], headers=h).json()
        seen += [f["id"] for f in page["features"]]
    assert len(seen) == len(set(seen)) == 44


def test_bbox_filters_and_is_checked(client: TestClient, token_for: Headers) -> None:
    h = token_for("dispatch1")
    first = _get(client, h, "/collections/grids/items/" + GRID_01)
    ring = first["geometry"]["coordinates"][0][0]
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    box = f"{min(lons)},{min(lats)},{max(lons)},{max(lats)}"
    near = _get(client, h, "/collections/grids/items", bbox=box)
    codes = {f["id"] for f in near["features"]}
    assert GRID_01 in codes and len(codes) < 44  # the box and its neighbours, not the map
    for bad in ("1,2,3", "a,b,c,d", "5,5,1,1", "0,0,0,nan", "-200,0,0,1"):
        r = client.get(f"{BASE}/collections/grids/items", params={"bbox": bad}, headers=h)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "bbox"], bad
    missing = client.get(f"{BASE}/collections/nothing/items", headers=h)
    assert missing.status_code == 404


def test_events_follow_the_jurisdiction(
    client: TestClient, make_event: MakeEvent, token_for: Headers
) -> None:
    mine = make_event("g01m1")
    other = make_event("g02m1")
    dispatcher = _get(client, token_for("dispatch1"), "/collections/events/items", limit=500)
    ids = {f["id"] for f in dispatcher["features"]}
    assert {mine, other} <= ids
    feature = next(f for f in dispatcher["features"] if f["id"] == mine)
    assert feature["geometry"]["type"] == "Point"
    assert feature["properties"]["grid_code"] == GRID_01
    assert feature["properties"]["sla"] == "ok"
    member = _get(client, token_for("g01m1"), "/collections/events/items", limit=500)
    assert mine in {f["id"] for f in member["features"]}
    assert other not in {f["id"] for f in member["features"]}
    h = token_for("g01m1")
    assert client.get(f"{BASE}/collections/events/items/{other}", headers=h).status_code == 404
    assert _get(client, h, f"/collections/events/items/{mine}")["id"] == mine


def test_patrol_coverage_for_a_day_in_the_readers_jurisdiction(
    client: TestClient, token_for: Headers
) -> None:
    page = _get(client, token_for("g02h"), "/collections/patrol-coverage/items", date="2026-03-01")
    assert page["numberMatched"] == 1
    (feature,) = page["features"]
    assert feature["id"] == GRID_02
    assert feature["properties"]["date"] == "2026-03-01"
    assert feature["properties"]["patrolled"] is False
    everyone = _get(client, token_for("evaluator"), "/collections/patrol-coverage/items", limit=100)
    assert everyone["numberMatched"] == 44

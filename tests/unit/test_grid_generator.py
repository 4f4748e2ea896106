"""The synthetic grid map and roster: the committed files, their reproducibility, the validator."""

from __future__ import annotations

import copy
import json
import math
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, shape
from shapely.validation import explain_validity

from grids.validate import ValidationProblem, errors, validate_map
from tools.gridgen import (
    COMMUNITIES,
    DEFAULT_SEED,
    DEPARTMENTS,
    GRID_COUNT,
    TARGET_AREA_KM2,
    build_grid_map,
    build_roster,
    dumps,
    geodesic_area_m2,
    main,
)

ROOT = Path(__file__).resolve().parents[2]
MAP_PATH = ROOT / "data" / "grids.geojson"
ROSTER_PATH = ROOT / "data" / "roster.json"
TO_UTM = Transformer.from_crs("EPSG:4326", "EPSG:32650", always_xy=True)


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    with MAP_PATH.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@pytest.fixture(scope="module")
def roster() -> dict[str, Any]:
    with ROSTER_PATH.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@pytest.fixture(scope="module")
def polygons(committed: dict[str, Any]) -> list[Polygon]:
    out = []
    for feature in committed["features"]:
        geom = shape(feature["geometry"])
        assert isinstance(geom, Polygon)
        out.append(geom)
    return out


def metric(p: Polygon) -> Polygon:
    out = shapely.transform(p, TO_UTM.transform, interleaved=False)
    assert isinstance(out, Polygon)
    return out


# --- reproducibility -----------------------------------------------------------------------------


def test_committed_files_are_reproducible_byte_for_byte(tmp_path: Path) -> None:
    out, roster_out = tmp_path / "g.geojson", tmp_path / "r.json"
    assert main(["--out", str(out), "--roster-out", str(roster_out)]) == 0
    assert out.read_bytes() == MAP_PATH.read_bytes()
    assert roster_out.read_bytes() == ROSTER_PATH.read_bytes()


def test_same_seed_same_map_other_seed_other_map(committed: dict[str, Any]) -> None:
    again = build_grid_map(DEFAULT_SEED)
    assert json.loads(dumps(again)) == committed
    other = build_grid_map(DEFAULT_SEED + 1)
    assert other["features"][0]["geometry"] != committed["features"][0]["geometry"]
    assert validate_map(other) == []
    assert len(other["features"]) == GRID_COUNT


# --- the committed map ---------------------------------------------------------------------------


def test_metadata_says_synthetic(committed: dict[str, Any]) -> None:
    meta = committed["metadata"]
    assert committed["type"] == "FeatureCollection"
    assert meta["synthetic"] is True
    assert meta["generator"] == "tools.gridgen"
    assert meta["seed"] == DEFAULT_SEED
    assert "EPSG:4326" in meta["crs"]
    assert meta["total_area_km2"] == pytest.approx(TARGET_AREA_KM2, abs=0.001)
    assert "synthetic" in meta["codes"]


def test_committed_map_passes_validation(committed: dict[str, Any]) -> None:
    assert validate_map(committed) == []


def test_44_valid_ccw_polygons(committed: dict[str, Any], polygons: list[Polygon]) -> None:
    assert len(polygons) == GRID_COUNT
    for feature, poly in zip(committed["features"], polygons, strict=True):
        assert feature["geometry"]["type"] == "Polygon"
        assert poly.is_valid, explain_validity(poly)
        assert poly.exterior.is_ccw
        assert not poly.interiors


def test_inside_the_tangshan_box(polygons: list[Polygon]) -> None:
    minx, miny, maxx, maxy = shapely.unary_union(polygons).bounds
    assert 118.12 <= minx < maxx <= 118.22
    assert 39.63 <= miny < maxy <= 39.69


def test_total_geodesic_area(polygons: list[Polygon]) -> None:
    total_km2 = sum(geodesic_area_m2(p) for p in polygons) / 1e6
    assert total_km2 == pytest.approx(TARGET_AREA_KM2, abs=0.01)


def test_each_grid_between_015_and_08_km2(
    committed: dict[str, Any], polygons: list[Polygon]
) -> None:
    for feature, poly in zip(committed["features"], polygons, strict=True):
        area = geodesic_area_m2(poly) / 1e6
        assert 0.15 <= area <= 0.8, feature["properties"]["code"]
        assert feature["properties"]["area_km2"] == pytest.approx(area, abs=1e-4)


def test_no_slivers(polygons: list[Polygon]) -> None:
    for poly in polygons:
        m = metric(poly)
        compactness = 4 * math.pi * m.area / m.length**2
        rect = list(m.minimum_rotated_rectangle.exterior.coords)
        width = min(math.dist(rect[i], rect[i + 1]) for i in range(4))
        assert compactness >= 0.3
        assert width >= 180.0


def test_block_like_edges(polygons: list[Polygon]) -> None:
    # Street blocks: few corners, long straight sides (vertices only at street junctions).
    for poly in polygons:
        m = metric(poly)
        coords = list(m.exterior.coords)
        assert 4 <= len(coords) - 1 <= 20
        longest = max(math.dist(coords[i], coords[i + 1]) for i in range(len(coords) - 1))
        assert longest >= 300.0


def test_no_gaps_no_overlaps(polygons: list[Polygon]) -> None:
    ms = [metric(p) for p in polygons]
    union = shapely.unary_union(ms)
    assert isinstance(union, Polygon)
    assert not union.interiors
    assert abs(union.area - sum(m.area for m in ms)) < 1.0
    for i, a in enumerate(ms):
        for b in ms[i + 1 :]:
            assert a.intersection(b).area < 1.0


def test_neighbours_share_identical_vertices(polygons: list[Polygon]) -> None:
    # Every vertex lying on another grid's boundary is also a vertex of that grid (no T-junctions,
    # no near-misses after rounding).
    vertex_sets = [set(p.exterior.coords) for p in polygons]
    for i, poly in enumerate(polygons):
        boundary = poly.exterior
        for j, vertices in enumerate(vertex_sets):
            if i == j or not poly.intersects(polygons[j]):
                continue
            for v in vertices:
                if boundary.distance(shapely.Point(v)) < 1e-9:
                    assert v in vertex_sets[i], (i, j, v)


def test_properties_and_codes(committed: dict[str, Any]) -> None:
    codes = [f["properties"]["code"] for f in committed["features"]]
    assert len(set(codes)) == len(codes)
    for feature in committed["features"]:
        props = feature["properties"]
        assert re.fullmatch(r"130203001\d{6}", props["code"])
        assert props["code"][:12] == props["community_code"]
        serial = int(props["code"][12:])
        assert props["name"] == f"{props['community']}第{serial}网格"
        assert props["community"].endswith("社区")


def test_communities_are_the_seed_six_and_contiguous(
    committed: dict[str, Any], polygons: list[Polygon]
) -> None:
    groups: dict[str, list[Polygon]] = defaultdict(list)
    codes: dict[str, set[str]] = defaultdict(set)
    for feature, poly in zip(committed["features"], polygons, strict=True):
        groups[feature["properties"]["community"]].append(poly)
        codes[feature["properties"]["community"]].add(feature["properties"]["community_code"])
    assert set(groups) == {f"{name}社区" for name, _ in COMMUNITIES}
    assert sorted(len(g) for g in groups.values()) == sorted(q for _, q in COMMUNITIES)
    for community, members in groups.items():
        assert len(codes[community]) == 1
        assert isinstance(shapely.unary_union(members), Polygon), community
    serials = Counter(f["properties"]["community_code"] for f in committed["features"])
    for feature in committed["features"]:
        assert (
            1
            <= int(feature["properties"]["code"][12:])
            <= serials[feature["properties"]["community_code"]]
        )


# --- roster --------------------------------------------------------------------------------------


def test_roster_one_head_two_members_per_grid(
    roster: dict[str, Any], committed: dict[str, Any]
) -> None:
    assert roster["metadata"]["synthetic"] is True
    people = roster["people"]
    by_grid: dict[str, Counter[str]] = defaultdict(Counter)
    for person in people:
        if person["role"] in ("head", "member"):
            by_grid[person["grid_code"]][person["role"]] += 1
    grid_codes = {f["properties"]["code"] for f in committed["features"]}
    assert set(by_grid) == grid_codes
    for counts in by_grid.values():
        assert counts == Counter({"head": 1, "member": 2})


def test_roster_accounts(roster: dict[str, Any], committed: dict[str, Any]) -> None:
    people = roster["people"]
    usernames = [p["username"] for p in people]
    assert len(set(usernames)) == len(usernames)
    assert all(re.fullmatch(r"[a-z0-9_]+", u) for u in usernames)
    names = [p["name"] for p in people]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"100\d{8}", p["phone"]) for p in people)
    assert all("password" not in p for p in people)
    roles = Counter(p["role"] for p in people)
    communities = {f["properties"]["community"] for f in committed["features"]}
    assert roles == Counter(
        head=44,
        member=88,
        dispatcher=3,
        community=len(communities),
        department=6,
        evaluator=1,
        admin=1,
    )
    assert {p["community"] for p in people if p["role"] == "community"} == communities
    assert {p["department"] for p in people if p["role"] == "department"} == {
        d for d, _ in DEPARTMENTS
    }


def test_roster_is_deterministic_in_the_seed(committed: dict[str, Any]) -> None:
    assert build_roster(committed, 1) == build_roster(committed, 1)
    assert build_roster(committed, 1)["people"] != build_roster(committed, 2)["people"]


# --- the validator on broken maps ----------------------------------------------------------------


def kinds(problems: list[ValidationProblem]) -> set[str]:
    return {p.kind for p in problems}


def test_validator_self_intersecting_polygon(committed: dict[str, Any]) -> None:
    fc = copy.deepcopy(committed)
    ring = fc["features"][3]["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]  # a bow tie
    problems = validate_map(fc)
    bad = [p for p in problems if p.kind == "invalid_geometry"]
    assert len(bad) == 1
    assert bad[0].index == 3
    assert bad[0].code == fc["features"][3]["properties"]["code"]
    assert "Self-intersection" in bad[0].message or "Ring" in bad[0].message


def test_validator_overlap_names_both(committed: dict[str, Any], polygons: list[Polygon]) -> None:
    fc = copy.deepcopy(committed)
    grown = shapely.buffer(polygons[0], 0.0005, join_style="mitre")  # ≈ 40 m all round
    fc["features"][0]["geometry"] = shapely.geometry.mapping(grown)
    problems = validate_map(fc)
    overlaps = [p for p in problems if p.kind == "overlap"]
    assert overlaps
    assert all(p.index == 0 or "#0 " in p.message for p in overlaps)
    assert all("m²" in p.message for p in overlaps)


def test_validator_gap(committed: dict[str, Any], polygons: list[Polygon]) -> None:
    fc = copy.deepcopy(committed)
    # Shrink an interior grid: it leaves a ring-shaped gap inside the map.
    union = shapely.unary_union(polygons)
    inner = next(i for i, p in enumerate(polygons) if not p.exterior.intersects(union.exterior))
    fc["features"][inner]["geometry"] = shapely.geometry.mapping(polygons[inner].buffer(-0.0002))
    assert "gap" in kinds(validate_map(fc))


def test_validator_duplicate_and_bad_code(committed: dict[str, Any]) -> None:
    fc = copy.deepcopy(committed)
    fc["features"][5]["properties"]["code"] = fc["features"][4]["properties"]["code"]
    fc["features"][6]["properties"]["code"] = "13020300100A007"
    problems = validate_map(fc)
    dup = [p for p in problems if p.kind == "duplicate_code"]
    assert [p.index for p in dup] == [5]
    assert "#4" in dup[0].message
    assert any(p.kind == "bad_code" and p.index == 6 for p in problems)


def test_validator_missing_name(committed: dict[str, Any]) -> None:
    fc = copy.deepcopy(committed)
    del fc["features"][7]["properties"]["name"]
    problems = validate_map(fc)
    assert [(p.kind, p.index) for p in problems] == [("missing_property", 7)]
    assert "'name'" in problems[0].message


def test_validator_community_not_contiguous(committed: dict[str, Any]) -> None:
    fc = copy.deepcopy(committed)
    props = [f["properties"] for f in fc["features"]]
    first_community = props[0]["community"]
    # Move a grid that does not touch the first community into it.
    far = max(
        range(len(props)),
        key=lambda k: shape(fc["features"][k]["geometry"]).distance(
            shape(fc["features"][0]["geometry"])
        ),
    )
    props[far]["community"] = first_community
    props[far]["community_code"] = props[0]["community_code"]
    props[far]["code"] = props[0]["community_code"] + "099"
    assert "community_not_contiguous" in kinds(validate_map(fc))


def test_validator_clockwise_is_only_a_warning(committed: dict[str, Any]) -> None:
    fc = copy.deepcopy(committed)
    fc["features"][2]["geometry"]["coordinates"][0].reverse()
    problems = validate_map(fc)
    assert kinds(problems) == {"winding"}
    assert errors(problems) == []


def test_validator_multipart_and_structure() -> None:
    square = [[0.0, 0.0], [0.001, 0.0], [0.001, 0.001], [0.0, 0.001], [0.0, 0.0]]
    far = [[[x + 1.0, y] for x, y in square]]
    fc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": "130203001001001",
                    "name": "甲",
                    "community": "乙",
                    "community_code": "130203001001",
                },
                "geometry": {"type": "MultiPolygon", "coordinates": [[square], far]},
            }
        ],
    }
    assert kinds(validate_map(fc)) == {"geometry"}
    assert kinds(validate_map({"type": "FeatureCollection", "features": []})) == {"structure"}


def test_validation_problem_str_names_feature() -> None:
    p = ValidationProblem("overlap", "overlaps feature #2", 1, "130203001001002")
    assert str(p) == "error: feature #1 (130203001001002): overlap: overlaps feature #2"

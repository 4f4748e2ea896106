"""Replacing the grid map: validate everything first, a bad file changes nothing and says
which feature is wrong and why; loading is idempotent; GeoPackage and Shapefile load like
GeoJSON; the CLI exits non-zero with the message."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely
from shapely.geometry import shape
from shapely.geometry.polygon import orient
from sqlalchemy import Engine, text
from sqlmodel import Session
from typer.testing import CliRunner

from grids.loading import load_map, read_map_file
from grids.service import coverage
from grids.validate import errors, validate_map
from kernel.errors import Invalid
from kernel.settings import ROOT
from service.cli import app as cli

MAP = ROOT / "data" / "grids.geojson"
FIELDS = ["code", "name", "community", "community_code"]


def the_map() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(MAP.read_text(encoding="utf-8"))
    return data


def snapshot(db: Session) -> dict[str, Any]:
    """Everything a map load may change, byte for byte."""
    return {
        "grids": db.execute(
            text("""SELECT g.id, g.code, g.name, g.community_id, g.area_m2, ST_AsEWKB(g.geom)
                    FROM grid g ORDER BY g.code""")
        ).all(),
        "communities": db.execute(text("SELECT id, code, name FROM community ORDER BY id")).all(),
        "subdistricts": db.execute(
            text("SELECT code, name, area_m2, ST_AsEWKB(geom) FROM subdistrict ORDER BY code")
        ).all(),
        "staff": db.execute(text("SELECT id, grid_id FROM staff ORDER BY id")).all(),
    }


def problems_of(exc: pytest.ExceptionInfo[Invalid]) -> list[str]:
    detail = exc.value.detail
    assert detail["msg"] == "the grid map is invalid; nothing was changed"
    problems: list[str] = detail["problems"]
    return problems


def test_loading_the_same_map_again_changes_nothing(db: Session) -> None:
    before = snapshot(db)
    summary = load_map(session=db, fc=the_map())
    assert (summary.grids, summary.communities) == (44, 6)
    assert (summary.created, summary.updated, summary.removed) == (0, 44, 0)
    assert snapshot(db) == before
    load_map(session=db, fc=read_map_file(MAP))
    assert snapshot(db) == before


def test_overlapping_grids_are_refused_and_nothing_changes(db: Session) -> None:
    fc = the_map()
    before = snapshot(db)
    victim = fc["features"][5]
    grown = shapely.buffer(shape(victim["geometry"]), 0.0003, join_style="mitre")
    victim["geometry"] = shapely.geometry.mapping(orient(grown, 1.0))
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=fc)
    problems = problems_of(exc)
    code = victim["properties"]["code"]
    overlaps = [p for p in problems if ": overlap: " in p]
    assert len(overlaps) >= 2  # into each neighbour
    assert all(f"#5 ({code})" in p and " m²" in p for p in overlaps)
    assert snapshot(db) == before


def test_invalid_geometry_is_refused_naming_the_feature_and_why(db: Session) -> None:
    fc = the_map()
    before = snapshot(db)
    feature = fc["features"][12]
    ring = feature["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]  # a bow tie: the ring crosses itself
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=fc)
    code = feature["properties"]["code"]
    invalid = [p for p in problems_of(exc) if f"feature #12 ({code}): invalid_geometry" in p]
    assert invalid and "Self-intersection" in invalid[0]
    assert snapshot(db) == before


def test_duplicate_code_is_refused(db: Session) -> None:
    fc = the_map()
    before = snapshot(db)
    fc["features"][8]["properties"]["code"] = fc["features"][7]["properties"]["code"]
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=fc)
    code = fc["features"][7]["properties"]["code"]
    assert f"error: feature #8 ({code}): duplicate_code: code already used by feature #7" in (
        problems_of(exc)
    )
    assert snapshot(db) == before


def test_several_problems_are_all_listed(db: Session) -> None:
    fc = the_map()
    fc["features"][0]["properties"]["code"] = "12345"
    del fc["features"][1]["properties"]["name"]
    fc["features"][2]["geometry"] = None
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=fc)
    problems = "\n".join(problems_of(exc))
    assert "feature #0 (12345): bad_code" in problems
    assert "feature #1" in problems and "'name' is missing" in problems
    assert "feature #2" in problems and "missing geometry" in problems


def test_a_grid_that_still_has_staff_cannot_be_dropped(db: Session) -> None:
    fc = the_map()
    before = snapshot(db)
    # a grid on the outline whose removal leaves a valid map (no hole, one piece)
    for i in range(len(fc["features"])):
        rest = {**fc, "features": fc["features"][:i] + fc["features"][i + 1 :]}
        if not errors(validate_map(rest)):
            break
    else:
        pytest.fail("no grid can be dropped without a hole")
    code = fc["features"][i]["properties"]["code"]
    fc = rest
    with pytest.raises(Invalid) as exc:
        load_map(session=db, fc=fc)
    assert exc.value.detail["grids"] == [code]
    assert "still referenced" in exc.value.detail["msg"]
    assert snapshot(db) == before

    # once nobody works there, the grid goes, and coverage (measured against the
    # jurisdiction of the first map) shows the hole it leaves
    area = db.execute(text("SELECT area_m2 FROM grid WHERE code = :c"), {"c": code}).scalar_one()
    db.execute(
        text(
            "UPDATE staff SET grid_id = NULL WHERE grid_id = (SELECT id FROM grid WHERE code = :c)"
        ),
        {"c": code},
    )
    summary = load_map(session=db, fc=fc)
    assert (summary.grids, summary.created, summary.updated, summary.removed) == (43, 0, 43, 1)
    assert db.execute(text("SELECT count(*) FROM grid WHERE code = :c"), {"c": code}).scalar() == 0
    c = coverage(session=db)
    assert c.grid_count == 43 and c.gap_area_m2 == pytest.approx(area, rel=1e-3)


def test_renamed_grid_is_updated_in_place(db: Session) -> None:
    fc = copy.deepcopy(the_map())
    ids = dict(db.execute(text("SELECT code, id FROM grid")).all())
    fc["features"][0]["properties"]["name"] = "新景楼社区第一网格（勘测）"
    summary = load_map(session=db, fc=fc)
    assert (summary.created, summary.updated, summary.removed) == (0, 44, 0)
    code = fc["features"][0]["properties"]["code"]
    row = db.execute(text("SELECT id, name FROM grid WHERE code = :c"), {"c": code}).one()
    assert row == (ids[code], "新景楼社区第一网格（勘测）")  # same id: staff and events keep it


def write_ogr(fc: dict[str, Any], path: Path, *, clockwise: bool = False) -> None:
    geoms = [shape(f["geometry"]) for f in fc["features"]]
    if clockwise:
        geoms = [orient(g, -1.0) for g in geoms]
    columns = [
        np.array([f["properties"][name] for f in fc["features"]], dtype=object) for name in FIELDS
    ]
    pyogrio.raw.write(
        str(path),
        shapely.to_wkb(np.array(geoms, dtype=object)),
        columns,
        FIELDS,
        geometry_type="Polygon",
        crs="EPSG:4326",
        encoding="UTF-8",
    )


@pytest.mark.filterwarnings("ignore:Normalized/laundered field name")
@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_geopackage_and_shapefile_round_trip(db: Session, tmp_path: Path, suffix: str) -> None:
    """Written by GDAL and read back, the map loads exactly like the GeoJSON. The Shapefile
    cuts field names to 10 characters and winds rings clockwise; both are undone on load."""
    before = snapshot(db)
    path = tmp_path / f"survey{suffix}"
    write_ogr(the_map(), path, clockwise=suffix == ".shp")
    fc = read_map_file(path)
    assert len(fc["features"]) == 44
    assert set(fc["features"][0]["properties"]) >= set(FIELDS)
    summary = load_map(session=db, fc=fc)
    assert (summary.created, summary.updated, summary.removed) == (0, 44, 0)
    after = snapshot(db)
    assert after["communities"] == before["communities"]
    for old, new in zip(before["grids"], after["grids"], strict=True):
        assert old[:4] == new[:4]
        assert new[4] == pytest.approx(old[4], rel=1e-9)
    same = db.execute(
        text("""SELECT count(*) FILTER (WHERE ST_OrderingEquals(g.geom, o.geom)),
                       count(*) FILTER (WHERE ST_IsPolygonCCW(g.geom))
                FROM grid g JOIN (SELECT code, ST_Multi(ST_GeomFromEWKB(w)) AS geom
                                  FROM unnest(CAST(:codes AS text[]), CAST(:wkbs AS bytea[]))
                                       AS t(code, w)) o ON o.code = g.code"""),
        {"codes": [r[1] for r in before["grids"]], "wkbs": [bytes(r[5]) for r in before["grids"]]},
    ).one()
    assert same == (44, 44)


def test_unreadable_files_are_invalid_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="no such file"):
        read_map_file(tmp_path / "missing.geojson")
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    with pytest.raises(Invalid) as exc:
        read_map_file(broken)
    assert "cannot read broken.geojson" in exc.value.detail["msg"]
    with pytest.raises(Invalid, match="unsupported map format"):
        read_map_file(tmp_path / "map.kml")
    not_a_gpkg = tmp_path / "fake.gpkg"
    not_a_gpkg.write_bytes(b"not a database")
    with pytest.raises(Invalid, match="cannot read fake.gpkg"):
        read_map_file(not_a_gpkg)


def test_cli_load_data_with_a_bad_file_exits_non_zero_and_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    fc = the_map()
    ring = fc["features"][3]["geometry"]["coordinates"][0]
    ring[1], ring[2] = ring[2], ring[1]
    bad = tmp_path / "bad.geojson"
    bad.write_text(json.dumps(fc), encoding="utf-8")
    with Session(engine) as session:
        before = snapshot(session)
    result = CliRunner().invoke(cli, ["load-data", "--grids", str(bad)])
    assert result.exit_code == 2, result.output
    code = fc["features"][3]["properties"]["code"]
    assert "error: the grid map is invalid; nothing was changed" in result.output
    assert f"feature #3 ({code}): invalid_geometry" in result.output
    with Session(engine) as session:
        assert snapshot(session) == before


def test_a_shapefile_without_the_gis_extra_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runtime image leaves pyogrio out: a Shapefile then names the extra to install,
    while GeoJSON still loads."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pyogrio" else real(name)
    )
    shp = tmp_path / "survey.shp"
    shp.write_bytes(b"")
    with pytest.raises(Invalid, match=r"needs the optional 'gis' extra"):
        read_map_file(shp)
    assert len(read_map_file(MAP)["features"]) == 44

"""Loading a grid map: read a GeoJSON / Shapefile / GeoPackage file, validate every feature,
then upsert communities and grids (a bad file changes nothing)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import text
from sqlmodel import Session

from domain.codes import subdistrict_code_of
from grids.validate import AREA_TOLERANCE_M2, REQUIRED_PROPERTIES, errors, validate_map
from kernel.errors import Invalid

_DBF_NAME_LEN = 10  # Shapefile (dBASE) field names are cut to 10 characters


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
    if suffix in (".shp", ".gpkg") and importlib.util.find_spec("pyogrio") is None:
        raise Invalid(
            {
                "field": "path",
                "msg": f"reading {suffix} files needs the optional 'gis' extra "
                "(uv sync --extra gis, or pip install 'wangge[gis]'); GeoJSON needs nothing",
            }
        )
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
    """Validate everything first, then upsert subdistricts, communities and grids by code.

    A file may hold the grids of several subdistricts (街道) of a district: each grid belongs
    to the subdistrict its code begins with (9 digits), and the file replaces the map of the
    subdistricts it names, leaving the others alone. A file with any problem changes nothing:
    the problems are raised as one ``Invalid`` listing each feature (index and code) and why,
    before the first write. Grids of those subdistricts absent from the new map are removed
    when no row refers to them (staff, events, patrols...), otherwise the load is refused,
    also before the first write. Rings are stored counter-clockwise (RFC 7946) whatever the
    file's winding.
    """
    problems = [str(p) for p in errors(validate_map(fc))] or _subdistrict_problems(fc)
    if problems:
        raise Invalid({"msg": "the grid map is invalid; nothing was changed", "problems": problems})
    features = fc["features"]
    new_codes = {f["properties"]["code"] for f in features}
    subdistricts = sorted({subdistrict_code_of(code) for code in new_codes})
    # Until commit, nothing may start pointing at a grid this load is about to remove (a
    # foreign-key check takes ROW SHARE); plain reads, lookups included, carry on.
    session.execute(text("LOCK TABLE grid IN EXCLUSIVE MODE"))
    before = set(
        session.execute(
            text(
                "SELECT g.code FROM grid g JOIN subdistrict s ON s.id = g.subdistrict_id"
                " WHERE s.code = ANY(:s)"
            ),
            {"s": subdistricts},
        ).scalars()
    )
    stale = sorted(before - new_codes)
    overlaps = _overlaps_with_other_subdistricts(session, features, subdistricts)
    if overlaps:
        raise Invalid(
            {
                "msg": "grids overlap grids of another subdistrict; nothing was changed",
                "problems": overlaps,
            }
        )
    referenced = _referenced_grids(session, stale)
    if referenced:
        raise Invalid(
            {
                "msg": "grids missing from the new map are still referenced; nothing was changed",
                "grids": referenced,
            }
        )
    for code in subdistricts:
        _ensure_subdistrict(session, fc, code)
    communities = {
        f["properties"]["community_code"]: f["properties"]["community"] for f in features
    }
    for code, name in sorted(communities.items()):
        session.execute(
            text(
                "INSERT INTO community (code, name, subdistrict_id)"
                " SELECT :code, :name, s.id FROM subdistrict s WHERE s.code = :subdistrict"
                " ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name"
            ),
            {"code": code, "name": name, "subdistrict": subdistrict_code_of(code)},
        )
    for f in features:
        p = f["properties"]
        session.execute(
            text("""
            INSERT INTO grid (code, name, community_id, subdistrict_id, geom, area_m2)
            SELECT :code, :name, c.id, c.subdistrict_id, g.geom, ST_Area(g.geom::geography)
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


def _subdistrict_meta(fc: dict[str, Any], code: str) -> dict[str, Any]:
    """What the file says of one subdistrict: ``metadata.subdistricts[code]`` (a file of
    several), or the top-level ``subdistrict`` / ``subdistrict_code`` / ``jurisdiction`` keys
    of a one-subdistrict file."""
    meta = fc.get("metadata") or {}
    several = meta.get("subdistricts")
    if isinstance(several, dict):
        entry = several.get(code)
        return entry if isinstance(entry, dict) else {}
    return {"name": meta.get("subdistrict"), "jurisdiction": meta.get("jurisdiction")}


def _subdistrict_problems(fc: dict[str, Any]) -> list[str]:
    """Codes stay hierarchical: a one-subdistrict file's ``subdistrict_code`` prefixes every
    grid code; a file of several names each subdistrict its grids begin with."""
    meta = fc.get("metadata") or {}
    codes = {subdistrict_code_of(str(f["properties"]["code"])) for f in fc["features"]}
    several = meta.get("subdistricts")
    if several is not None:
        if not isinstance(several, dict):
            return ["metadata.subdistricts must map subdistrict codes to {name, jurisdiction}"]
        unnamed = sorted(codes - set(several))
        return [f"metadata.subdistricts does not name subdistrict {c}" for c in unnamed]
    declared = meta.get("subdistrict_code")
    if declared is not None and codes != {str(declared)}:
        others = ", ".join(sorted(codes - {str(declared)}))
        return [f"metadata.subdistrict_code {declared} does not prefix grid codes of {others}"]
    return []


def _overlaps_with_other_subdistricts(
    session: Session, features: list[dict[str, Any]], subdistricts: list[str]
) -> list[str]:
    """Grids of the file that overlap a loaded grid of a subdistrict the file leaves alone."""
    rows = session.execute(
        text("""
        WITH new AS (
            SELECT f.code, ST_SetSRID(ST_GeomFromGeoJSON(f.geometry), 4326) AS geom
            FROM unnest(CAST(:codes AS text[]), CAST(:geometries AS text[])) AS f(code, geometry)
        )
        SELECT new.code, g.code,
               ST_Area(ST_Intersection(new.geom, g.geom)::geography) AS m2
        FROM new JOIN grid g ON ST_Intersects(new.geom, g.geom)
        JOIN subdistrict s ON s.id = g.subdistrict_id
        WHERE s.code <> ALL(:subdistricts)
        """),
        {
            "codes": [f["properties"]["code"] for f in features],
            "geometries": [json.dumps(f["geometry"]) for f in features],
            "subdistricts": subdistricts,
        },
    ).all()
    return [
        f"grid {new} overlaps grid {old} of another subdistrict by {m2:.1f} m²"
        for new, old, m2 in rows
        if m2 > AREA_TOLERANCE_M2
    ]


def _ensure_subdistrict(session: Session, fc: dict[str, Any], code: str) -> None:
    """The jurisdiction coverage is measured against.

    A file whose metadata carries a ``jurisdiction`` boundary for the subdistrict sets it (a
    survey comes with its official boundary). Otherwise it is fixed once, from the union of
    the first map's grids of that subdistrict, and later maps are measured against it, which
    is what makes coverage a real check.
    """
    meta = _subdistrict_meta(fc, code)
    boundary = meta.get("jurisdiction")
    exists = session.execute(text("SELECT 1 FROM subdistrict WHERE code = :c"), {"c": code}).first()
    if exists and not boundary:
        return
    grids = [
        json.dumps(f["geometry"])
        for f in fc["features"]
        if subdistrict_code_of(str(f["properties"]["code"])) == code
    ]
    session.execute(
        text("""
        INSERT INTO subdistrict (code, name, geom, area_m2)
        SELECT :code, :name, b.geom, ST_Area(b.geom::geography)
        FROM (SELECT ST_ForcePolygonCCW(ST_Multi(
                CASE WHEN CAST(:boundary AS text) IS NULL
                     THEN (SELECT ST_Union(ST_SetSRID(ST_GeomFromGeoJSON(g), 4326))
                           FROM unnest(CAST(:grids AS text[])) AS g)
                     ELSE ST_SetSRID(ST_GeomFromGeoJSON(:boundary), 4326) END)) AS geom) b
        ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, geom = EXCLUDED.geom,
            area_m2 = EXCLUDED.area_m2
        """),
        {
            "code": code,
            "name": str(meta.get("name") or "街道"),
            "boundary": json.dumps(boundary) if boundary else None,
            "grids": grids,
        },
    )

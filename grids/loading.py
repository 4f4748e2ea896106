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

from grids.validate import REQUIRED_PROPERTIES, errors, validate_map
from kernel.errors import Invalid

SUBDISTRICT_CODE_LEN = 9
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

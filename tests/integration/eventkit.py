"""Helpers for the event tests: points inside grids and report bodies."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, text
from sqlmodel import Session

from domain.coords import wgs84_to_bd09, wgs84_to_gcj02

GRID_01 = "130203001001001"
GRID_02 = "130203001001002"


def interior_point(session: Session | Engine, grid_code: str) -> tuple[float, float]:
    """A WGS-84 point well inside a grid (PostGIS's point on surface)."""
    sql = text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p FROM grid"
        " WHERE code = :code) s"
    )
    if isinstance(session, Engine):
        with session.connect() as conn:
            lon, lat = conn.execute(sql, {"code": grid_code}).one()
    else:
        lon, lat = session.execute(sql, {"code": grid_code}).one()
    return float(lon), float(lat)


def in_system(lon: float, lat: float, coord: str) -> tuple[float, float]:
    if coord == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if coord == "bd09":
        return wgs84_to_bd09(lon, lat)
    return lon, lat


def report_body(point: tuple[float, float], *, coord: str = "wgs84", **over: Any) -> dict[str, Any]:
    """A valid report at a WGS-84 point, sent in ``coord``."""
    lon, lat = in_system(point[0], point[1], coord)
    body: dict[str, Any] = {
        "client_id": str(uuid.uuid4()),
        "category": "exposed_garbage",
        "description": "  路边垃圾堆放，约两立方米  ",
        "location": {"lon": lon, "lat": lat, "coord": coord, "accuracy_m": 8.0},
    }
    body.update(over)
    return body
